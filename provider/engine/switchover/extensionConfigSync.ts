// The rows of extensions' configuration tables (catalog/extensionConfigTables.ts) copied from one
// server to the other: in the copy's snapshot, again at an online cutover after the drain, and back
// to the old source at a fall-back, beside the sequences and large objects brought over at each
// switch (an extension's table is not in either publication, which list the tables the filters
// move). On the server written, a row whose key is there already is updated only when the
// extension's condition selects it there too, so the extension's own rows are never changed or
// duplicated; in a table without a primary key, a row already there whole is skipped. Each key
// pgferry writes is recorded first with the md5 of the row it writes (control/extensionConfigRows.ts),
// which is what both servers had under it at that moment: a row found later with another md5 where
// it was written was edited there by someone else. Such a row is never overwritten: kept silently
// (and reported) when the server it came from did not change it either, kept with a warning naming
// its key when both changed, since pgferry cannot know which edit is meant; both are recorded as
// kept, and the comparisons leave them out. A row pgferry copied that someone deleted there since,
// unchanged where it came from, is a delete kept as an edit is: warned with its key, not copied
// again. A row is deleted only when pgferry inserted it, it is
// still what pgferry wrote, and the server it came from no longer has it: a row the written server
// had of its own, a DBA's, stays, and so does one pgferry copied that a DBA edited there since. The
// target's own rows at the cutover are recorded as kept: a fall-back does not carry them back.
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

const NO_KEYS: ConfigRowKeys = { copied: new Map(), kept: new Map() };

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
  /** Rows pgferry had copied, edited on the server written since and unchanged on the server read: the edit kept. */
  readonly editKept: number;
  /**
   * Keys of rows changed on both servers since pgferry copied them (or whose copy pgferry cannot
   * tell, recorded before it kept the md5): the written server's row kept, the read one's not copied.
   */
  readonly conflicts: readonly string[];
  /** Keys of rows pgferry copied that were deleted on the server written since, unchanged on the server read: not copied again. */
  readonly deletedKept: readonly string[];
}

/** A row of the server read: its text, its key's and the text's md5. */
interface ReadRow {
  readonly row: string;
  readonly key: string;
  readonly md5: string;
}

/** A key recorded as kept, with the md5 of what pgferry last wrote under it (null: the written server's own). */
interface KeptKey {
  readonly key: string;
  readonly md5: string | null;
}

/** What one table's sync does, decided from both servers' rows and the record before anything is written. */
export interface ConfigRowsPlan {
  /** Rows written (inserted, or updated by key): recorded as copied with their md5 first. */
  readonly write: readonly ReadRow[];
  /** Of `write`, those recorded as copied before the write (new keys, and keys pgferry copied before). */
  readonly record: readonly ReadRow[];
  /** Keys pgferry copied that the server read no longer has and that are still what pgferry wrote: deleted. */
  readonly gone: readonly string[];
  /** Keys pgferry copied that the server read no longer has, edited where they were written: kept. */
  readonly edited: readonly KeptKey[];
  /** Keys pgferry copied whose row was edited where it was written, the server read's unchanged: kept. */
  readonly editKept: readonly KeptKey[];
  /** Keys whose row changed on both servers since pgferry copied it: the written server's kept, warned. */
  readonly conflicts: readonly KeptKey[];
  /** Keys pgferry copied whose row was deleted where it was written, the server read's unchanged: the delete kept, warned. */
  readonly deletedKept: readonly KeptKey[];
  /**
   * Of `record`, the keys the server written lacks, inserted: recorded first without an md5 (what
   * pgferry cannot yet tell it wrote), and with it once the write committed (`confirm`).
   */
  readonly inserted: readonly ReadRow[];
  /** Keys the server written has of its own (not copied, not on the server read). */
  readonly own: readonly string[];
}

/**
 * What happens to each row, judged against what pgferry last wrote under its key (the md5 the
 * record keeps, for a copied key or one kept as edited): a row the server written still has as
 * pgferry wrote it takes the server read's; one edited there since is someone else's and is kept,
 * silently when the server read did not change it either, with a warning when it did (the record
 * cannot tell which changed when it has no md5). A row deleted there since, as pgferry wrote it
 * unchanged on the server read, was deleted by someone else: the delete is kept, as an edit is.
 * A key with no record is written, as pg_dump would. Back, the keys kept at the cutover are not carried.
 */
