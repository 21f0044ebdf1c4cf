// The fallback benchmark (issue 50, `npm run bench -- --only fallback`; part of the online set):
// an online migration of the pgbench database cut over with a fallback window, then pgbench paced
// writes on the NEW server (the target) while the reverse stream applies them to the old source,
// then `--fall-back`. Measured in one run, side by side:
//  - the forward cutover's downtime (request → Succeeded, and the engine's figure);
//  - the reverse stream's lag: a probe row committed on the target every 250 ms and timed until
//    it is visible on the old source, beside a native subscription on the old source's cluster
//    following the same target database at the same time, and the engine's own latency figure;
//  - the fall-back's downtime: the engine's figure, request → FellBack, and request → the old
//    source accepting an INSERT on a new session (measured from outside, as an application sees it).
import { requestCutover, requestFallBack, type FallbackStatus, type MigrationStatus } from '../provider/engine';
import type { Cluster } from '../provider/localpg/cluster';
import { NATIVE_DB, startNative, waitUntil as until } from './consumers';
import { pacedWriter, untilSucceeded, WRITE_RATE_TPS } from './cutoverBench';
import type { OnlineOptions } from './onlineTypes';
import { DB, enableAutovacuum, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';

export interface FallbackBenchResult {
  readonly figures: Readonly<Record<string, number>>;
  readonly lines: readonly string[];
  readonly events: readonly string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PROBE_FIRST_ID = 100_000;
const WRITABLE_PROBE_ID = 900_000;

/**
 * Reverse lag measured apart from the engine: every 250 ms a probe row is committed on the target
 * and each watched database of the old source's cluster is polled every 50 ms until it appears.
 */
function reverseProbes(target: Cluster, source: Cluster, watched: readonly string[]): { stop(): Promise<Record<string, number[]>> } {
  let running = true;
  let stoppedAt = 0;
  const committed = new Map<number, number>();
  const seen = new Map<string, Set<number>>(watched.map((d) => [d, new Set()]));
  const lags: Record<string, number[]> = Object.fromEntries(watched.map((d) => [d, []]));
  const writer = (async () => {
    const client = await target.connect(DB);
    try {
      for (let id = PROBE_FIRST_ID; running; id++) {
        await client.query('INSERT INTO bench_marker (id) VALUES ($1)', [id]);
        committed.set(id, Date.now());
        await sleep(250);
      }
    } finally {
      await client.end();
    }
  })();
  const reader = async (database: string) => {
    const client = await source.connect(database);
    const done = seen.get(database)!;
    try {
      while (running || [...committed.keys()].some((id) => !done.has(id))) {
        const pending = [...committed.keys()].filter((id) => !done.has(id));
        if (pending.length > 0) {
          const { rows } = await client.query<{ id: number }>('SELECT id FROM bench_marker WHERE id = ANY($1::int[])', [pending]);
          const now = Date.now();
          for (const { id } of rows) {
            lags[database]!.push((now - committed.get(id)!) / 1000);
            done.add(id);
          }
        }
        if (!running && Date.now() - stoppedAt > 30_000) break; // probes that never arrive: give up
        await sleep(50);
      }
    } finally {
      await client.end();
    }
  };
  const readers = watched.map(reader);
  return {
    async stop() {
      running = false;
      stoppedAt = Date.now();
      await writer;
      await Promise.all(readers);
      return lags;
    },
  };
}

/** The fallback record of the migration's only database, as `show` reads it. */
async function fallbackOf(status: () => Promise<MigrationStatus | undefined>): Promise<FallbackStatus | undefined> {
  return (await status())?.databases[0]?.fallback;
}

/** Request → a new session on the old source commits an INSERT: the fall-back as the application sees it. */
async function untilSourceWritable(source: Cluster, started: number): Promise<number> {
  for (;;) {
    const client = await source.connect(DB);
    try {
      await client.query('INSERT INTO bench_marker (id) VALUES ($1)', [WRITABLE_PROBE_ID]);
      return (Date.now() - started) / 1000;
    } catch (error) {
      // 25006: read-only transaction, the fence is still on; anything else is a real failure
      if ((error as { code?: string }).code !== '25006') throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(50);
  }
}

function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const f = (n: number | undefined, d = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** The cutover with a window: request → Succeeded, the engine's downtime, then the window open. */
async function cutOverWithWindow(
  options: OnlineOptions,
  started: ReturnType<typeof startPgferry>,
): Promise<{ requestToSucceededSeconds: number; downtimeSeconds: number }> {
  const { status, targetSpec, spec } = started;
  await untilStreaming(status);
  const at = Date.now();
  await requestCutover(targetSpec, spec.migrationName);
  const final = await untilSucceeded(status);
  const requestToSucceededSeconds = (Date.now() - at) / 1000;
  options.log(`fallback: cut over with a window, request → Succeeded ${requestToSucceededSeconds.toFixed(2)} s`);
  await until('the fallback window Open', 5 * 60_000, async () => ((await fallbackOf(status))?.state === 'Open' ? true : undefined), 100);
  return { requestToSucceededSeconds, downtimeSeconds: final.downtimeSeconds ?? NaN };
}

/** Paced writes on the new server for `seconds`, sampling both reverse consumers and the engine's figure. */
async function reverseLoad(
  options: OnlineOptions,
  status: () => Promise<MigrationStatus | undefined>,
  seconds: number,
): Promise<{ probes: Record<string, number[]>; engine: number[] }> {
  const { source, target, log } = options;
  // a native subscription in a database of the old source's cluster, following the target's database
  const native = await startNative({ ...options, source: target, target: source }, DB);
  try {
    const probes = reverseProbes(target, source, [DB, NATIVE_DB]);
    const writer = pacedWriter(target);
    const engine: number[] = [];
    const endAt = Date.now() + seconds * 1000;
    log(`fallback: ${seconds} s of pgbench --rate ${WRITE_RATE_TPS} on the new server ...`);
    while (Date.now() < endAt) {
      const latency = (await fallbackOf(status))?.latencySeconds;
      if (latency !== undefined) engine.push(latency);
      await sleep(500);
    }
    await writer.stop();
    return { probes: await probes.stop(), engine };
  } finally {
    // dropped before the fall-back: its publication on the target is not the application's
    await native.stop();
  }
}

/** The fall-back: engine downtime, request → FellBack, request → the old source writable. */
async function fallBack(
  options: OnlineOptions,
  started: ReturnType<typeof startPgferry>,
): Promise<{ requestToFellBackSeconds: number; requestToWritableSeconds: number; downtimeSeconds: number }> {
  const { status, targetSpec, spec, ferry } = started;
  const at = Date.now();
  await requestFallBack(targetSpec, spec.migrationName);
  const writable = untilSourceWritable(options.source, at);
  const fell = await until(
    'FellBack',
    30 * 60_000,
    async () => {
      const fb = await fallbackOf(status);
      if (fb?.state === 'Open' && fb.message) throw new Error(`the fall-back stopped: ${fb.message}`);
      return fb?.state === 'FellBack' ? fb : undefined;
    },
    50,
  );
  const requestToFellBackSeconds = (Date.now() - at) / 1000;
  const requestToWritableSeconds = await writable;
  await ferry.current().done;
  return { requestToFellBackSeconds, requestToWritableSeconds, downtimeSeconds: fell.downtimeSeconds ?? NaN };
}

/** Rows of pgbench_history on each server after the fall-back: every paced write on the old source once. */
async function historyCounts(source: Cluster, target: Cluster): Promise<{ source: number; target: number }> {
  const count = async (c: Cluster) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM pgbench_history', [], DB))[0]!.n);
  return { source: await count(source), target: await count(target) };
}

function report(figures: Record<string, number>, seconds: number, probes: Record<string, number[]>): string[] {
  const lagCell = (xs: readonly number[]) =>
    `median ${f(quantile(xs, 0.5))} s, p95 ${f(quantile(xs, 0.95))} s, max ${f(Math.max(...xs))} s (${xs.length} probes)`;
  return [
    '| figure | value |',
    '|---|---|',
    `| forward cutover with a window: request → Succeeded | ${f(figures.cutoverRequestToSucceededSeconds)} s (engine ${f(figures.cutoverDowntimeSeconds)} s) |`,
    `| reverse lag, pgferry (probe rows, target commit → old source) | ${lagCell(probes[DB] ?? [])} |`,
    `| reverse lag, native subscription (same probes, same time) | ${lagCell(probes[NATIVE_DB] ?? [])} |`,
    `| reverse lag, pgferry / native (medians) | ${f(figures.reverseLagMedianRatio)}x |`,
    `| reverse lag, the engine's figure (show, every 0.5 s) | median ${f(figures.engineLatencyMedianSeconds)} s, p95 ${f(figures.engineLatencyP95Seconds)} s |`,
    `| fall-back: the engine's downtime | ${f(figures.fallBackDowntimeSeconds)} s (target < 2 s ${figures.fallBackDowntimeSeconds! < 2 ? 'MET' : 'NOT MET'}) |`,
    `| fall-back: request → FellBack; request → the old source takes an INSERT | ${f(figures.fallBackRequestToFellBackSeconds)} s; ${f(figures.fallBackRequestToWritableSeconds)} s |`,
    `| fall-back / forward cutover (engine downtimes) | ${f(figures.fallBackDowntimeSeconds! / figures.cutoverDowntimeSeconds!)}x |`,
    `| pgbench_history rows after the fall-back, old source / new server | ${figures.historyRowsSource} / ${figures.historyRowsTarget} |`,
    '',
    `Method: a fresh online migration of the pgbench database (scale ${figures.scale}) with fenceWriters and fallbackWindow 1h, cut over ` +
      `with no writer. Then a native subscription (in database ${NATIVE_DB} of the old source's cluster, FOR ALL TABLES of the new ` +
      `server's database) is synced, and for ${seconds} s pgbench -c 2 --rate ${WRITE_RATE_TPS} writes on the new server while a probe ` +
      'row committed there every 250 ms is timed until visible on the old source (pgferry) and in the native copy (polled every 50 ms, one ' +
      'clock). The writer stops, the native subscription is dropped, the fall-back is requested; FellBack is polled every 50 ms from `show`, ' +
      'and a new session on the old source tries an INSERT every 50 ms until the fence no longer refuses it.',
  ];
}

export async function runFallbackBench(options: OnlineOptions, scale: number): Promise<FallbackBenchResult> {
  const { source, target, log } = options;
  const events: string[] = [];
  const seconds = options.seconds ?? (options.quick ? 15 : 60);
  await enableAutovacuum(source, target);
  log(`fallback: pgbench scale ${scale} in database ${DB} ...`);
  await prepareSource(source, scale);
  const started = startPgferry(options, events, { fenceWriters: true, fallbackWindow: '1h' });
  try {
    const cutover = await cutOverWithWindow(options, started);
    const { probes, engine } = await reverseLoad(options, started.status, seconds);
    const back = await fallBack(options, started);
    log(`fallback: engine downtime ${back.downtimeSeconds.toFixed(2)} s, request → writable ${back.requestToWritableSeconds.toFixed(2)} s`);
    const history = await historyCounts(source, target);
    const figures: Record<string, number> = {
      scale,
      cutoverRequestToSucceededSeconds: cutover.requestToSucceededSeconds,
      cutoverDowntimeSeconds: cutover.downtimeSeconds,
      reverseLagMedianSeconds: quantile(probes[DB] ?? [], 0.5),
      reverseLagP95Seconds: quantile(probes[DB] ?? [], 0.95),
      nativeLagMedianSeconds: quantile(probes[NATIVE_DB] ?? [], 0.5),
      nativeLagP95Seconds: quantile(probes[NATIVE_DB] ?? [], 0.95),
      reverseLagMedianRatio: quantile(probes[DB] ?? [], 0.5) / quantile(probes[NATIVE_DB] ?? [], 0.5),
      engineLatencyMedianSeconds: quantile(engine, 0.5),
      engineLatencyP95Seconds: quantile(engine, 0.95),
      fallBackDowntimeSeconds: back.downtimeSeconds,
      fallBackRequestToFellBackSeconds: back.requestToFellBackSeconds,
      fallBackRequestToWritableSeconds: back.requestToWritableSeconds,
      historyRowsSource: history.source,
      historyRowsTarget: history.target,
    };
    return { figures, lines: report(figures, seconds, probes), events };
  } catch (error) {
    try {
      process.kill(started.ferry.current().pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await started.ferry.current().done.catch(() => undefined);
    throw error;
  }
}
