// An object on the target as pgferry made it, recorded for the known objects
// (control/knownObjects.ts): for a part of a relation (an index, a constraint, a trigger, a rule,
// a policy) its relation's OID, for an object of its own (a view, a function, a type, a sequence)
// none; its own OID; and a digest of its properties there, written as one text. Pure. The
// comparison (compare.ts) and the event trigger's follow of a table's parts (partsFollow.ts) read
// it back through partsOf.
import { createHash } from 'node:crypto';
import type { SchemaObject } from './catalog';

/** A recorded identity read back. */
export interface TargetIdentity {
  readonly relation: string;
  readonly object: string;
  readonly digest: string;
}

/** Kinds of object told by name alone (targetIdentity says why). */
const BY_NAME_ONLY = new Set(['table', 'foreign table', 'column', 'comment']);

/**
 * The identity of an object on the target. None for a table (the copy and the follow make one again
 * under its name as they go, so a new OID tells nothing), a column (its OID is its table's: columns
 * are told by attnum) or a comment (its object's).
 */
export function targetIdentity(t: SchemaObject): string | undefined {
  if (BY_NAME_ONLY.has(t.kind)) return undefined;
  const props = JSON.stringify(
    Object.keys(t.props)
      .sort()
      .map((k) => [k, t.props[k]]),
  );
  const relation = t.relation === null ? '' : t.ownerObjectId;
  return `${relation}:${t.objectId}:${createHash('sha256').update(props).digest('hex').slice(0, 16)}`;
}

/**
 * Recorded for a known object whose name the target gives to someone else's, pgferry having made
 * none there yet (a DBA's view under a name the source then used): whatever holds the name is not
 * the migration's until pgferry makes its own and records that.
 */
export const NONE_MADE = 'none made';

/**
 * Whether the target's object under a known key is the one recorded there ('recorded'), another
 * one that pgferry did not make ('other'), or nothing tells ('unrecorded': no record, or a part
 * recorded on another relation, as when pgferry's own resync made the table again). Alike in
 * definition (`now.digest`, where the caller has it) it is the migration's still, made again.
 */
export function judgeOnTarget(
  recorded: string | undefined,
  now: { readonly relation: string; readonly object: string; readonly digest?: string } | undefined,
): 'recorded' | 'other' | 'unrecorded' {
  if (recorded === NONE_MADE) return 'other';
  const was = partsOf(recorded);
  if (was === undefined || now === undefined || was.relation !== now.relation) return 'unrecorded';
  return was.object === now.object || was.digest === now.digest ? 'recorded' : 'other';
}

/** An identity's parts; undefined for none. */
export function partsOf(identity: string | undefined): TargetIdentity | undefined {
  if (identity === undefined) return undefined;
  const [relation = '', object = '', digest = ''] = identity.split(':');
  return { relation, object, digest };
}
