// Replica identity judged as PostgreSQL judges it: the one classification that validation, the
// publication plan and the online flow's table watch all use. A primary key or a REPLICA IDENTITY
// USING INDEX index counts only if the server would use it; otherwise an UPDATE or DELETE on the
// table fails on the source as soon as a publication publishes it ("cannot update table ...
// because it does not have a replica identity and publishes updates", SQLSTATE 55000).
//
// The server's rule (relcache.c, RelationGetIndexList; CheckCmdReplicaIdentity in
// execReplication.c): REPLICA IDENTITY FULL always works; NOTHING never does; DEFAULT uses the
// primary key, and INDEX the index marked indisreplident, only when that index is unique, not
// partial, immediate (not DEFERRABLE) and valid. ALTER TABLE ... REPLICA IDENTITY USING INDEX
// further refuses expression indexes and nullable key columns (and DROP NOT NULL is refused on
// them later), so those are checked too: they can never be a usable identity. DML on a partitioned
// table runs on its leaf partitions, so every leaf is judged on its own.
import type pg from 'pg';
import { displayName } from '../connect/quote';
import { NOT_EXTENSION_MEMBER, USER_SCHEMA } from './queries';

/** The facts about one candidate index (the primary key, or the index marked as replica identity). */
export interface KeyFacts {
  readonly name: string;
  readonly primary: boolean;
  readonly replident: boolean;
  readonly unique: boolean;
  readonly partial: boolean;
  readonly immediate: boolean;
  /** indisvalid and indislive: neither a failed CREATE INDEX CONCURRENTLY nor an index being dropped. */
  readonly valid: boolean;
  readonly expressions: boolean;
  /** Key columns (INCLUDE columns aside) without NOT NULL. */
  readonly nullable: readonly string[];
}

export type IdentityKind = 'primary-key' | 'index' | 'full' | 'none';

export interface IdentityVerdict {
  readonly kind: IdentityKind;
  /** The index the server uses as identity (primary key or USING INDEX). */
  readonly index?: string;
  /** Why the table has no usable identity, e.g. `primary key "t_pkey" is DEFERRABLE`. */
  readonly flaw?: string;
}

const NO_PRIMARY_KEY = 'it has no primary key';

/** Why an index cannot be a replica identity; undefined when it can. */
function keyFlaw(key: KeyFacts): string | undefined {
  if (!key.unique) return 'is not unique';
  if (key.partial) return 'is partial (it has a WHERE clause)';
  if (!key.immediate) return 'is DEFERRABLE';
  if (!key.valid) return 'is not valid (a failed CREATE INDEX CONCURRENTLY or REINDEX, or being dropped)';
  if (key.expressions) return 'is on an expression';
  if (key.nullable.length > 0) return `has nullable column(s) ${key.nullable.join(', ')}`;
  return undefined;
}

/** Pure: what logical decoding uses as the old-row key of a table (relreplident d/i/f/n), as the server decides it. */
export function judgeIdentity(replident: string, keys: readonly KeyFacts[]): IdentityVerdict {
  switch (replident) {
    case 'f':
      return { kind: 'full' };
    case 'n':
      return { kind: 'none', flaw: 'its replica identity is NOTHING' };
    case 'i': {
      const key = keys.find((k) => k.replident);
      if (!key) return { kind: 'none', flaw: 'the index of its REPLICA IDENTITY USING INDEX no longer exists' };
      const flaw = keyFlaw(key);
      return flaw ? { kind: 'none', flaw: `replica identity index "${key.name}" ${flaw}` } : { kind: 'index', index: key.name };
    }
    default: {
      const key = keys.find((k) => k.primary);
      if (!key) return { kind: 'none', flaw: NO_PRIMARY_KEY };
      const flaw = keyFlaw(key);
      return flaw ? { kind: 'none', flaw: `primary key "${key.name}" ${flaw}` } : { kind: 'primary-key', index: key.name };
    }
  }
}

/** The candidate indexes of the table `c` as a jsonb array of KeyFacts (a fragment of the queries below). */
const IDENTITY_KEYS_SQL = `(
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'name', ic.relname, 'primary', x.indisprimary, 'replident', x.indisreplident, 'unique', x.indisunique,
           'partial', x.indpred IS NOT NULL, 'immediate', x.indimmediate, 'valid', x.indisvalid AND x.indislive,
           'expressions', x.indexprs IS NOT NULL,
           'nullable', ARRAY(SELECT a.attname::text
                               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
                               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                              WHERE k.pos <= x.indnkeyatts AND NOT a.attnotnull
                              ORDER BY k.pos))
           ORDER BY ic.relname), '[]'::jsonb)
    FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
   WHERE x.indrelid = c.oid AND (x.indisprimary OR x.indisreplident))`;

