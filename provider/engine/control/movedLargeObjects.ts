// The control catalog's record of the large objects pgferry moved (pgferry.moved_large_object,
// control migration 25): every object the copy copied, and every object a cutover or a fall-back
// created on the other server. A large object is pgferry's when the server it follows has it, or
// when it is recorded here: the cutover unlinks an object the target alone has only when it is
// recorded (the source unlinked what pgferry copied), and a fall-back likewise on the old source.
// One a DBA or an application made on that server alone is never recorded, so it is kept.
// Rows go with the migration's database row.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.moved_large_object`;

/** The OIDs (as text) of the large objects pgferry moved in one database of a migration. */
export async function movedLargeObjects(catalog: CatalogConnection, migration: string, database: string): Promise<Set<string>> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: the table comes with version 25
  const rows = await catalog.query<{ oid: string }>(`SELECT oid::text AS oid FROM ${T} WHERE migration = $1 AND database = $2`, [
    migration,
    database,
  ]);
  return new Set(rows.map((r) => r.oid));
}

/** Records large objects as moved by pgferry, before they are made on the other server. */
export async function recordMovedLargeObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  oids: readonly string[],
): Promise<void> {
  if (oids.length === 0) return;
  await catalog.install();
  await catalog.query(
    `INSERT INTO ${T} (migration, database, oid) SELECT $1, $2, o FROM unnest($3::bigint[]) AS o ON CONFLICT DO NOTHING`,
    [migration, database, oids],
  );
}

/** Forgets large objects pgferry unlinked: an object made later under the same OID is not pgferry's. */
export async function forgetMovedLargeObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  oids: readonly string[],
): Promise<void> {
  if (oids.length === 0) return;
  await catalog.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND oid = ANY($3::bigint[])`, [migration, database, oids]);
}