export function planConfigRows(
  read: readonly ReadRow[],
  written: ReadonlyMap<string, string>,
  keys: ConfigRowKeys,
  way: ConfigRowsWay,
): ConfigRowsPlan {
  const base = (k: string): string | null | undefined => (keys.copied.has(k) ? keys.copied.get(k) : keys.kept.get(k));
  const write: ReadRow[] = [];
  const record: ReadRow[] = [];
  const editKept: KeptKey[] = [];
  const conflicts: KeptKey[] = [];
  const deletedKept: KeptKey[] = [];
  for (const r of read) {
    if (way === 'back' && keys.kept.has(r.key)) continue;
    const there = written.get(r.key);
    const was = base(r.key);
    // pgferry's write of it committed (its md5 is recorded only then), and it is gone since
    if (there === undefined && was !== undefined && was !== null && r.md5 === was) deletedKept.push({ key: r.key, md5: was });
    else if (there === undefined || was === undefined || there === r.md5 || there === was) {
      write.push(r);
      if (there === undefined || keys.copied.has(r.key) || (was !== undefined && was !== null)) record.push(r);
    } else if (was !== null && r.md5 === was) editKept.push({ key: r.key, md5: was });
    else conflicts.push({ key: r.key, md5: was });
  }
  const readKeys = new Set(read.map((r) => r.key));
  const missing = [...written.keys()].filter((k) => keys.copied.has(k) && !readKeys.has(k));
  return {
    write,
    record,
    gone: missing.filter((k) => keys.copied.get(k) === written.get(k)),
    edited: missing.filter((k) => keys.copied.get(k) !== written.get(k)).map((k) => ({ key: k, md5: keys.copied.get(k) ?? null })),
    editKept,
    conflicts,
    deletedKept,
    inserted: record.filter((r) => !written.has(r.key)),
    own: [...written.keys()].filter((k) => !readKeys.has(k) && !keys.copied.has(k)),
  };
}

/** What one table's rows became, and what the ledger is told once the transaction committed. */
interface TableDone {
  /** The table's qualified name, as the ledger records it. */
  readonly name: string;
  readonly copied?: ConfigRowsCopied;
  readonly forgotten: readonly string[];
  /** The keys inserted, whose md5 is recorded once the write committed. */
  readonly inserted: readonly ReadRow[];
  /** Forward: every key the server written keeps, in place of those recorded (its own and the edited ones). */
  readonly own?: readonly KeptKey[];
  /** Back: the keys kept as edited, recorded beside the kept ones of the cutover. */
  readonly editedBack?: readonly KeptKey[];
}

