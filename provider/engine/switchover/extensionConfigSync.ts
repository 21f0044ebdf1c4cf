// The rows of extensions' configuration tables (catalog/extensionConfigTables.ts) copied from one
// server to the other: in the copy's snapshot, again at an online cutover after the drain, and back
// to the old source at a fall-back, beside the sequences and large objects brought over at each
// switch (an extension's table is not in either publication, which list the tables the filters
// move). On the server written, a row whose key is there already is updated only when the
// extension's condition selects it there too, so the extension's own rows are never changed or
// duplicated; in a table without a primary key, a row already there whole is skipped. A row is
// deleted only when pgferry inserted it (its key recorded as copied before the insert,
// control/extensionConfigRows.ts, with the md5 of the row written), it is still what pgferry wrote,
// and the server it came from no longer has it: a row the written server had of its own, a DBA's,
// stays, and so does one pgferry copied that a DBA edited there since under the same key (kept and
// reported). The target's own rows at the cutover are recorded as kept:
// a fall-back does not carry them back, and the comparisons leave them out.
import type pg from 'pg';
import { ident, identList, qualified } from '../connect/quote';
import { inTransaction } from '../connect/transaction';
import {
  configKeySql,
  configRowKeyedMd5Sql,
  configTableDisplay,
  onTarget,
  readExtensionConfigTables,
  selectedConfigRowsSql,
  type ExtensionConfigTable,
} from '../catalog/extensionConfigTables';
import type { ConfigRowKeys, ConfigRowsLedger } from '../control/extensionConfigRows';

const NO_KEYS: ConfigRowKeys = { copied: new Map(), kept: new Set() };

/** Deletes the rows of the keys given ($1, text[]) that the extension's condition selects there. */
function deleteSql(t: ExtensionConfigTable): string {
  const table = qualified(t.schema, t.name);
  return `DELETE FROM ONLY ${table} AS r WHERE ${configKeySql(t, 'r')} = ANY ($1::text[]) AND r.ctid IN (SELECT ctid FROM ONLY ${table} ${t.condition})`;
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
  const { rows } = await from.query<{ row: string; key: string; md5: string }>(selectedConfigRowsSql(table));
  const onTo = new Map((await to.query<{ key: string; md5: string }>(configRowKeyedMd5Sql(table))).rows.map((r) => [r.key, r.md5]));
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
