// A developer's loop for apply throughput (not part of `npm run bench`): the same pgbench backlog
// drained by a native subscription and by pgferry's Applier in this process, each on clusters of
// its own (run it under `node --cpu-prof` to see where the time goes).
//   node dist/bench/drainLab.js --help   lists the options (bench/drainLabArgs.ts)
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import path from 'node:path';
import { promisify } from 'node:util';
import { Applier } from '../provider/engine/cdc/apply/applier';
import { parseLsn } from '../provider/decoder';
import { DEFAULT_LIMITS } from '../provider/engine/cdc/plan/planner';
import { literal } from '../provider/engine';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { argsOrExit } from './commandLine';
import { PG_BIN, pgEnv } from './dataset';
import { parseDrainLabArgs, type DrainLabArgs } from './drainLabArgs';
import { runPgbench } from './pgbench';
import { processCpuSeconds, treeCpuSeconds } from './procTree';
import { benchSettings, LAB_STREAM, labServer } from './settings';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pgbenchInit(cluster: Cluster, database: string, scale: number): Promise<void> {
  await cluster.query(`CREATE DATABASE ${database}`);
  await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(scale), database], { env: pgEnv(cluster) });
  await cluster.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], database);
  await cluster.query('VACUUM ANALYZE', [], database);
}

async function postmasterPid(cluster: Cluster): Promise<number> {
  return Number((await readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** CPU seconds used by the source cluster, the target cluster and this process while `run` runs. */
async function cpuDuring(source: Cluster, target: Cluster, run: () => Promise<void>): Promise<string> {
  const pids = [await postmasterPid(source), await postmasterPid(target)];
  const before = await Promise.all(pids.map(treeCpuSeconds));
  const self = process.cpuUsage();
  await run();
  const used = process.cpuUsage(self);
  const after = await Promise.all(pids.map(treeCpuSeconds));
  return `CPU s source ${(after[0]! - before[0]!).toFixed(1)}, target ${(after[1]! - before[1]!).toFixed(1)}, this process ${((used.user + used.system) / 1e6).toFixed(1)}`;
}

async function currentLsn(source: Cluster): Promise<bigint> {
  const rows = await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]!.lsn);
}

/** The sampling heap profiler, counting objects the garbage collector has already freed too. */
async function startAllocationProfile(): Promise<{ stop(): Promise<unknown> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop() {
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      session.disconnect();
      return profile;
    },
  };
}

/** A process's CPU in clock ticks (1/100 s, /proc's unit): what the timeline prints. */
async function ticks(pid: number): Promise<number> {
  return Math.round((await processCpuSeconds(pid)) * 100);
}

/** Samples the three processes of a pgferry drain every 100 ms into `lines` until stopped. */
function sampleTimeline(source: Cluster, target: Cluster, lines: string[]): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    let pids: number[] = [];
    while (running && pids.length < 3) {
      const w = await source.query<{ pid: number | null }>(`SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = 'drain'`);
      const t = await target.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry apply'`);
      if (w[0]?.pid && t[0]?.pid) pids = [w[0].pid, process.pid, t[0].pid];
      else await sleep(20);
    }
    // what the apply backend is doing, polled as often as a query allows: running a statement
    // (active), or waiting for this process (idle in transaction / idle)
    const states = new Map<string, number>();
    const poller = (async () => {
      if (process.env.DRAIN_TIMELINE !== '2') return; // the polling itself costs the target CPU
      const client = await target.connect('postgres');
      try {
        while (running) {
          const { rows } = await client.query<{ s: string }>(
            `SELECT state || coalesce('/' || wait_event, '') AS s FROM pg_stat_activity WHERE pid = $1`,
            [pids[2]],
          );
          const key = rows[0]?.s ?? 'gone';
          states.set(key, (states.get(key) ?? 0) + 1);
        }
      } finally {
        await client.end();
      }
    })();
    let last = await Promise.all(pids.map(ticks));
    while (running) {
      await sleep(100);
      const now = await Promise.all(pids.map(ticks));
      const seen = [...states]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      states.clear();
      lines.push(
        now.map((n, i) => String(n - last[i]!).padStart(4)).join(' ') + `  = ${now.reduce((a, n, i) => a + n - last[i]!, 0)}   ${seen}`,
      );
      last = now;
    }
    await poller;
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

