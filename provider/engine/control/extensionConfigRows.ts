// The control catalog's record of the rows of extensions' configuration tables pgferry wrote
// (pgferry.extension_config_row, control migrations 31 and 32), by key. Such a table is not
// streamed: its rows are copied at the copy, again at an online cutover and back at a fall-back
// (switchover/extensionConfigSync.ts), so a row deleted or edited on either server is found only by
// comparing with what pgferry last wrote. Each key pgferry writes is recorded as copied with the
// md5 of the row's text it writes, before the write. pgferry deletes a row on the server it writes
// only when its key is recorded here as copied, it is still what pgferry wrote, and the server it
// came from no longer has it; it overwrites a row only when it is still what pgferry wrote. A row
// edited under the same key since is someone else's: recorded as kept, with the md5 of what pgferry
// had written (so a later copy still tells who changed it), and left out of the comparisons. A row
// the written server had of its own is never recorded as copied; the ones the target had at the
// cutover are recorded as kept (no md5), so that a fall-back neither carries them back to the old
// source nor compares them. Why a record and not a comparison with the source's rows at the copy:
// the copy's snapshot is gone by the cutover, and a row the target alone has then is either one the
// source deleted or one a DBA made, which only a record of what pgferry inserted tells apart.
// An inserted key's md5 is recorded once its write committed: a key whose row is missing then was
// deleted by someone else (the delete is kept, as an edit is), never a write a killed runner lost.
// Rows go with the migration's database row.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.extension_config_row`;

/** One configuration table's recorded keys: those pgferry inserted, and those the server written keeps. */
export interface ConfigRowKeys {
  /** Each key pgferry inserted, with the md5 of the row as it last wrote it (null: recorded before the md5 was). */
  readonly copied: ReadonlyMap<string, string | null>;
  /**
   * Each key kept: with the md5 of what pgferry last wrote under it when pgferry copied it and it was
   * edited there since, null when it is the target's own (or was recorded before the md5 was kept).
   */
  readonly kept: ReadonlyMap<string, string | null>;
}

/** A key pgferry is about to write, with the md5 of the row's text it writes (null: an insert, not committed yet). */
interface CopiedConfigRow {
  readonly key: string;
  readonly md5: string | null;
}

/** A key kept, with the md5 of what pgferry last wrote under it (null: the server's own). */
interface KeptConfigRow {
  readonly key: string;
  readonly md5: string | null;
}

/** The record of one database, as the copy of configuration rows takes it (configRowsLedger). */
export interface ConfigRowsLedger {
  /** The recorded keys by table (its qualified name). */
  read(): Promise<ReadonlyMap<string, ConfigRowKeys>>;
  /** Keys about to be inserted or written again, with their rows' md5 (null for an insert), recorded before the write. */
  recordCopied(table: string, rows: readonly CopiedConfigRow[]): Promise<void>;
  /** Keys inserted, given their rows' md5 once the write committed. */
  confirmWritten(table: string, rows: readonly CopiedConfigRow[]): Promise<void>;
  /** Keys whose rows were deleted, forgotten once the delete committed. */
  forget(table: string, keys: readonly string[]): Promise<void>;
  /** The keys the target keeps (its own, and the rows pgferry copied edited there), in place of those recorded before. */
  recordKept(table: string, keys: readonly KeptConfigRow[]): Promise<void>;
  /** Keys a fall-back kept as edited on the old source, recorded beside those kept before. */
  recordEdited(table: string, keys: readonly KeptConfigRow[]): Promise<void>;
}

/** The record of one database of a migration, as the copy of configuration rows takes it. */
export function configRowsLedger(catalog: CatalogConnection, migration: string, database: string): ConfigRowsLedger {
  return {
    read: () => extensionConfigRows(catalog, migration, database),
    recordCopied: (table, rows) => recordCopiedConfigRows(catalog, migration, database, table, rows),
    confirmWritten: (table, rows) => confirmWrittenConfigRows(catalog, migration, database, table, rows),
    forget: (table, keys) => forgetConfigRows(catalog, migration, database, table, keys),
    recordKept: (table, keys) => recordKeptConfigRows(catalog, migration, database, table, keys, true),
    recordEdited: (table, keys) => recordKeptConfigRows(catalog, migration, database, table, keys, false),
  };
}

