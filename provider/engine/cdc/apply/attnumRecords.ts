// The attnum records of the shape follow: for each streamed table, which source attnum each of its
// columns had, in the shapes the target had, oldest first (ApplyState.sourceAttnums). A rename
// keeps its attnum and a drop and an add do not, so shapeFollow.ts tells them apart by these
// records, and a column dropped and added again under its name by the attnum it has now. Read once
// for every published table at a runner's first relation message, kept when each table's first
// message agrees with them, then one record more for each follow (shapeFollower.ts).
import { sourceAttributes } from './sourceColumns';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { SourceAttribute } from './shapeFollow';
import type { Relation } from '../decode/changeEvents';

/** Attnum records kept per table (recordedFor): a follow not committed still finds the one before it. */
const ATTNUM_RECORDS = 8;

/**
 * The attnums of a table's streamed columns, as the source's catalog has them while it still has
 * this message's shape: every published table's columns are read once, at the runner's first
 * relation message, and each table's are kept when they agree with its first message
 * (shapeFollow.ts decides a rename from a drop and an add by them). Returns the table's columns as
 * read then (dropped and generated ones included), or undefined once it has a record.
 */
export async function recordAttnums(
  state: ApplyState,
  connections: SessionConnections,
  publication: string,
  relation: Relation,
): Promise<readonly SourceAttribute[] | undefined> {
  const known = (state.sourceAttnums ??= new Map());
  if (known.has(relation.oid)) return undefined;
  if (!state.sourceColumnsAtStart) {
    // read as the session started (sessionConnections.ts), unless an earlier session of this applier started it
    const ahead = connections.sourceColumnsAhead();
    const source = ahead ? undefined : await connections.sourceSession();
    state.sourceColumnsAtStart = (await ahead) ?? (await sourceAttributes(source!, connections.sourceMajor, { publication }));
  }
  const columns = state.sourceColumnsAtStart.get(relation.oid);
  state.sourceColumnsAtStart.delete(relation.oid);
  if (!columns) return undefined;
  const live = columns.filter((a) => !a.dropped && !a.generated);
  const agrees =
    live.length === relation.columns.length &&
    live.every((a, i) => {
      const c = relation.columns[i]!;
      return a.name === c.name && a.typeOid === c.typeOid && a.typeMod === c.typeMod;
    });
  if (agrees) known.set(relation.oid, [new Map(live.map((a) => [a.name, a.attnum]))]);
  return columns;
}

/**
 * The attnums recorded with the target table's columns as they are (`columns`, by name): the
 * newest record whose names are the target's. A follow's record is kept from when its statements
 * are sent, and a session that fails before their commit leaves the target as it was: the record
 * before it still fits it then, and the change is followed again when the stream brings it again.
 */
export function recordedFor(
  state: ApplyState,
  oid: number,
  columns: readonly { readonly name: string }[],
): ReadonlyMap<string, number> | undefined {
  const versions = state.sourceAttnums?.get(oid) ?? [];
  const names = new Set(columns.map((c) => c.name));
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i]!;
    if (v.size === names.size && [...v.keys()].every((k) => names.has(k))) return v;
  }
  return undefined;
}

/** A follow's record, kept with the records before it (recordedFor), the oldest dropped past a few. */
export function keepRecord(state: ApplyState, oid: number, attnums: ReadonlyMap<string, number>): void {
  const versions = state.sourceAttnums?.get(oid);
  if (versions) versions.push(attnums);
  else (state.sourceAttnums ??= new Map()).set(oid, [attnums]);
  if (versions && versions.length > ATTNUM_RECORDS) versions.shift();
}

/** Every column name in a table's records: a column this runner has seen streamed, in any shape. */
export function recordedNames(state: ApplyState, oid: number): Set<string> {
  return new Set((state.sourceAttnums?.get(oid) ?? []).flatMap((v) => [...v.keys()]));
}
