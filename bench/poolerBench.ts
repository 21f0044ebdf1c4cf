// The cutover through a pooler under an application nobody here wrote (issue 64, `npm run bench --
// --only pooler`): Debian's sysbench `oltp_read_write` at a fixed rate through Debian's PgBouncer in
// front of the source, during an online migration's cutover through that PgBouncer (`pooler`), at
// two sizes of the pgbench database beside it (the bench size and ten times it). Reported per size:
// sysbench's errors (the goal: none), its transactions' longest and 99th-percentile latency (what
// the pause cost the application: its statements wait while the pooler is paused), pgferry's own
// cutover figure and steps, and where the pooler ended. The goal: the pause under 1 s, flat with size.
// Beside each size, the fenced cutover of the same database (fenceWriters, no pooler) under the same
// sysbench run straight against the source: its errors, and its fence time (from the fence to the
// release, the applications refused all along). And beside both, native logical replication with
// the switch practitioners make by hand through the same kind of PgBouncer: PAUSE, wait until the
// subscription has confirmed the source's flushed WAL, copy the sequences, point the pooler at the
// subscriber, RELOAD, RESUME; it verifies nothing.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { literal, requestCutover, ident, type PoolerPause } from '../provider/engine';
import type { Cluster } from '../provider/localpg/cluster';
import { startPgBouncer } from '../provider/localpg/pgbouncer';
import { PGBENCH_TABLES, untilSucceeded, verificationMethods } from './cutoverBench';
import { NATIVE_DB, startNative, waitUntil } from './consumers';
import { promises as fs } from 'node:fs';
import type { OnlineOptions } from './onlineTypes';
import { conflictsSince, conflictWords, markLogs, type ServerConflicts } from './serverConflicts';

