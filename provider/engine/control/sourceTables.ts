// Why a source table's changes are not streamed (pgferry.source_table): recorded when the
// publication is planned, and read by the verification and the cutover, which leave such tables
// out. (The replica identity pgferry sets on source tables is footprint/replicaIdentity.ts.)
import type { SourceRelation } from '../catalog/identityVerdict';
import { displayName, ident } from '../connect/quote';
import type { CatalogConnection } from './connection';
import { clearTableResyncs } from './tableResyncs';
import { CONTROL_SCHEMA } from '../core/names';

const T = `${ident(CONTROL_SCHEMA)}.source_table`;

export interface NotStreamedTable {
  readonly database: string;
  readonly oid: string;
  /** schema.name, as the verification names tables. */
  readonly table: string;
  readonly reason: string;
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