interface DrainResult {
  readonly seconds: number;
  readonly rows: number;
  readonly line: string;
}

/** How long one consumer took to drain the backlog, and what it used doing so. */
interface Drained {
  readonly seconds: number;
  readonly detail: string;
}

/**
 * pgbench initialised on both sides, a publication and the slot `drain` on the source (and, for
 * the native consumer, a disabled subscription on it); returns the slot's start position.
 */
async function prepareLab(source: Cluster, target: Cluster, consumer: 'native' | 'pgferry', scale: number): Promise<bigint> {
  await Promise.all([pgbenchInit(source, 'lab', scale), pgbenchInit(target, 'lab', scale)]);
  await source.query('CREATE PUBLICATION labpub FOR ALL TABLES', [], 'lab');
  const slotRows = await source.query<{ lsn: string }>(
    `SELECT lsn::text FROM pg_create_logical_replication_slot('drain', 'pgoutput')`,
    [],
    'lab',
  );
  if (consumer === 'native') {
    const conn = `host=${source.host} port=${source.port} user=${source.user} password=${source.password} dbname=lab`;
    await target.query(
      `CREATE SUBSCRIPTION labsub CONNECTION ${literal(conn)} PUBLICATION labpub WITH (create_slot = false, slot_name = 'drain', enabled = false, copy_data = false, binary = ${process.env.NATIVE_BINARY === '1'})`,
      [],
      'lab',
    );
  }
  return parseLsn(slotRows[0]!.lsn);
}

/** The backlog: pgbench while nothing consumes, then a quiet source; returns where it ends and its rows. */
async function writeBacklog(source: Cluster, consumer: string, clients: number, tx: number): Promise<{ end: bigint; rows: number }> {
  const bench = await runPgbench(source, 'lab', { clients, transactionsPerClient: tx });
  const end = await currentLsn(source);
  const rows = bench.transactions * 4;
  process.stdout.write(`${consumer} backlog: ${bench.transactions} transactions, ${rows} rows, written at ${bench.tps.toFixed(0)} TPS\n`);
  // the same quiet start for both: pgbench's own aftermath (autovacuum, checkpoint) out of the drain
  await source.query('VACUUM pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history', [], 'lab');
  await source.query('CHECKPOINT');
  return { end, rows };
}

/** The native subscription, enabled until the slot confirms the backlog's end. */
async function drainNative(source: Cluster, target: Cluster, end: bigint): Promise<Drained> {
  let seconds = NaN;
  const cpu = await cpuDuring(source, target, async () => {
    const started = Date.now();
    await target.query('ALTER SUBSCRIPTION labsub ENABLE', [], 'lab');
    for (;;) {
      const r = await source.query<{ lsn: string }>(
        `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'drain'`,
      );
      if (parseLsn(r[0]!.lsn) >= end) break;
      await sleep(20);
    }
    seconds = (Date.now() - started) / 1000;
  });
  await target.query('ALTER SUBSCRIPTION labsub DISABLE', [], 'lab');
  return { seconds, detail: cpu };
}

function labApplier(source: Cluster, target: Cluster, initialLsn: bigint): Applier {
  return new Applier({
    source: labServer(source),
    target: labServer(target),
    ...LAB_STREAM,
    initialLsn,
    // experiments: PGFERRY_MAX_ROWS=N changes the rows per statement
    limits: process.env.PGFERRY_MAX_ROWS ? { ...DEFAULT_LIMITS, maxRows: Number(process.env.PGFERRY_MAX_ROWS) } : undefined,
    // and PGFERRY_QUEUE_MB=N the in-memory queue's budget
    queueBudgetBytes: process.env.PGFERRY_QUEUE_MB ? Number(process.env.PGFERRY_QUEUE_MB) * 2 ** 20 : undefined,
  });
}