/** The recorded keys of one database of a migration, by configuration table (its qualified name). */
export async function extensionConfigRows(
  catalog: CatalogConnection,
  migration: string,
  database: string,
): Promise<Map<string, ConfigRowKeys>> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: the table comes with version 31
  const rows = await catalog.query<{ config_table: string; key: string; kept: boolean; row_md5: string | null }>(
    `SELECT config_table, key, kept, row_md5 FROM ${T} WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  const byTable = new Map<string, { copied: Map<string, string | null>; kept: Map<string, string | null> }>();
  for (const r of rows) {
    let keys = byTable.get(r.config_table);
    if (!keys) byTable.set(r.config_table, (keys = { copied: new Map(), kept: new Map() }));
    (r.kept ? keys.kept : keys.copied).set(r.key, r.row_md5);
  }
  return byTable;
}

/**
 * Records keys as copied with the md5 of the row about to be written, before pgferry writes them: a
 * runner killed in between deletes nothing it did not insert, and a row found later with another
 * md5 was edited where it was written.
 */
async function recordCopiedConfigRows(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  table: string,
  rows: readonly CopiedConfigRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await catalog.install();
  await catalog.query(
    `INSERT INTO ${T} (migration, database, config_table, key, row_md5)
     SELECT $1, $2, $3, k, h FROM unnest($4::text[], $5::text[]) AS u(k, h)
     ON CONFLICT (migration, database, config_table, key) DO UPDATE SET kept = false, row_md5 = EXCLUDED.row_md5, recorded_at = now()`,
    [migration, database, table, rows.map((r) => r.key), rows.map((r) => r.md5)],
  );
}

/**
 * Gives inserted keys the md5 of the row written, once its write committed: only then is a row
 * missing under such a key one someone deleted (kept deleted), and not a write a runner killed
 * before its commit lost (written again).
 */
async function confirmWrittenConfigRows(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  table: string,
  rows: readonly CopiedConfigRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await catalog.query(
    `UPDATE ${T} AS r SET row_md5 = u.h FROM unnest($4::text[], $5::text[]) AS u(k, h)
      WHERE r.migration = $1 AND r.database = $2 AND r.config_table = $3 AND r.key = u.k AND NOT r.kept`,
    [migration, database, table, rows.map((r) => r.key), rows.map((r) => r.md5)],
  );
}

/** Forgets keys whose rows pgferry deleted: a row made later under the same key is not pgferry's. */
async function forgetConfigRows(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  table: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await catalog.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND config_table = $3 AND key = ANY($4::text[])`, [
    migration,
    database,
    table,
    keys,
  ]);
}

/**
 * Records keys of a table as kept (a key recorded copied becomes kept), each with the md5 of what
 * pgferry last wrote under it when it copied it: forward, the target's own and the rows pgferry
 * copied that were edited there since, in place of those recorded before (`replace`); back, the
 * rows edited on the old source, beside them.
 */
async function recordKeptConfigRows(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  table: string,
  keys: readonly KeptConfigRow[],
  replace: boolean,
): Promise<void> {
  if (!replace && keys.length === 0) return;
  await catalog.install();
  await catalog.transaction(async (c) => {
    if (replace)
      await c.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND config_table = $3 AND kept`, [migration, database, table]);
    if (keys.length === 0) return;
    await c.query(
      `INSERT INTO ${T} (migration, database, config_table, key, kept, row_md5) SELECT $1, $2, $3, k, true, h FROM unnest($4::text[], $5::text[]) AS u(k, h)
       ON CONFLICT (migration, database, config_table, key) DO UPDATE SET kept = true, row_md5 = EXCLUDED.row_md5, recorded_at = now()`,
      [migration, database, table, keys.map((k) => k.key), keys.map((k) => k.md5)],
    );
  });
}
