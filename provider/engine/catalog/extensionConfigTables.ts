// The configuration tables of extensions (pg_extension_config_dump): pg_partman's part_config, the
// SRIDs a user adds to PostGIS's spatial_ref_sys. The extension makes the table on each server, with
// rows of its own; the rows of the database's own are those the extension's condition selects, the
// rows pg_dump copies with the extension. Read here alike on both servers, each row as its text
// and its key's (sessions pin the settings that change how values print), and as a count and a
// digest: for the validation that lists them, the copy of their rows at each switch
// (switchover/extensionConfigSync.ts) and the verification that compares them
// (verify/verifyTables.ts).
import type pg from 'pg';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';

/** Each extension's plain configuration tables, with the condition pg_dump selects their rows by ('' for all). */
const CONFIG_TABLES_SQL = `
SELECT e.extname AS extension, n.nspname AS schema, c.relname AS name, coalesce(e.extcondition[s.i], '') AS condition,
       array(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                AND coalesce(to_jsonb(a) ->> 'attgenerated', '') = '' -- a column from PostgreSQL 12 on
              ORDER BY a.attnum) AS columns,
       array(SELECT a.attname::text FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid AND i.indisprimary
              ORDER BY a.attnum) AS key
  FROM pg_catalog.pg_extension e
 CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) AS s(i)
  JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[s.i]
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
 ORDER BY 1, 2, 3`;

export interface ExtensionConfigTable {
  readonly extension: string;
  readonly schema: string;
  readonly name: string;
  /** The extension's own `WHERE ...` from the catalog, as pg_dump runs it; '' for every row. */
  readonly condition: string;
  /** The columns a row is written with: none generated. */
  readonly columns: readonly string[];
  /** The primary key's columns; empty when the table has none. */
  readonly key: readonly string[];
}

/** The configuration tables of the database `client` is on. */
export async function readExtensionConfigTables(client: pg.Client): Promise<ExtensionConfigTable[]> {
  const { rows } = await client.query<ExtensionConfigTable>(CONFIG_TABLES_SQL);
  return rows;
}

/** Whether the target has the table (its extension made there). */
export async function onTarget(target: pg.Client, t: ExtensionConfigTable): Promise<boolean> {
  const { rows } = await target.query<{ oid: string | null }>(`SELECT to_regclass($1)::oid::text AS oid`, [qualified(t.schema, t.name)]);
  return rows[0]?.oid !== null && rows[0]?.oid !== undefined;
}

/** How the table is named in messages and the verification's report. */
export function configTableDisplay(t: ExtensionConfigTable): string {
  return `${displayName(t.schema, t.name)} (configuration of extension ${displayIdent(t.extension)})`;
}

/**
 * A row's key as text: its primary key's columns as a row, or the whole row in a table without one.
 * The same text on both servers (sessions pin the settings that change how values print).
 */
export function configKeySql(t: ExtensionConfigTable, alias: string): string {
  return t.key.length === 0 ? `${alias}::text` : `ROW(${t.key.map((c) => `${alias}.${ident(c)}`).join(', ')})::text`;
}

/** The rows the extension's condition selects, each as its row's text, its key's and the text's md5, in one order. */
export function selectedConfigRowsSql(t: ExtensionConfigTable): string {
  return `SELECT r::text AS row, ${configKeySql(t, 'r')} AS key, md5(r::text) AS md5 FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition} ORDER BY 1`;
}

/** The keys of the rows the extension's condition selects, each with the md5 of its row's text. */
export function configRowKeyedMd5Sql(t: ExtensionConfigTable): string {
  return `SELECT ${configKeySql(t, 'r')} AS key, md5(r::text) AS md5 FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition}`;
}

/** The keys of the rows the extension's condition selects. */
export function configRowKeysSql(t: ExtensionConfigTable): string {
  return `SELECT ${configKeySql(t, 'r')} AS key FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition}`;
}

/**
 * A count and a digest of the rows the extension's condition selects but those whose keys are given
 * ($1, text[]: a server's own rows, kept), read alike on both servers.
 */
export function configRowsDigestSql(t: ExtensionConfigTable): string {
  return `SELECT count(*)::int8::text AS n, md5(coalesce(string_agg(s.row, E'\\n' ORDER BY s.row), '')) AS digest
            FROM (${selectedConfigRowsSql(t)}) AS s WHERE NOT (s.key = ANY ($1::text[]))`;
}
