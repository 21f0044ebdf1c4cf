// What seeing the source's schema changes costs on a database of many tables (issue 49; the
// README's and bench.md's figures), not part of `npm run bench`. Two local servers get the same
// database: TABLES tables, each with a primary key, a CHECK, an index, three defaults and a
// comment, all published as an online migration publishes them. Timed, each the median and the
// worst of RUNS calls, through the engine's own functions:
//  - a pass of the schema watch (flow/schemaWatch.ts, every 10 s): the fingerprint query on the
//    source and on the target, and, only when a fingerprint moved, the full comparison as the watch runs it
//    (flow/schemaFollow.ts compareKnowing: the known objects read, both catalogs read and compared,
//    the new ones recorded); the first comparison, which records every object, is given apart;
//  - a Relation message (cdc/apply/applySession.ts): the first of a runner reads the attnums of
//    every published table once; each later one reads its table's columns on the source (one
//    round trip); one whose shape changed also reads the target table.
//   node dist/bench/detectionCost.js [--tables 10000] [--runs 5] [--out bench/results/FILE.json]
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseMigrationSpec, type ServerSpec } from '../provider/engine';
import { CatalogConnection, register } from '../provider/engine/internal';
import { inspectTargetTable } from '../provider/engine/cdc/apply/targetTables';
import { sourceAttributes } from '../provider/engine/cdc/apply/sourceColumns';
import { fingerprint } from '../provider/engine/flow/schemaWatch';
import { compareKnowing } from '../provider/engine/flow/schemaFollow';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { machineInfo } from './machine';

const DB = 'many';
const PUBLICATION = 'detection_cost';
/** Tables made per transaction: each takes a few locks, and max_locks_per_transaction bounds one transaction's. */
const BATCH = 500;

function log(line: string): void {
  process.stderr.write(`[detection ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

interface Timing {
  readonly medianMs: number;
  readonly worstMs: number;
}

async function timed(runs: number, call: () => Promise<unknown>): Promise<Timing> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await call();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { medianMs: round(ms[Math.floor(runs / 2)]!), worstMs: round(ms[runs - 1]!) };
}

/** The same tables on a server: t1 ... tN, as the earlier schema-check figures had them. */
async function makeTables(cluster: Cluster, tables: number): Promise<void> {
  await cluster.query(`CREATE DATABASE ${DB}`);
  for (let from = 1; from <= tables; from += BATCH) {
    const to = Math.min(tables, from + BATCH - 1);
    await cluster.query(
      `DO $$ BEGIN FOR i IN ${from}..${to} LOOP
         EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int CHECK (a > 0) DEFAULT 1, b text DEFAULT ''x'', c timestamptz DEFAULT now())', 't' || i);
         EXECUTE format('CREATE INDEX ON %I (a)', 't' || i);
         EXECUTE format('COMMENT ON TABLE %I IS ''t''', 't' || i);
       END LOOP; END $$`,
      [],
      DB,
    );
  }
}

function specOf(cluster: Cluster): ServerSpec {
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    sslMode: 'disable',
    maintenanceDatabase: 'postgres',
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { tables: { type: 'string', default: '10000' }, runs: { type: 'string', default: '5' }, out: { type: 'string' } },
  });
  const tables = Number(values.tables);
  const runs = Number(values.runs);
  if (!Number.isInteger(tables) || tables < 1) throw new Error(`--tables: a whole number of tables, at least 1, got "${values.tables}"`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number of runs, at least 1, got "${values.runs}"`);
  const [source, target] = await Promise.all([startCluster({ label: 'detect-src' }), startCluster({ label: 'detect-dst' })]);
  try {
    let started = performance.now();
    await Promise.all([makeTables(source, tables), makeTables(target, tables)]);
    await source.query(
      `DO $$ BEGIN EXECUTE 'CREATE PUBLICATION ${PUBLICATION} FOR TABLE ' ||
         (SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname = 'public'); END $$`,
      [],
      DB,
    );
    log(`${tables} tables on both servers, published, in ${((performance.now() - started) / 1000).toFixed(0)} s`);

    const spec = parseMigrationSpec({
      migrationName: 'detection-cost',
      source: specOf(source),
      target: specOf(target),
      databases: [DB],
      mode: 'Online',
    });
    const store = new CatalogConnection(spec.target);
    // the known objects hang on the migration's row, as a runner's do
    await register(store, spec);
    // compareKnowing reads only the run's spec and control catalog
    const run = { spec, store } as unknown as Parameters<typeof compareKnowing>[0];
    const options = { whileSetAside: true, lockTimeout: '1s' } as const;
    started = performance.now();
    const first = await compareKnowing(run, DB, options);
    const firstMs = Math.round(performance.now() - started);
    const objects = first.sourceObjects.length;
    log(
      `first comparison: ${objects} objects, ${first.check.differences.length} differences, ${firstMs} ms (every object recorded as known)`,
    );
    const comparison = await timed(runs, () => compareKnowing(run, DB, options));

    const src = await source.connect(DB);
    const dst = await target.connect(DB);
    try {
      const print = await timed(runs, () => fingerprint(src));
      // a look prints the target too: a change the apply makes there moves it
      const targetPrint = await timed(runs, () => fingerprint(dst));
      const major = source.major;
      const firstRelation = await timed(runs, () => sourceAttributes(src, major, { publication: PUBLICATION }));
      const [one] = await source.query<{ oid: number }>(`SELECT 't1'::regclass::oid::int8 AS oid`, [], DB);
      const oid = Number(one!.oid);
      const laterRelation = await timed(runs * 20, () => sourceAttributes(src, major, { relation: oid }));
      const columns = (await sourceAttributes(src, major, { relation: oid })).get(oid)!;
      const relation: Parameters<typeof inspectTargetTable>[1] = {
        oid,
        schema: 'public',
        name: 't1',
        replicaIdentity: 'default',
        columns: columns.map((c) => ({ name: c.name, isKey: c.name === 'id', typeOid: c.typeOid, typeMod: c.typeMod })),
        typeNames: columns.map(() => undefined),
      };
      const targetTable = await timed(runs * 20, () => inspectTargetTable(dst, relation, true));
      const figures = {
        fingerprintMs: print,
        targetFingerprintMs: targetPrint,
        comparisonMs: comparison,
        firstComparisonMs: firstMs,
        firstRelationMessageMs: firstRelation,
        relationMessageMs: laterRelation,
        changedShapeTargetReadMs: targetTable,
      };
      const report = { date: new Date().toISOString(), machine: await machineInfo(source), tables, objects, runs, figures };
      console.log(JSON.stringify(report, null, 2));
      if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
    } finally {
      await Promise.all([src.end(), dst.end(), store.close()]);
    }
  } finally {
    await stopAllClusters();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
