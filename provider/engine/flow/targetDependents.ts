// What depends on an object on the target, as PostgreSQL records it (pg_depend, normal
// dependencies), when a followed change must drop that object first: a function the source
// dropped and created again with another return type (CREATE OR REPLACE refuses it), a table the
// source dropped. Each dependent is the migration's (control/knownObjects.ts: the copy restored it
// or the source was seen to have it) or someone else's; the follow drops and makes again only the
// migration's, in the order PostgreSQL's dependencies need, in one transaction, and never reaches
// anyone else's: it stops on it and names it (DESIGN: what pgferry did not make is not pgferry's).
import type pg from 'pg';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import { serverMajor } from '../connect/session';
import { CONTROL_SCHEMA, type FenceNames } from '../core/names';
import { judgeOnTarget } from '../verify/schema/identity';

/** One object that depends on the one to drop. */
export interface Dependent {
  readonly kind: 'default' | 'view' | 'materialized view' | 'function' | 'procedure' | 'constraint' | 'trigger' | 'policy' | 'other';
  readonly schema: string;
  readonly relation: string | null;
  readonly name: string;
  readonly args: string | null;
  /** A default's expression, a view's query, a constraint's definition, as the target has it. */
  readonly definition: string | null;
  /** A view's, a function's, a trigger's or a policy's OID: which object it is (verify/schema/identity.ts). */
  readonly oid: string | null;
  /** A trigger's or a policy's table's OID: a part's identity is recorded with its relation's. */
  readonly relationOid?: string | null;
}

/**
 * Dependents of the objects given as (catalog, OID): a column default, a view, a function, a
 * table's constraint, or another object described by the server. `$1` the catalogs, `$2` the OIDs.
 */
const DEPENDENTS_SQL = `
WITH dep AS (
  SELECT DISTINCT d.classid, d.objid FROM pg_catalog.pg_depend d
    JOIN unnest($1::pg_catalog.regclass[], $2::pg_catalog.oid[]) AS w(catalog, oid) ON d.refclassid = w.catalog AND d.refobjid = w.oid
   WHERE d.deptype = 'n'
)
SELECT 'default' AS kind, n.nspname AS schema, c.relname AS relation, a.attname AS name, NULL AS args,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS definition, NULL AS oid
  FROM dep JOIN pg_catalog.pg_attrdef ad ON dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND ad.oid = dep.objid
  JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
UNION ALL
SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, n.nspname, NULL, v.relname, NULL,
       pg_catalog.pg_get_viewdef(v.oid), v.oid::text
  FROM dep JOIN pg_catalog.pg_rewrite r ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND r.oid = dep.objid
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
 WHERE r.rulename = '_RETURN'
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname, NULL, p.proname,
       pg_catalog.regexp_replace(pg_catalog.pg_get_function_identity_arguments(p.oid), '(^|, )IN ', '\\1', 'g'), NULL, p.oid::text
  FROM dep JOIN pg_catalog.pg_proc p ON dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = dep.objid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
UNION ALL
SELECT 'constraint', n.nspname, c.relname, co.conname, NULL, pg_catalog.pg_get_constraintdef(co.oid), NULL
  FROM dep JOIN pg_catalog.pg_constraint co ON dep.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND co.oid = dep.objid
  JOIN pg_catalog.pg_class c ON c.oid = co.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
UNION ALL
SELECT 'other', '', NULL, pg_catalog.pg_describe_object(dep.classid, dep.objid, 0), NULL, NULL, NULL
  FROM dep
 WHERE dep.classid NOT IN ('pg_catalog.pg_attrdef'::pg_catalog.regclass, 'pg_catalog.pg_rewrite'::pg_catalog.regclass,
                           'pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_constraint'::pg_catalog.regclass)
    OR (dep.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.oid = dep.objid AND co.conrelid <> 0))
EXCEPT
-- a trigger or policy of a table given, whose expression reads its columns: one of the table's own parts (tableParts);
-- an inheritance child of a table given: its child, which its drop looks at (flow/tableChildren.ts)
SELECT 'other', '', NULL, pg_catalog.pg_describe_object(dep.classid, dep.objid, 0), NULL, NULL, NULL
  FROM dep
 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                 AND i.inhrelid = dep.objid AND i.inhparent = ANY ($2::pg_catalog.oid[]))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg WHERE dep.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
                 AND tg.oid = dep.objid AND tg.tgrelid = ANY ($2::pg_catalog.oid[]))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE dep.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass
                 AND p.oid = dep.objid AND p.polrelid = ANY ($2::pg_catalog.oid[]))`;

