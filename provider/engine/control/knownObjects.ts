// The control catalog's record of the schema objects a followed drop may remove from the target
// (pgferry.known_object, control migration 21): the objects the copy restored there, and every
// object the schema watch or the cutover saw on the source. When the source drops an object, the
// schema follow drops it on the target only if it is known; an index, view or function someone
// made on the target alone is never known, so it is kept and reported (DESIGN: never destroy).
// A column is known with its attnum on the source, which a rename keeps: the cutover tells a
// column renamed from one dropped and another added by it. An object is forgotten once neither
// server has it: what the source dropped is no longer the migration's, whatever its name. A part
// of a table (index, constraint, trigger, rule, policy) and an object of its own other than a
// table (a view, a function, a type, a sequence) is known with its identity on the target too
// (control migration 27: verify/schema/identity.ts), once the copy restored it there, a follow
// step made it, or a look found the target's equal to the source's: one of that name with another
// OID and definition is someone else's (a DBA dropped the migration's and made their own), kept
// and never dropped or altered as the migration's. An object under a name the filters leave out is
// never known, whoever saw it (a restore, a look, the event trigger's message): it is not the
// migration's, and one a DBA makes there on the target is the DBA's. A known enum type records its
// OID on the source too (control migration 35), as it was when the target's type last matched it:
// another OID under its name there means the source made the type again (flow/enumRemake.ts),
// which a look tells from a label renamed in place whether or not a runner saw it happen. Keys are
// verify/schema/catalog.ts's objectKey; rows go with the migration's database row.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { compileFilters, keyLeftOutByName } from '../filter/filters';
import type { TableFilters } from '../input/patterns';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.known_object`;

/** One known object: its key, and a column's source attnum when it was first known (else null). */
export interface KnownObject {
  readonly object: string;
  readonly attnum: number | null;
}

/** The known objects of one database of a migration, by key. */
export async function knownObjects(catalog: CatalogConnection, migration: string, database: string): Promise<Map<string, number | null>> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: the table comes with version 21
  const rows = await catalog.query<KnownObject>(`SELECT object, attnum FROM ${T} WHERE migration = $1 AND database = $2`, [
    migration,
    database,
  ]);
  return new Map(rows.map((r) => [r.object, r.attnum]));
}

/**
 * One table's known columns, by name, with the source attnum each was first known with; undefined
 * when nothing at all is known of the database (a catalog an older pgferry filled: nothing to tell by).
 */
export async function knownColumns(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  schema: string,
  table: string,
): Promise<Map<string, number | null> | undefined> {
  const known = await knownObjects(catalog, migration, database);
  if (known.size === 0) return undefined;
  const columns = new Map<string, number | null>();
  for (const [key, attnum] of known) {
    const [kind, s, relation, name] = JSON.parse(key) as string[];
    if (kind === 'column' && s === schema && relation === table) columns.set(name!, attnum);
  }
  return columns;
}

/**
 * The tables (plain and partitioned) known in one database, as schema and name, sorted; undefined
 * when nothing at all is known of it (a catalog an older pgferry filled: nothing to tell by). A
 * resync request is checked against them before it is recorded (apiRequests.ts requestResync).
 */
export async function knownTables(
  catalog: CatalogConnection,
  migration: string,
  database: string,
): Promise<{ readonly schema: string; readonly name: string }[] | undefined> {
  const known = await knownObjects(catalog, migration, database);
  if (known.size === 0) return undefined;
  const tables: { schema: string; name: string }[] = [];
  for (const key of known.keys()) {
    const [kind, schema, , name] = JSON.parse(key) as string[];
    if (kind === 'table') tables.push({ schema: schema!, name: name! });
  }
  return tables.sort((a, b) => (a.schema === b.schema ? cmp(a.name, b.name) : cmp(a.schema, b.schema)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What is known of one database, read at once: the known objects, and the identities on the target of those that have one. */
export interface KnownOfDatabase {
  readonly known: Map<string, number | null>;
  readonly knownIdentities: Map<string, string>;
}

/** The known objects of one database with their identities on the target, in one read (the schema check needs both). */
export async function knownWithIdentities(catalog: CatalogConnection, migration: string, database: string): Promise<KnownOfDatabase> {
  await catalog.install(); // target_identity comes with version 27
  const rows = await catalog.query<KnownObject & { identity: string | null }>(
    `SELECT object, attnum, target_identity AS identity FROM ${T} WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  return {
    known: new Map(rows.map((r) => [r.object, r.attnum])),
    knownIdentities: new Map(rows.flatMap((r) => (r.identity === null ? [] : [[r.object, r.identity] as const]))),
  };
}

/**
 * The target OIDs recorded for the known objects of their own of one database (a type, a sequence,
 * a view ...: no relation in their identity): those pgferry made there or a look found equal to the
 * source's. An identity reads `relation:object:digest` (verify/schema/identity.ts targetIdentity).
 */