import { DB, enableAutovacuum, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';

const execFileAsync = promisify(execFile);

const SYSBENCH = '/usr/bin/sysbench';
/** The application's role, the same password on both servers (roles travel without their passwords). */
const APP = { user: 'bench_app', password: 'bench-app-through-the-pooler' };
/** sysbench's rate (transactions per second, two threads) and its table's rows. */
const RATE_TPS = 50;
const SYSBENCH_ROWS = 10_000;
/** Seconds of load before the cutover is requested, and the whole run's length (it must outlast the cutover). */
const BEFORE_CUTOVER_SECONDS = 5;
const SYSBENCH_SECONDS = 60;

interface PoolerRun {
  readonly scale: number;
  readonly databaseBytes: number;
  readonly transactions: number;
  /**
   * Errors the application met: sysbench stops on any error but its own threads' conflicts (a
   * deadlock, 40P01, or a duplicate key, 23505, which it retries), so one when it stopped, plus its
   * reconnects.
   */
  readonly errors: number;
  /** Its threads' retried conflicts after the cutover request, and before it. */
  readonly conflicts: number;
  readonly conflictsBefore: number;
  /** What those conflicts were and who was in them, from the servers' logs. */
  readonly serverConflicts: ServerConflicts;
  readonly reconnects: number;
  readonly errorLines: readonly string[];
  readonly latencyMaxMs: number;
  readonly latencyP99Ms: number;
  readonly requestToSucceededSeconds: number;
  readonly downtimeSeconds: number;
  /**
   * pgferry's pause, from the footprint ledger's row: recorded just before the PAUSE (pausedAt) to
   * the RELOAD that pointed the pooler at the target (switchedAt), the RESUME right after it.
   */
  readonly pauseSeconds: number;
  /** The same from pausedAt to the RESUME (resumedAt): the whole wait the applications saw, as native's pause is measured. */
  readonly toResumeSeconds: number;
  /** The completion event's steps (pause, drain, sequences, verification, release). */
  readonly steps: string;
  /** Where the pooler sends the database after the run, and whether it is paused. */
  readonly poolerEnd: string;
}

/** The fenced cutover of the same database beside a pooler run: sysbench on the source directly. */
interface FencedRun {
  readonly scale: number;
  readonly errors: number;
  readonly errorLines: readonly string[];
  readonly latencyMaxMs: number;
  /** sysbench's retried conflicts (the whole run) and what they were, from the source's log. */
  readonly conflicts: number;
  readonly serverConflicts: ServerConflicts;
  /** The completion event's steps from the fence on (the pin before it excluded): how long the applications were refused. */
  readonly fenceSeconds: number;
  readonly pinSeconds: number;
  readonly steps: string;
}

/** Native logical replication switched by hand through PgBouncer, beside a pooler run. */
interface NativeRun {
  readonly scale: number;
  readonly errors: number;
  readonly errorLines: readonly string[];
  readonly latencyMaxMs: number;
  readonly latencyP99Ms: number;
  /** sysbench's retried conflicts after its switch began and before it, as pgferry's run counts them, and what they were. */
  readonly conflicts: number;
  readonly conflictsBefore: number;
  readonly serverConflicts: ServerConflicts;
  /** From PAUSE to RESUME: what the application waited. */
  readonly pauseSeconds: number;
  /** Inside it: the subscription catching up with the source's flushed WAL, and the sequences copied. */
  readonly catchUpSeconds: number;
  readonly sequencesSeconds: number;
}

export interface PoolerBenchResult {
  readonly runs: readonly PoolerRun[];
  readonly fenced: readonly FencedRun[];
  readonly native: readonly NativeRun[];
  readonly lines: readonly string[];
  readonly events: readonly string[];
}

/** sysbench's options for the pgbench database at `port` as `user` (its password in PGPASSWORD, never on the command line). */
function sysbenchArgs(port: number, user: string): string[] {
  return [
    'oltp_read_write',
    '--db-driver=pgsql',
    '--pgsql-host=127.0.0.1',
    `--pgsql-port=${port}`,
    `--pgsql-user=${user}`,
    `--pgsql-db=${DB}`,
    '--tables=1',
    `--table-size=${SYSBENCH_ROWS}`,
    // server-side prepared statements do not survive transaction pooling
    '--db-ps-mode=disable',
  ];
}

/**
 * Waits until the background verifier has verified every pgbench table, as it has in a migration
 * that streamed a while before its cutover: the pin before the hold then reads counts and changed
 * keys, not whole tables, and the application's run spans the whole cutover.
 */
async function untilVerifiedInBackground(target: Cluster, migration: string): Promise<void> {
  await waitUntil(
    'every table verified in the background',
    30 * 60_000,
    async () => ((await verificationMethods(target, migration)).background ?? 0) >= PGBENCH_TABLES || undefined,
    250,
  );
}

/** The application's role on both servers and sysbench's table on the source, written through neither pgferry nor the pooler. */
async function prepareApplication(source: Cluster, target: Cluster): Promise<void> {
  for (const c of [source, target]) {
    if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP.user])).length === 0)
      await c.query(`CREATE ROLE ${ident(APP.user)} LOGIN`);
    await c.query(`ALTER ROLE ${ident(APP.user)} PASSWORD ${literal(APP.password)}`);
  }
  await execFileAsync(SYSBENCH, [...sysbenchArgs(source.port, source.user), 'prepare'], {
    env: { ...process.env, PGPASSWORD: source.password },
  });
  await source.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident(APP.user)}`, [], DB);
  await source.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP.user)}`, [], DB);
}

/** sysbench through the pooler until its time is up; its report parsed. */
interface SysbenchResult {
  readonly transactions: number;
  readonly errors: number;
  readonly conflicts: number;
  readonly conflictsBefore: number;
  readonly reconnects: number;
  readonly errorLines: string[];
  readonly maxMs: number;
  readonly p99Ms: number;
}

/** Errors and reconnects from sysbench's interim reports (one a second): errors up to `before` seconds apart. */
function perSecond(out: string, before: number): { before: number; after: number; reconnects: number } {
  let [b, a, r] = [0, 0, 0];
  for (const m of out.matchAll(/\[ (\d+)s \].*err\/s: ([\d.]+) reconn\/s: ([\d.]+)/g)) {
    const errors = Number(m[2]);
    if (Number(m[1]) <= before) b += errors;
    else a += errors;
    r += Number(m[3]);
  }
  return { before: Math.round(b), after: Math.round(a), reconnects: Math.round(r) };
}

