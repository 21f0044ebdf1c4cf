// The configuration tables of extensions (pg_extension_config_dump): pg_partman's part_config, the
// SRIDs a user adds to PostGIS's spatial_ref_sys. The extension makes the table on the target, with
// rows of its own; the rows of the database's own are those the extension's condition selects, the
// rows pg_dump copies with the extension. pgferry copies those rows in the copy's snapshot, again
// at an online cutover after the drain, and back to the old source at a fall-back (an extension's
// table is not in either publication, which list the tables the filters move), and the
// verification compares them. On the server written, a row whose key is there already is updated
// only when the extension's condition selects it there too, so the extension's own rows are never
// changed or duplicated; in a table without a primary key, a row already there whole is skipped.
// A row is deleted only when pgferry inserted it (its key recorded as copied before the insert,
// control/extensionConfigRows.ts, with the md5 of the row written), it is still what pgferry wrote,
// and the server it came from no longer has it: a row the written server had of its own, a DBA's,
// stays, and so does one pgferry copied that a DBA edited there since under the same key (kept and
// reported). The target's own rows at the cutover are recorded as kept:
// a fall-back does not carry them back, and the comparisons leave them out.
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

/**
 * A row's key as text: its primary key's columns as a row, or the whole row in a table without one.
 * The same text on both servers (sessions pin the settings that change how values print).
 */
function keySql(t: ExtensionConfigTable, alias: string): string {
  return t.key.length === 0 ? `${alias}::text` : `ROW(${t.key.map((c) => `${alias}.${ident(c)}`).join(', ')})::text`;
}

/** The rows the extension's condition selects, each as its row's text, its key's and the text's md5, in one order. */
function selectedRowsSql(t: ExtensionConfigTable): string {
  return `SELECT r::text AS row, ${keySql(t, 'r')} AS key, md5(r::text) AS md5 FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition} ORDER BY 1`;
}

/** The keys of the rows the extension's condition selects, each with the md5 of its row's text. */
function keyedMd5Sql(t: ExtensionConfigTable): string {
  return `SELECT ${keySql(t, 'r')} AS key, md5(r::text) AS md5 FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition}`;
}

/** The keys of the rows the extension's condition selects. */
export function configRowKeysSql(t: ExtensionConfigTable): string {
  return `SELECT ${keySql(t, 'r')} AS key FROM ONLY ${qualified(t.schema, t.name)} AS r ${t.condition}`;
}

/**
 * A count and a digest of the rows the extension's condition selects but those whose keys are given
 * ($1, text[]: a server's own rows, kept), read alike on both servers.
 */
export function configRowsDigestSql(t: ExtensionConfigTable): string {
  return `SELECT count(*)::int8::text AS n, md5(coalesce(string_agg(s.row, E'\\n' ORDER BY s.row), '')) AS digest
            FROM (${selectedRowsSql(t)}) AS s WHERE NOT (s.key = ANY ($1::text[]))`;
}

