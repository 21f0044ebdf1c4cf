// A developer's loop for parallel apply (not part of `npm run bench`): one many-table backlog, the
// same for every run, drained by pgferry's Applier in this process with each applySessions value
// asked for, each on clusters of its own; the drain's seconds, rows a second and CPU, and whether
// every table's checksum matches the source's after it.
//   node dist/bench/parallelApplyLab.js --help   lists the options
import { InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { Applier } from '../provider/engine/cdc/apply/applier';
import { parseLsn } from '../provider/decoder';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { argsOrExit, parseOptions, positiveInt } from './commandLine';
import { benchSettings, LAB_STREAM, labServer } from './settings';

interface LabArgs {
  readonly help?: string;
  readonly tables: number;
  readonly writers: number;
  readonly tx: number;
  /** Tables each transaction writes (1: one table a transaction, as sysbench's oltp_write_only). */
  readonly tablesPerTx: number;
  readonly sessions: readonly number[];
  readonly fsyncOff: boolean;
}

const DEFAULTS = { tables: 16, writers: 8, tx: 500, tablesPerTx: 1, sessions: '1,4' } as const;

function sessionList(value: string): number[] {
  const list = value.split(',').map((v) => positiveInt(v.trim()));
  if (list.some((n) => n > 16)) throw new InvalidArgumentError(`each must be a whole number from 1 to 16, got ${value}`);
  return list;
}

function parseLabArgs(argv: readonly string[]): LabArgs {
  const options = [
    new Option('--tables <N>', 'tables the backlog writes').argParser(positiveInt).default(DEFAULTS.tables),
    new Option('--writers <N>', 'backlog: writers, each on its own connection').argParser(positiveInt).default(DEFAULTS.writers),
    new Option('--tx <N>', 'backlog: transactions per writer').argParser(positiveInt).default(DEFAULTS.tx),
    new Option('--tables-per-tx <N>', 'tables each transaction writes: 1 or 2').argParser(positiveInt).default(DEFAULTS.tablesPerTx),
    new Option('--sessions <list>', 'applySessions values to drain with, comma-separated')
      .argParser(sessionList)
      .default(sessionList(DEFAULTS.sessions)),
    new Option('--fsync-off', 'fsync, synchronous_commit and full_page_writes off on both clusters'),
  ];
  const description = 'drains one many-table backlog with pgferry’s Applier at each applySessions value';
  const { help, values } = parseOptions('node dist/bench/parallelApplyLab.js', description, options, argv);
  return {
    ...(help !== undefined ? { help } : {}),
    tables: (values.tables as number | undefined) ?? DEFAULTS.tables,
    writers: (values.writers as number | undefined) ?? DEFAULTS.writers,
    tx: (values.tx as number | undefined) ?? DEFAULTS.tx,
    tablesPerTx: (values.tablesPerTx as number | undefined) ?? DEFAULTS.tablesPerTx,
    sessions: (values.sessions as number[] | undefined) ?? sessionList(DEFAULTS.sessions),
    fsyncOff: values.fsyncOff === true,
  };
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

/** Every table's rows as one checksum, on one server. */
async function checksums(cluster: Cluster, tables: number): Promise<string> {
  const names = [...Array.from({ length: tables }, (_, i) => `t${i}`), 'parent', 'child'];
  const parts = names.map((t) => `(SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r.id), '')) FROM ${t} r)`);
  const rows = await cluster.query<{ s: string }>(`SELECT ${parts.join(" || '/' || ")} AS s`, [], 'lab');
  return rows[0]!.s;
}

/** Source and target with the lab tables, a slot, then the backlog written while nothing consumes. */
async function prepare(source: Cluster, target: Cluster, args: LabArgs): Promise<{ initialLsn: bigint; rows: number }> {
  for (const c of [source, target]) {
    await c.query('CREATE DATABASE lab');
    await c.query(ddl(args.tables), [], 'lab');
  }
  await source.query('CREATE PUBLICATION labpub FOR ALL TABLES', [], 'lab');
  const [slot] = await source.query<{ lsn: string }>(
    `SELECT lsn::text FROM pg_create_logical_replication_slot('drain', 'pgoutput')`,
    [],
    'lab',
  );
  const clients = await Promise.all(Array.from({ length: args.writers }, () => source.connect('lab')));
  const started = Date.now();
  try {
    await Promise.all(clients.map((c, w) => writer(c, args, w)));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  const transactions = args.writers * args.tx;
  const rows = transactions * 2 + Math.ceil(args.tx / 5) * args.writers * 3;
  const tps = transactions / ((Date.now() - started) / 1000);
  process.stdout.write(
    `backlog: ${transactions} transactions, about ${rows} rows over ${args.tables + 2} tables, written at ${tps.toFixed(0)} TPS\n`,
  );
  await source.query('CHECKPOINT');
  return { initialLsn: parseLsn(slot!.lsn), rows };
}

/** One drain with `sessions` apply sessions, on clusters of its own; its report line and seconds. */
async function drainWith(sessions: number, args: LabArgs): Promise<number> {
  const settings = { ...benchSettings(args.fsyncOff), autovacuum: 'on' };
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'par-src', settings }),
    startCluster({ major: 15, label: 'par-dst', settings }),
  ]);
  try {
    const { initialLsn, rows } = await prepare(source, target, args);
    const applier = new Applier({
      source: labServer(source),
      target: labServer(target),
      ...LAB_STREAM,
      initialLsn,
      applySessions: sessions,
      log: (level, message) => process.stderr.write(`${level}: ${message}\n`),
    });
    const token = `end-${sessions}`;
    applier.stopAtMarker(token);
    await source.query(`SELECT pg_logical_emit_message(true, 'pgferry-lab', $1)`, [token], 'lab');
    const cpu = process.cpuUsage();
    const started = Date.now();
    const end = await applier.run();
    const seconds = (Date.now() - started) / 1000;
    const usage = process.cpuUsage(cpu);
    const used = (usage.user + usage.system) / 1e6;
    const [want, got] = await Promise.all([checksums(source, args.tables), checksums(target, args.tables)]);
    const same = want === got ? 'identical' : 'DIFFERENT';
    process.stdout.write(
      `applySessions ${sessions}: drained in ${seconds.toFixed(2)} s (${end}), ${(rows / seconds).toFixed(0)} rows/s, this process ${used.toFixed(1)} CPU-s; target ${same}\n`,
    );
    if (want !== got) process.exitCode = 1;
    return seconds;
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
}

async function main(args: LabArgs): Promise<void> {
  try {
    const seconds: number[] = [];
    for (const s of args.sessions) seconds.push(await drainWith(s, args));
    if (seconds.length > 1)
      process.stdout.write(`drain time ratio, first / each: ${seconds.map((s) => (seconds[0]! / s).toFixed(2)).join(', ')}\n`);
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