function runSysbench(at: { readonly port: number }, before: number): Promise<SysbenchResult> {
  const args = [
    ...sysbenchArgs(at.port, APP.user),
    '--threads=2',
    `--rate=${RATE_TPS}`,
    `--time=${SYSBENCH_SECONDS}`,
    '--percentile=99',
    '--report-interval=1',
    'run',
  ];
  return new Promise((resolve) => {
    const child = spawn(SYSBENCH, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGPASSWORD: APP.password } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      if (code !== 0) out += `\nsysbench error: exited ${code}\n${out.slice(-400)}`;
      const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
      const errorLines = out
        .split('\n')
        .filter((l) => /FATAL|error/i.test(l) && !/ignored errors/.test(l))
        .slice(0, 5);
      const seconds = perSecond(out, before);
      resolve({
        transactions: num(/transactions:\s+(\d+)/),
        errors: (code === 0 ? 0 : 1) + seconds.reconnects,
        conflicts: seconds.after,
        conflictsBefore: seconds.before,
        reconnects: seconds.reconnects,
        errorLines,
        maxMs: num(/max:\s+([\d.]+)/),
        p99Ms: num(/99th percentile:\s+([\d.]+)/),
      });
    });
  });
}

async function poolerRun(options: OnlineOptions, scale: number, events: string[]): Promise<PoolerRun> {
  const { source, target, log } = options;
  // the previous size's cutover went into it: the target's database is live, and a new migration may not overwrite it
  await target.query(`DROP DATABASE IF EXISTS ${ident(DB)} WITH (FORCE)`);
  await prepareSource(source, scale);
  await prepareApplication(source, target);
  const pooler = await startPgBouncer({
    databases: { [DB]: { host: source.host, port: source.port } },
    users: { [APP.user]: APP.password },
  });
  try {
    const poolerInput = {
      host: pooler.host,
      port: pooler.port,
      user: pooler.adminUser,
      password: pooler.adminPassword,
      configFile: pooler.configFile,
    };
    const { spec, targetSpec, status, ferry } = startPgferry(options, events, { pooler: poolerInput });
    await untilStreaming(status);
    await untilVerifiedInBackground(target, spec.migrationName);
    const logs = await markLogs([source.logFile, target.logFile]);
    const load = runSysbench(pooler, BEFORE_CUTOVER_SECONDS);
    await new Promise((r) => setTimeout(r, BEFORE_CUTOVER_SECONDS * 1000));
    const started = Date.now();
    await requestCutover(targetSpec, spec.migrationName);
    const final = await untilSucceeded(status);
    const requestToSucceededSeconds = (Date.now() - started) / 1000;
    const app = await load;
    const serverConflicts = await conflictsSince(logs);
    await ferry.current().done;
    const served = (await pooler.admin<{ name: string; port: string; paused: string }>('SHOW DATABASES')).find((r) => r.name === DB);
    const poolerEnd = `${Number(served?.port) === target.port ? 'target' : `port ${served?.port}`}${Number(served?.paused) ? ', PAUSED' : ''}`;
    const completed = [...events].reverse().find((e) => /cutover completed in/.test(e)) ?? '';
    const bytes = await source.query<{ b: string }>('SELECT pg_database_size($1)::text AS b', [DB]);
    const run: PoolerRun = {
      scale,
      databaseBytes: Number(bytes[0]!.b),
      transactions: app.transactions,
      errors: app.errors,
      conflicts: app.conflicts,
      conflictsBefore: app.conflictsBefore,
      serverConflicts,
      reconnects: app.reconnects,
      errorLines: app.errorLines,
      latencyMaxMs: app.maxMs,
      latencyP99Ms: app.p99Ms,
      requestToSucceededSeconds,
      downtimeSeconds: final.downtimeSeconds ?? NaN,
      pauseSeconds: pauseOf(final.databases.find((d) => d.database === DB)?.poolerPause),
      toResumeSeconds: final.databases.find((d) => d.database === DB)?.poolerPause?.pauseSeconds ?? NaN,
      steps: /\(([^)]*)\)/.exec(completed.replace(/^.*cutover completed in/, ''))?.[1] ?? '',
      poolerEnd,
    };
    log(
      `pooler cutover scale ${scale}: ${run.errors} sysbench error(s) ${run.errorLines.join(' | ')}, longest transaction ${run.latencyMaxMs} ms, ` +
        `pause ${f(run.pauseSeconds)} s to the RELOAD, ${f(run.toResumeSeconds)} s to the RESUME (${run.steps})`,
    );
    return run;
  } finally {
    await pooler.stop();
  }
}