/**
 * Every user table that holds rows or partitions them (ordinary, partitioned, partitions,
 * inheritance children; permanent and unlogged), with its replica identity facts, its partition
 * parent, whether the session's user may publish it or change its identity (owner or member of the
 * owner: superusers are members of every role), and whether publication $1 lists it.
 */
const SOURCE_RELATIONS_SQL = `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       c.relpersistence AS persistence, c.relreplident AS replident,
       (SELECT i.inhparent::int8::text FROM pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition) AS parent,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       pg_has_role(c.relowner, 'USAGE') AS owned,
       pg_get_userbyid(c.relowner) AS owner,
       ${IDENTITY_KEYS_SQL} AS keys,
       EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                WHERE p.pubname = $1 AND pr.prrelid = c.oid) AS published
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence IN ('p', 'u') AND ${USER_SCHEMA} AND ${NOT_EXTENSION_MEMBER}
 ORDER BY n.nspname, c.relname`;

export interface SourceRelationRow {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly kind: string;
  readonly persistence: string;
  readonly replident: string;
  readonly parent: string | null;
  readonly bound?: string | null;
  readonly owned: boolean;
  readonly owner: string;
  readonly keys: readonly KeyFacts[];
  readonly published: boolean;
}

/** A source table with its identity judged. */
export interface SourceRelation {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** schema.name, for messages and the verification's table names. */
  readonly display: string;
  readonly partitioned: boolean;
  readonly unlogged: boolean;
  /** OID of the partitioned table this is a partition of. */
  readonly parent?: string;
  /** A partition's bound as SQL, e.g. `FOR VALUES FROM (0) TO (100)`. */
  readonly bound?: string;
  readonly replident: string;
  readonly identity: IdentityVerdict;
  /** Its primary key, when the server could use it as identity (what REPLICA IDENTITY DEFAULT would use). */
  readonly usablePrimaryKey?: string;
  /** The session's user may publish it and change its replica identity. */
  readonly owned: boolean;
  readonly owner: string;
  /** Listed by the publication the rows were read for. */
  readonly published: boolean;
}

export function shapeSourceRelation(row: SourceRelationRow): SourceRelation {
  return {
    oid: row.oid,
    schema: row.schema,
    name: row.name,
    display: displayName(row.schema, row.name),
    partitioned: row.kind === 'p',
    unlogged: row.persistence === 'u',
    ...(row.parent ? { parent: row.parent } : {}),
    ...(row.bound ? { bound: row.bound } : {}),
    replident: row.replident,
    identity: judgeIdentity(row.replident, row.keys),
    ...usablePrimaryKeyOf(row.keys),
    owned: row.owned,
    owner: row.owner,
    published: row.published,
  };
}

function usablePrimaryKeyOf(keys: readonly KeyFacts[]): { usablePrimaryKey?: string } {
  const verdict = judgeIdentity('d', keys);
  return verdict.kind === 'primary-key' && verdict.index ? { usablePrimaryKey: verdict.index } : {};
}

/**
 * Pure: the statements that give a table without a usable identity one, as the user runs them on
 * the source (schema.table as messages print it, which reads as SQL): its own primary key back as identity where it has a usable one,
 * else a primary key or REPLICA IDENTITY FULL. Said by every message that reports such a table.
 */
export function identityFix(relation: Pick<SourceRelation, 'schema' | 'name' | 'replident' | 'identity' | 'usablePrimaryKey'>): string {
  const table = displayName(relation.schema, relation.name);
  const full = `ALTER TABLE ${table} REPLICA IDENTITY FULL`;
  if (relation.usablePrimaryKey !== undefined && relation.replident !== 'd') return `ALTER TABLE ${table} REPLICA IDENTITY DEFAULT`;
  if (relation.replident === 'd' && relation.identity.flaw === NO_PRIMARY_KEY)
    return `ALTER TABLE ${table} ADD PRIMARY KEY (column, ...), or ${full}`;
  return `${full}, or ALTER TABLE ${table} REPLICA IDENTITY USING INDEX (a unique index on NOT NULL columns)`;
}

/**
 * Reads and judges every source table; `publication` decides `published` (none: all false). The
 * filters of a migration then keep those whose rows move (filter/plan.ts `whoseRowsMove`).
 */
export async function readSourceRelations(client: pg.Client, publication?: string): Promise<SourceRelation[]> {
  const { rows } = await client.query<SourceRelationRow>(SOURCE_RELATIONS_SQL, [publication ?? null]);
  return rows.map(shapeSourceRelation);
}
