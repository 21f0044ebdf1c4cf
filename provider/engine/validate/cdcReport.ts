// What change data capture needs to know about every table of a source database: replica
// identity (judged by catalog/identityVerdict.ts, decided by cdc/prepare/publicationPlan.ts: the same
// classification the online flow acts on), generated, TOAST-able and large-object columns,
// partitions (reported under their root) and persistence. The shaping is pure.
import { readSourceRelations, type IdentityKind, type SourceRelation } from '../catalog/identityVerdict';
import { readTypeFacts } from '../cdc/apply/typeFacts';
import { typeComparison } from '../cdc/plan/equality';
import { planPublication, rootOf } from '../cdc/prepare/publicationPlan';
import { serverMajor } from '../connect/session';
import type pg from 'pg';
import type { TableFilters } from '../input/patterns';
import { whoseRowsMove } from '../filter/plan';
import { displayName } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';

const CDC_COLUMNS_SQL = `
SELECT a.attrelid::text AS oid, a.attname AS name,
       a.attgenerated <> '' AS generated,
       a.attlen = -1 AND a.attstorage <> 'p' AS toastable,
       (a.atttypid = 'oid'::regtype OR t.typbasetype = 'oid'::regtype) AS large_object
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

/**
 * The columns of the given tables that have no usable unique index (a primary key or unique index
 * that is immediate, valid, not partial, on NOT NULL columns and no expressions: what the apply
 * matches a REPLICA IDENTITY FULL table's rows by on the target, cdc/apply/targetTables.ts), with their
 * types: such a table's updates and deletes are matched by the whole old row.
 */
const WHOLE_ROW_COLUMNS_SQL = `
SELECT a.attrelid::int8::text AS oid, a.attname AS name, a.atttypid::int8 AS type
  FROM pg_attribute a
 WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
   AND NOT EXISTS (
     SELECT 1 FROM pg_index x
      WHERE x.indrelid = a.attrelid AND x.indisunique AND x.indimmediate AND x.indisvalid AND x.indislive
        AND x.indpred IS NULL AND x.indexprs IS NULL
        AND NOT EXISTS (SELECT 1 FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
                          JOIN pg_attribute ka ON ka.attrelid = x.indrelid AND ka.attnum = k.attnum
                         WHERE k.pos <= x.indnkeyatts AND NOT ka.attnotnull))
 ORDER BY a.attrelid, a.attnum`;

/** attgenerated arrived in 12. */
const CDC_COLUMNS_SQL_PG11 = CDC_COLUMNS_SQL.replace(`a.attgenerated <> ''`, 'false');

type ReplicaIdentityKind = IdentityKind;

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
  /**
   * Columns of the streamed table (or its leaves) matched by the whole old row whose type has no
   * equality operator and a VOLATILE input or output function: no comparison of them is reliable.
   */
  readonly unstableMatchColumns: readonly string[];
}

export interface CdcColumnRow {
  readonly oid: string;
  readonly name: string;
  readonly generated: boolean;
  readonly toastable: boolean;
  readonly large_object: boolean;
}

const STRENGTH: Record<ReplicaIdentityKind, number> = { none: 0, full: 1, index: 2, 'primary-key': 3 };

/**
 * Pure: groups partitions under their root and summarizes each table. `viaRoot`: the source
 * publishes partitioned tables via their root (PostgreSQL 13+).
 */
export function shapeCdcTables(
  relations: readonly SourceRelation[],
  columns: readonly CdcColumnRow[],
  viaRoot: boolean,
  unstable: ReadonlyMap<string, readonly string[]> = new Map(),
): CdcTable[] {
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
      partitions: leaves.map((l) => displayName(l.schema, l.name)),
      replicaIdentity: weakest.kind,
      ...(identityIndex ? { identityIndex } : {}),
      withoutIdentity: without.map((d) => displayName(d.schema, d.name)),
      identityFlaws: without.map((d) => d.identity.flaw ?? 'no usable replica identity'),
      generatedColumns: cols.filter((c) => c.generated).map((c) => c.name),
      toastableColumns: cols.filter((c) => c.toastable && !c.generated).map((c) => c.name),
      largeObjectColumns: cols.filter((c) => c.large_object).map((c) => c.name),
      unlogged: deciders.some((d) => d.unlogged),
      unstableMatchColumns: [...new Set(deciders.flatMap((d) => unstable.get(d.oid) ?? []))],
    };
  });
}

/**
 * Reads the CDC view of every table in the database the client is connected to (whose rows the
 * filters move). Never one in a schema named like the control schema: pgferry's own tables there are
 * left out by the filter plan, and anyone else's is refused whole (CONTROL_SCHEMA_NOT_OURS), so its
 * replica identity is not judged: a second failure on it would point at a fix that changes nothing.
 */
export async function cdcTableReport(client: pg.Client, filters?: TableFilters): Promise<CdcTable[]> {
  const major = await serverMajor(client);
  const relations = (await whoseRowsMove(client, await readSourceRelations(client), filters)).filter((r) => r.schema !== CONTROL_SCHEMA);
  const rootOids = relations.filter((r) => r.parent === undefined).map((r) => r.oid);
  const columnsSql = major >= 12 ? CDC_COLUMNS_SQL : CDC_COLUMNS_SQL_PG11;
  const columns = rootOids.length ? (await client.query<CdcColumnRow>(columnsSql, [rootOids])).rows : [];
  return shapeCdcTables(relations, columns, major >= 13, await unstableMatchColumns(client, relations));
}

/**
 * Per table that will be matched by its whole old row (REPLICA IDENTITY FULL now, or given it by
 * allowReplicaIdentityFull, and no usable unique index), the columns no comparison is reliable
 * for: no equality operator (so compared by text, cdc/plan/statements.ts fullIdentityStatement) and a
 * text form from a VOLATILE function. Read on the source: the target gets the same types.
 */
async function unstableMatchColumns(client: pg.Client, relations: readonly SourceRelation[]): Promise<Map<string, string[]>> {
  const rowMatched = relations
    .filter((r) => !r.partitioned && (r.identity.kind === 'full' || r.identity.kind === 'none'))
    .map((r) => r.oid);
  const out = new Map<string, string[]>();
  if (rowMatched.length === 0) return out;
  const { rows } = await client.query<{ oid: string; name: string; type: string }>(WHOLE_ROW_COLUMNS_SQL, [rowMatched]);
  if (rows.length === 0) return out;
  const facts = await readTypeFacts(client, rowMatched);
  for (const r of rows) {
    const compared = typeComparison(Number(r.type), facts);
    if (compared.eq === undefined && !compared.stableText) out.set(r.oid, [...(out.get(r.oid) ?? []), r.name]);
  }
  return out;
}