/** The completion event's steps ("pin 1.20 s, fence 0.10 s, ...") as seconds by step. */
function stepSeconds(steps: string): Map<string, number> {
  return new Map([...steps.matchAll(/([a-z ]+?) ([\d.]+) s(?:,|$)/g)].map((m) => [m[1]!.trim(), Number(m[2])]));
}

/**
 * The fenced cutover of the database the pooler run just moved, at the same size: the target's copy
 * dropped, a new migration with fenceWriters (no pooler), sysbench straight against the source
 * (the fence ends its sessions and refuses its writes: errors counted).
 */
async function fencedRun(options: OnlineOptions, scale: number, events: string[]): Promise<FencedRun> {
  const { source, target, log } = options;
  await target.query(`DROP DATABASE IF EXISTS ${ident(DB)} WITH (FORCE)`);
  const { spec, targetSpec, status, ferry } = startPgferry(options, events, { fenceWriters: true });
  await untilStreaming(status);
  await untilVerifiedInBackground(target, spec.migrationName);
  const logs = await markLogs([source.logFile]);
  const load = runSysbench(source, BEFORE_CUTOVER_SECONDS);
  await new Promise((r) => setTimeout(r, BEFORE_CUTOVER_SECONDS * 1000));
  await requestCutover(targetSpec, spec.migrationName);
  await untilSucceeded(status);
  const app = await load;
  const serverConflicts = await conflictsSince(logs);
  await ferry.current().done;
  const completed = [...events].reverse().find((e) => /cutover completed in/.test(e)) ?? '';
  const steps = /\(([^)]*)\)/.exec(completed.replace(/^.*cutover completed in/, ''))?.[1] ?? '';
  const bySteps = stepSeconds(steps);
  const pinSeconds = bySteps.get('pin') ?? 0;
  const fenceSeconds = [...bySteps].filter(([step]) => step !== 'pin').reduce((sum, [, seconds]) => sum + seconds, 0);
  log(`fenced cutover scale ${scale}: fence ${fenceSeconds.toFixed(2)} s (${steps}), ${app.errors} sysbench error(s)`);
  // the next size's source is made anew: the fence kept on this one goes with it
  return {
    scale,
    errors: app.errors,
    errorLines: app.errorLines,
    latencyMaxMs: app.maxMs,
    conflicts: app.conflicts + app.conflictsBefore,
    serverConflicts,
    fenceSeconds,
    pinSeconds,
    steps,
  };
}

/** The pooler's `[databases]` line of `DB` pointed at another server and database, as a user edits it. */
async function pointPooler(configFile: string, port: number, dbname: string): Promise<void> {
  const text = await fs.readFile(configFile, 'utf8');
  const line = new RegExp(`^${DB} = .*$`, 'm');
  if (!line.test(text)) throw new Error(`no [databases] line for ${DB} in ${configFile}`);
  await fs.writeFile(configFile, text.replace(line, `${DB} = host=127.0.0.1 port=${port} dbname=${dbname}`));
}

/**
 * Native logical replication of the same database at the same size, switched by hand through a
 * PgBouncer in front of the source while sysbench runs through it: the switch practitioners write
 * (PAUSE; wait until the subscription's slot has confirmed the source's flushed WAL, which every
 * commit of the paused application is in; setval each sequence on the subscriber, which native
 * replication leaves behind; the pooler's line pointed at the subscriber; RELOAD; RESUME).
 */
