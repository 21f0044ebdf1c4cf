// What change data capture needs to know about every table of a source database: replica
// identity (judged by catalog/replicaIdentity.ts, decided by cdc/publicationPlan.ts: the same
// classification the online flow acts on), generated, TOAST-able and large-object columns,
// partitions (reported under their root) and persistence. The shaping is pure.
import { readSourceRelations, type IdentityKind, type SourceRelation } from '../catalog/replicaIdentity';
import { planPublication, rootOf } from '../cdc/publicationPlan';
import { serverMajor } from '../connect/session';
import type pg from 'pg';

export const CDC_COLUMNS_SQL = `
SELECT a.attrelid::text AS oid, a.attname AS name,
       a.attgenerated <> '' AS generated,
       a.attlen = -1 AND a.attstorage <> 'p' AS toastable,
       (a.atttypid = 'oid'::regtype OR t.typbasetype = 'oid'::regtype) AS large_object
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

/** attgenerated arrived in 12. */
export const CDC_COLUMNS_SQL_PG11 = CDC_COLUMNS_SQL.replace(`a.attgenerated <> ''`, 'false');

export type ReplicaIdentityKind = IdentityKind;

export interface CdcTable {
  readonly schema: string;
  readonly name: string;
  readonly partitioned: boolean;
  /** Leaf partitions as schema.name (quoted when needed), empty for ordinary tables. */
  readonly partitions: readonly string[];
  /** The weakest identity among the table (or its leaf partitions). */
  readonly replicaIdentity: ReplicaIdentityKind;
  /** Index used as identity (primary key or REPLICA IDENTITY USING INDEX), when one is. */
  readonly identityIndex?: string;
  /** The streamed table or leaf partitions without a usable replica identity. */
  readonly withoutIdentity: readonly string[];
  /** Why each of those has none, in the same order, e.g. `primary key "t_pkey" is DEFERRABLE`. */
  readonly identityFlaws: readonly string[];
  readonly generatedColumns: readonly string[];
  /** Variable-length columns whose unchanged values UPDATEs may omit from the WAL. */
  readonly toastableColumns: readonly string[];
  /** Columns of type oid or lo: references to large objects, whose contents CDC does not carry. */
  readonly largeObjectColumns: readonly string[];
  readonly unlogged: boolean;
}

export interface CdcColumnRow {
  readonly oid: string;
  readonly name: string;
  readonly generated: boolean;
  readonly toastable: boolean;
  readonly large_object: boolean;
}

const STRENGTH: Record<ReplicaIdentityKind, number> = { none: 0, full: 1, index: 2, 'primary-key': 3 };

function display(schema: string, name: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(schema)}.${part(name)}`;
}

/**
 * Pure: groups partitions under their root and summarizes each table. `viaRoot`: the source
 * publishes partitioned tables via their root (PostgreSQL 13+).
 */
export function shapeCdcTables(relations: readonly SourceRelation[], columns: readonly CdcColumnRow[], viaRoot: boolean): CdcTable[] {
  const columnsOf = new Map<string, CdcColumnRow[]>();
  for (const c of columns) columnsOf.set(c.oid, [...(columnsOf.get(c.oid) ?? []), c]);
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const lacking = new Set(planPublication(relations, { viaRoot }).withoutIdentity.map((r) => r.oid));
  const roots = relations.filter((r) => r.parent === undefined);
  return roots.map((root) => {
    // Changes are decoded per leaf: leaves decide; a partitioned table without leaves decides itself.
    const leaves = root.partitioned ? relations.filter((r) => !r.partitioned && r !== root && rootOf(r, byOid) === root) : [];
    const deciders = leaves.length > 0 ? leaves : [root];
    const weakest = deciders.reduce((a, b) => (STRENGTH[b.identity.kind] < STRENGTH[a.identity.kind] ? b : a)).identity;
    // For a partitioned table name the root's primary key rather than one leaf's copy of it.
    const identityIndex = root.partitioned && weakest.kind === 'primary-key' && root.identity.index ? root.identity.index : weakest.index;
    const without = deciders.filter((d) => lacking.has(d.oid));
    const cols = columnsOf.get(root.oid) ?? [];
    return {
      schema: root.schema,
      name: root.name,
      partitioned: root.partitioned,
      partitions: leaves.map((l) => display(l.schema, l.name)),
      replicaIdentity: weakest.kind,
      ...(identityIndex ? { identityIndex } : {}),
      withoutIdentity: without.map((d) => display(d.schema, d.name)),
      identityFlaws: without.map((d) => d.identity.flaw ?? 'no usable replica identity'),
      generatedColumns: cols.filter((c) => c.generated).map((c) => c.name),
      toastableColumns: cols.filter((c) => c.toastable && !c.generated).map((c) => c.name),
      largeObjectColumns: cols.filter((c) => c.large_object).map((c) => c.name),
      unlogged: deciders.some((d) => d.unlogged),
    };
  });
}

/** Reads the CDC view of every table in the database the client is connected to. */
export async function cdcTableReport(client: pg.Client): Promise<CdcTable[]> {
  const major = await serverMajor(client);
  const relations = await readSourceRelations(client);
  const rootOids = relations.filter((r) => r.parent === undefined).map((r) => r.oid);
  const columnsSql = major >= 12 ? CDC_COLUMNS_SQL : CDC_COLUMNS_SQL_PG11;
  const columns = rootOids.length ? (await client.query<CdcColumnRow>(columnsSql, [rootOids])).rows : [];
  return shapeCdcTables(relations, columns, major >= 13);
}