/** The dependents of the objects given by catalog (`pg_catalog.pg_proc`, `pg_catalog.pg_class`, `pg_catalog.pg_type`) and OID. */
export async function targetDependents(client: pg.Client, objects: readonly { catalog: string; oid: string }[]): Promise<Dependent[]> {
  if (objects.length === 0) return [];
  const { rows } = await client.query<Dependent>(DEPENDENTS_SQL, [objects.map((o) => o.catalog), objects.map((o) => o.oid)]);
  return rows;
}

/**
 * A foreign key's clone on a partition of the table it references: PostgreSQL makes one under a
 * name of its own for each partition, and drops it with the key it was cloned from. `$1` the
 * partitions' OIDs.
 */
const CLONED_KEYS_SQL = `
SELECT n.nspname AS schema, c.relname AS relation, co.conname AS name
  FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE co.confrelid = ANY ($1::pg_catalog.oid[]) AND co.conparentid <> 0`;

/**
 * The dependents of partitions (by OID) that go with the table above them: those of their relations
 * and row types, as a table's own, less the clones of a foreign key to the table above, which go
 * with that key (a dependent of the table, judged with it).
 */
export async function partitionDependents(client: pg.Client, partitions: readonly string[]): Promise<Dependent[]> {
  if (partitions.length === 0) return [];
  const { rows: types } = await client.query<{ oid: string }>(
    `SELECT c.reltype::text AS oid FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::pg_catalog.oid[]) AND c.reltype <> 0`,
    [partitions],
  );
  const dependents = await targetDependents(client, [
    ...partitions.map((oid) => ({ catalog: 'pg_catalog.pg_class', oid })),
    ...types.map((t) => ({ catalog: 'pg_catalog.pg_type', oid: t.oid })),
  ]);
  const { rows: clones } = await client.query<{ schema: string; relation: string; name: string }>(CLONED_KEYS_SQL, [partitions]);
  const cloned = new Set(clones.map((k) => JSON.stringify([k.schema, k.relation, k.name])));
  return dependents.filter((d) => d.kind !== 'constraint' || !cloned.has(JSON.stringify([d.schema, d.relation, d.name])));
}

/**
 * A table's own triggers and policies, which PostgreSQL drops with the table (they are parts of it,
 * not dependents): one made on the target alone is someone else's all the same, and a drop of the
 * table must not take it. pgferry's own writer fence, told by its identity (a trigger of the
 * fence's name calling the fence's function: a DBA's calling a function of theirs in a schema named
 * like the control schema is theirs), and a partition's clones of its root's triggers are left out,
 * as the schema check leaves them out (before PostgreSQL 13 a clone is internal). `$1` the table's
 * OID, `$2` the fence's trigger name, `$3` its function (fenceNamesOf).
 */
const tablePartsSql = (major: number) => `
SELECT 'trigger' AS kind, n.nspname AS schema, c.relname AS relation, tg.tgname AS name, NULL AS args, NULL AS definition,
       tg.oid::text AS oid, c.oid::text AS "relationOid"
  FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE tg.tgrelid = $1::pg_catalog.oid AND NOT tg.tgisinternal
   ${major >= 13 ? 'AND tg.tgparentid = 0' : ''}
   AND NOT (tg.tgname = $2 AND tg.tgfoid = coalesce(pg_catalog.to_regprocedure($3)::pg_catalog.oid, 0))
UNION ALL
SELECT 'policy', n.nspname, c.relname, p.polname, NULL, NULL, p.oid::text, c.oid::text
  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE p.polrelid = $1::pg_catalog.oid`;

/** The triggers and policies of a table (by OID) on the target, as dependents that leave with it. */
export async function tableParts(client: pg.Client, table: string, fence: FenceNames): Promise<Dependent[]> {
  const fenceFunction = `${qualified(CONTROL_SCHEMA, fence.function)}()`;
  const { rows } = await client.query<Dependent>(tablePartsSql(await serverMajor(client)), [table, fence.trigger, fenceFunction]);
  return rows;
}