async function nativeRun(options: OnlineOptions, scale: number): Promise<NativeRun> {
  const { source, target, log } = options;
  await prepareSource(source, scale);
  await prepareApplication(source, target);
  const native = await startNative(options, DB);
  const pooler = await startPgBouncer({
    databases: { [DB]: { host: source.host, port: source.port } },
    users: { [APP.user]: APP.password },
  });
  try {
    const logs = await markLogs([source.logFile, target.logFile]);
    const load = runSysbench(pooler, BEFORE_CUTOVER_SECONDS);
    await new Promise((r) => setTimeout(r, BEFORE_CUTOVER_SECONDS * 1000));
    const paused = Date.now();
    await pooler.admin(`PAUSE ${DB}`);
    const [flushed] = await source.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
    await waitUntil(
      'the subscription to confirm the source flushed WAL',
      10 * 60_000,
      async () => {
        const [slot] = await source.query<{ ok: boolean }>(
          `SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'bench_native'`,
          [flushed!.lsn],
        );
        return slot?.ok ? true : undefined;
      },
      10,
    );
    const caughtUp = Date.now();
    const sequences = await source.query<{ name: string; value: string }>(
      `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS value FROM pg_sequences WHERE last_value IS NOT NULL`,
      [],
      DB,
    );
    for (const q of sequences) await target.query('SELECT setval($1::regclass, $2::bigint)', [q.name, q.value], NATIVE_DB);
    const sequenced = Date.now();
    await pointPooler(pooler.configFile, target.port, NATIVE_DB);
    await pooler.admin('RELOAD');
    await pooler.admin(`RESUME ${DB}`);
    const resumed = Date.now();
    const app = await load;
    const run: NativeRun = {
      scale,
      errors: app.errors,
      errorLines: app.errorLines,
      latencyMaxMs: app.maxMs,
      latencyP99Ms: app.p99Ms,
      conflicts: app.conflicts,
      conflictsBefore: app.conflictsBefore,
      serverConflicts: await conflictsSince(logs),
      pauseSeconds: (resumed - paused) / 1000,
      catchUpSeconds: (caughtUp - paused) / 1000,
      sequencesSeconds: (sequenced - caughtUp) / 1000,
    };
    log(`native manual switch scale ${scale}: pause ${run.pauseSeconds.toFixed(2)} s, ${run.errors} sysbench error(s)`);
    return run;
  } finally {
    await pooler.stop();
    await native.stop();
  }
}