export async function knownOnTarget(catalog: CatalogConnection, migration: string, database: string): Promise<Set<string>> {
  const { knownIdentities } = await knownWithIdentities(catalog, migration, database);
  return new Set(
    [...knownIdentities.values()].flatMap((identity) => {
      const [relation, object] = identity.split(':');
      return relation === '' && object ? [object] : [];
    }),
  );
}

/**
 * Records which object on the target each known key is: the one pgferry restored or made, or the
 * one a look found equal to the source's. Keys not known yet are left to recordKnownObjects.
 */
export async function recordIdentities(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  identities: ReadonlyMap<string, string>,
): Promise<void> {
  if (identities.size === 0) return;
  await catalog.query(
    `UPDATE ${T} k SET target_identity = x.identity FROM unnest($3::text[], $4::text[]) AS x(object, identity)
      WHERE k.migration = $1 AND k.database = $2 AND k.object = x.object AND k.target_identity IS DISTINCT FROM x.identity`,
    [migration, database, [...identities.keys()], [...identities.values()]],
  );
}

/** The source OIDs recorded for the known objects of one database that have one (enum types), by key. */
export async function knownSourceOids(catalog: CatalogConnection, migration: string, database: string): Promise<Map<string, string>> {
  await catalog.install(); // source_oid comes with version 35
  const rows = await catalog.query<{ object: string; oid: string }>(
    `SELECT object, source_oid::text AS oid FROM ${T} WHERE migration = $1 AND database = $2 AND source_oid IS NOT NULL`,
    [migration, database],
  );
  return new Map(rows.map((r) => [r.object, r.oid]));
}

/**
 * Records the source's OID of known objects (enum types) by key, as the target's object matches
 * it now; keys not known yet are left alone (recordKnownObjects first).
 */
export async function recordSourceOids(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  oids: ReadonlyMap<string, string>,
): Promise<void> {
  if (oids.size === 0) return;
  await catalog.install();
  await catalog.query(
    `UPDATE ${T} k SET source_oid = x.oid FROM unnest($3::text[], $4::oid[]) AS x(object, oid)
      WHERE k.migration = $1 AND k.database = $2 AND k.object = x.object AND k.source_oid IS DISTINCT FROM x.oid`,
    [migration, database, [...oids.keys()], [...oids.values()]],
  );
}

/**
 * Forgets which object on the target these known keys are: pgferry is about to make them again
 * there (the apply's follow of a part), under new OIDs. Until a look finds one equal to the
 * source's and records it, it is told by name, as before identities were recorded.
 */
export async function forgetIdentities(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  objects: readonly string[],
): Promise<void> {
  if (objects.length === 0) return;
  await catalog.query(
    `UPDATE ${T} SET target_identity = NULL WHERE migration = $1 AND database = $2 AND object = ANY($3::text[]) AND target_identity IS NOT NULL`,
    [migration, database, [...objects]],
  );
}

/**
 * Adds objects to what is known of a database; those already known keep what was first recorded,
 * and those under a name `filters` leave out are never recorded.
 */
export async function recordKnownObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  all: readonly KnownObject[],
  filters: TableFilters,
): Promise<void> {
  const compiled = compileFilters(filters);
  const objects = all.filter((o) => !keyLeftOutByName(compiled, o.object));
  if (objects.length === 0) return;
  await catalog.install();
  await catalog.query(
    `INSERT INTO ${T} (migration, database, object, attnum)
     SELECT $1, $2, o, a FROM unnest($3::text[], $4::int[]) AS x(o, a) ON CONFLICT DO NOTHING`,
    [migration, database, objects.map((o) => o.object), objects.map((o) => o.attnum)],
  );
}

/**
 * Forgets the known objects under a name `filters` leave out: recorded by an older pgferry (from a
 * restore, or a part the event trigger told of), never the migration's. Returns how many.
 */
export async function forgetLeftOutObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  known: Iterable<string>,
  filters: TableFilters,
): Promise<number> {
  const compiled = compileFilters(filters);
  const leftOut = [...known].filter((k) => keyLeftOutByName(compiled, k));
  await forgetKnownObjects(catalog, migration, database, leftOut);
  return leftOut.length;
}

/**
 * Forgets objects neither server has any more (the source dropped them, and the target too, by the
 * follow or by hand): a name the source once had is no longer the migration's, so an object someone
 * makes under it on the target alone later is kept, never dropped as the source's.
 */
export async function forgetKnownObjects(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  objects: readonly string[],
): Promise<void> {
  if (objects.length === 0) return;
  await catalog.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND object = ANY($3::text[])`, [
    migration,
    database,
    [...objects],
  ]);
}
