// What change data capture needs to know about every table of a source database: replica
// identity, generated, TOAST-able and large-object columns, partitions (reported under their
// root) and persistence. Shared with the CDC engine; the shaping is pure.
import { serverMajor } from '../connect/session';
import type pg from 'pg';

/** Ordinary tables and partitioned roots, with their leaf partitions under them. */
export const CDC_TABLES_SQL = `
WITH RECURSIVE tree AS (
  SELECT c.oid AS relid, c.oid AS root
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  UNION ALL
  SELECT i.inhrelid, t.root
  FROM pg_inherits i
  JOIN tree t ON i.inhparent = t.relid
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE c.relispartition AND c.relkind IN ('r', 'p')
)
SELECT t.root::text AS root, c.oid::text AS oid, n.nspname AS schema, c.relname AS name,
       c.relkind AS kind, c.relreplident AS replident, c.relpersistence AS persistence,
       (SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
        WHERE x.indrelid = c.oid AND x.indisprimary) AS pk_index,
       (SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
        WHERE x.indrelid = c.oid AND x.indisreplident) AS identity_index
FROM tree t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY n.nspname, c.relname`;

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

export type ReplicaIdentityKind = 'primary-key' | 'index' | 'full' | 'none';

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
  /** The table or leaf partitions without a usable replica identity. */
  readonly withoutIdentity: readonly string[];
  readonly generatedColumns: readonly string[];
  /** Variable-length columns whose unchanged values UPDATEs may omit from the WAL. */
  readonly toastableColumns: readonly string[];
  /** Columns of type oid or lo: references to large objects, whose contents CDC does not carry. */
  readonly largeObjectColumns: readonly string[];
  readonly unlogged: boolean;
}

export interface CdcTableRow {
  readonly root: string;
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly kind: string;
  readonly replident: string;
  readonly persistence: string;
  readonly pk_index: string | null;
  readonly identity_index: string | null;
}

export interface CdcColumnRow {
  readonly oid: string;
  readonly name: string;
  readonly generated: boolean;
  readonly toastable: boolean;
  readonly large_object: boolean;
}

const STRENGTH: Record<ReplicaIdentityKind, number> = { none: 0, full: 1, index: 2, 'primary-key': 3 };

/** What logical decoding will use as the old-row key (relreplident d/i/f/n). */
export function identityOf(row: CdcTableRow): { kind: ReplicaIdentityKind; index?: string } {
  switch (row.replident) {
    case 'f':
      return { kind: 'full' };
    case 'i':
      return row.identity_index ? { kind: 'index', index: row.identity_index } : { kind: 'none' };
    case 'd':
      return row.pk_index ? { kind: 'primary-key', index: row.pk_index } : { kind: 'none' };
    default:
      return { kind: 'none' };
  }
}

function display(schema: string, name: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(schema)}.${part(name)}`;
}

/** Pure: groups partitions under their root and summarizes each table. */
export function shapeCdcTables(tables: readonly CdcTableRow[], columns: readonly CdcColumnRow[]): CdcTable[] {
  const columnsOf = new Map<string, CdcColumnRow[]>();
  for (const c of columns) columnsOf.set(c.oid, [...(columnsOf.get(c.oid) ?? []), c]);
  const roots = tables.filter((t) => t.oid === t.root);
  return roots.map((root) => {
    const members = tables.filter((t) => t.root === root.oid && t.oid !== root.oid);
    const partitioned = root.kind === 'p';
    // Changes are decoded per leaf: leaves decide; a partitioned table without leaves decides itself.
    const leaves = partitioned ? members.filter((m) => m.kind === 'r') : [];
    const deciders = leaves.length > 0 ? leaves : [root];
    let weakest: { kind: ReplicaIdentityKind; index?: string } | undefined;
    const withoutIdentity: string[] = [];
    for (const d of deciders) {
      const id = identityOf(d);
      if (id.kind === 'none') withoutIdentity.push(display(d.schema, d.name));
      if (!weakest || STRENGTH[id.kind] < STRENGTH[weakest.kind]) weakest = id;
    }
    const identity = weakest!;
    // For a partitioned table name the root's primary key rather than one leaf's copy of it.
    const identityIndex = partitioned && identity.kind === 'primary-key' && root.pk_index ? root.pk_index : identity.index;
    const cols = columnsOf.get(root.oid) ?? [];
    return {
      schema: root.schema,
      name: root.name,
      partitioned,
      partitions: leaves.map((l) => display(l.schema, l.name)),
      replicaIdentity: identity.kind,
      ...(identityIndex ? { identityIndex } : {}),
      withoutIdentity,
      generatedColumns: cols.filter((c) => c.generated).map((c) => c.name),
      toastableColumns: cols.filter((c) => c.toastable && !c.generated).map((c) => c.name),
      largeObjectColumns: cols.filter((c) => c.large_object).map((c) => c.name),
      unlogged: deciders.some((d) => d.persistence === 'u'),
    };
  });
}

/** Reads the CDC view of every table in the database the client is connected to. */
export async function cdcTableReport(client: pg.Client): Promise<CdcTable[]> {
  const major = await serverMajor(client);
  const tables = (await client.query<CdcTableRow>(CDC_TABLES_SQL)).rows;
  const rootOids = tables.filter((t) => t.oid === t.root).map((t) => t.oid);
  const columnsSql = major >= 12 ? CDC_COLUMNS_SQL : CDC_COLUMNS_SQL_PG11;
  const columns = rootOids.length ? (await client.query<CdcColumnRow>(columnsSql, [rootOids])).rows : [];
  return shapeCdcTables(tables, columns);
}