/**
 * Whether a dependent is the migration's: known (the copy restored it, or the source was seen to
 * have it) and, for a view, a function, or a table's trigger or policy, the object recorded under its
 * name on the target, not one someone made there after dropping the migration's
 * (verify/schema/identity.ts): a DBA's trigger that took the name of the source's is the DBA's. A
 * constraint or a default is told by its name and table.
 */
export function dependentIsOurs(d: Dependent, known: ReadonlyMap<string, unknown>, identities: ReadonlyMap<string, string>): boolean {
  const key = dependentKey(d);
  if (!known.has(key)) return false;
  // an object of its own has no relation in its identity, a table's part its table's
  return d.oid === null || judgeOnTarget(identities.get(key), { relation: d.relationOid ?? '', object: d.oid }) !== 'other';
}

/** The dependent's key as control/knownObjects.ts records it (verify/schema/catalog.ts's objectKey); a default is its column's. */
export function dependentKey(d: Dependent): string {
  const kind = d.kind === 'default' ? 'column' : d.kind;
  return JSON.stringify([kind, d.schema, d.relation ?? '', d.name, d.args ?? '']);
}

/** How the user reads it: names as every message prints them (displayIdent), not as SQL quotes them. */
export function describeDependent(d: Dependent): string {
  if (d.kind === 'other') return d.name;
  if (d.kind === 'default') return `the default of column ${displayName(d.schema, d.relation ?? '')}.${displayIdent(d.name)}`;
  if (d.kind === 'constraint' || d.kind === 'trigger' || d.kind === 'policy') {
    return `${d.kind} ${displayIdent(d.name)} on ${displayName(d.schema, d.relation ?? '')}`;
  }
  if (d.args !== null) return `${d.kind} ${displayName(d.schema, d.name)}(${d.args})`;
  return `${d.kind} ${displayName(d.schema, d.name)}`;
}

/** The statements that take a dependent away before its object is dropped; undefined for a kind that cannot be made again here. */
export function dropDependent(d: Dependent): string | undefined {
  switch (d.kind) {
    case 'default':
      return `ALTER TABLE ${qualified(d.schema, d.relation ?? '')} ALTER COLUMN ${ident(d.name)} DROP DEFAULT`;
    case 'view':
      return `DROP VIEW ${qualified(d.schema, d.name)}`;
    case 'constraint':
      return `ALTER TABLE ${qualified(d.schema, d.relation ?? '')} DROP CONSTRAINT ${ident(d.name)}`;
    default:
      return undefined;
  }
}

/**
 * The statement that makes a dependent again as the target had it, once its object is made again.
 * A view's grants, owner and comment are then the schema watch's to follow, as for any view.
 */
export function remakeDependent(d: Dependent): string | undefined {
  switch (d.kind) {
    case 'default':
      return `ALTER TABLE ${qualified(d.schema, d.relation ?? '')} ALTER COLUMN ${ident(d.name)} SET DEFAULT ${d.definition ?? 'NULL'}`;
    case 'view':
      return `CREATE VIEW ${qualified(d.schema, d.name)} AS ${(d.definition ?? '').trim().replace(/;$/, '')}`;
    case 'constraint':
      return `ALTER TABLE ${qualified(d.schema, d.relation ?? '')} ADD CONSTRAINT ${ident(d.name)} ${d.definition ?? ''}`;
    default:
      return undefined;
  }
}

/**
 * The statement that drops a dependent of a table the source dropped, for good: the source dropped
 * it too (PostgreSQL refuses a table's drop while anything depends on it), so what the source made
 * again since (a function over the new table, a view under the old name) is the schema watch's to
 * create. Undefined for a kind not dropped here.
 */
export function dropWithTable(d: Dependent): string | undefined {
  if (d.kind === 'function' || d.kind === 'procedure')
    return `DROP ${d.kind.toUpperCase()} ${qualified(d.schema, d.name)}(${d.args ?? ''})`;
  if (d.kind === 'materialized view') return `DROP MATERIALIZED VIEW ${qualified(d.schema, d.name)}`;
  return dropDependent(d);
}
