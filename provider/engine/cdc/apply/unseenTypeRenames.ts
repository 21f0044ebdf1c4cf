// A type the stream names, at a session's first Type message for it, by a name the target lacks,
// where the target's column has the type pgferry made under another name: the source renamed it
// before the stream carried a row of a table using it (a runner resumed, or streaming started, just
// before the rename), so no earlier Type message of the session told its old name
// (decode/normalizer.ts typeRenamed). The schema watch's rename of it waits for the apply to pass
// where it saw the rename, and the apply cannot pass that without the name: this tells which of the
// target's types each such name is, for renameFollower.ts to rename at the relation message, before
// any row under the new name. Only a type pgferry made there (the OID recorded for it among the
// known objects, control/knownObjects.ts), whose old name the source no longer gives another type,
// and alike in kind and members (a label or attribute added on the source since is followed by the
// watch); anything else keeps the stop, naming the type.
import type pg from 'pg';
import { qualified } from '../../connect/quote';
import type { Relation } from '../decode/changeEvents';
import type { TargetAttribute } from './shapeFollow';

/** OIDs below this are built in and identical on every server (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

/** A schema-qualified name as format_type prints it (quoted where it must be); no array, no modifier. */
const PRINTED = /^("(?:[^"]|"")+"|[^."[(]+)\.("(?:[^"]|"")+"|[^."[(]+)$/;
const unquote = (name: string): string => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name);

export interface TypeName {
  readonly schema: string;
  readonly name: string;
}

/** A user type the stream names otherwise than the target's column of the same name prints its type. */
export interface UnseenCandidate {
  /** The type's OID on the source (the stream's). */
  readonly oid: number;
  /** Its name in the stream. */
  readonly to: TypeName;
  /** The type of the target's column of the same name, on the target. */
  readonly targetOid: number;
}

/** A target type to rename as the source did. */
export interface UnseenRename {
  readonly from: TypeName;
  readonly to: TypeName;
}

/**
 * Pure: the relation's columns of a user type, not in `checked`, whose target column has a user
 * type printed under another name than the stream's: the only ones that may need a rename, found
 * without a round trip from the target's columns already read.
 */
export function unseenCandidates(relation: Relation, columns: readonly TargetAttribute[], checked: ReadonlySet<number>): UnseenCandidate[] {
  const onTarget = new Map(columns.map((c) => [c.name, c]));
  const found = new Map<number, UnseenCandidate>();
  relation.columns.forEach((c, i) => {
    const named = relation.typeNames[i];
    const t = onTarget.get(c.name);
    if (!named || !t || c.typeOid < FIRST_NORMAL_OID || t.typeOid < FIRST_NORMAL_OID || checked.has(c.typeOid)) return;
    const printed = PRINTED.exec(t.type);
    if (!printed || (unquote(printed[1]!) === named.schema && unquote(printed[2]!) === named.name)) return;
    found.set(c.typeOid, { oid: c.typeOid, to: named, targetOid: t.typeOid });
  });
  return [...found.values()];
}

/** A type's name, kind and members (an enum's labels, a composite's attributes, a domain's base type), by the OID `oid` gives. */
const shapeOf = (oid: string): string => `
SELECT t.typtype::text AS kind, n.nspname AS schema, t.typname AS name,
       CASE t.typtype
         WHEN 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
         WHEN 'c' THEN ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
         ELSE ARRAY[pg_catalog.format_type(t.typbasetype, t.typtypmod)] END AS members
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ${oid}`;

/** On the target: whether each new name is free, and the shape of the column's type there. */
const TARGET_SQL = `
SELECT pg_catalog.to_regtype(x.name) IS NULL AS free, s.kind, s.schema, s.name, s.members
  FROM unnest($1::text[], $2::oid[]) WITH ORDINALITY AS x(name, oid, i)
  LEFT JOIN LATERAL (${shapeOf('x.oid')}) s ON true ORDER BY x.i`;

/** On the source: the type now holding each old name (if any), and the shape of the stream's type. */
const SOURCE_SQL = `
SELECT pg_catalog.to_regtype(x.old)::pg_catalog.oid::int8::text AS holder, s.kind, s.members
  FROM unnest($1::text[], $2::oid[]) WITH ORDINALITY AS x(old, oid, i)
  LEFT JOIN LATERAL (${shapeOf('x.oid')}) s ON true ORDER BY x.i`;

interface ShapeRow {
  kind: string | null;
  members: string[] | null;
}

/** Whether the target's type may be the source's renamed: same kind, and every label or attribute it has the source's has too. */
function alike(target: ShapeRow, source: ShapeRow): boolean {
  if (target.kind === null || target.kind !== source.kind || !target.members || !source.members) return false;
  if (target.kind === 'e' || target.kind === 'c') return target.members.every((m) => source.members!.includes(m));
  return target.members.join('\0') === source.members.join('\0');
}

/**
 * The candidates' renames: where the target lacks the stream's name, its column's type is one
 * pgferry made (`made`: the target OIDs recorded for known objects), the source gives that type's
 * name to no other type, and the two are alike. One round trip to each server.
 */
export async function unseenRenames(
  target: pg.Client,
  source: pg.Client,
  candidates: readonly UnseenCandidate[],
  made: ReadonlySet<string>,
): Promise<UnseenRename[]> {
  const ours = candidates.filter((c) => made.has(String(c.targetOid)));
  if (ours.length === 0) return [];
  const { rows: there } = await target.query<ShapeRow & { free: boolean; schema: string | null; name: string | null }>(TARGET_SQL, [
    ours.map((c) => qualified(c.to.schema, c.to.name)),
    ours.map((c) => String(c.targetOid)),
  ]);
  const free = ours.flatMap((c, i) => {
    const t = there[i];
    return t?.free && t.schema !== null && t.name !== null ? [{ c, t, from: { schema: t.schema, name: t.name } }] : [];
  });
  if (free.length === 0) return [];
  const { rows: here } = await source.query<ShapeRow & { holder: string | null }>(SOURCE_SQL, [
    free.map((f) => qualified(f.from.schema, f.from.name)),
    free.map((f) => String(f.c.oid)),
  ]);
  return free.flatMap(({ c, t, from }, i) => {
    const s = here[i];
    const nameFree = s !== undefined && (s.holder === null || s.holder === String(c.oid));
    return nameFree && alike(t, s) ? [{ from, to: c.to }] : [];
  });
}