/** Deletes the rows of the keys given ($1, text[]) that the extension's condition selects there. */
function deleteSql(t: ExtensionConfigTable): string {
  const table = qualified(t.schema, t.name);
  return `DELETE FROM ONLY ${table} AS r WHERE ${keySql(t, 'r')} = ANY ($1::text[]) AND r.ctid IN (SELECT ctid FROM ONLY ${table} ${t.condition})`;
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

/** One configuration table's recorded keys (control/extensionConfigRows.ts): those pgferry inserted, and the target's own. */
export interface ConfigRowKeys {
  /** Each key pgferry inserted, with the md5 of the row as it last wrote it (null: recorded before the md5 was). */
  readonly copied: ReadonlyMap<string, string | null>;
  readonly kept: ReadonlySet<string>;
}

/** A key pgferry is about to write, with the md5 of the row's text it writes. */
export interface CopiedConfigRow {
  readonly key: string;
  readonly md5: string;
}

const NO_KEYS: ConfigRowKeys = { copied: new Map(), kept: new Set() };

/** The record of the keys pgferry wrote, in the control catalog, which this folder does not reach: its caller hands it. */
export interface ConfigRowsLedger {
  /** The recorded keys by table (its qualified name). */
  read(): Promise<ReadonlyMap<string, ConfigRowKeys>>;
  /** Keys about to be inserted or written again, with their rows' md5, recorded before the write. */
  recordCopied(table: string, rows: readonly CopiedConfigRow[]): Promise<void>;
  /** Keys whose rows were deleted, forgotten once the delete committed. */
  forget(table: string, keys: readonly string[]): Promise<void>;
  /** The target's own keys, in place of those recorded before. */
  recordKept(table: string, keys: readonly string[]): Promise<void>;
}

/** Which way rows go: the copy's and the cutover's (source to target) or a fall-back's (new server to old source). */
export type ConfigRowsWay = 'forward' | 'back';

export interface ConfigRowsCopied {
  readonly table: ExtensionConfigTable;
  /** Rows the condition selects on the server read. */
  readonly rows: number;
  /** Rows written on the other server (inserted, or updated by key). */
  readonly written: number;
  /** Rows pgferry had inserted there that the server read no longer has, deleted. */
  readonly deleted: number;
  /** Rows of the server written's own, not pgferry's: kept. */
  readonly kept: number;
  /** Rows pgferry had copied that the server read no longer has, edited on the server written since: kept. */
  readonly edited: number;
}

/** What one table's rows became, and what the ledger is told once the transaction committed. */
interface TableDone {
  /** The table's qualified name, as the ledger records it. */
  readonly name: string;
  readonly copied?: ConfigRowsCopied;
  readonly forgotten: readonly string[];
  readonly own?: readonly string[];
}

/**
 * Writes one table's rows the condition selects on `from` into `to`: the rows inserted recorded
 * first, then those pgferry inserted before and `from` no longer has deleted. Forward, the keys `to`
 * has of its own are returned to be recorded as kept; back, the kept ones are not carried.
 */
async function syncTable(
  from: pg.Client,
  to: pg.Client,
  table: ExtensionConfigTable,
  way: ConfigRowsWay,
  ledger?: ConfigRowsLedger,
  keys = NO_KEYS,
): Promise<TableDone> {
  const name = qualified(table.schema, table.name);
  const { rows } = await from.query<{ row: string; key: string; md5: string }>(selectedRowsSql(table));
  const onTo = new Map((await to.query<{ key: string; md5: string }>(keyedMd5Sql(table))).rows.map((r) => [r.key, r.md5]));
  const fromKeys = new Set(rows.map((r) => r.key));
  const carried = way === 'back' ? rows.filter((r) => !keys.kept.has(r.key)) : rows;
  // the rows inserted and those pgferry wrote before and writes again: what they will read is recorded first
  await ledger?.recordCopied(
    name,
    carried.filter((r) => !onTo.has(r.key) || keys.copied.has(r.key)).map((r) => ({ key: r.key, md5: r.md5 })),
  );
  const written = carried.length === 0 ? 0 : ((await to.query(writeSql(table), [carried.map((r) => r.row)])).rowCount ?? 0);
  // a row pgferry copied whose key the server read no longer has: deleted only when it is still what
  // pgferry wrote; one edited since under the same key (or recorded without its md5) is kept
  const missing = [...onTo.keys()].filter((k) => keys.copied.has(k) && !fromKeys.has(k));
  const gone = missing.filter((k) => keys.copied.get(k) === onTo.get(k));
  const edited = missing.filter((k) => keys.copied.get(k) !== onTo.get(k));
  const deleted = gone.length === 0 ? 0 : ((await to.query(deleteSql(table), [gone])).rowCount ?? 0);
  const own = [...onTo.keys()].filter((k) => !fromKeys.has(k) && !keys.copied.has(k));
  const copied =
    rows.length > 0 || deleted > 0 || own.length > 0 || edited.length > 0
      ? { table, rows: rows.length, written, deleted, kept: own.length, edited: edited.length }
      : undefined;
  return { name, ...(copied ? { copied } : {}), forgotten: gone, ...(way === 'forward' && ledger ? { own: [...own, ...edited] } : {}) };
}

/**
 * Copies the rows each configuration table's condition selects from `from` (in whatever snapshot
 * its transaction reads) into `to`, in one transaction there; the tables with nothing to say are
 * left out of the answer. Without a ledger (a migration copied before the record existed), nothing
 * is deleted or kept.
 */
export async function syncExtensionConfigRows(
  from: pg.Client,
  to: pg.Client,
  way: ConfigRowsWay,
  ledger?: ConfigRowsLedger,
): Promise<ConfigRowsCopied[]> {
  const tables = await readExtensionConfigTables(from);
  if (tables.length === 0) return [];
  const recorded = ledger ? await ledger.read() : new Map<string, ConfigRowKeys>();
  const done = await inTransaction(to, async () => {
    const each: TableDone[] = [];
    for (const table of tables) {
      // an extension the filters leave behind is not on the target, and its rows stay with it
      if (!(await onTarget(to, table))) continue;
      each.push(await syncTable(from, to, table, way, ledger, recorded.get(qualified(table.schema, table.name))));
    }
    return each;
  });
  // after the commit: a runner killed before it keeps a copied key whose row is gone, which deletes nothing
  for (const d of done) {
    await ledger?.forget(d.name, d.forgotten);
    if (d.own) await ledger?.recordKept(d.name, d.own);
  }
  return done.flatMap((d) => (d.copied ? [d.copied] : []));
}

/** One line on what a copy of a configuration table's rows did. */
export function configRowsCopiedMessage(step: 'copy' | 'cutover' | 'fall-back', c: ConfigRowsCopied): string {
  const where = step === 'fall-back' ? 'the old source' : 'the target';
  const deleted = c.deleted > 0 ? `, ${c.deleted} pgferry had copied deleted there (gone from where they came from)` : '';
  const kept = c.kept > 0 ? `, ${c.kept} of ${where}'s own kept (pgferry did not copy them)` : '';
  const edited =
    c.edited > 0
      ? `, ${c.edited} pgferry had copied kept on ${where} though gone from where they came from: edited there since under the same key`
      : '';
  return `${step}: ${configTableDisplay(c.table)}: ${c.rows} row(s) its condition selects copied, ${c.written} written on ${where} (the rest there already)${deleted}${kept}${edited}`;
}
