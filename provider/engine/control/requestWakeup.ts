// A runner's wait between looks at the control catalog, cut short when a request for its migration
// is made (migrationRequests.ts notifies REQUEST_CHANNEL with the migration's name): a cutover starts
// within milliseconds of being asked for instead of at the next poll. Best effort: without the
// listening session (a restarting target, a pooler that drops LISTEN) the wait is the poll it was.
// An agent (runner/agent.ts) listens for every migration's requests: a migration of runtime agents
// registered or asked to resume wakes its look for work.
import type pg from 'pg';
import { ident } from '../connect/quote';
import { closeSession, openSession } from '../connect/session';
import { REQUEST_CHANNEL } from '../core/names';
import type { ServerSpec } from '../input/migrationSpec';

export class RequestWakeup {
  private wake: (() => void) | undefined;
  /** A notification that came while no wait was pending: the next wait returns at once. */
  private pending = false;

  private constructor(
    private readonly client: pg.Client | undefined,
    name: string | undefined,
  ) {
    client?.on('notification', (message) => {
      if (message.channel !== REQUEST_CHANNEL || (name !== undefined && message.payload !== name)) return;
      if (this.wake) this.wake();
      else this.pending = true;
    });
  }

  /** Listens for requests of migration `name` (of every migration when none is named) on the target's control database. */
  static async listen(target: ServerSpec, name?: string): Promise<RequestWakeup> {
    let client: pg.Client | undefined;
    try {
      client = await openSession(target, { purpose: 'requests' });
      await client.query(`LISTEN ${ident(REQUEST_CHANNEL)}`);
    } catch {
      await closeSession(client);
      client = undefined;
    }
    return new RequestWakeup(client, name);
  }

  /** Resolves after `ms`, or as soon as a request for the migration is notified. */
  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  async close(): Promise<void> {
    this.wake?.();
    await closeSession(this.client);
  }

  /** Whether the listening session is open (false: the waits are plain polls). */
  get listening(): boolean {
    return this.client !== undefined;
  }
}
