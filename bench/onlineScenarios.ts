// The online scenarios (issue 3), on a pgbench database of their own:
//  (a) drain rate: the same backlog (pgbench -c 4 for 60 s, then as many transactions each time)
//      written while one consumer is stopped, drained by a native PUBLICATION/SUBSCRIPTION and by
//      pgferry, each stopped and started the same way (bench/consumers.ts: its process and its
//      connection end; the restart is inside the timed drain); drained = a marker row committed
//      after the backlog is visible on the target, which in commit order means everything before
//      it was applied. Both consumers follow the same source database side by side; in rounds
//      with the order alternating; every round is reported, and the median of each compared;
//  (b) lag under load: pgbench --rate at half the measured maximum TPS for 60 s, latency sampled
//      from the control catalog; (c) cutover downtime after that load, with the cutover's
//      verification on (the default); (d) peak RSS of pgferry's processes.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { requestCutover, showMigration, type MigrationStatus, type ServerSpec } from '../provider/engine';
import type { Cluster } from '../provider/localpg/cluster';
import { NATIVE_DB, nativeSubscriptionOptions, pgferryConsumer, startNative, waitUntil as until, type Consumer } from './consumers';
import { PG_BIN, pgEnv } from './dataset';
import type { Drain, OnlineOptions, OnlineResult } from './onlineTypes';
import { onlineResult, type LagFigures, type OnlinePlan } from './onlineReport';
import { ROWS_PER_TRANSACTION, runPgbench } from './pgbench';
import { probeLag } from './probeLag';
import { treeCpuSeconds } from './procTree';
import { startTimed } from './timedProcess';
import { pgferryOnceArgs } from './tools';

const execFileAsync = promisify(execFile);
export const DB = 'benchol';
const MARKER = 'CREATE TABLE bench_marker (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
 * A few transactions applied before the pause, so both consumers have already loaded every
 * table's metadata (pgoutput sends a Relation message at a table's first change): the drain then
 * measures applying the backlog, not a one-time start-up.
 */
async function warmUp(source: Cluster, target: Cluster, databases: readonly string[], markerId: number): Promise<void> {
  await runPgbench(source, DB, { clients: 1, transactionsPerClient: 20 });
  await source.query('INSERT INTO bench_marker (id) VALUES ($1)', [markerId], DB);
  for (const database of databases) await until('the warm-up marker', 5 * 60_000, () => markerVisible(target, database, markerId), 100);
}

export async function prepareSource(source: Cluster, scale: number): Promise<void> {
  await source.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await source.query(`CREATE DATABASE ${DB}`);
  await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(scale), DB], { env: pgEnv(source) });
  await source.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], DB);
  await source.query(MARKER, [], DB);
  await source.query('VACUUM ANALYZE', [], DB);
}

/**
 * pgbench's branch and teller rows are updated thousands of times a second: without vacuum their
 * tables bloat and later phases would run a slower load than earlier ones. Autovacuum (on by
 * default, off in the --tuned extra's offline runs) is on for the online part on both servers, plus
 * a VACUUM before each phase so every phase starts from the same state.
 */
export async function enableAutovacuum(source: Cluster, target: Cluster): Promise<void> {
  for (const c of [source, target]) {
    await c.query(`ALTER SYSTEM SET autovacuum = on`);
    await c.query(`SELECT pg_reload_conf()`);
  }
}

async function vacuumPgbench(source: Cluster): Promise<void> {
  await source.query('VACUUM pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history', [], DB);
}

/** The decode-only consumer: a pgoutput slot on the source's database that only pg_recvlogical reads. */
export interface DecodeOnly {
  readonly slot: string;
  /** pgferry's publication, read when the first drain needs it. */
  readonly publication: () => Promise<string>;
}

/** Moves the decode-only slot to the source's current position (untimed: the backlog written next is what it decodes). */
async function decodeOnlyFromNow(source: Cluster, decode: DecodeOnly): Promise<void> {
  await source.query(`SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())`, [decode.slot], DB);
}