/**
 * Writes one table's rows the condition selects on `from` into `to` as planConfigRows decides: the
 * rows written recorded first, then those pgferry inserted before and `from` no longer has deleted.
 * Forward, the keys `to` keeps are returned to be recorded as kept; back, the edited ones.
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
  const { rows } = await from.query<ReadRow>(selectedConfigRowsSql(table));
  const onTo = new Map((await to.query<{ key: string; md5: string }>(configRowKeyedMd5Sql(table))).rows.map((r) => [r.key, r.md5]));
  // without a record (a migration copied before it existed), every row is written and none judged or deleted
  const plan = planConfigRows(rows, onTo, keys, way);
  // the rows inserted and those pgferry wrote before and writes again: what they will read is recorded
  // first; an inserted row's md5 only once its write committed, so that a runner killed in between
  // leaves a key whose row is missing for a reason pgferry cannot tell, which is never a DBA's delete
  const inserted = new Set(plan.inserted.map((r) => r.key));
  await ledger?.recordCopied(
    name,
    plan.record.map((r) => ({ key: r.key, md5: inserted.has(r.key) ? null : r.md5 })),
  );
  const written = plan.write.length === 0 ? 0 : ((await to.query(writeSql(table), [plan.write.map((r) => r.row)])).rowCount ?? 0);
  const deleted = plan.gone.length === 0 ? 0 : ((await to.query(deleteSql(table), [plan.gone])).rowCount ?? 0);
  const judged = [...plan.edited, ...plan.editKept, ...plan.conflicts, ...plan.deletedKept];
  const said = rows.length > 0 || deleted > 0 || plan.own.length > 0 || plan.edited.length > 0;
  const copied = said
    ? {
        table,
        rows: rows.length,
        written,
        deleted,
        kept: plan.own.length,
        edited: plan.edited.length,
        editKept: plan.editKept.length,
        conflicts: plan.conflicts.map((c) => c.key),
        deletedKept: plan.deletedKept.map((c) => c.key),
      }
    : undefined;
  const own = way === 'forward' && ledger ? { own: [...plan.own.map((key) => ({ key, md5: null })), ...judged] } : {};
  const back = way === 'back' && ledger && judged.length > 0 ? { editedBack: judged } : {};
  return { name, ...(copied ? { copied } : {}), forgotten: plan.gone, inserted: plan.inserted, ...own, ...back };
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
    await ledger?.confirmWritten(
      d.name,
      d.inserted.map((r) => ({ key: r.key, md5: r.md5 })),
    );
    await ledger?.forget(d.name, d.forgotten);
    if (d.own) await ledger?.recordKept(d.name, d.own);
    if (d.editedBack) await ledger?.recordEdited(d.name, d.editedBack);
  }
  return done.flatMap((d) => (d.copied ? [d.copied] : []));
}

type ConfigRowsStep = 'copy' | 'cutover' | 'fall-back';

/** One line on what a copy of a configuration table's rows did. */
function configRowsCopiedMessage(step: ConfigRowsStep, c: ConfigRowsCopied): string {
  const where = step === 'fall-back' ? 'the old source' : 'the target';
  const deleted = c.deleted > 0 ? `, ${c.deleted} pgferry had copied deleted there (gone from where they came from)` : '';
  const kept = c.kept > 0 ? `, ${c.kept} of ${where}'s own kept (pgferry did not copy them)` : '';
  const edited =
    c.edited > 0
      ? `, ${c.edited} pgferry had copied kept on ${where} though gone from where they came from: edited there since under the same key`
      : '';
  const editKept =
    c.editKept > 0
      ? `, ${c.editKept} pgferry had copied and someone edited on ${where} since kept as edited (unchanged where they came from)`
      : '';
  return `${step}: ${configTableDisplay(c.table)}: ${c.rows} row(s) its condition selects copied, ${c.written} written on ${where} (the rest there already)${deleted}${kept}${edited}${editKept}`;
}

/**
 * One line on the rows changed on both servers since pgferry copied them: which were kept, and how
 * to take the other server's instead (by hand: pgferry does not choose between two edits).
 */
function configRowsConflictMessage(step: ConfigRowsStep, c: ConfigRowsCopied): string {
  const [from, to] = step === 'fall-back' ? ['the new server', 'the old source'] : ['the source', 'the target'];
  const keys = c.conflicts.map((k) => JSON.stringify(k)).join(', ');
  const later = step === 'copy' ? `, or delete ${to}'s row before the cutover, which then copies ${from}'s` : '';
  return `${step}: ${configTableDisplay(c.table)}: key(s) ${keys} changed on both servers since pgferry copied them (or copied before pgferry recorded what it wrote): ${to}'s row kept, ${from}'s not copied; to take ${from}'s, write its row over ${to}'s by hand${later}`;
}

/**
 * One line on the rows pgferry copied that someone deleted where they were written, unchanged where
 * they came from: the delete kept, and how to take the other server's row instead.
 */
function configRowsDeletedMessage(step: ConfigRowsStep, c: ConfigRowsCopied): string {
  const [from, to] = step === 'fall-back' ? ['the new server', 'the old source'] : ['the source', 'the target'];
  const keys = c.deletedKept.map((k) => JSON.stringify(k)).join(', ');
  return `${step}: ${configTableDisplay(c.table)}: key(s) ${keys} deleted on ${to} since pgferry copied them, unchanged on ${from}: the delete kept, ${from}'s row not copied again; to take ${from}'s row, insert it on ${to} by hand (copy its row from ${from})`;
}

/**
 * What a copy of configuration rows says: a line per table, a warning when a row was kept as
 * edited, one per table with rows changed on both servers, and one per table with rows deleted
 * where pgferry wrote them.
 */
export function configRowsMessages(step: ConfigRowsStep, c: ConfigRowsCopied): { kind: 'info' | 'warning'; message: string }[] {
  const kind = c.edited > 0 || c.editKept > 0 ? 'warning' : 'info';
  const lines: { kind: 'info' | 'warning'; message: string }[] = [{ kind, message: configRowsCopiedMessage(step, c) }];
  if (c.conflicts.length > 0) lines.push({ kind: 'warning', message: configRowsConflictMessage(step, c) });
  if (c.deletedKept.length > 0) lines.push({ kind: 'warning', message: configRowsDeletedMessage(step, c) });
  return lines;
}
