// The control catalog's record of the schema objects a followed drop may remove from the target
// (pgferry.known_object, control migration 21): the objects the copy restored there, and every
// object the schema watch or the cutover saw on the source. When the source drops an object, the
// schema follow drops it on the target only if it is known; an index, view or function someone
// made on the target alone is never known, so it is kept and reported (DESIGN: never destroy).
// Keys are verify/schema/catalog.ts's objectKey; rows go with the migration's database row.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.known_object`;

/** The known objects of one database of a migration. */
export async function knownObjects(catalog: CatalogConnection, migration: string, database: string): Promise<Set<string>> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: the table comes with version 21
  const rows = await catalog.query<{ object: string }>(`SELECT object FROM ${T} WHERE migration = $1 AND database = $2`, [
    migration,
    database,
  ]);
  return new Set(rows.map((r) => r.object));
}

/** Adds objects to what is known of a database (those already known are left as they are). */
export async function recordKnownObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  objects: readonly string[],
): Promise<void> {
  if (objects.length === 0) return;
  await catalog.install();
  await catalog.query(`INSERT INTO ${T} (migration, database, object) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`, [
    migration,
    database,
    objects,
  ]);
}