/** pg_recvlogical drains the decode-only slot to `endLsn`, alone: wall seconds and the source's CPU (its walsender). */
async function decodeOnlyTo(source: Cluster, decode: DecodeOnly, endLsn: string): Promise<{ seconds: number; sourceCpu: number }> {
  const pid = await postmasterPid(source);
  const before = await treeCpuSeconds(pid);
  const started = Date.now();
  await execFileAsync(
    `${PG_BIN}/pg_recvlogical`,
    [
      ...['-d', DB, '--slot', decode.slot, '--start', '--no-loop', '--endpos', endLsn],
      ...['-o', 'proto_version=1', '-o', `publication_names=${await decode.publication()}`, '-o', 'messages=true', '-f', '/dev/null'],
    ],
    { env: pgEnv(source) },
  );
  return { seconds: (Date.now() - started) / 1000, sourceCpu: (await treeCpuSeconds(pid)) - before };
}

async function postmasterPid(cluster: Cluster): Promise<number> {
  return Number((await fs.readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/**
 * CPU used by both servers while `fn` runs, and by the consumer's own process (started by the
 * resume inside `fn`, so all of its CPU, start-up included, belongs to the drain).
 */
async function measureCpu<T>(
  source: Cluster,
  target: Cluster,
  consumer: Consumer,
  fn: () => Promise<T>,
): Promise<{ value: T; cpu: Drain['cpu'] }> {
  const pids = [await postmasterPid(source), await postmasterPid(target)];
  const before = await Promise.all(pids.map(treeCpuSeconds));
  const value = await fn();
  const after = await Promise.all(pids.map(treeCpuSeconds));
  const own = consumer.processCpuSeconds ? { consumer: await consumer.processCpuSeconds() } : {};
  return { value, cpu: { source: after[0]! - before[0]!, target: after[1]! - before[1]!, ...own } };
}

/**
 * One drain of `drained`'s backlog: it is stopped while pgbench writes the backlog and `other`
 * follows live (so its slot does not hold the backlog too); once `other` has applied the marker
 * it is stopped in turn, and `drained` starts again alone: the drain is timed from its start until
 * the marker shows on its target. `other` starts again afterwards. The backlog is `seconds` of
 * pgbench -c 4, or `transactions` (as many as an earlier drain's).
 */
export async function drainRound(
  options: OnlineOptions,
  drained: Consumer,
  other: Consumer,
  backlog: { seconds: number } | { transactions: number },
  markerId: number,
  at: Pick<Drain, 'round' | 'turn'>,
  decode?: DecodeOnly,
): Promise<Drain> {
  const { source, target, log } = options;
  await drained.pause();
  let load;
  let endLsn: string | undefined;
  try {
    await vacuumPgbench(source);
    if (decode) await decodeOnlyFromNow(source, decode);
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
    endLsn = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
    await until(`${other.name} to apply the backlog`, 30 * 60_000, () => markerVisible(target, other.database, markerId), 100);
    await other.pause();
  } catch (error) {
    await drained.resume();
    throw error;
  }
  try {
    let firstProgressSeconds = NaN;
    const { value: seconds, cpu } = await measureCpu(source, target, drained, async () => {
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
    // alone on the source, as the drain was: `other` starts again after it
    const decodeOnly = decode && endLsn ? await decodeOnlyTo(source, decode, endLsn) : undefined;
    if (decodeOnly)
      log(`decode-only: the same backlog in ${decodeOnly.seconds.toFixed(2)} s (source CPU ${decodeOnly.sourceCpu.toFixed(1)} s)`);
    return {
      ...at,
      consumer: drained.name,
      rows,
      transactions: load.transactions,
      seconds,
      cpu,
      firstProgressSeconds,
      ...(decodeOnly ? { decodeOnly } : {}),
    };
  } finally {
    await other.resume();
  }
}

/** The drains, in rounds with the order alternating: native first in odd rounds. */
async function drainRounds(
  options: OnlineOptions,
  native: Consumer,
  ferry: Consumer,
  plan: OnlinePlan,
  caughtUp: (what: string) => Promise<void>,
  decode: DecodeOnly,
): Promise<Drain[]> {
  const drains: Drain[] = [];
  let transactions: number | undefined;
  let markerId = 10;
  for (let round = 1; round <= plan.rounds; round++) {
    const order: [Consumer, Consumer] = round % 2 === 1 ? [native, ferry] : [ferry, native];
    for (const [turn, [drained, other]] of [
      ['first', order],
      ['second', [order[1], order[0]]],
    ] as const) {
      const backlog = transactions === undefined ? { seconds: plan.backlogSeconds } : { transactions };
      const drain = await drainRound(options, drained, other, backlog, markerId++, { round, turn }, drained === ferry ? decode : undefined);
      transactions ??= drain.transactions;
      drains.push(drain);
      if (drained === ferry) await caughtUp('pgferry to catch up after its drain');
    }
  }
  return drains;
}

/** (b): pgbench --rate at half the maximum TPS while pgferry streams; catalog latency and probe rows sampled. */
async function lagUnderLoad(
  options: OnlineOptions,
  plan: OnlinePlan,
  latency: () => Promise<number | undefined>,
  caughtUp: (what: string) => Promise<void>,
): Promise<LagFigures> {
  const { source, target, log } = options;
  await vacuumPgbench(source);
  const max = await runPgbench(source, DB, { clients: 4, seconds: options.quick ? 5 : 10 });
  await caughtUp('pgferry to catch up before the paced load');
  const rate = max.tps / 2;
  log(`lag: max ${max.tps.toFixed(0)} TPS; pgbench --rate ${rate.toFixed(0)} for ${plan.loadSeconds} s ...`);
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
  const probes = probeLag(source, target, DB);
  const paced = await runPgbench(source, DB, { clients: 4, seconds: plan.loadSeconds, rate });
  sampling = false;
  await sampler;
  return { maxTps: max.tps, rate, pacedTps: paced.tps, samples, probeLags: await probes.stop() };
}

/** Starts pgferry's online migration in a child process; its events go to `events`; `extra` adds spec fields (verify). */
export function startPgferry(options: OnlineOptions, events: string[], extra: Record<string, unknown> = {}) {
  const { source, target } = options;
  const server = (c: Cluster) => ({ host: c.host, port: c.port, user: c.user, password: c.password, sslMode: 'disable' as const });
  // verify is left at its default (on): the cutover downtime is quoted with the verification users get.
  const spec = {
    migrationName: `bench-online-${Date.now()}`,
    source: server(source),
    target: server(target),
    databases: [DB],
    mode: 'Online',
    overwriteDbsInTarget: true,
    tableJobs: options.jobs,
    indexJobs: options.jobs,
    pgBinDir: PG_BIN,
    ...extra,
  };
  const began = Date.now();
  const onLine = (line: string) => {
    try {
      const parsed = JSON.parse(line) as { t: number; event?: { kind: string; message?: string; step?: string; seconds?: number } };
      const e = parsed.event;
      if (e && (e.kind === 'warning' || e.kind === 'info' || e.kind === 'step-done')) {
        events.push(`${parsed.t.toFixed(1)} s ${e.kind}: ${e.message ?? `${e.step} ${e.seconds?.toFixed(1)} s`}`);
      }
    } catch {
      // a runner's text line (after a restart)
      if (line.trim()) events.push(`${((Date.now() - began) / 1000).toFixed(1)} s runner: ${line}`);
    }
  };
  const first = startTimed(process.execPath, pgferryOnceArgs(), { stdin: JSON.stringify(spec), cpu: false, onLine });
  const targetSpec: ServerSpec = { ...server(target), maintenanceDatabase: 'postgres' };
  const status = () => showMigration(targetSpec, spec.migrationName);
  const ferry = pgferryConsumer({
    source,
    database: DB,
    spec,
    slot: async () => (await status())?.databases[0]?.names?.slot ?? '',
    first,
    onLine,
  });
  return { spec, targetSpec, status, ferry };
}

/** Sizes and lengths of the online scenarios; --quick and --online-seconds shorten them. */
function onlinePlan(options: OnlineOptions): OnlinePlan {
  const seconds = options.seconds ?? (options.quick ? 15 : 60);
  return {
    scale: options.quick ? 2 : 20,
    backlogSeconds: seconds,
    loadSeconds: seconds,
    rounds: options.quick ? 1 : 3,
    nativeOptions: options.nativeWithout ? [] : nativeSubscriptionOptions(options.source.major, options.target.major),
  };
}

/**
 * Caught up = a marker committed now is on the target: the engine's latency figure reads 0
 * while a backlog still waits to be received, so it cannot say when a phase may start.
 */
export function catchUpProbe(source: Cluster, target: Cluster): (what: string) => Promise<void> {
  let caughtUpMarker = 500;
  return async (what) => {
    const id = caughtUpMarker++;
    await source.query('INSERT INTO bench_marker (id) VALUES ($1)', [id], DB);
    await until(what, 10 * 60_000, () => markerVisible(target, DB, id), 100);
  };
}

/** Waits for pgferry's copy to end and its changes to stream; fails if the migration ended instead. */
export async function untilStreaming(status: () => Promise<MigrationStatus | undefined>): Promise<void> {
  await until(
    'WaitingForCutoverTrigger',
    30 * 60_000,
    async () => {
      const s = await status();
      if (s && ['Failed', 'Canceled', 'ValidationFailed'].includes(s.state))
        throw new Error(`pgferry online migration ${s.state}: ${s.message ?? ''}`);
      return s?.subState === 'WaitingForCutoverTrigger' ? true : undefined;
    },
    500,
  );
}

/** The decode-only slot for the drains; drop() removes it (it holds WAL while it exists). */
async function decodeOnlySlot(source: Cluster, publication: () => Promise<string>): Promise<DecodeOnly & { drop(): Promise<void> }> {
  const slot = 'bench_decode_only';
  await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot], DB);
  return {
    slot,
    publication,
    drop: async () => {
      await source.query('SELECT pg_drop_replication_slot($1)', [slot], DB).catch(() => undefined);
    },
  };
}

/** After a failed scenario: the native subscriber stopped and pgferry's process ended. */
async function abandonConsumers(native: { stop(): Promise<void> } | undefined, ferry: ReturnType<typeof pgferryConsumer>): Promise<void> {
  if (native) await native.stop();
  try {
    // a runner stops on SIGTERM as a kill would, its slot kept; the first process just exits
    process.kill(ferry.current().pid, 'SIGTERM');
  } catch {
    // already gone
  }
  await ferry.current().done.catch(() => undefined);
}

export async function runOnlineScenarios(options: OnlineOptions): Promise<OnlineResult> {
  const { source, target, log } = options;
  const plan = onlinePlan(options);
  log(`online: pgbench scale ${plan.scale} in database ${DB} ...`);
  await prepareSource(source, plan.scale);
  await enableAutovacuum(source, target);
  const native = await startNative(options, DB, plan.nativeOptions);
  const events: string[] = [];
  const { spec, targetSpec, status, ferry } = startPgferry(options, events);
  const latency = async () => (await status())?.databases[0]?.latencySeconds;
  const caughtUp = catchUpProbe(source, target);
  let nativeStopped = false;
  try {
    log('pgferry online: copy, then streaming ...');
    await untilStreaming(status);
    await caughtUp('pgferry to catch up before the backlog');
    await warmUp(source, target, [NATIVE_DB, DB], 101);
    const decode = await decodeOnlySlot(source, async () => (await status())?.databases[0]?.names?.publication ?? '');
    const drains = await drainRounds(options, native, ferry, plan, caughtUp, decode).finally(() => decode.drop());
    await native.stop();
    nativeStopped = true;
    const lag = await lagUnderLoad(options, plan, latency, caughtUp);
    const cutover = await cutoverAfterLoad(targetSpec, spec.migrationName, status);
    const last = await ferry.current().done;
    const memory = [...ferry.endedMemory, last.memory];
    return onlineResult({ plan, drains, lag, cutover, memory, events });
  } catch (error) {
    await abandonConsumers(nativeStopped ? undefined : native, ferry);
    throw error;
  }
}

/** (c): the cutover right after the load, timed by the engine and from the request to Succeeded. */
async function cutoverAfterLoad(
  targetSpec: ServerSpec,
  name: string,
  status: () => Promise<MigrationStatus | undefined>,
): Promise<{ downtimeSeconds: number; wallSeconds: number; verified: boolean }> {
  const started = Date.now();
  await requestCutover(targetSpec, name);
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
  return {
    downtimeSeconds: final.downtimeSeconds ?? NaN,
    wallSeconds: (Date.now() - started) / 1000,
    verified: final.verification?.ok === true,
  };
}
