// End-to-end lag of an online stream, measured apart from what the engine reports.
import type { Cluster } from '../provider/localpg/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * End-to-end lag, independent of what the engine reports: every 250 ms a probe row is committed
 * on the source and the target is polled every 50 ms until it appears; lag = appearance − commit
 * (one clock, this process's).
 */
export function probeLag(source: Cluster, target: Cluster, database: string): { stop(): Promise<number[]> } {
  let running = true;
  const committed = new Map<number, number>();
  const lags: number[] = [];
  let stoppedAt = 0;
  const writer = (async () => {
    const client = await source.connect(database);
    try {
      for (let id = 1000; running; id++) {
        await client.query('INSERT INTO bench_marker (id) VALUES ($1)', [id]);
        committed.set(id, Date.now());
        await sleep(250);
      }
    } finally {
      await client.end();
    }
  })();
  const reader = (async () => {
    const client = await target.connect(database);
    try {
      while (running || committed.size > 0) {
        const pending = [...committed.keys()];
        if (pending.length > 0) {
          const { rows } = await client.query<{ id: number }>('SELECT id FROM bench_marker WHERE id = ANY($1::int[])', [pending]);
          const now = Date.now();
          for (const { id } of rows) {
            lags.push((now - committed.get(id)!) / 1000);
            committed.delete(id);
          }
        }
        if (!running && Date.now() - stoppedAt > 30_000) break; // probes that never arrive: give up
        await sleep(50);
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop() {
      running = false;
      stoppedAt = Date.now();
      await writer;
      await reader;
      return lags;
    },
  };
}
