// A developer's loop for restart cost (not part of `npm run bench`): one online migration of a
// small pgbench database streams beside a native subscription of the same database (bench/consumers.ts);
// then, several times, both are stopped (pgferry's runner killed, the subscription disabled), a
// backlog written, and each resumed alone in turn (ENABLE; for pgferry, by turns one round each, a
// new runner as `pgferry resume` starts it, a runner started ahead and already loaded, handed its
// input at the resume, or `pgferry agent` with its spare runner taking the migration up:
// bench/restartLabAgent.ts), the order alternating by round, timed until its
// replication origin on the target first moves (the first applied change).
// Before the resumes it reads each slot's restart point and confirmed position: the WAL between
// them is what a walsender decodes again before it sends anything. Each round prints the resumed
// runner's PGFERRY_TRACE marks (provider/engine/util/trace.ts) in milliseconds since the lab
// handed it its input (started it, for a new process), beside what the lab saw.
// With --base DIR (another build's dist/), pgferry's runners come from that build and this one by
// turns, so two builds are timed in one lab against the same backlogs and load; each build's rounds
// meet the first two ways of resuming (two rounds each by turns; the agent starts this build's
// runners only) and both orders.
//   node dist/bench/restartLab.js [rounds] [backlog transactions] [--tuned] [--statements] [--base DIR | --agent]
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { NATIVE_DB, nativeSubscriptionOptions, startNative, waitUntil as until, type Consumer } from './consumers';
import { catchUpProbe, DB, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';
import { runPgbench } from './pgbench';
import { benchSettings, settingsLabel } from './settings';
import { LabAgent } from './restartLabAgent';

/**
 * The marks of process `pid` in a PGFERRY_TRACE file, in ms since `startedAt` (the lab's own clock,
 * when it started the process): its first line gives the wall-clock time its marks count from.
 */
async function timeline(file: string, pid: number, startedAt: number): Promise<string[]> {
  const lines = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith(`${pid} `));
  const origin = /process start at (\d+)/.exec(lines[0] ?? '');
  if (!origin) return [];
  const offset = Number(origin[1]) - startedAt;
  return lines.map((l) => {
    const [, ms, ...label] = l.split(' ');
    return `${String(Math.round(offset + Number(ms))).padStart(6)} ms  ${label.join(' ')}`;
  });
}

/** What --statements adds to both servers' settings: every statement and connection, stamped to the ms with its process and application name. */
const STATEMENT_LOG: Readonly<Record<string, string>> = {
  log_statement: "'all'",
  log_connections: 'on',
  log_line_prefix: "'%m [%p] %a '",
  log_timezone: "'UTC'",
};

/**
 * pgferry's lines of a server's log (its sessions' application names begin with `pgferry `, and a
 * connection's authorization names it) stamped from `from` to `to` (ms since the epoch), as ms
 * since `from`.
 */
async function pgferryStatements(cluster: Cluster, side: string, from: number, to: number): Promise<string[]> {
  const text = await fs.readFile(cluster.logFile, 'utf8').catch(() => '');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const stamp = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\w+) (\[\d+\]) (.*)$/.exec(line);
    if (!stamp) continue;
    const at = Date.parse(`${stamp[1]!.replace(' ', 'T')}Z`);
    if (at < from || at > to) continue;
    if (!stamp[4]!.startsWith('pgferry ') && !/application_name=pgferry /.test(stamp[4]!)) continue;
    out.push(`${String(at - from).padStart(6)} ms  ${side} ${stamp[3]} ${stamp[4]!.slice(0, 160)}`);
  }
  return out;
}

/** This build's runner entry, which the lab's runners start from unless --base gives another. */
const THIS_RUNNER = path.join(__dirname, '..', 'provider', 'engine', 'runner', 'main.js');

