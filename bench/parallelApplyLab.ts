// A developer's loop for parallel apply (not part of `npm run bench`): one many-table backlog
// (this file's writers, or sysbench oltp_write_only), written once behind one slot per drain, then
// drained by pgferry's Applier in this process with each applySessions value asked for, each into a
// fresh copy of the target's first rows; the drain's seconds, rows a second, the CPU of this process,
// of both clusters and of each session working for it, what those sessions waited on
// (applyProfile.ts), and whether every table's checksum matches the source's after it. With
// --target-latency-ms (or --source-latency-ms), the fault proxy of the tests stands between this
// process and that server and delays every chunk by that much each way, as a far link would: each
// value given is drained with each session count, all from the same backlog.
//   node dist/bench/parallelApplyLab.js --help   lists the options
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { Applier, type ApplyStats } from '../provider/engine/cdc/apply/applier';
import { parseLsn } from '../provider/decoder';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { FaultProxy } from '../test/support/faultProxy';
import { DrainProfile } from './applyProfile';
import { argsOrExit, oneOf, parseOptions, positiveInt } from './commandLine';
import { PG_BIN, pgEnv } from './dataset';
import { benchSettings, LAB_STREAM, labServer, settingsLabel } from './settings';
import { readWriteSets, writeSetReport } from './writeSets';

const execFileAsync = promisify(execFile);
const SYSBENCH = '/usr/bin/sysbench';
/** The target's copy of the source's first rows: each drain starts from a fresh database made from it. */
const TEMPLATE_DB = 'lab_template';
/** The test_decoding slot --write-sets reads the backlog's rows from. */
const WRITE_SETS_SLOT = 'write_sets';
/** The message every drain stops at, written once after the backlog. */
const MARKER = 'end-of-backlog';

interface LabArgs {
  readonly help?: string;
  /** lab: this file's own writers; sysbench: sysbench oltp_write_only. */
  readonly workload: 'lab' | 'sysbench';
  readonly tables: number;
  /** sysbench: rows per table before the backlog. */
  readonly tableSize: number;
  readonly writers: number;
  readonly tx: number;
  /** Tables each transaction writes (lab workload: 1 or 2). */
  readonly tablesPerTx: number;
  /** sysbench: how its transactions pick rows (special: a few rows take most writes). */
  readonly randType: 'special' | 'uniform' | 'gaussian' | 'pareto';
  readonly sessions: readonly number[];
  /** Milliseconds each way between this process and the target: every value is drained with every session count. */
  readonly targetLatencyMs: readonly number[];
  /** Milliseconds each way between this process and the source, for every drain. */
  readonly sourceLatencyMs: number;
  readonly fsyncOff: boolean;
  /** PostgreSQL's own defaults on both clusters rather than the lab's memory and WAL settings (bench/settings.ts). */
  readonly postgresDefaults: boolean;
  /** Each transaction's rows read from a slot of their own, and what a per-transaction schedule could gain (writeSets.ts). */
  readonly writeSets: boolean;
  /** Rows a batch commits at (the Applier's commitRows) in drains of more than one session; the Applier's own when undefined. */
  readonly parallelCommitRows: number | undefined;
}

const DEFAULTS = {
  workload: 'lab',
  tables: 16,
  tableSize: 10_000,
  writers: 8,
  tx: 500,
  tablesPerTx: 1,
  randType: 'special',
  sessions: '1,4',
} as const;

function sessionList(value: string): number[] {
  const list = value.split(',').map((v) => positiveInt(v.trim()));
  if (list.some((n) => n > 16)) throw new InvalidArgumentError(`each must be a whole number from 1 to 16, got ${value}`);
  if (new Set(list).size !== list.length) throw new InvalidArgumentError(`each value once, got ${value}`);
  return list;
}

function latencyList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0 || n > 1000))
    throw new InvalidArgumentError(`each must be a whole number of milliseconds from 0 to 1000, got ${value}`);
  if (new Set(list).size !== list.length) throw new InvalidArgumentError(`each value once, got ${value}`);
  return list;
}

