// Source introspection: reads catalog rows, then shapes them into typed descriptions.
import type pg from 'pg';
import { displayName, qualified } from '../connect/quote';
import {
  DATABASE_PROPERTIES,
  DATABASE_SETTINGS,
  LIST_LARGE_OBJECTS,
  LIST_PARTITIONED_ANCESTORS,
  LIST_SEQUENCE_OWNERS,
  LIST_SEQUENCES,
  LIST_TABLE_INDEXES,
  LIST_TABLES,
  LIST_TABLES_PG11,
  TABLE_SHAPES,
  TABLE_SHAPES_PG11,
} from './queries';

export interface SourceTable {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** "schema"."name", quoted. */
  readonly sql: string;
  /** schema.name for display and progress keys. */
  readonly display: string;
  readonly unlogged: boolean;
  readonly isPartition: boolean;
  /** Heap + TOAST bytes (pg_table_size). */
  readonly bytes: number;
  readonly estimatedRows: number;
  readonly pages: number;
  readonly columns: readonly string[];
  /** Every copied column has a built-in type other than an OID alias: binary COPY carries the same values to any version. */
  readonly binarySafe: boolean;
  /** Integer single-column primary key, usable for range splitting. */
  readonly splitKey?: string;
}

export interface SourceSequence {
  readonly schema: string;
  readonly name: string;
  readonly sql: string;
}

export interface SourceIndex {
  readonly indexOid: string;
  readonly tableOid: string;
  readonly schema: string;
  readonly table: string;
  readonly indexName: string;
  readonly indexDef: string;
  readonly constraint?: {
    readonly oid: string;
    readonly name: string;
    readonly def: string;
    /** A primary key or unique constraint whose index may be built alone and the key attached to it after (indexes.ts). */
    readonly attach?: { readonly kind: 'PRIMARY KEY' | 'UNIQUE'; readonly deferrable: boolean; readonly deferred: boolean };
  };
  /** The table is clustered on this index (ALTER TABLE ... CLUSTER ON). */
  readonly clustered: boolean;
  /** The table's replica identity is this index (REPLICA IDENTITY USING INDEX). */
  readonly replicaIdentity: boolean;
  /** Statistics targets set on index columns (ALTER INDEX ... ALTER COLUMN n SET STATISTICS). */
  readonly columnStatistics: readonly { readonly column: number; readonly target: number }[];
}

export interface DatabaseProperties {
  readonly name: string;
  readonly encoding: string;
  readonly collate: string;
  readonly ctype: string;
  readonly owner: string;
  readonly connectionLimit: number;
  readonly comment: string | null;
  readonly acl: readonly string[] | null;
  /** Security labels as [provider, label] pairs. */
  readonly labels: readonly (readonly [string, string])[];
  /** `ALTER DATABASE SET` (role undefined) and `ALTER ROLE IN DATABASE SET` entries, as name=value. */
  readonly settings: readonly { readonly role?: string; readonly setting: string }[];
}

/** The driver's rows: int8 as text, float8 as number. */
interface TableRow {
  oid: string;
  schema: string;
  name: string;
  persistence: string;
  is_partition: boolean;
  bytes: string;
  estimated_rows: number;
  pages: string;
  columns: string[];
  binary_safe: boolean;
  split_key: string | null;
}

interface IndexRow {
  index_oid: string;
  table_oid: string;
  schema: string;
  table_name: string;
  index_name: string;
  index_def: string;
  constraint_oid: string | null;
  constraint_name: string;
  constraint_def: string;
  deferrable: boolean | null;
  deferred: boolean | null;
  attach_kind: 'PRIMARY KEY' | 'UNIQUE' | null;
  clustered: boolean;
  replica_identity: boolean;
  column_statistics: { column: number; target: number }[] | null;
}

interface DatabaseRow {
  name: string;
  encoding: string;
  collate: string;
  ctype: string;
  owner: string;
  connection_limit: number;
  comment: string | null;
  acl: string[] | null;
  labels: [string, string][] | null;
}

export async function listTables(client: pg.Client, major: number, skip: ReadonlySet<string> = new Set()): Promise<SourceTable[]> {
  const { rows } = await client.query<TableRow>(major >= 12 ? LIST_TABLES : LIST_TABLES_PG11, [[...skip]]);
  return rows.map((r) => ({
    oid: String(r.oid),
    schema: r.schema,
    name: r.name,
    sql: qualified(r.schema, r.name),
    display: displayName(r.schema, r.name),
    unlogged: r.persistence === 'u',
    isPartition: r.is_partition,
    bytes: Number(r.bytes),
    estimatedRows: Number(r.estimated_rows),
    pages: Number(r.pages),
    columns: r.columns,
    binarySafe: r.binary_safe,
    splitKey: r.split_key ?? undefined,
  }));
}

/**
 * The tables with their columns and binary safety as the session's snapshot has them (TABLE_SHAPES):
 * a shape read earlier may lack a column added since. A table the snapshot does not have keeps its own.
 */
export async function tablesAsOfSnapshot(client: pg.Client, major: number, tables: readonly SourceTable[]): Promise<SourceTable[]> {
  const { rows } = await client.query<{ oid: string; columns: string[]; binary_safe: boolean }>(
    major >= 12 ? TABLE_SHAPES : TABLE_SHAPES_PG11,
    [tables.map((t) => t.oid)],
  );
  const shapes = new Map(rows.map((r) => [r.oid, r]));
  return tables.map((t) => {
    const shape = shapes.get(t.oid);
    return shape ? { ...t, columns: shape.columns, binarySafe: shape.binary_safe } : t;
  });
}

