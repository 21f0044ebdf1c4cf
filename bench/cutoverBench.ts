// The cutover and restart benchmark (issue 31, `npm run bench -- --only cutover`):
//  (e) cutover time from the request to Succeeded, with a paced pgbench writer that stops at the
//      request, at the bench size and at 4x it, verification on (the default: background verification
//      while streaming, only changed keys and counts at cutover) beside verify: 'full' (every table
//      counted and checksummed at cutover): whether the cutover is flat in database size;
//  (f) restart to the first applied change: pgferry's runner resuming (`pgferry resume`) beside a
//      native subscription's ALTER SUBSCRIPTION DISABLE / ENABLE, each after a small backlog.
// Each migration is a fresh online migration of the pgbench database (copy, then streaming).
import { spawn } from 'node:child_process';
import { requestCutover, type MigrationStatus } from '../provider/engine';
import type { Cluster } from '../provider/localpg/cluster';
import { startNative, waitUntil as until } from './consumers';
import { PG_BIN, pgEnv } from './dataset';
import type { Drain, OnlineOptions } from './onlineTypes';
import { catchUpProbe, DB, drainRound, enableAutovacuum, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';

interface CutoverRun {
  readonly scale: number;
  readonly verify: 'on' | 'full';
  readonly databaseBytes: number;
  /** Seconds of paced writes between streaming (and, verify on, every table verified in the background) and the request. */
  readonly writeSeconds: number;
  /** Seconds from streaming until the background verifier had verified every table (verify on). */
  readonly backgroundSeconds?: number;
  readonly requestToSucceededSeconds: number;
  /** The engine's own downtime figure (cutover start to Succeeded). */
  readonly downtimeSeconds: number;
  readonly verified: boolean;
  /** How the cutover checked each table (pgferry.table_verification methods), as counts. */
  readonly methods: Readonly<Record<string, number>>;
}

export interface CutoverBenchResult {
  readonly runs: readonly CutoverRun[];
  readonly restarts: readonly Drain[];
  readonly lines: readonly string[];
  readonly events: readonly string[];
}

export const WRITE_RATE_TPS = 100;
const WRITE_SECONDS = 10;
const RESTART_ROUNDS = 3;
const RESTART_BACKLOG_TRANSACTIONS = 400;
export const PGBENCH_TABLES = 5; // four pgbench tables and bench_marker

/** pgbench --rate in the background until stop(), which ends it as a writer would stop at a cutover (or fall-back) request. */
export function pacedWriter(source: Cluster): { stop(): Promise<void> } {
  const child = spawn(`${PG_BIN}/pgbench`, ['-n', '-c', '2', '-j', '2', '-T', '3600', '--rate', String(WRITE_RATE_TPS), DB], {
    env: pgEnv(source),
    stdio: 'ignore',
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

export async function verificationMethods(target: Cluster, migration: string): Promise<Record<string, number>> {
  const rows = await target.query<{ method: string; n: number }>(
    `SELECT method, count(*)::int AS n FROM pgferry.table_verification WHERE migration = $1 AND matches GROUP BY method`,
    [migration],
  );
  return Object.fromEntries(rows.map((r) => [r.method, r.n]));
}

/** Polls `show` every 50 ms until the cutover asked for ends Succeeded; Failed or Canceled throw. */
export async function untilSucceeded(status: () => Promise<MigrationStatus | undefined>): Promise<MigrationStatus> {
  return until(
    'Succeeded after the cutover',
    30 * 60_000,
    async () => {
      const s = await status();
      if (s && ['Failed', 'Canceled'].includes(s.state)) throw new Error(`cutover ended ${s.state}: ${s.message ?? ''}`);
      return s?.state === 'Succeeded' ? s : undefined;
    },
    50,
  );
}

/** One online migration of the pgbench database at its present size, cut over after paced writes. */
async function cutoverRun(
  options: OnlineOptions,
  scale: number,
  verify: 'on' | 'full',
  events: string[],
  restarts?: (ferry: ReturnType<typeof startPgferry>['ferry']) => Promise<void>,
): Promise<CutoverRun> {
  const { source, target, log } = options;
  const { spec, targetSpec, status, ferry } = startPgferry(options, events, { verify: verify === 'on' ? true : 'full' });
  try {
    await untilStreaming(status);
    const streamingAt = Date.now();
    if (restarts) await restarts(ferry);
    const writer = pacedWriter(source);
    let backgroundSeconds: number | undefined;
    if (verify === 'on') {
      await until(
        'every table verified in the background',
        30 * 60_000,
        async () => ((await verificationMethods(target, spec.migrationName)).background ?? 0) >= PGBENCH_TABLES || undefined,
        250,
      );
      backgroundSeconds = (Date.now() - streamingAt) / 1000;
    }
    // changes after the pins, so the cutover has keys to re-check
    const writeStarted = Date.now();
    await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));
    const started = Date.now();
    await writer.stop();
    await requestCutover(targetSpec, spec.migrationName);
    const final = await untilSucceeded(status);
    const requestToSucceededSeconds = (Date.now() - started) / 1000;
    await ferry.current().done;
    const bytes = await source.query<{ b: string }>(`SELECT pg_database_size($1)::text AS b`, [DB]);
    const run: CutoverRun = {
      scale,
      verify,
      databaseBytes: Number(bytes[0]!.b),
      writeSeconds: (started - writeStarted) / 1000,
      ...(backgroundSeconds !== undefined ? { backgroundSeconds } : {}),
      requestToSucceededSeconds,
      downtimeSeconds: final.downtimeSeconds ?? NaN,
      verified: final.verification?.ok === true,
      methods: await verificationMethods(target, spec.migrationName),
    };
    log(`cutover scale ${scale}, verify ${verify}: request → Succeeded ${requestToSucceededSeconds.toFixed(2)} s`);
    return run;
  } catch (error) {
    try {
      process.kill(ferry.current().pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await ferry.current().done.catch(() => undefined);
    throw error;
  }
}

/** (f): pgferry and native each paused, a backlog written, and resumed alone, timed to the first applied change. */
async function restartRounds(options: OnlineOptions, ferry: ReturnType<typeof startPgferry>['ferry']): Promise<Drain[]> {
  const native = await startNative(options, DB);
  const drains: Drain[] = [];
  try {
    const caughtUp = catchUpProbe(options.source, options.target);
    let markerId = 2000;
    for (let round = 1; round <= RESTART_ROUNDS; round++) {
      const order = round % 2 === 1 ? ([native, ferry] as const) : ([ferry, native] as const);
      for (const [turn, [drained, other]] of [
        ['first', order],
        ['second', [order[1], order[0]]],
      ] as const) {
        const backlog = { transactions: RESTART_BACKLOG_TRANSACTIONS };
        drains.push(await drainRound(options, drained, other, backlog, markerId++, { round, turn }));
        if (drained === ferry) await caughtUp('pgferry to catch up after its restart');
      }
    }
  } finally {
    await native.stop();
  }
  return drains;
}

const f = (n: number | undefined, d = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function lines(runs: readonly CutoverRun[], restarts: readonly Drain[]): string[] {
  const out = [
    '| figure | value | target |',
    '|---|---|---|',
    ...runs.map(
      (r) =>
        `| (e) cutover, pgbench scale ${r.scale} (${(r.databaseBytes / 1e6).toFixed(0)} MB), verify ${r.verify === 'on' ? 'on (default)' : "'full'"}` +
        `${r.verified ? '' : ' — VERIFICATION DID NOT PASS'} | request → Succeeded ${f(r.requestToSucceededSeconds)} s (engine ${f(r.downtimeSeconds)} s); ` +
        `tables by method ${Object.entries(r.methods)
          .map(([m, n]) => `${m} ${n}`)
          .join(
            ', ',
          )}${r.backgroundSeconds !== undefined ? `; all verified in the background ${f(r.backgroundSeconds, 1)} s after streaming began` : ''} | ` +
        `${r.verify === 'on' ? `< 2 s ${r.requestToSucceededSeconds < 2 ? 'MET' : 'NOT MET'}` : ''} |`,
    ),
  ];
  for (const consumer of ['native', 'pgferry'] as const) {
    const of = restarts.filter((d) => d.consumer === consumer);
    if (of.length === 0) continue;
    const first = of.map((d) => d.firstProgressSeconds);
    out.push(
      `| (f) ${consumer}: restart → first applied change (${of.length} restarts, ${RESTART_BACKLOG_TRANSACTIONS}-transaction backlogs) | ` +
        `median ${f(median(first))} s (each: ${first.map((x) => f(x)).join(', ')}); drain ${of.map((d) => f(d.seconds, 1)).join(', ')} s | ` +
        `${consumer === 'pgferry' ? `< 0.5 s ${median(first) < 0.5 ? 'MET' : 'NOT MET'}` : ''} |`,
    );
  }
  out.push(
    '',
    `Method: for each size a fresh online migration of the pgbench database (copy, then streaming). A writer (pgbench -c 2 --rate ${WRITE_RATE_TPS}) ` +
      `runs from streaming on; with verification on the bench waits until the background verifier has verified every table, then ${WRITE_SECONDS} s more ` +
      "of writes (so the cutover has changed keys to re-check); 'full' gets the same writes. The clock starts, the writer is stopped (SIGTERM), the " +
      'cutover is requested, and it stops when `show` reads Succeeded (polled every 50 ms). Restarts: pgferry and a native subscription follow the same ' +
      'source side by side; each in turn is stopped (pgferry: its process killed; native: ALTER SUBSCRIPTION DISABLE), a backlog written and applied by ' +
      'the other, then it is started alone (a runner resuming as `pgferry resume` does; ENABLE); the first applied change is when its replication ' +
      'origin on the target first moves (sampled every 50 ms, plus the query time).',
  );
  return out;
}

export async function runCutoverBench(options: OnlineOptions, scales: readonly number[]): Promise<CutoverBenchResult> {
  const { source, target, log } = options;
  const events: string[] = [];
  const runs: CutoverRun[] = [];
  let restarts: Drain[] = [];
  await enableAutovacuum(source, target);
  for (const [i, scale] of scales.entries()) {
    log(`cutover: pgbench scale ${scale} in database ${DB} ...`);
    await prepareSource(source, scale);
    runs.push(
      await cutoverRun(
        options,
        scale,
        'on',
        events,
        i === 0
          ? async (ferry) => {
              restarts = await restartRounds(options, ferry);
            }
          : undefined,
      ),
    );
    await prepareSource(source, scale);
    runs.push(await cutoverRun(options, scale, 'full', events));
  }
  return { runs, restarts, lines: lines(runs, restarts), events };
}
