// The application on the source while a scenario runs: one connection committing paced
// transactions until stopped (the pace: pace.ts). Each scenario says what one transaction writes;
// the writer numbers them from 1, wraps each in BEGIN/COMMIT and counts what committed, so a test
// can compare the target with exactly what the source's application did. An error ends the writer:
// stop() rejects with it. The other writers of the suites, each for its own job: the every-kind-
// of-table workload that keeps its errors (tableKindsWorkload.ts), the varied schema's writer
// (variedSchema.ts), and the fault campaign's seeded workload (faults/campaignWorkload.ts).
import type pg from 'pg';
import type { Cluster } from '../../provider/localpg/cluster';
import { writerPause } from './pace';

/** The statements of the n-th transaction (n from 1), run between BEGIN and COMMIT. */
export type WriteTransaction = (client: pg.Client, n: number) => Promise<unknown>;

export interface SourceWriter {
  /** Resolves once the writer holds its connection (rejects if it cannot connect). */
  readonly connected: Promise<void>;
  /** Stops after the transaction in flight; resolves to how many committed. */
  stop(): Promise<number>;
  /** How many transactions have committed so far. */
  committed(): number;
}

/** Starts writing to `db` on the source: paced transactions of `write` until stop(). */
export function startSourceWriter(source: Cluster, db: string, write: WriteTransaction): SourceWriter {
  let stopping = false;
  let committed = 0;
  const client = source.connect(db);
  const writing = (async () => {
    const c = await client;
    // A session ended while idle (a fenced cutover ends every session of the database) errs on the
    // client, not on a query: without a listener that error would end the test process. The next
    // query then fails, which ends the writer as any error does.
    c.on('error', () => undefined);
    try {
      while (!stopping) {
        await c.query('BEGIN');
        await write(c, committed + 1);
        await c.query('COMMIT');
        committed += 1;
        await writerPause();
      }
      return committed;
    } finally {
      await c.end();
    }
  })();
  writing.catch(() => undefined); // stop() says the error; until then it is not an unhandled rejection
  return {
    connected: client.then(() => undefined),
    stop: () => {
      stopping = true;
      return writing;
    },
    committed: () => committed,
  };
}
