// The configuration tables of extensions (pg_extension_config_dump): pg_partman's part_config, the
// SRIDs a user adds to PostGIS's spatial_ref_sys. The extension makes the table on the target, with
// rows of its own; the rows of the database's own are those the extension's condition selects, the
// rows pg_dump copies with the extension. pgferry copies those rows in the copy's snapshot and again
// at an online cutover after the drain (an extension's table is not in the publication, which lists
// the tables the filters move), and the verification compares them. On the target, a row whose key
// is there already is updated only when the extension's condition selects it there too, so the
// extension's own rows are never changed or duplicated; in a table without a primary key, a row
// already there whole is skipped. Nothing is deleted.
import type pg from 'pg';
import { ident, identList, qualified } from '../connect/quote';
import { inTransaction } from '../connect/transaction';

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
  return `${qualified(t.schema, t.name)} (configuration of extension ${ident(t.extension)})`;
}

/** The rows the extension's condition selects, each as its row's text, in one order. */
function selectedRowsSql(t: ExtensionConfigTable): string {
  return `SELECT r::text AS row FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition} ORDER BY 1`;
}

/** A count and a digest of the rows the extension's condition selects, read alike on both servers. */
export function configRowsDigestSql(t: ExtensionConfigTable): string {
  return `SELECT count(*)::int8::text AS n, md5(coalesce(string_agg(s.row, E'\\n' ORDER BY s.row), '')) AS digest
            FROM (${selectedRowsSql(t)}) AS s`;
}

/**
 * The statement that writes rows given as their text ($1, text[]) into the target's table: upserted
 * by the primary key where the condition selects the row already there, else skipped; without a
 * key, a row already there whole is skipped.
 */
function writeSql(t: ExtensionConfigTable): string {
  const table = qualified(t.schema, t.name);
  const values = t.columns.map((c) => `(v.r).${ident(c)}`).join(', ');
  const rows = `SELECT ${values} FROM (SELECT x::${table} AS r, x AS text FROM unnest($1::text[]) AS u(x)) AS v`;
  const insert = `INSERT INTO ${table} AS t (${identList(t.columns)}) OVERRIDING SYSTEM VALUE`;
  if (t.key.length === 0) return `${insert} ${rows} WHERE NOT EXISTS (SELECT 1 FROM ONLY ${table} AS o WHERE o::text = v.text)`;
  const rest = t.columns.filter((c) => !t.key.includes(c));
  // the condition names the table's columns unqualified: it is run in a subquery of its own, where
  // they are the existing row's and not the proposed row's too
  const selected = `WHERE t.ctid IN (SELECT ctid FROM ONLY ${table} ${t.condition})`;
  const set = rest.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(', ');
  const update = rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${set} ${selected}`;
  return `${insert} ${rows} ON CONFLICT (${identList(t.key)}) ${update}`;
}

export interface ConfigRowsCopied {
  readonly table: ExtensionConfigTable;
  /** Rows the condition selects on the source. */
  readonly rows: number;
  /** Rows written on the target (inserted, or updated by key). */
  readonly written: number;
}

/**
 * Copies the rows each configuration table's condition selects from `source` (in whatever snapshot
 * its transaction reads) into `target`, in one target transaction; the tables with no such row are
 * left out of the answer.
 */
export async function copyExtensionConfigRows(source: pg.Client, target: pg.Client): Promise<ConfigRowsCopied[]> {
  const tables = await readExtensionConfigTables(source);
  if (tables.length === 0) return [];
  return inTransaction(target, async () => {
    const copied: ConfigRowsCopied[] = [];
    for (const table of tables) {
      // an extension the filters leave behind is not on the target, and its rows stay with it
      if (!(await onTarget(target, table))) continue;
      const { rows } = await source.query<{ row: string }>(selectedRowsSql(table));
      if (rows.length === 0) continue;
      const written = await target.query(writeSql(table), [rows.map((r) => r.row)]);
      copied.push({ table, rows: rows.length, written: written.rowCount ?? 0 });
    }
    return copied;
  });
}

/** One line on what a copy of a configuration table's rows did. */
export function configRowsCopiedMessage(step: 'copy' | 'cutover', c: ConfigRowsCopied): string {
  return `${step}: ${configTableDisplay(c.table)}: ${c.rows} row(s) its condition selects copied, ${c.written} written on the target (the rest there already)`;
}