/** The partitioned tables above these tables (OIDs), by OID, schema and name (LIST_PARTITIONED_ANCESTORS). */
export async function listPartitionedAncestors(
  client: pg.Client,
  oids: readonly string[],
): Promise<{ oid: string; schema: string; name: string }[]> {
  if (oids.length === 0) return [];
  const { rows } = await client.query<{ oid: string; schema: string; name: string }>(LIST_PARTITIONED_ANCESTORS, [oids]);
  return rows;
}

export async function listSequences(client: pg.Client): Promise<SourceSequence[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(LIST_SEQUENCES);
  return rows.map((r) => ({ schema: r.schema, name: r.name, sql: qualified(r.schema, r.name) }));
}

/** The column that owns a sequence (a serial's or an identity's): its table's OID, schema and name, and its own name. */
export interface SequenceOwner {
  readonly tableOid: string;
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

/** A sequence with its OID on the session's server and the column that owns it, if any. */
export interface OwnedSequence extends SourceSequence {
  readonly oid: string;
  readonly owner?: SequenceOwner;
}

/** Every sequence but an extension's, with the column that owns it (LIST_SEQUENCE_OWNERS). */
export async function listSequencesWithOwners(client: pg.Client): Promise<OwnedSequence[]> {
  const { rows } = await client.query<{
    schema: string;
    name: string;
    oid: string;
    table_oid: string | null;
    table_schema: string | null;
    table_name: string | null;
    column_name: string | null;
  }>(LIST_SEQUENCE_OWNERS);
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    sql: qualified(r.schema, r.name),
    oid: r.oid,
    ...(r.table_oid !== null && r.table_schema !== null && r.table_name !== null && r.column_name !== null
      ? { owner: { tableOid: r.table_oid, schema: r.table_schema, table: r.table_name, column: r.column_name } }
      : {}),
  }));
}

/**
 * The key two servers' sequences are paired by: one a column owns (serial, identity) by that
 * column, its table's schema and name and its own name, whatever the sequence is called on each
 * server (a CREATE TABLE may name it anew, `orders_id_seq1`); a free-standing one by its own name.
 * NUL joins the parts: no name holds it.
 */
function sequencePairKey(s: { readonly schema: string; readonly name: string; readonly owner?: Omit<SequenceOwner, 'tableOid'> }): string {
  return s.owner ? ['column', s.owner.schema, s.owner.table, s.owner.column].join('\0') : ['sequence', s.schema, s.name].join('\0');
}

/**
 * The pairing keys of one server's sequences, by sequence: a column that owns more than one
 * (`ALTER SEQUENCE ... OWNED BY` given twice) tells none of them, so those are paired by name.
 */
export function sequencePairKeys<
  S extends { readonly schema: string; readonly name: string; readonly owner?: Omit<SequenceOwner, 'tableOid'> },
>(sequences: readonly S[]): Map<string, S> {
  const count = new Map<string, number>();
  for (const s of sequences) count.set(sequencePairKey(s), (count.get(sequencePairKey(s)) ?? 0) + 1);
  const keyed = new Map<string, S>();
  for (const s of sequences) {
    const key = sequencePairKey(s);
    keyed.set((count.get(key) ?? 0) > 1 ? sequencePairKey({ schema: s.schema, name: s.name }) : key, s);
  }
  return keyed;
}

export async function listTableIndexes(client: pg.Client, skip: ReadonlySet<string> = new Set()): Promise<SourceIndex[]> {
  const { rows } = await client.query<IndexRow>(LIST_TABLE_INDEXES, [[...skip]]);
  return rows.map((r) => ({
    indexOid: String(r.index_oid),
    tableOid: String(r.table_oid),
    schema: r.schema,
    table: r.table_name,
    indexName: r.index_name,
    indexDef: r.index_def,
    constraint: r.constraint_oid
      ? {
          oid: String(r.constraint_oid),
          name: r.constraint_name,
          def: r.constraint_def,
          ...(r.attach_kind ? { attach: { kind: r.attach_kind, deferrable: r.deferrable === true, deferred: r.deferred === true } } : {}),
        }
      : undefined,
    clustered: r.clustered,
    replicaIdentity: r.replica_identity,
    columnStatistics: r.column_statistics ?? [],
  }));
}

export async function listLargeObjects(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ oid: string }>(LIST_LARGE_OBJECTS);
  return rows.map((r) => String(r.oid));
}

export async function databaseProperties(client: pg.Client, database: string): Promise<DatabaseProperties | undefined> {
  const { rows } = await client.query<DatabaseRow>(DATABASE_PROPERTIES, [database]);
  const r = rows[0];
  if (!r) return undefined;
  const settings = await client.query<{ role: string | null; setting: string }>(DATABASE_SETTINGS, [database]);
  return {
    name: r.name,
    encoding: r.encoding,
    collate: r.collate,
    ctype: r.ctype,
    owner: r.owner,
    connectionLimit: r.connection_limit,
    comment: r.comment,
    acl: r.acl,
    labels: r.labels ?? [],
    settings: settings.rows.map((s) => ({ role: s.role ?? undefined, setting: s.setting })),
  };
}