function latency(value: string): number {
  const [ms] = latencyList(value);
  if (value.includes(',')) throw new InvalidArgumentError(`one value, got ${value}`);
  return ms!;
}

function parseLabArgs(argv: readonly string[]): LabArgs {
  const options = [
    new Option('--workload <name>', "lab (this file's writers) or sysbench (oltp_write_only)")
      .argParser(oneOf('lab', 'sysbench'))
      .default(DEFAULTS.workload),
    new Option('--tables <N>', 'tables the backlog writes').argParser(positiveInt).default(DEFAULTS.tables),
    new Option('--table-size <N>', 'sysbench: rows per table').argParser(positiveInt).default(DEFAULTS.tableSize),
    new Option('--writers <N>', 'backlog: writers (sysbench threads), each on its own connection')
      .argParser(positiveInt)
      .default(DEFAULTS.writers),
    new Option('--tx <N>', 'backlog: transactions per writer').argParser(positiveInt).default(DEFAULTS.tx),
    new Option('--tables-per-tx <N>', 'lab workload: tables each transaction writes, 1 or 2')
      .argParser(positiveInt)
      .default(DEFAULTS.tablesPerTx),
    new Option('--rand-type <name>', 'sysbench: how transactions pick rows (special, its default: a few rows take most writes)')
      .argParser(oneOf('special', 'uniform', 'gaussian', 'pareto'))
      .default(DEFAULTS.randType),
    new Option('--sessions <list>', 'applySessions values to drain with, comma-separated')
      .argParser(sessionList)
      .default(sessionList(DEFAULTS.sessions)),
    new Option('--target-latency-ms <list>', 'milliseconds added each way between this process and the target, comma-separated')
      .argParser(latencyList)
      .default([0]),
    new Option('--source-latency-ms <N>', 'milliseconds added each way between this process and the source').argParser(latency).default(0),
    new Option('--fsync-off', 'fsync, synchronous_commit and full_page_writes off on both clusters'),
    new Option('--postgres-defaults', "PostgreSQL's own memory, WAL and autovacuum settings instead of the lab's"),
    new Option(
      '--parallel-commit-rows <N>',
      'rows a batch commits at in drains of more than one session (the Applier’s own otherwise)',
    ).argParser(positiveInt),
    new Option('--write-sets', "each transaction's rows, and a model of a schedule by each transaction's dependencies"),
  ];
  const description = 'drains one many-table backlog with pgferry’s Applier at each applySessions value';
  const { help, values } = parseOptions('node dist/bench/parallelApplyLab.js', description, options, argv);
  return {
    ...(help !== undefined ? { help } : {}),
    workload: (values.workload as LabArgs['workload'] | undefined) ?? DEFAULTS.workload,
    tables: (values.tables as number | undefined) ?? DEFAULTS.tables,
    tableSize: (values.tableSize as number | undefined) ?? DEFAULTS.tableSize,
    writers: (values.writers as number | undefined) ?? DEFAULTS.writers,
    tx: (values.tx as number | undefined) ?? DEFAULTS.tx,
    tablesPerTx: (values.tablesPerTx as number | undefined) ?? DEFAULTS.tablesPerTx,
    randType: (values.randType as LabArgs['randType'] | undefined) ?? DEFAULTS.randType,
    sessions: (values.sessions as number[] | undefined) ?? sessionList(DEFAULTS.sessions),
    targetLatencyMs: (values.targetLatencyMs as number[] | undefined) ?? [0],
    sourceLatencyMs: (values.sourceLatencyMs as number | undefined) ?? 0,
    fsyncOff: values.fsyncOff === true,
    postgresDefaults: values.postgresDefaults === true,
    writeSets: values.writeSets === true,
    parallelCommitRows: values.parallelCommitRows as number | undefined,
  };
}

/** One drain: its session count and the target's latency. */
interface Drain {
  readonly sessions: number;
  readonly targetLatencyMs: number;
}

