// Columns the source's toaster tried to compress and gave up on: in the sampled rows over the TOAST
// threshold, the column's value (the row's largest, so the first one tried) is stored uncompressed,
// and none of its values is compressed. The target's toaster, given the same bytes and the same
// method, would try and give up again, value by value, on the COPY's critical path: on the bench's
// wide table, a large share of the target's CPU (docs/bench.md#incompressible-columns). A
// whole-table COPY (its own transaction, the table truncated in it) sets such columns to STORAGE
// EXTERNAL for the load and back to EXTENDED before COMMIT: the values land out of line
// uncompressed, as the failed compression would have left them, and the catalog ends as it began.
// Decided from a sample, so a column with any compressed value is left alone (a mix of
// compressible and incompressible values is compressed as usual).
import type pg from 'pg';
import { ident } from '../connect/quote';
import { inSavepoint } from '../connect/savepoint';
import type { SourceTable } from '../catalog/introspect';

/** Tables under this size are not sampled: their TOAST work is too small to matter. */
const MIN_TABLE_BYTES = 64 * 1024 * 1024;
/** Heap pages the sample reads (TABLESAMPLE SYSTEM picks whole pages). */
const SAMPLE_PAGES = 256;
/** Values the sample must see the toaster give up on in a column before its compression is skipped. */
const MIN_TRIED_VALUES = 16;
/**
 * TOAST_TUPLE_THRESHOLD from the block size (2,032 bytes with 8 kB pages): a row over it went
 * through the toaster, which tried to compress its largest EXTENDED value first. A value's own size
 * says nothing of that: the bench's bodies, each under the threshold, were all tried, in rows over it.
 */
const TOAST_THRESHOLD_SQL = `((current_setting('block_size')::int - 40) / 4 / 8 * 8)`;
/** pg_column_compression and attcompression: PostgreSQL 14. */
const FIRST_MAJOR = 14;

/** The compression method a column's new values get (its own, or the session's default). */
const METHOD_SQL = `CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' ELSE current_setting('default_toast_compression') END`;

/** Copied columns stored EXTENDED (compressed, then moved out of line), with their method; `$1` the table's OID. */
const EXTENDED_COLUMNS_SQL = `
SELECT a.attname AS name, ${METHOD_SQL} AS method
  FROM pg_attribute a
 WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage = 'x' AND a.attname = ANY($2::text[])`;

/** The same on the target, where the table is known by name. */
const TARGET_EXTENDED_COLUMNS_SQL = EXTENDED_COLUMNS_SQL.replace('$1::oid', '$1::regclass');

interface ExtendedColumn {
  name: string;
  method: string;
}

export interface IncompressibleScope {
  readonly sourceMajor?: number;
  readonly targetMajor?: number;
}

/** Whether a whole-table job is worth sampling: a large table, both servers new enough. */
export function worthSampling(table: SourceTable, scope: IncompressibleScope): boolean {
  return table.bytes >= MIN_TABLE_BYTES && (scope.sourceMajor ?? 0) >= FIRST_MAJOR && (scope.targetMajor ?? 0) >= FIRST_MAJOR;
}

/**
 * The source's EXTENDED columns of `table` the sample shows the toaster gave up on (above). Runs on
 * the job's source session, inside the copy's snapshot transaction: in a savepoint, so a refusal
 * (row-level security under row_security = off, which the COPY then reports itself) never aborts it.
 */
export async function sampleIncompressible(source: pg.Client, table: SourceTable): Promise<ExtendedColumn[]> {
  try {
    return await inSavepoint(source, 'pgferry_sample', () => sampleInSavepoint(source, table));
  } catch {
    // a refusal (rolled back to the savepoint), or no transaction block to open one in
    return [];
  }
}

async function sampleInSavepoint(source: pg.Client, table: SourceTable): Promise<ExtendedColumn[]> {
  const candidates = (await source.query<ExtendedColumn>(EXTENDED_COLUMNS_SQL, [table.oid, table.columns])).rows;
  if (candidates.length === 0) return [];
  // Per sampled row: whether it is over the threshold, its largest EXTENDED value's size, and each
  // candidate's size and compression (one pass, linear in the columns); then per candidate: rows
  // over the threshold where it is that largest value (the toaster tried it first) stored
  // uncompressed, and its values stored compressed anywhere in the sample.
  const row = 'pgferry_row';
  const column = (c: ExtendedColumn) => `${row}.${ident(c.name)}`;
  const perRow = candidates.map((c, i) => `pg_column_size(${column(c)}) AS size_${i}, pg_column_compression(${column(c)}) AS method_${i}`);
  const largest = `greatest(${candidates.map((_, i) => `size_${i}`).join(', ')})`;
  const counts = candidates.map(
    (_, i) =>
      `count(*) FILTER (WHERE over AND size_${i} >= ${largest} AND method_${i} IS NULL) AS tried_${i}, ` +
      `count(*) FILTER (WHERE method_${i} IS NOT NULL) AS compressed_${i}`,
  );
  // The percentage from the heap's size now (relpages is stale on a table never vacuumed or
  // analyzed); a constant seed: the same table gets the same sample, and decision, on a resume.
  const percent = `least(100, 100.0 * ${SAMPLE_PAGES} / greatest(1, pg_relation_size($1::oid) / current_setting('block_size')::int))`;
  const sample =
    `SELECT ${counts.join(', ')} FROM (SELECT pg_column_size(${row}.*) > ${TOAST_THRESHOLD_SQL} AS over, ${perRow.join(', ')} ` +
    `FROM ONLY ${table.sql} AS ${row} TABLESAMPLE SYSTEM (${percent}) REPEATABLE (0)) AS sampled`;
  const found = (await source.query<Record<string, string>>(sample, [table.oid])).rows[0]!;
  return candidates.filter((_, i) => Number(found[`tried_${i}`]) >= MIN_TRIED_VALUES && Number(found[`compressed_${i}`]) === 0);
}

/**
 * In the job's target transaction, after its TRUNCATE: the columns of `sampled` the target stores
 * EXTENDED with the same method are set to EXTERNAL for the load. Returns the ALTER that sets them
 * back (run before COMMIT), or undefined when none was changed. In a savepoint released at once
 * (COPY FREEZE needs the TRUNCATE's subtransaction to be the current one): a target that refuses
 * (a role that does not own the table) loads as usual.
 */
export async function skipCompression(
  target: pg.Client,
  table: SourceTable,
  sampled: readonly ExtendedColumn[],
): Promise<string | undefined> {
  if (sampled.length === 0) return undefined;
  const onTarget = (await target.query<ExtendedColumn>(TARGET_EXTENDED_COLUMNS_SQL, [table.sql, sampled.map((c) => c.name)])).rows;
  const same = onTarget.filter((t) => sampled.some((s) => s.name === t.name && s.method === t.method)).map((c) => c.name);
  if (same.length === 0) return undefined;
  const alter = (storage: string) =>
    `ALTER TABLE ONLY ${table.sql} ${same.map((c) => `ALTER COLUMN ${ident(c)} SET STORAGE ${storage}`).join(', ')}`;
  try {
    await inSavepoint(target, 'pgferry_storage', () => target.query(alter('EXTERNAL')));
  } catch {
    return undefined;
  }
  return alter('EXTENDED');
}
