// The online scenarios (issue 3), on a pgbench database of their own:
//  (a) drain rate: the same backlog (pgbench -c 4 for 60 s, then as many transactions each time)
//      written while one consumer is paused, drained by a native PUBLICATION/SUBSCRIPTION (paused
//      with ALTER SUBSCRIPTION DISABLE) and by pgferry (its process stopped with SIGSTOP: nothing is
//      received or applied while the slot retains WAL); drained = a marker row committed after the
//      backlog is visible on the target, which in commit order means everything before it was
//      applied. Both consumers follow the same source database side by side; in rounds with the
//      order alternating, the median of each is compared (one drain each varied by ±20 % between
//      runs on the 2-CPU machine, which decided the ratio more than the consumers did);
//  (b) lag under load: pgbench --rate at half the measured maximum TPS for 60 s, latency sampled
//      from the control catalog; (c) cutover downtime after that load; (d) peak RSS of pgferry.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requestCutover, showMigration, type ServerSpec } from '../provider/engine';
import type { Cluster } from '../provider/localpg/cluster';
import { PG_BIN, pgEnv } from './dataset';
import type { OnlineOptions, OnlineResult } from './online';
import { ROWS_PER_TRANSACTION, runPgbench } from './pgbench';
import { treeCpuSeconds, treeOf } from './procTree';
import { startTimed } from './timedProcess';
import { pgferryOnceArgs } from './tools';

const execFileAsync = promisify(execFile);
const DB = 'benchol';
const NATIVE_DB = 'benchnat';
const MARKER = 'CREATE TABLE bench_marker (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function markerVisible(target: Cluster, database: string, id: number): Promise<true | undefined> {
  const rows = await target.query(`SELECT 1 FROM bench_marker WHERE id = $1`, [id], database).catch(() => []);
  return rows.length > 0 ? true : undefined;
}

/**
 * Waits for the marker while sampling the target's replication origin (native subscriptions and
 * pgferry both record applied positions there): returns when apply first moved after the resume,
 * which separates start-up stalls from apply speed.
 */
async function drainUntilMarker(target: Cluster, database: string, id: number, started: number): Promise<{ firstProgressSeconds: number }> {
  // every origin's position: the paused consumer's does not move, the draining one's does
  const origin = async () => {
    const rows = await target
      .query<{ p: string | null }>(
        `SELECT string_agg(local_id || ':' || remote_lsn, ',' ORDER BY local_id) AS p FROM pg_replication_origin_status`,
      )
      .catch(() => []);
    return rows[0]?.p ?? null;
  };
  const initial = await origin();
  let firstProgressSeconds = NaN;
  await until('the drain', 30 * 60_000, async () => {
    if (Number.isNaN(firstProgressSeconds) && (await origin()) !== initial) firstProgressSeconds = (Date.now() - started) / 1000;
    return markerVisible(target, database, id);
  });
  return { firstProgressSeconds };
}

/**
 * End-to-end lag, independent of what the engine reports: every 250 ms a probe row is committed
 * on the source and the target is polled every 50 ms until it appears; lag = appearance − commit
 * (one clock, this process's).
 */
function probeLag(source: Cluster, target: Cluster): { stop(): Promise<number[]> } {
  let running = true;
  const committed = new Map<number, number>();
  const lags: number[] = [];
  let stoppedAt = 0;
  const writer = (async () => {
    const client = await source.connect(DB);
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
    const client = await target.connect(DB);
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

/**
 * A few transactions applied before the pause, so both consumers have already loaded every
 * table's metadata (pgoutput sends a Relation message at a table's first change): the drain then
 * measures applying the backlog, not a one-time start-up.
 */
async function warmUp(source: Cluster, target: Cluster, databases: readonly string[], markerId: number): Promise<void> {
  await runPgbench(source, DB, { clients: 1, transactionsPerClient: 20 });
  await source.query('INSERT INTO bench_marker (id) VALUES ($1)', [markerId], DB);
  for (const database of databases) await until('the warm-up marker', 5 * 60_000, () => markerVisible(target, database, markerId), 100);
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function prepareSource(source: Cluster, scale: number): Promise<void> {
  await source.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await source.query(`CREATE DATABASE ${DB}`);
  await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(scale), DB], { env: pgEnv(source) });
  await source.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], DB);
  await source.query(MARKER, [], DB);
  await source.query('VACUUM ANALYZE', [], DB);
  // Paused consumers send no feedback for a minute: the walsender must not time them out.
  await source.query(`ALTER SYSTEM SET wal_sender_timeout = 0`);
  await source.query(`SELECT pg_reload_conf()`);
}