/** The slot a drain reads: every drain its own, all made before the backlog. */
const slotName = (d: Drain): string => `drain_${d.sessions}_${d.targetLatencyMs}`;

/** A proxy in front of `cluster` adding `ms` each way, or the cluster itself when `ms` is 0. */
async function behind(cluster: Cluster, ms: number): Promise<{ server: ReturnType<typeof labServer>; proxy?: FaultProxy }> {
  if (ms === 0) return { server: labServer(cluster) };
  const proxy = new FaultProxy(`${cluster.port}+${ms}ms`, cluster.port);
  await proxy.start();
  // for as long as the drain lasts: the proxy is closed after it
  proxy.latency(ms, 24 * 3600 * 1000);
  return { server: { ...labServer(cluster), host: '127.0.0.1', port: proxy.port }, proxy };
}

function ddl(tables: number): string {
  const each = Array.from(
    { length: tables },
    (_, i) => `CREATE TABLE t${i} (id int PRIMARY KEY, v int NOT NULL, note text);
               INSERT INTO t${i} SELECT g, 0, 'x' FROM generate_series(1, 1000) g;`,
  );
  return `${each.join('\n')}
    CREATE TABLE parent (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE child (id bigserial PRIMARY KEY, parent int NOT NULL REFERENCES parent (id), v int NOT NULL);`;
}

/** One writer's transactions: each updates a row of a table and inserts into it (or another), some a parent with its child. */
async function writer(client: pg.Client, args: LabArgs, w: number): Promise<void> {
  for (let i = 0; i < args.tx; i++) {
    const a = (i * 7 + w * 3) % args.tables;
    // two tables: another one of the next three; one: the same table again
    const b = args.tablesPerTx > 1 ? (a + 1 + (i % 3)) % args.tables : a;
    await client.query('BEGIN');
    await client.query(`UPDATE t${a} SET v = v + 1, note = $2 WHERE id = $1`, [1 + ((i * 13 + w) % 1000), `w${w} i${i}`]);
    await client.query(`INSERT INTO t${b} VALUES ($1, $2, 'n')`, [100_000 + w * args.tx + i, i]);
    if (i % 5 === 0) {
      const p = w * args.tx + i;
      await client.query('INSERT INTO parent VALUES ($1, $2)', [p, i]);
      await client.query('INSERT INTO child (parent, v) VALUES ($1, 1), ($1, 2)', [p]);
    }
    await client.query('COMMIT');
  }
}

