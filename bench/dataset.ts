// The benchmark dataset, generated deterministically on the source: pgbench's tables at a scale
// plus a wide table with TOASTed text, jsonb, bytea and three secondary indexes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster } from '../provider/localpg/cluster';

const execFileAsync = promisify(execFile);

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const BENCH_DB = 'bench';

export interface DatasetOptions {
  readonly scale: number;
  readonly wideRows: number;
}

export interface DatasetInfo {
  readonly scale: number;
  readonly wideRows: number;
  readonly databaseBytes: number;
  readonly tables: readonly { table: string; rows: number; bytes: number; heapBytes: number; toastBytes: number }[];
  readonly loadSeconds: number;
}

/**
 * One row in five carries a 1,920-character body of md5 hex, which puts the row over the TOAST
 * threshold (~2 kB); LZ compression cannot shrink hex by the 25% pglz requires, so the body is
 * stored out of line uncompressed.
 */
const WIDE_TABLE = `
CREATE TABLE bench_wide (
  id bigint PRIMARY KEY,
  created_at timestamptz NOT NULL,
  category int NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  attrs jsonb NOT NULL,
  payload bytea NOT NULL
)`;

const WIDE_INSERT = `
INSERT INTO bench_wide
SELECT g,
  timestamptz '2026-01-01 00:00:00+00' + g * interval '37 seconds',
  g % 97,
  'item ' || md5(g::text),
  CASE WHEN g % 5 = 0
    THEN (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 60) i)
    ELSE (SELECT string_agg(md5(g::text || ':' || i), ' ') FROM generate_series(1, 6) i) END,
  jsonb_build_object('id', g, 'sku', 'SKU-' || (g % 10000),
    'tags', jsonb_build_array(md5((g * 3)::text), md5((g * 7)::text)),
    'price', round((g % 10000) / 7.0, 2), 'active', g % 3 <> 0),
  decode(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text), 'hex')
FROM generate_series($1::bigint, $2::bigint) g`;

const WIDE_INDEXES = [
  'CREATE INDEX bench_wide_created_at ON bench_wide (created_at)',
  'CREATE INDEX bench_wide_category ON bench_wide (category, id)',
  'CREATE INDEX bench_wide_title ON bench_wide (title)',
];

export function pgEnv(cluster: Cluster): NodeJS.ProcessEnv {
  return { ...process.env, PGPASSWORD: cluster.password, PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.user };
}

export async function loadDataset(source: Cluster, options: DatasetOptions): Promise<DatasetInfo> {
  const started = Date.now();
  await source.query(`CREATE DATABASE ${BENCH_DB}`);
  await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(options.scale), BENCH_DB], {
    env: pgEnv(source),
    maxBuffer: 16 * 1024 * 1024,
  });
  // A key on pgbench_history so the online benchmark can replicate it without REPLICA IDENTITY FULL.
  await source.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], BENCH_DB);
  await source.query(WIDE_TABLE, [], BENCH_DB);
  // Two halves on two connections: generation is CPU-bound md5.
  const half = Math.floor(options.wideRows / 2);
  await Promise.all([source.query(WIDE_INSERT, [1, half], BENCH_DB), source.query(WIDE_INSERT, [half + 1, options.wideRows], BENCH_DB)]);
  for (const sql of WIDE_INDEXES) await source.query(sql, [], BENCH_DB);
  await source.query('VACUUM ANALYZE', [], BENCH_DB);
  await source.query('CHECKPOINT');
  const [size] = await source.query<{ bytes: string }>(`SELECT pg_database_size($1) AS bytes`, [BENCH_DB]);
  const sizes = await source.query<{ table: string; bytes: string; heap: string; toast: string }>(
    `SELECT c.oid::regclass::text AS table, pg_total_relation_size(c.oid) AS bytes, pg_relation_size(c.oid) AS heap,
            coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
    [],
    BENCH_DB,
  );
  const counts = await tableRowCounts(source, BENCH_DB);
  return {
    scale: options.scale,
    wideRows: options.wideRows,
    databaseBytes: Number(size!.bytes),
    tables: sizes.map((s) => ({
      table: s.table,
      rows: counts.get(s.table) ?? 0,
      bytes: Number(s.bytes),
      heapBytes: Number(s.heap),
      toastBytes: Number(s.toast),
    })),
    loadSeconds: (Date.now() - started) / 1000,
  };
}

/** count(*) of every user table: the cheap sanity check after each tool's run. */
export async function tableRowCounts(cluster: Cluster, database: string): Promise<Map<string, number>> {
  const client = await cluster.connect(database);
  try {
    const { rows } = await client.query<{ table: string }>(
      `SELECT c.oid::regclass::text AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')
          AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1`,
    );
    const counts = new Map<string, number>();
    for (const { table } of rows) {
      // Names come from regclass output, already quoted where needed.
      const { rows: r } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      counts.set(table, Number(r[0]!.n));
    }
    return counts;
  } finally {
    await client.end();
  }
}

/** One line: "ok (5 tables, 2,500,000 rows)" or the first difference. */
export function compareCounts(source: Map<string, number>, target: Map<string, number>): { ok: boolean; line: string } {
  for (const [table, n] of source) {
    const t = target.get(table);
    if (t !== n) return { ok: false, line: `MISMATCH ${table}: source ${n}, target ${t ?? 'missing'}` };
  }
  for (const table of target.keys()) {
    if (!source.has(table)) return { ok: false, line: `MISMATCH extra table on target: ${table}` };
  }
  const rows = [...source.values()].reduce((s, n) => s + n, 0);
  return { ok: true, line: `ok (${source.size} tables, ${rows.toLocaleString('en-US')} rows)` };
}