const log = (line: string) => process.stderr.write(`[restartLab ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Native's origin is named pg_<subscription oid>; pgferry's is its own (core/names.ts). */
const ORIGIN_OF: Record<Consumer['name'], string> = {
  native: `external_id LIKE 'pg\\_%'`,
  pgferry: `external_id NOT LIKE 'pg\\_%'`,
};

/**
 * The applied position a consumer's origin on the target records, read on one session the lab
 * keeps open: a new connection per look took 50-100 ms on a loaded target, longer than the look.
 */
async function originPosition(watch: pg.Client, consumer: Consumer['name']): Promise<string | null> {
  const { rows } = await watch.query<{ p: string | null }>(
    `SELECT string_agg(remote_lsn::text, ',') AS p FROM pg_replication_origin_status WHERE ${ORIGIN_OF[consumer]}`,
  );
  return rows[0]?.p ?? null;
}

/** A slot's WAL from its restart point to its confirmed position: what a new walsender decodes before its first change. */
async function slotDistance(source: Cluster, slot: string): Promise<{ bytes: number; restart: string; confirmed: string }> {
  const rows = await source.query<{ bytes: string; restart: string; confirmed: string }>(
    `SELECT pg_wal_lsn_diff(confirmed_flush_lsn, restart_lsn)::bigint::text AS bytes, restart_lsn::text AS restart,
            confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = rows[0]!;
  return { bytes: Number(row.bytes), restart: row.restart, confirmed: row.confirmed };
}

/**
 * How each round resumes: native's worker, or pgferry by a new process, by one already loaded, or by
 * an agent's spare (with --base, of which build).
 */
type Resumed = string;

/** --agent: every round of pgferry's resumes by the agent's spare (pgferryWays). */
const agentOnly = process.argv.includes('--agent');

/**
 * pgferry's ways of resuming: with --base, a new and a loaded process of each build, as the agent
 * starts this build's runners only; with --agent, the agent's alone, so that its rounds are many
 * in a run as short as the others' (each beside native's worker as ever).
 */
const pgferryWays = (base: boolean): readonly Resumed[] =>
  base
    ? ['pgferry, new process', 'pgferry, loaded process']
    : agentOnly
      ? ['pgferry, agent']
      : ['pgferry, new process', 'pgferry, loaded process', 'pgferry, agent'];

/**
 * pgferry's way of resuming in `round`: one round each by turns (an odd cycle, so over six rounds
 * each meets both orders); with --base, two rounds each by turns, so each meets both orders.
 */
function pgferryWay(round: number, base: boolean): Resumed {
  const ways = pgferryWays(base);
  return base ? ways[Math.floor((round - 1) / 2) % 2]! : ways[(round - 1) % ways.length]!;
}

/**
 * With --base, whether `round` runs the base build: by turns, shifted by one every four rounds, so
 * that in each eight each build meets each way of resuming in both orders (native first in odd rounds).
 */
const baseRound = (round: number): boolean => (round - 1 + Math.floor((round - 1) / 4)) % 2 === 1;

/** The ms of the first trace mark labelled `label` in a round's timeline (timeline's lines), or NaN. */
function markAt(marks: readonly string[], label: string): number {
  const line = marks.find((m) => m.slice(11) === label);
  return line === undefined ? Number.NaN : Number(line.slice(0, 6));
}

