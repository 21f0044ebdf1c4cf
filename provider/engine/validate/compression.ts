// Column compression: a column the source stores with `COMPRESSION lz4` is restored with
// `ALTER TABLE ... SET COMPRESSION lz4`, which a target built without lz4 refuses, failing the
// restore after the validation passed. So the methods the source's columns name must be ones the
// target offers (the values of its default_toast_compression).
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';

/** Methods named by the columns of user tables, one example column each (PostgreSQL 14 and later). */
const SOURCE_COMPRESSION_SQL = `
SELECT CASE a.attcompression WHEN 'l' THEN 'lz4' WHEN 'p' THEN 'pglz' ELSE a.attcompression::text END AS method,
       count(*)::int AS columns,
       min(pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname)) AS example
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attcompression <> '' AND c.relkind IN ('r', 'p', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 GROUP BY 1 ORDER BY 1`;

/** The compression methods the target offers; undefined before PostgreSQL 14, which has none to name. */
export async function readTargetCompressions(target: pg.Client, major: number): Promise<ReadonlySet<string> | undefined> {
  if (major < 14) return undefined;
  const { rows } = await target.query<{ methods: string[] }>(
    `SELECT enumvals AS methods FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression'`,
  );
  return new Set(rows[0]?.methods ?? ['pglz']);
}

export async function checkCompression(
  client: pg.Client,
  database: string,
  sourceMajor: number,
  target: ReadonlySet<string> | undefined,
): Promise<ValidationResult[]> {
  if (sourceMajor < 14) return [];
  const { rows } = await client.query<{ method: string; columns: number; example: string }>(SOURCE_COMPRESSION_SQL);
  const results: ValidationResult[] = [];
  for (const r of rows) {
    if (target === undefined || target.has(r.method)) continue;
    const offered = target ? [...target].join(', ') : 'none (before PostgreSQL 14)';
    results.push(
      failed(
        CODES.COMPRESSION_METHOD_MISSING,
        CHECK_TYPES.schema,
        `${r.columns} column(s) of database ${displayIdent(database)} are stored with COMPRESSION ${r.method} (e.g. ${r.example}), which the target does not offer (it has: ${offered}): the schema restore would fail`,
        `on the source, ALTER TABLE ... ALTER COLUMN ... SET COMPRESSION pglz for those columns (new rows use it; existing ones keep theirs and are copied as values), or use a target built with ${r.method}`,
        { database },
      ),
    );
  }
  if (results.length === 0 && rows.length > 0) {
    const methods = rows.map((r) => r.method).join(', ');
    results.push(
      succeeded(
        CODES.COMPRESSION,
        CHECK_TYPES.schema,
        `the target offers every column compression of ${displayIdent(database)} (${methods})`,
        {
          database,
        },
      ),
    );
  }
  return results;
}