/** Seconds from the pause's record to its switch; NaN without both. */
function pauseOf(pause: PoolerPause | undefined): number {
  if (!pause?.switchedAt) return NaN;
  return (Date.parse(pause.switchedAt) - Date.parse(pause.pausedAt)) / 1000;
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function lines(runs: readonly PoolerRun[], fenced: readonly FencedRun[], native: readonly NativeRun[]): string[] {
  return [
    '| figure | value | goal |',
    '|---|---|---|',
    ...runs.map(
      (r) =>
        `| (g) cutover through PgBouncer, pgbench scale ${r.scale} (${(r.databaseBytes / 1e6).toFixed(0)} MB), sysbench oltp_read_write ${RATE_TPS} tps | ` +
        `application errors **${r.errors}**${r.errorLines.length ? ` (${r.errorLines.join('; ')})` : ''} (reconnects ${r.reconnects}; its threads' retried conflicts ${r.conflicts} from the request on, ${r.conflictsBefore} before; ${conflictWords(r.serverConflicts)}); longest transaction ${f(r.latencyMaxMs / 1000)} s, p99 ${f(r.latencyP99Ms / 1000)} s ` +
        `(${r.transactions} transactions); pgferry's pause (PAUSE → RELOAD, RESUME next) **${f(r.pauseSeconds)} s** (to the RESUME ${f(r.toResumeSeconds)} s); request → Succeeded ${f(r.requestToSucceededSeconds)} s (engine ${f(r.downtimeSeconds)} s: ${r.steps}); pooler ended on the ${r.poolerEnd} | ` +
        `0 errors ${r.errors === 0 ? 'MET' : 'NOT MET'}; no conflict with pgferry ${r.serverConflicts.deadlocksWithOthers === 0 ? 'MET' : 'NOT MET'}; pause < 1 s ${r.latencyMaxMs < 1000 && r.pauseSeconds < 1 ? 'MET' : 'NOT MET'} |`,
    ),
    ...fenced.map(
      (r) =>
        `| (g) fenced cutover beside it (fenceWriters, no pooler), pgbench scale ${r.scale}, sysbench on the source | ` +
        `fence (fence → release) **${f(r.fenceSeconds)} s** (pin before it ${f(r.pinSeconds)} s; ${r.steps}); application errors ${r.errors}${r.errorLines.length ? ` (${r.errorLines.slice(0, 2).join('; ')})` : ''}, longest transaction ${f(r.latencyMaxMs / 1000)} s; its threads' retried conflicts ${r.conflicts} (${conflictWords(r.serverConflicts)}) | ` +
        `flat with size (compare the sizes) |`,
    ),
    ...native.map(
      (r) =>
        `| (g) native logical replication beside it, switched by hand through PgBouncer, pgbench scale ${r.scale}, sysbench through the pooler | ` +
        `pause (PAUSE → RESUME) **${f(r.pauseSeconds)} s** (catch-up ${f(r.catchUpSeconds)} s, sequences ${f(r.sequencesSeconds)} s, no verification); application errors ${r.errors}${r.errorLines.length ? ` (${r.errorLines.slice(0, 2).join('; ')})` : ''}, longest transaction ${f(r.latencyMaxMs / 1000)} s, p99 ${f(r.latencyP99Ms / 1000)} s; its threads' retried conflicts ${r.conflicts} from the PAUSE on, ${r.conflictsBefore} before (${conflictWords(r.serverConflicts)}) | ` +
        `beside pgferry's pause (compare) |`,
    ),
    '',
    `Method: for each size a fresh pgbench database with sysbench's table (${SYSBENCH_ROWS} rows) beside it, a PgBouncer (transaction pooling) in front ` +
      `of the source, an online migration naming it (\`pooler\`). Once it streams and the background verifier has verified every pgbench table, sysbench oltp_read_write (Debian's 1.0, 2 threads, --rate ${RATE_TPS}, ` +
      `no server-side prepared statements) runs through the pooler for ${SYSBENCH_SECONDS} s; ${BEFORE_CUTOVER_SECONDS} s in, the cutover is requested, and ` +
      "it ends when `show` reads Succeeded (polled every 50 ms). The pause as the application saw it is sysbench's longest transaction (p100) and its " +
      "99th percentile: its statements wait while the pooler is paused. Errors: sysbench stops on any error but its own threads' conflicts (a deadlock, " +
      '40P01, or a duplicate key, 23505, which it counts and retries): one if it stopped, plus its reconnects; the conflicts (its interim reports, by ' +
      "second) are shown apart, from the request on and before it, and what they were from both servers' logs (PostgreSQL logs a deadlock with " +
      "every statement in its cycle, a duplicate key with its constraint): a deadlock with a statement not sysbench's would be pgferry's to answer. Native: a publication of every table and a subscription made on a copy of the " +
      "schema (pg_dump -s), synced before the run; its switch is the manual one above, through a PgBouncer of the same settings, sysbench's same run.",
  ];
}

export async function runPoolerBench(options: OnlineOptions, scales: readonly number[]): Promise<PoolerBenchResult> {
  const events: string[] = [];
  const runs: PoolerRun[] = [];
  const fenced: FencedRun[] = [];
  const native: NativeRun[] = [];
  await enableAutovacuum(options.source, options.target);
  for (const scale of scales) {
    options.log(`pooler cutover: pgbench scale ${scale} in database ${DB} ...`);
    runs.push(await poolerRun(options, scale, events));
    options.log(`fenced cutover: pgbench scale ${scale} in database ${DB} ...`);
    fenced.push(await fencedRun(options, scale, events));
    options.log(`native logical replication, switched by hand: pgbench scale ${scale} in database ${DB} ...`);
    native.push(await nativeRun(options, scale));
  }
  return { runs, fenced, native, lines: lines(runs, fenced, native), events };
}