/** Returns once process `pid` has marked `main` in the trace file: its modules are loaded and it waits for its input. */
async function loadedIn(file: string, pid: number): Promise<void> {
  await until(
    `runner ${pid} loaded`,
    60_000,
    async () =>
      (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').some((l) => l.startsWith(`${pid} `) && l.endsWith(' main'))
        ? true
        : undefined,
    20,
  );
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Both consumers streaming and caught up: pgferry's migration and the native subscription beside it. */
async function startConsumers(source: Cluster, target: Cluster) {
  const options = { source, target, jobs: 2, quick: true, log };
  const native = await startNative(options, DB, nativeSubscriptionOptions(source.major, target.major));
  const { ferry, status, spec } = startPgferry(options, []);
  await untilStreaming(status);
  const slotOf: Record<Consumer['name'], string> = { native: 'bench_native', pgferry: (await status())?.databases[0]?.names?.slot ?? '' };
  const databaseOf: Record<Consumer['name'], string> = { native: NATIVE_DB, pgferry: DB };
  const caughtUp = catchUpProbe(source, target);
  let markerId = 3000;
  /** Both consumers have applied a marker committed now. */
  const bothCaughtUp = async (what: string) => {
    const id = markerId++;
    await source.query('INSERT INTO bench_marker (id) VALUES ($1)', [id], DB);
    for (const name of ['native', 'pgferry'] as const)
      await until(
        `${name} ${what}`,
        10 * 60_000,
        async () => {
          const rows = await target.query('SELECT 1 FROM bench_marker WHERE id = $1', [id], databaseOf[name]).catch(() => []);
          return rows.length > 0 ? true : undefined;
        },
        100,
      );
  };
  await caughtUp('pgferry streaming');
  await bothCaughtUp('to catch up before the rounds');
  const agent = await LabAgent.start(source, target, DB, spec.migrationName);
  return { native, ferry, spec, agent, slotOf, caughtUp, bothCaughtUp };
}

type Consumers = Awaited<ReturnType<typeof startConsumers>>;

/** One consumer resumed alone: seconds to its first applied change, and its slot's WAL decoded again. */
async function resumeTimed(
  lab: { source: Cluster; target: Cluster; watch: pg.Client; traceFile: string; round: number; statements: boolean },
  consumers: Consumers,
  consumer: Consumer,
  label: Resumed,
): Promise<{ first: number; bytes: number; leaseToStart?: number }> {
  const { source, watch, traceFile, round } = lab;
  const distance = await slotDistance(source, consumers.slotOf[consumer.name]);
  const initial = await originPosition(watch, consumer.name);
  const viaAgent = label === 'pgferry, agent';
  const started = Date.now();
  if (viaAgent) await consumers.agent.release(true);
  else await consumer.resume();
  await until(
    `${consumer.name}'s first applied change`,
    120_000,
    async () => ((await originPosition(watch, consumer.name)) !== initial ? true : undefined),
    20,
  );
  const first = (Date.now() - started) / 1000;
  log(
    `round ${round}: ${label} resume → first applied change ${first.toFixed(2)} s; ` +
      `its slot decoded ${(distance.bytes / 1024).toFixed(0)} kB again (restart ${distance.restart}, confirmed ${distance.confirmed})`,
  );
  if (consumer === consumers.ferry) {
    await consumers.caughtUp('pgferry to catch up');
    const pid = viaAgent ? consumers.agent.runnerPid()! : consumers.ferry.current().pid;
    const marks = await timeline(traceFile, pid, started);
    const end = started + Math.round(first * 1000);
    const statements = lab.statements
      ? [...(await pgferryStatements(source, 'source', started, end)), ...(await pgferryStatements(lab.target, 'target', started, end))]
      : [];
    const all = [...marks, ...statements].sort((a, b) => Number(a.slice(0, 6)) - Number(b.slice(0, 6)));
    process.stderr.write(`${[...all, `${String(Math.round(first * 1000)).padStart(6)} ms  (lab) the origin moved`].join('\n')}\n`);
    return { first, bytes: distance.bytes, leaseToStart: markAt(marks, 'START_REPLICATION sent') - markAt(marks, 'lease') };
  }
  return { first, bytes: distance.bytes };
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function slotActive(source: Cluster, slot: string): Promise<boolean> {
  const rows = await source.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows[0]?.active === true;
}

/**
 * Stops pgferry for round `way` after round `previous`: its runner killed (the agent's, after an
 * agent round), the lease held by the lab around an agent round so the agent takes nothing up
 * while the backlog is written, and the migration's runtime set for the round's way.
 */
async function pausePgferry(source: Cluster, consumers: Consumers, previous: Resumed | undefined, way: Resumed): Promise<void> {
  const { ferry, agent, spec, slotOf } = consumers;
  const viaAgent = way === 'pgferry, agent';
  if (previous !== 'pgferry, agent' && !viaAgent) {
    const before = ferry.current();
    await ferry.pause();
    await before.done;
    return;
  }
  const killed = async () => {
    if (previous !== 'pgferry, agent') return ferry.pause();
    const pid = agent.runnerPid()!;
    process.kill(pid, 'SIGKILL');
    await until(`the agent's runner ${pid} to exit`, 60_000, async () => (pidAlive(pid) ? undefined : true), 20);
  };
  await agent.holdLease(killed);
  await until('pgferry slot inactive', 60_000, async () => ((await slotActive(source, slotOf.pgferry)) ? undefined : true), 50);
  await agent.runtime(viaAgent ? 'agents' : 'local', spec);
  if (!viaAgent) await agent.release(false);
}

/** The rounds: both stopped, the backlog written, each resumed alone in turn (native first in odd rounds). */
async function runRounds(
  source: Cluster,
  target: Cluster,
  options: { rounds: number; transactions: number; traceFile: string; statements: boolean; base?: string },
): Promise<void> {
  const { rounds, transactions, traceFile, statements, base } = options;
  const consumers = await startConsumers(source, target);
  const { native, ferry } = consumers;
  const watch = await target.connect();
  const builds = base ? [' (this build)', ' (base)'] : [''];
  const ways: Resumed[] = ['native', ...builds.flatMap((b) => pgferryWays(base !== undefined).map((w) => `${w}${b}`))];
  let previous: Resumed | undefined;
  const firsts = new Map<Resumed, number[]>(ways.map((w) => [w, []]));
  const distances = new Map<Resumed, number[]>(ways.map((w) => [w, []]));
  const leaseToStart = new Map<Resumed, number[]>(ways.map((w) => [w, []]));
  for (let round = 1; round <= rounds; round++) {
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
    const onBase = base !== undefined && baseRound(round);
    const way = `${pgferryWay(round, base !== undefined)}${base ? builds[onBase ? 1 : 0] : ''}`;
    await Promise.all([pausePgferry(source, consumers, previous, way), native.pause()]);
    previous = way;
    ferry.useRunner(onBase ? path.resolve(base, 'provider', 'engine', 'runner', 'main.js') : THIS_RUNNER);
    // started before the backlog is written, so its start is not inside the backlog's writing
    if (way.startsWith('pgferry, loaded process')) await ferry.startAhead((pid) => loadedIn(traceFile, pid));
    await runPgbench(source, DB, { clients: 4, transactionsPerClient: Math.ceil(transactions / 4) });
    // the agent's spare, started 2 s after its last runner took the lease, has loaded its modules
    if (way === 'pgferry, agent') await loadedIn(traceFile, await consumers.agent.spare());
    const order: Consumer[] = round % 2 === 1 ? [native, ferry] : [ferry, native];
    const label = (c: Consumer): Resumed => (c === native ? 'native' : way);
    log(`round ${round} (load ${load}): ${order.map(label).join(' first, then ')}`);
    for (const consumer of order) {
      const lab = { source, target, watch, traceFile, round, statements };
      const { first, bytes, leaseToStart: span } = await resumeTimed(lab, consumers, consumer, label(consumer));
      firsts.get(label(consumer))!.push(first);
      distances.get(label(consumer))!.push(bytes);
      if (span !== undefined && !Number.isNaN(span)) leaseToStart.get(label(consumer))!.push(span);
    }
    await consumers.bothCaughtUp('to catch up after the round');
  }
  await watch.end();
  // a clean stop of the agent ends its runner too
  await consumers.agent.stop();
  if (previous !== 'pgferry, agent') {
    const before = ferry.current();
    process.kill(before.pid, 'SIGTERM');
    await before.done;
  }
  await native.stop();
  for (const way of ways) {
    const times = firsts.get(way)!;
    if (times.length === 0) continue;
    const spans = leaseToStart.get(way)!;
    log(
      `${way}: resume → first applied change ${times.map((f) => f.toFixed(2)).join(', ')} s; median ${median(times).toFixed(2)} s ` +
        `(${Math.min(...times).toFixed(2)}-${Math.max(...times).toFixed(2)}); ` +
        (spans.length > 0 ? `lease → START_REPLICATION ${spans.join(', ')} ms, median ${median(spans)} ms; ` : '') +
        `decoded again before it ${distances
          .get(way)!
          .map((b) => (b / 1024).toFixed(0))
          .join(', ')} kB`,
    );
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--base');
  const tuned = process.argv.includes('--tuned');
  const statements = process.argv.includes('--statements');
  const baseAt = process.argv.indexOf('--base');
  const base = baseAt > 0 ? process.argv[baseAt + 1] : undefined;
  const rounds = Number(args[0] ?? 4);
  const transactions = Number(args[1] ?? 400);
  const choice = { fsyncOff: false, tuned };
  const settings = { ...benchSettings(choice), ...(statements ? STATEMENT_LOG : {}) };
  log(
    `settings: ${settingsLabel(choice)}${statements ? ', every statement logged' : ''}; ${rounds} rounds of ${transactions} pgbench transactions` +
      (base ? `; runners of this build and of ${base} by turns` : ''),
  );
  const traceFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-restart-lab-')), 'trace');
  // the runners the lab starts inherit it
  process.env.PGFERRY_TRACE = traceFile;
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'rlab-src', settings, password: 'restart-lab-src' }),
    startCluster({ major: 15, label: 'rlab-dst', settings, password: 'restart-lab-dst' }),
  ]);
  try {
    await prepareSource(source, 1);
    await runRounds(source, target, { rounds, transactions, traceFile, statements, ...(base ? { base } : {}) });
  } finally {
    await stopAllClusters();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