/** pgferry's Applier in this process, from the slot's start until it has applied the backlog's end. */
async function drainPgferry(source: Cluster, target: Cluster, initialLsn: bigint, end: bigint): Promise<Drained> {
  const applier = labApplier(source, target, initialLsn);
  const timeline: string[] = [];
  let seconds = NaN;
  const cpu = await cpuDuring(source, target, async () => {
    const started = Date.now();
    const running = applier.run();
    // DRAIN_TIMELINE=1: CPU % of the walsender, this process and the apply backend every 100 ms;
    // =2 also what the apply backend waits on
    const sampler = process.env.DRAIN_TIMELINE ? sampleTimeline(source, target, timeline) : undefined;
    // DRAIN_ALLOC_PROFILE=file: where this process allocates during the drain, garbage included
    const allocations = process.env.DRAIN_ALLOC_PROFILE ? await startAllocationProfile() : undefined;
    while (applier.stats().appliedLsn < end && applier.stats().confirmedLsn < end) await sleep(20);
    seconds = (Date.now() - started) / 1000;
    await sampler?.stop();
    if (allocations) await writeFile(process.env.DRAIN_ALLOC_PROFILE!, JSON.stringify(await allocations.stop()));
    applier.stop();
    await running;
  });
  if (timeline.length > 0)
    process.stdout.write(`timeline (walsender / pgferry / apply backend, CPU % per 100 ms):\n${timeline.join('\n')}\n`);
  const s = applier.stats();
  const detail = `${s.inserts} ins, ${s.updates} upd, ${s.deletes} del applied; peak queue ${(s.peakQueuedBytes / 1048576).toFixed(1)} MiB; ${cpu}`;
  return { seconds, detail };
}

/** Balances and history rows of both sides, as one string each: equal when the drain was whole. */
async function labSums(source: Cluster, target: Cluster): Promise<{ want: string; got: string }> {
  const sums = `SELECT (SELECT sum(abalance) FROM pgbench_accounts)::text || '/' || (SELECT count(*) FROM pgbench_history)::text || '/' || (SELECT sum(tbalance) FROM pgbench_tellers)::text AS s`;
  const [want, got] = await Promise.all([source.query<{ s: string }>(sums, [], 'lab'), target.query<{ s: string }>(sums, [], 'lab')]);
  return { want: want[0]!.s, got: got[0]!.s };
}

/**
 * One consumer's drain on a pair of clusters of its own: pgbench initialised on both sides, a slot
 * created, the backlog written, then drained. Each consumer gets fresh clusters because the order
 * mattered more than the consumer: run back to back on one pair, whichever drained first was up to
 * 1.5x slower (cold caches, the source still vacuuming after pgbench), which inflated the ratio.
 */
async function drainOnce(consumer: 'native' | 'pgferry', args: DrainLabArgs): Promise<DrainResult> {
  const settings = { ...benchSettings({ fsyncOff: args.fsyncOff, tuned: true }), autovacuum: 'on' };
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'drain-src', settings }),
    startCluster({ major: 15, label: 'drain-dst', settings }),
  ]);
  try {
    const initialLsn = await prepareLab(source, target, consumer, args.scale);
    const { end, rows } = await writeBacklog(source, consumer, args.clients, args.tx);
    const { seconds, detail } =
      consumer === 'native' ? await drainNative(source, target, end) : await drainPgferry(source, target, initialLsn, end);
    const { want, got } = await labSums(source, target);
    const line = `${consumer}: ${seconds.toFixed(2)} s, ${(rows / seconds).toFixed(0)} rows/s (${detail}); source ${want}, target ${got}`;
    process.stdout.write(`${line}\n`);
    return { seconds, rows, line };
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
}

async function main(args: DrainLabArgs): Promise<void> {
  try {
    const native = args.native ? await drainOnce('native', args) : undefined;
    const pgferry = args.pgferry ? await drainOnce('pgferry', args) : undefined;
    if (native && pgferry) process.stdout.write(`ratio pgferry/native: ${(native.seconds / pgferry.seconds).toFixed(2)}\n`);
  } finally {
    await stopAllClusters();
  }
}

const args = argsOrExit('drainLab', () => parseDrainLabArgs(process.argv.slice(2)), 'node dist/bench/drainLab.js --help lists the options');
main(args).catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
