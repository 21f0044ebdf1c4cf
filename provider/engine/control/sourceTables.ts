// What an online migration did to each source table, or could not do for it: the replica identity
// it had before pgferry set FULL, as the footprint ledger records it (control/footprintLedger.ts,
// change replicaIdentity, object the table's source OID), so that it is set back after a crash
// too; and why a table's changes are not streamed (pgferry.source_table).
import { displayName } from '../catalog/introspect';
import type { SourceRelation } from '../catalog/identityVerdict';
import { ident } from '../connect/quote';
import type { CatalogConnection } from './connection';
import { markUndone, pendingChanges, recordChange } from './footprintLedger';
import { clearTableResyncs } from './tableResyncs';
import { CONTROL_SCHEMA } from '../core/names';

const T = `${ident(CONTROL_SCHEMA)}.source_table`;
const CHANGE = 'replicaIdentity';

interface IdentityUndo {
  readonly schema: string;
  readonly name: string;
  readonly before: string;
  readonly beforeIndex?: string;
}

/** A table whose replica identity pgferry set to FULL and has not set back yet. */
export interface IdentityChange {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** relreplident before: d (default), n (nothing) or i (using index). */
  readonly before: string;
  readonly beforeIndex?: string;
}

export interface NotStreamedTable {
  readonly database: string;
  readonly oid: string;
  /** schema.name, as the verification names tables. */
  readonly table: string;
  readonly reason: string;
}

/**
 * Records the identity a table has before pgferry changes it. An earlier record not yet set back
 * (an earlier attempt's, whose FULL is still there) keeps its value: it is the table's own.
 */
export async function recordIdentityBefore(
  store: CatalogConnection,
  migration: string,
  database: string,
  table: SourceRelation,
): Promise<void> {
  const index = table.replident === 'i' ? table.identity.index : undefined;
  const undo: IdentityUndo = { schema: table.schema, name: table.name, before: table.replident, ...(index ? { beforeIndex: index } : {}) };
  await recordChange(store, migration, database, CHANGE, table.oid, undo);
}

export async function pendingIdentityChanges(store: CatalogConnection, migration: string, database: string): Promise<IdentityChange[]> {
  const entries = await pendingChanges<IdentityUndo>(store, migration, database, CHANGE);
  return entries
    .map(({ object, undo }) => ({
      oid: object,
      schema: undo.schema,
      name: undo.name,
      before: undo.before,
      ...(undo.beforeIndex ? { beforeIndex: undo.beforeIndex } : {}),
    }))
    .sort((a, b) => (a.schema === b.schema ? compare(a.name, b.name) : compare(a.schema, b.schema)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function markIdentityRestored(store: CatalogConnection, migration: string, database: string, oid: string): Promise<void> {
  await markUndone(store, migration, database, CHANGE, oid);
}

/** Records (or updates) why a table's changes are not streamed. */
export async function recordNotStreamed(
  store: CatalogConnection,
  migration: string,
  database: string,
  table: SourceRelation,
  reason: string,
): Promise<void> {
  await store.query(
    `INSERT INTO ${T} (migration, database, relid, schema_name, table_name, not_streamed)
     VALUES ($1, $2, $3::bigint, $4, $5, $6)
     ON CONFLICT (migration, database, relid) DO UPDATE
        SET not_streamed = excluded.not_streamed, schema_name = excluded.schema_name, table_name = excluded.table_name`,
    [migration, database, table.oid, table.schema, table.name, reason],
  );
}

/** A table followed after it was reported (a created table published, copied and streamed): no longer said not streamed. */
export async function clearNotStreamedTable(store: CatalogConnection, migration: string, database: string, oid: string): Promise<void> {
  await store.query(`UPDATE ${T} SET not_streamed = NULL WHERE migration = $1 AND database = $2 AND relid = $3::bigint`, [
    migration,
    database,
    oid,
  ]);
}

/** A new copy streams what exists now: earlier attempts' not-streamed records and resync requests no longer apply (identity records stay, in the ledger). */
export async function clearNotStreamed(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await clearTableResyncs(store, migration, database);
  await store.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2`, [migration, database]);
}

export async function notStreamedTables(
  store: CatalogConnection,
  migration: string,
  databases: readonly string[],
): Promise<NotStreamedTable[]> {
  const rows = await store.query<{ database: string; oid: string; schema: string; name: string; reason: string }>(
    `SELECT database, relid::text AS oid, schema_name AS schema, table_name AS name, not_streamed AS reason
       FROM ${T} WHERE migration = $1 AND database = ANY($2::text[]) AND not_streamed IS NOT NULL
      ORDER BY database, schema_name, table_name`,
    [migration, databases],
  );
  return rows.map((r) => ({ database: r.database, oid: r.oid, table: displayName(r.schema, r.name), reason: r.reason }));
}
