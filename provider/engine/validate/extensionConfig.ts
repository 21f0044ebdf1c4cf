// The configuration tables of extensions (pg_extension_config_dump): pg_partman's part_config, the
// SRIDs a user adds to PostGIS's spatial_ref_sys. pg_dump copies the rows their condition selects
// with the extension; pgferry copies no extension member's rows, and neither streams nor compares
// them, so each such table holding rows on the source is named here, with the rows left behind
// and how to copy them, rather than found missing after the cutover.
import type pg from 'pg';
import { ident, qualified } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, warning } from './result';

/** Each extension's configuration tables, with the condition pg_dump selects their rows by ('' for all). */
const CONFIG_TABLES_SQL = `
SELECT e.extname AS extension, n.nspname AS schema, c.relname AS name, coalesce(e.extcondition[s.i], '') AS condition
  FROM pg_catalog.pg_extension e
 CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) AS s(i)
  JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[s.i]
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
 ORDER BY 1, 2, 3`;

interface ConfigTable {
  readonly extension: string;
  readonly schema: string;
  readonly name: string;
  readonly condition: string;
}

/** A warning per extension whose configuration tables hold rows pg_dump would copy and pgferry leaves behind. */
export async function checkExtensionConfigTables(client: pg.Client, database: string): Promise<ValidationResult[]> {
  const { rows } = await client.query<ConfigTable>(CONFIG_TABLES_SQL);
  const held = new Map<string, string[]>();
  for (const t of rows) {
    const table = qualified(t.schema, t.name);
    // the condition is the extension's own SQL from the catalog (WHERE ...), as pg_dump runs it
    const count = await client.query<{ n: string }>(`SELECT count(*)::int8::text AS n FROM ONLY ${table} ${t.condition}`);
    const n = Number(count.rows[0]?.n ?? 0);
    if (n > 0) held.set(t.extension, [...(held.get(t.extension) ?? []), `${table} (${n} row(s))`]);
  }
  return [...held].map(([extension, tables]) =>
    warning(
      CODES.EXTENSION_CONFIG_ROWS,
      CHECK_TYPES.extensions,
      `the configuration tables of extension ${ident(extension)} hold rows of the database's own: ${tables.join(', ')}; pg_dump copies them with the extension, pgferry does not copy, stream or compare them, so the target's extension starts without them`,
      `copy them as pg_dump does once the target has the schema (after the cutover, or again after they change on the source): pg_dump --data-only --extension=${extension} -d ${database} on the source, piped into psql -d ${database} on the target (pg_dump 14 or later)`,
      { database },
    ),
  );
}
