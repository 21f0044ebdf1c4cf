// The control catalog's record of what an online migration did to each source table, or could
// not do for it (pgferry.source_table): the replica identity it had before pgferry set FULL, so
// that it is set back after a crash too, and why a table's changes are not streamed.
import { displayName } from '../catalog/introspect';
import type { SourceRelation } from '../catalog/identityVerdict';
import { ident } from '../connect/quote';
import type { ControlStore } from './store';
import { clearTableResyncs } from './tableResyncs';
import { CONTROL_SCHEMA } from '../core/names';

const T = `${ident(CONTROL_SCHEMA)}.source_table`;

/** An existing record whose FULL has not been set back yet keeps its identity_before. */
const KEEP = `${T}.identity_before IS NOT NULL AND ${T}.identity_restored_at IS NULL`;

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
export async function recordIdentityBefore(store: ControlStore, migration: string, database: string, table: SourceRelation): Promise<void> {
  const index = table.replident === 'i' ? (table.identity.index ?? null) : null;
  await store.query(
    `INSERT INTO ${T} (migration, database, relid, schema_name, table_name, identity_before, identity_index_before)
     VALUES ($1, $2, $3::bigint, $4, $5, $6, $7)
     ON CONFLICT (migration, database, relid) DO UPDATE
        SET identity_before = CASE WHEN ${KEEP} THEN ${T}.identity_before ELSE excluded.identity_before END,
            identity_index_before = CASE WHEN ${KEEP} THEN ${T}.identity_index_before ELSE excluded.identity_index_before END,
            identity_restored_at = NULL`,
    [migration, database, table.oid, table.schema, table.name, table.replident, index],
  );
}

export async function pendingIdentityChanges(store: ControlStore, migration: string, database: string): Promise<IdentityChange[]> {
  const rows = await store.query<{ oid: string; schema: string; name: string; before: string; before_index: string | null }>(
    `SELECT relid::text AS oid, schema_name AS schema, table_name AS name, identity_before AS before, identity_index_before AS before_index
       FROM ${T} WHERE migration = $1 AND database = $2 AND identity_before IS NOT NULL AND identity_restored_at IS NULL
      ORDER BY schema_name, table_name`,
    [migration, database],
  );
  return rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    before: r.before,
    ...(r.before_index ? { beforeIndex: r.before_index } : {}),
  }));
}

export async function markIdentityRestored(store: ControlStore, migration: string, database: string, oid: string): Promise<void> {
  await store.query(`UPDATE ${T} SET identity_restored_at = now() WHERE migration = $1 AND database = $2 AND relid = $3::bigint`, [
    migration,
    database,
    oid,
  ]);
}

/** Records (or updates) why a table's changes are not streamed. */
export async function recordNotStreamed(
  store: ControlStore,
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
export async function clearNotStreamedTable(store: ControlStore, migration: string, database: string, oid: string): Promise<void> {
  await store.query(`UPDATE ${T} SET not_streamed = NULL WHERE migration = $1 AND database = $2 AND relid = $3::bigint`, [
    migration,
    database,
    oid,
  ]);
}

/** A new copy streams what exists now: earlier attempts' not-streamed records and resync requests no longer apply (identity records stay). */
export async function clearNotStreamed(store: ControlStore, migration: string, database: string): Promise<void> {
  await clearTableResyncs(store, migration, database);
  await store.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND identity_before IS NULL`, [migration, database]);
  await store.query(`UPDATE ${T} SET not_streamed = NULL WHERE migration = $1 AND database = $2`, [migration, database]);
}

export async function notStreamedTables(store: ControlStore, migration: string, databases: readonly string[]): Promise<NotStreamedTable[]> {
  const rows = await store.query<{ database: string; oid: string; schema: string; name: string; reason: string }>(
    `SELECT database, relid::text AS oid, schema_name AS schema, table_name AS name, not_streamed AS reason
       FROM ${T} WHERE migration = $1 AND database = ANY($2::text[]) AND not_streamed IS NOT NULL
      ORDER BY database, schema_name, table_name`,
    [migration, databases],
  );
  return rows.map((r) => ({ database: r.database, oid: r.oid, table: displayName(r.schema, r.name), reason: r.reason }));
}