/** Every public table's rows as one checksum, on one server. */
async function checksums(cluster: Cluster, database: string): Promise<string> {
  const tables = await cluster.query<{ t: string }>(
    `SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    [],
    database,
  );
  const parts = tables.map(({ t }) => `(SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r.id), '')) FROM ${t} r)`);
  const rows = await cluster.query<{ s: string }>(`SELECT ${parts.join(" || '/' || ")} AS s`, [], database);
  return rows[0]!.s;
}

/** sysbench's options for the lab database of `cluster` (its password in PGPASSWORD, never on the command line). */
function sysbenchArgs(cluster: Cluster, args: LabArgs): string[] {
  return [
    'oltp_write_only',
    '--db-driver=pgsql',
    `--pgsql-host=${cluster.host}`,
    `--pgsql-port=${cluster.port}`,
    `--pgsql-user=${cluster.user}`,
    `--pgsql-db=${LAB_STREAM.database}`,
    `--tables=${args.tables}`,
    `--table-size=${args.tableSize}`,
    `--rand-type=${args.randType}`,
  ];
}

/** The source's lab database and its first rows, copied to the target as the template every drain starts from. */
async function prepareTables(source: Cluster, target: Cluster, args: LabArgs): Promise<void> {
  const db = LAB_STREAM.database;
  await source.query(`CREATE DATABASE ${db}`);
  if (args.workload === 'sysbench') {
    await execFileAsync(SYSBENCH, [...sysbenchArgs(source, args), 'prepare'], { env: pgEnv(source), maxBuffer: 16 * 1024 * 1024 });
  } else await source.query(ddl(args.tables), [], db);
  // through psql: pg_dump's plain output may hold psql meta-commands (\restrict in 15.14+)
  const file = path.join(os.tmpdir(), `pgferry-parallel-lab-${process.pid}.sql`);
  try {
    await execFileAsync(`${PG_BIN}/pg_dump`, ['-f', file, db], { env: pgEnv(source) });
    await target.query(`CREATE DATABASE ${TEMPLATE_DB}`);
    await execFileAsync(`${PG_BIN}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, TEMPLATE_DB], { env: pgEnv(target) });
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** The backlog: written once while nothing consumes, after one slot per drain was made (all at the same point). */
async function writeBacklog(source: Cluster, args: LabArgs): Promise<{ rows: number; transactions: number }> {
  const db = LAB_STREAM.database;
  const started = Date.now();
  let transactions = args.writers * args.tx;
  if (args.workload === 'sysbench') {
    const run = ['run', `--threads=${args.writers}`, `--events=${transactions}`, '--time=0'];
    const { stdout } = await execFileAsync(SYSBENCH, [...sysbenchArgs(source, args), ...run], {
      env: pgEnv(source),
      maxBuffer: 16 * 1024 * 1024,
    });
    transactions = Number(/transactions:\s+(\d+)/.exec(stdout)?.[1] ?? transactions);
  } else {
    const clients = await Promise.all(Array.from({ length: args.writers }, () => source.connect(db)));
    try {
      await Promise.all(clients.map((c, w) => writer(c, args, w)));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  }
  const tps = transactions / ((Date.now() - started) / 1000);
  await source.query('CHECKPOINT');
  // oltp_write_only: two updates, a delete and an insert a transaction
  const rows = args.workload === 'sysbench' ? transactions * 4 : transactions * 2 + Math.ceil(args.tx / 5) * args.writers * 3;
  process.stdout.write(
    `backlog (${args.workload}${args.workload === 'sysbench' ? `, --rand-type=${args.randType}` : ''}): ${transactions} transactions, about ${rows} row changes, by ${args.writers} writers over ${args.tables} tables, written at ${tps.toFixed(0)} TPS\n`,
  );
  return { rows, transactions };
}

/** Parallel apply's batches as a report line; none with one session. */
function batchLine(b: ApplyStats['batches']): string {
  if (b.committed === 0) return '';
  return `  batches: ${b.committed} committed; ${b.crossed} transactions on two sessions' rows run by the first after ${b.parts} lane parts committed early\n`;
}

/** One drain from its own slot into a fresh copy of the template; its report line and seconds. */
async function drainWith(
  source: Cluster,
  target: Cluster,
  drain: Drain,
  args: LabArgs,
  backlog: { rows: number; transactions: number },
): Promise<number> {
  const { sessions, targetLatencyMs } = drain;
  const { rows, transactions } = backlog;
  const db = LAB_STREAM.database;
  await target.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await target.query(`CREATE DATABASE ${db} TEMPLATE ${TEMPLATE_DB}`);
  const slot = slotName(drain);
  const [start] = await source.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const far = [await behind(source, args.sourceLatencyMs), await behind(target, targetLatencyMs)] as const;
  const applier = new Applier({
    source: far[0].server,
    target: far[1].server,
    ...LAB_STREAM,
    slot,
    origin: `${LAB_STREAM.origin}_${sessions}_${targetLatencyMs}`,
    initialLsn: parseLsn(start!.lsn),
    applySessions: sessions,
    ...(sessions > 1 && args.parallelCommitRows !== undefined ? { commitRows: args.parallelCommitRows } : {}),
    log: (level, message) => process.stderr.write(`${level}: ${message}\n`),
  });
  applier.stopAtMarker(MARKER);
  const profile = new DrainProfile(source, target, db);
  await profile.start();
  const cpu = process.cpuUsage();
  const started = Date.now();
  let end: string;
  try {
    end = await applier.run();
  } finally {
    for (const f of far) if (f.proxy) await f.proxy.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const usage = process.cpuUsage(cpu);
  const report = await profile.stop();
  const used = (usage.user + usage.system) / 1e6;
  const [want, got] = await Promise.all([checksums(source, db), checksums(target, db)]);
  const same = want === got ? 'identical' : 'DIFFERENT';
  const cpuSum = used + report.sourceCpu + report.targetCpu;
  process.stdout.write(
    `applySessions ${sessions}, target +${targetLatencyMs} ms, source +${args.sourceLatencyMs} ms each way: drained in ${seconds.toFixed(2)} s (${end}), ` +
      `${(rows / seconds).toFixed(0)} rows/s, ${(transactions / seconds).toFixed(0)} TPS; CPU-s: this process ${used.toFixed(2)}, ` +
      `source ${report.sourceCpu.toFixed(2)}, target ${report.targetCpu.toFixed(2)} (sum ${cpuSum.toFixed(2)} = ${(cpuSum / seconds).toFixed(2)} CPUs busy); ` +
      `load average ${os.loadavg()[0]!.toFixed(1)}; target ${same}\n${batchLine(applier.stats().batches)}${report.lines.join('\n')}\n`,
  );
  if (want !== got) process.exitCode = 1;
  return seconds;
}

async function main(args: LabArgs): Promise<void> {
  const choice = { fsyncOff: args.fsyncOff, tuned: !args.postgresDefaults };
  const settings = { ...benchSettings(choice), autovacuum: 'on' };
  const batches =
    args.parallelCommitRows === undefined ? '' : `; batches of more than one session commit at ${args.parallelCommitRows} rows`;
  process.stdout.write(`settings: ${settingsLabel(choice)}, autovacuum on${batches}\n`);
  try {
    const [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'par-src', settings }),
      startCluster({ major: 15, label: 'par-dst', settings }),
    ]);
    await prepareTables(source, target, args);
    await source.query(`CREATE PUBLICATION ${LAB_STREAM.publication} FOR ALL TABLES`, [], LAB_STREAM.database);
    // the session counts side by side at each latency, so a ratio compares drains run back to back
    const drains = args.targetLatencyMs.flatMap((targetLatencyMs) => args.sessions.map((sessions) => ({ sessions, targetLatencyMs })));
    for (const d of drains)
      await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName(d)], LAB_STREAM.database);
    if (args.writeSets)
      await source.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [WRITE_SETS_SLOT], LAB_STREAM.database);
    const backlog = await writeBacklog(source, args);
    const sets = args.writeSets ? await readWriteSets(source, LAB_STREAM.database, WRITE_SETS_SLOT) : undefined;
    await source.query(`SELECT pg_logical_emit_message(true, $1, $2)`, [LAB_STREAM.cutoverPrefix, MARKER], LAB_STREAM.database);
    for (const targetLatencyMs of args.targetLatencyMs) {
      const seconds: number[] = [];
      for (const sessions of args.sessions) seconds.push(await drainWith(source, target, { sessions, targetLatencyMs }, args, backlog));
      if (seconds.length > 1)
        process.stdout.write(
          `target +${targetLatencyMs} ms: drain time ratio, first / each: ${seconds.map((s) => (seconds[0]! / s).toFixed(2)).join(', ')}\n`,
        );
      // the model's cost of a transaction: what one session took for each, at this latency
      const one = args.sessions.indexOf(1);
      if (sets && one >= 0) {
        const costMs = Number(((seconds[one]! * 1000) / sets.length).toFixed(3));
        process.stdout.write(writeSetReport(sets, args.sessions, costMs, [...new Set([1, 2 * targetLatencyMs + 1])]));
      }
    }
  } finally {
    await stopAllClusters();
  }
}

const args = argsOrExit(
  'parallelApplyLab',
  () => parseLabArgs(process.argv.slice(2)),
  'node dist/bench/parallelApplyLab.js --help lists the options',
);
main(args).catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
