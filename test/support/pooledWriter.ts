// An application writing through a pooler (the cutover through PgBouncer, docs/pooler.md): one
// connection, one INSERT after another into a table of its own, each write's number kept once the
// server said it committed and every error kept, so a test or a fault trial can read back that
// every committed write is on one server exactly once.
import type pg from 'pg';
import { ident } from '../../provider/engine/connect/quote';
import { until } from './wait';

export class PooledWriter {
  readonly committed: number[] = [];
  readonly errors: string[] = [];
  private stopping = false;
  private readonly running: Promise<void>;

  /** `table` has columns n (its primary key) and at_port (the server's port each write landed on). */
  constructor(
    private readonly client: pg.Client,
    first: number,
    table = 'writes',
  ) {
    client.on('error', (error) => this.errors.push(`connection: ${error.message}`));
    const insert = `INSERT INTO ${ident(table)} (n, at_port) VALUES ($1, inet_server_port())`;
    this.running = (async () => {
      for (let n = first; !this.stopping; n++) {
        try {
          await client.query(insert, [n]);
          this.committed.push(n);
        } catch (error) {
          this.errors.push(`write ${n}: ${(error as Error).message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }

  /** Waits until `count` more writes have committed (the writer is alive and not held). */
  async more(count: number, timeoutMs?: number): Promise<void> {
    const target = this.committed.length + count;
    await until(
      `${count} more writes through the pooler`,
      async () => {
        if (this.errors.length > 0) throw new Error(this.errors.join('; '));
        return this.committed.length >= target ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** The committed writes' numbers, ascending. */
  sorted(): number[] {
    return [...this.committed].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    await this.client.end().catch(() => undefined);
  }
}