/**
 * pgbench's branch and teller rows are updated thousands of times a second: without vacuum their
 * tables bloat and later phases would run a slower load than earlier ones. Autovacuum (off for
 * the offline runs) is turned on for the online part on both servers, plus a VACUUM before each
 * phase so every phase starts from the same state.
 */
async function enableAutovacuum(source: Cluster, target: Cluster): Promise<void> {
  for (const c of [source, target]) {
    await c.query(`ALTER SYSTEM SET autovacuum = on`);
    await c.query(`SELECT pg_reload_conf()`);
  }
}

async function vacuumPgbench(source: Cluster): Promise<void> {
  await source.query('VACUUM pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history', [], DB);
}

export interface Drain {
  readonly consumer: 'native' | 'pgferry';
  readonly rows: number;
  readonly transactions: number;
  readonly seconds: number;
  /** CPU seconds spent during the drain by the source server, the target server and (pgferry) its process. */
  readonly cpu: { readonly source: number; readonly target: number; readonly consumer?: number };
  /** Seconds from the resume to the first change applied (start-up stalls, apart from apply speed). */
  readonly firstProgressSeconds: number;
}

async function postmasterPid(cluster: Cluster): Promise<number> {
  return Number((await fs.readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** CPU used by both servers (and optionally one more process tree) while `fn` runs. */
async function measureCpu<T>(
  source: Cluster,
  target: Cluster,
  extra: number | undefined,
  fn: () => Promise<T>,
): Promise<{ value: T; cpu: Drain['cpu'] }> {
  const pids = [await postmasterPid(source), await postmasterPid(target), ...(extra === undefined ? [] : [extra])];
  const before = await Promise.all(pids.map(treeCpuSeconds));
  const value = await fn();
  const after = await Promise.all(pids.map(treeCpuSeconds));
  const d = after.map((a, i) => a - before[i]!);
  return { value, cpu: { source: d[0]!, target: d[1]!, ...(extra === undefined ? {} : { consumer: d[2]! }) } };
}

/** A consumer of the source's changes that the drain can pause and resume. */
interface Consumer {
  readonly name: 'native' | 'pgferry';
  /** The target database its changes land in (where markers become visible). */
  readonly database: string;
  /** A process tree whose CPU counts as the consumer's (pgferry's process). */
  readonly pid?: number;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** A native subscription to the source's pgbench database, synced and following; stop() drops it. */
async function startNative(options: OnlineOptions): Promise<Consumer & { stop(): Promise<void> }> {
  const { source, target, log } = options;
  await target.query(`DROP DATABASE IF EXISTS ${NATIVE_DB} WITH (FORCE)`);
  await target.query(`CREATE DATABASE ${NATIVE_DB}`);
  // Through psql: pg_dump's plain output may hold psql meta-commands (\restrict in 15.14+).
  const schemaFile = path.join(os.tmpdir(), `pgferry-bench-schema-${process.pid}.sql`);
  await execFileAsync(`${PG_BIN}/pg_dump`, ['-s', '-f', schemaFile, DB], { env: pgEnv(source) });
  try {
    await execFileAsync(`${PG_BIN}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', schemaFile, NATIVE_DB], { env: pgEnv(target) });
  } finally {
    await fs.rm(schemaFile, { force: true });
  }
  await source.query('CREATE PUBLICATION bench_native FOR ALL TABLES', [], DB);
  const conninfo = `host=${source.host} port=${source.port} user=${source.user} password=${source.password} dbname=${DB}`;
  // The connection string holds the password: it is sent to the server only, never logged.
  await target.query(`CREATE SUBSCRIPTION bench_native CONNECTION '${conninfo}' PUBLICATION bench_native`, [], NATIVE_DB);
  const stop = async () => {
    await target.query('DROP SUBSCRIPTION IF EXISTS bench_native', [], NATIVE_DB).catch(() => undefined);
    await source.query('DROP PUBLICATION IF EXISTS bench_native', [], DB).catch(() => undefined);
    await target.query(`DROP DATABASE IF EXISTS ${NATIVE_DB} WITH (FORCE)`).catch(() => undefined);
  };
  try {
    log('native: initial sync ...');
    await until(
      "the subscription's initial sync",
      30 * 60_000,
      async () => {
        const rows = await target.query<{ n: string }>(
          `SELECT count(*) FILTER (WHERE srsubstate <> 'r') AS n FROM pg_subscription_rel`,
          [],
          NATIVE_DB,
        );
        return Number(rows[0]!.n) === 0 ? true : undefined;
      },
      500,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'native',
    database: NATIVE_DB,
    async pause() {
      await target.query('ALTER SUBSCRIPTION bench_native DISABLE', [], NATIVE_DB);
      await until(
        'the native slot to go inactive',
        60_000,
        async () => {
          const rows = await source.query<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'bench_native'`);
          return rows[0] && !rows[0].active ? true : undefined;
        },
        200,
      );
    },
    async resume() {
      await target.query('ALTER SUBSCRIPTION bench_native ENABLE', [], NATIVE_DB);
    },
    stop,
  };
}

/**
 * One drain of `drained`'s backlog: it is paused while pgbench writes the backlog and `other`
 * follows live (so its slot does not hold the backlog too); once `other` has applied the marker
 * it is paused in turn, and `drained` resumes alone: the drain is timed until the marker shows on
 * its target. `other` resumes afterwards. The backlog is `seconds` of pgbench -c 4, or
 * `transactions` (as many as an earlier drain's).
 */
async function drainRound(
  options: OnlineOptions,
  drained: Consumer,
  other: Consumer,
  backlog: { seconds: number } | { transactions: number },
  markerId: number,
): Promise<Drain> {
  const { source, target, log } = options;
  await drained.pause();
  let load;
  try {
    await vacuumPgbench(source);
    log(
      `${drained.name}: writing the backlog (pgbench -c 4, ${'seconds' in backlog ? `${backlog.seconds} s` : `${backlog.transactions} transactions`}) while it is paused ...`,
    );
    load = await runPgbench(
      source,
      DB,
      'seconds' in backlog
        ? { clients: 4, seconds: backlog.seconds }
        : { clients: 4, transactionsPerClient: Math.ceil(backlog.transactions / 4) },
    );
    await source.query('INSERT INTO bench_marker (id) VALUES ($1)', [markerId], DB);
    await until(`${other.name} to apply the backlog`, 30 * 60_000, () => markerVisible(target, other.database, markerId), 100);
    await other.pause();
  } catch (error) {
    await drained.resume();
    throw error;
  }
  try {
    let firstProgressSeconds = NaN;
    const { value: seconds, cpu } = await measureCpu(source, target, drained.pid, async () => {
      const started = Date.now();
      await drained.resume();
      ({ firstProgressSeconds } = await drainUntilMarker(target, drained.database, markerId, started));
      return (Date.now() - started) / 1000;
    });
    const rows = load.transactions * ROWS_PER_TRANSACTION + 1;
    const consumerCpu = cpu.consumer === undefined ? '' : `, ${drained.name} ${cpu.consumer.toFixed(1)}`;
    log(
      `${drained.name}: drained ${rows} rows in ${seconds.toFixed(1)} s (CPU s source ${cpu.source.toFixed(1)}, target ${cpu.target.toFixed(1)}${consumerCpu})`,
    );
    return { consumer: drained.name, rows, transactions: load.transactions, seconds, cpu, firstProgressSeconds };
  } finally {
    await other.resume();
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** SIGSTOP/SIGCONT to every process of a tree (the migration process and any child it has). */
async function signalTree(root: number, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  for (const p of await treeOf(root)) {
    try {
      process.kill(p.pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

export async function runOnlineScenarios(options: OnlineOptions): Promise<OnlineResult> {
  const { source, target, log } = options;
  const scale = options.quick ? 2 : 20;
  const backlogSeconds = options.quick ? 15 : 60;
  const loadSeconds = options.quick ? 15 : 60;
  const rounds = options.quick ? 1 : 3;
  log(`online: pgbench scale ${scale} in database ${DB} ...`);
  await prepareSource(source, scale);
  await enableAutovacuum(source, target);

  const native = await startNative(options);

  const server = (c: Cluster) => ({ host: c.host, port: c.port, user: c.user, password: c.password, sslMode: 'disable' });
  const spec = {
    migrationName: `bench-online-${Date.now()}`,
    source: server(source),
    target: server(target),
    databases: [DB],
    mode: 'Online',
    overwriteDbsInTarget: true,
    tableJobs: options.jobs,
    indexJobs: options.jobs,
    // Like the native subscription: no content checksums at cutover (they would count as downtime).
    verify: false,
    pgBinDir: PG_BIN,
  };
  const events: string[] = [];
  const targetSpec: ServerSpec = { ...server(target), sslMode: 'disable', maintenanceDatabase: 'postgres' };
  const migration = startTimed(process.execPath, pgferryOnceArgs(), {
    stdin: JSON.stringify(spec),
    cpu: false,
    onLine: (line) => {
      try {
        const parsed = JSON.parse(line) as { t: number; event?: { kind: string; message?: string; step?: string; seconds?: number } };
        const e = parsed.event;
        if (e && (e.kind === 'warning' || e.kind === 'info' || e.kind === 'step-done')) {
          events.push(`${parsed.t.toFixed(1)} s ${e.kind}: ${e.message ?? `${e.step} ${e.seconds?.toFixed(1)} s`}`);
        }
      } catch {
        // not an event line
      }
    },
  });
  const status = () => showMigration(targetSpec, spec.migrationName);
  const latency = async () => (await status())?.databases[0]?.latencySeconds;
  const failIfEnded = async () => {
    const s = await status();
    if (s && ['Failed', 'Canceled', 'ValidationFailed'].includes(s.state))
      throw new Error(`pgferry online migration ${s.state}: ${s.message ?? ''}`);
    return s;
  };
  let nativeStopped = false;
  try {
    log('pgferry online: copy, then streaming ...');
    await until(
      'WaitingForCutoverTrigger',
      30 * 60_000,
      async () => ((await failIfEnded())?.subState === 'WaitingForCutoverTrigger' ? true : undefined),
      500,
    );
    await until('latency 0 before the backlog', 5 * 60_000, async () => ((await latency()) === 0 ? true : undefined), 200);

    // (a) drains, in rounds with the order alternating: native first in odd rounds.
    await warmUp(source, target, [NATIVE_DB, DB], 101);
    const ferry: Consumer = {
      name: 'pgferry',
      database: DB,
      pid: migration.pid,
      pause: () => signalTree(migration.pid, 'SIGSTOP'),
      resume: () => signalTree(migration.pid, 'SIGCONT'),
    };
    const drains: Drain[] = [];
    let transactions: number | undefined;
    let markerId = 10;
    for (let round = 1; round <= rounds; round++) {
      const order: [Consumer, Consumer] = round % 2 === 1 ? [native, ferry] : [ferry, native];
      for (const [drained, other] of [order, [order[1], order[0]] as const]) {
        const backlog: { seconds: number } | { transactions: number } =
          transactions === undefined ? { seconds: backlogSeconds } : { transactions };
        const drain = await drainRound(options, drained, other, backlog, markerId++);
        transactions ??= drain.transactions;
        drains.push(drain);
        if (drained === ferry)
          await until('latency 0 after the drain', 5 * 60_000, async () => ((await latency()) === 0 ? true : undefined), 100);
      }
    }
    await native.stop();
    nativeStopped = true;
    const of = (name: Drain['consumer']) => drains.filter((d) => d.consumer === name);
    const rowsPerSecond = (d: Drain) => d.rows / d.seconds;
    const nativeRate = median(of('native').map(rowsPerSecond));
    const ferryRate = median(of('pgferry').map(rowsPerSecond));
    const roundRatios = of('pgferry').map((d, i) => rowsPerSecond(d) / rowsPerSecond(of('native')[i]!));
    const medianCpu = (name: Drain['consumer'], part: 'source' | 'target' | 'consumer') => median(of(name).map((d) => d.cpu[part] ?? NaN));
    const medianFirst = (name: Drain['consumer']) => median(of(name).map((d) => d.firstProgressSeconds));

    // (b) lag under load at half the maximum rate, measured while pgferry streams.
    await vacuumPgbench(source);
    const max = await runPgbench(source, DB, { clients: 4, seconds: options.quick ? 5 : 10 });
    await until('latency 0 before the paced load', 5 * 60_000, async () => ((await latency()) === 0 ? true : undefined), 200);
    const rate = max.tps / 2;
    log(`lag: max ${max.tps.toFixed(0)} TPS; pgbench --rate ${rate.toFixed(0)} for ${loadSeconds} s ...`);
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const l = await latency().catch(() => undefined);
        if (typeof l === 'number') samples.push(l);
        await sleep(250);
      }
    })();
    await vacuumPgbench(source);
    const probes = probeLag(source, target);
    const paced = await runPgbench(source, DB, { clients: 4, seconds: loadSeconds, rate });
    sampling = false;
    await sampler;
    const probeLags = await probes.stop();

    // (c) cutover right after the load.
    const cutoverStarted = Date.now();
    await requestCutover(targetSpec, spec.migrationName);
    const final = await until(
      'Succeeded after the cutover',
      10 * 60_000,
      async () => {
        const s = await status();
        if (s && ['Failed', 'Canceled'].includes(s.state)) throw new Error(`cutover ended ${s.state}: ${s.message ?? ''}`);
        return s?.state === 'Succeeded' ? s : undefined;
      },
      100,
    );
    const cutoverWall = (Date.now() - cutoverStarted) / 1000;
    const run = await migration.done;
    const figures = {
      drainRounds: rounds,
      drainRowsPerDrain: median(drains.map((d) => d.rows)),
      nativeDrainRowsPerSecond: nativeRate,
      pgferryDrainRowsPerSecond: ferryRate,
      drainRatio: ferryRate / nativeRate,
      drainRatioMin: Math.min(...roundRatios),
      drainRatioMax: Math.max(...roundRatios),
      nativeDrainCpuSource: medianCpu('native', 'source'),
      nativeDrainCpuTarget: medianCpu('native', 'target'),
      pgferryDrainCpuSource: medianCpu('pgferry', 'source'),
      pgferryDrainCpuTarget: medianCpu('pgferry', 'target'),
      pgferryDrainCpuProcess: medianCpu('pgferry', 'consumer'),
      nativeFirstProgressSeconds: medianFirst('native'),
      pgferryFirstProgressSeconds: medianFirst('pgferry'),
      maxTps: max.tps,
      pacedTps: paced.tps,
      lagP50Seconds: percentile(samples, 50),
      lagP99Seconds: percentile(samples, 99),
      lagMaxSeconds: Math.max(...samples),
      lagSamples: samples.length,
      probeLagP50Seconds: percentile(probeLags, 50),
      probeLagP99Seconds: percentile(probeLags, 99),
      probeLagMaxSeconds: Math.max(...probeLags),
      probeLagSamples: probeLags.length,
      cutoverDowntimeSeconds: final.downtimeSeconds ?? NaN,
      cutoverRequestToSucceededSeconds: cutoverWall,
      runnerPeakRssMiB: run.memory.peakRssBytes / 2 ** 20,
      runnerPeakPssMiB: run.memory.peakPssBytes / 2 ** 20,
    };
    const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
    const lines = [
      `| figure | value | target |`,
      `|---|---|---|`,
      ...drains.map(
        (d, i) =>
          `| (a) drain ${i + 1}, ${d.consumer} | ${d.rows.toLocaleString('en-US')} rows in ${f(d.seconds)} s = ${f(rowsPerSecond(d), 0)} rows/s; ` +
          `CPU s source ${f(d.cpu.source)} / target ${f(d.cpu.target)}${d.cpu.consumer === undefined ? '' : ` / pgferry ${f(d.cpu.consumer)}`} | |`,
      ),
      `| (a) median drain rate (${rounds} each) | native ${f(nativeRate, 0)} rows/s, pgferry ${f(ferryRate, 0)} rows/s | |`,
      `| (a) median CPU s per drain: source / target / pgferry process | native ${f(figures.nativeDrainCpuSource)} / ${f(figures.nativeDrainCpuTarget)} / –; pgferry ${f(figures.pgferryDrainCpuSource)} / ${f(figures.pgferryDrainCpuTarget)} / ${f(figures.pgferryDrainCpuProcess)} | |`,
      `| (a) first applied change after the resume (median) | native ${f(figures.nativeFirstProgressSeconds, 2)} s, pgferry ${f(figures.pgferryFirstProgressSeconds, 2)} s | |`,
      `| (a) pgferry / native drain rate (median rates; per round ${roundRatios.map((r) => f(r, 2)).join(', ')}) | ${f(figures.drainRatio, 2)} | ≥ 1.5 ${figures.drainRatio >= 1.5 ? 'MET' : 'NOT MET'} |`,
      `| (b) load | max ${f(max.tps, 0)} TPS; paced at ${f(rate, 0)} → ${f(paced.tps, 0)} TPS for ${loadSeconds} s | |`,
      `| (b) lag p50 / p99 / max (${samples.length} catalog samples) | ${f(figures.lagP50Seconds, 2)} / ${f(figures.lagP99Seconds, 2)} / ${f(figures.lagMaxSeconds, 2)} s | p99 < 1 s ${figures.lagP99Seconds < 1 ? 'MET' : 'NOT MET'} |`,
      `| (b) end-to-end lag p50 / p99 / max (${probeLags.length} probe rows, ±50 ms) | ${f(figures.probeLagP50Seconds, 2)} / ${f(figures.probeLagP99Seconds, 2)} / ${f(figures.probeLagMaxSeconds, 2)} s | |`,
      `| (c) cutover downtime (engine) | ${f(figures.cutoverDowntimeSeconds, 2)} s (request → Succeeded ${f(cutoverWall, 2)} s) | < 2 s ${figures.cutoverDowntimeSeconds < 2 ? 'MET' : 'NOT MET'} |`,
      `| (d) pgferry process peak RSS / PSS | ${f(figures.runnerPeakRssMiB, 0)} / ${f(figures.runnerPeakPssMiB, 0)} MiB | |`,
      '',
      'Method: a native subscription and pgferry follow the same source database side by side. For each drain one of them is ' +
        `paused while a pgbench backlog is written (-c 4 for ${backlogSeconds} s the first time, then -t with as many transactions) — the native ` +
        'subscription by ALTER SUBSCRIPTION DISABLE, pgferry by SIGSTOP of its process (slot kept, nothing received or applied) — while the ' +
        'other applies it live; once the other has applied it, it is paused in turn and the first resumes alone; the drain ends when a marker ' +
        `row committed after the backlog is visible on its target. ${rounds} round(s), native first in odd rounds and second in even ones; ` +
        'the ratio is of the median rates. Rows = 4 × pgbench transactions + the marker. wal_sender_timeout = 0 on the source ' +
        'so neither paused consumer is disconnected. Before the rounds, 20 pgbench transactions and a marker are applied so both consumers ' +
        "have loaded every table's metadata already. Autovacuum is on for the online part, and pgbench's tables are vacuumed before each backlog. " +
        'pgferry runs with verify: false, so its cutover downtime has no checksum pass (like native). ' +
        'Latency is what the engine writes to the control catalog (every ~2 s), sampled every 250 ms.',
    ];
    return { figures, lines, events };
  } catch (error) {
    if (!nativeStopped) await native.stop();
    await signalTree(migration.pid, 'SIGCONT').catch(() => undefined);
    try {
      process.kill(migration.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await migration.done.catch(() => undefined);
    throw error;
  }
}
