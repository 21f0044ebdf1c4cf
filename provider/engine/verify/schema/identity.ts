// A part of a relation (an index, a constraint, a trigger, a rule, a policy) as one object on the
// target, recorded for the known objects (control/knownObjects.ts): its relation's OID, its own OID
// and a digest of its properties there, written as one text. Pure. The comparison (compare.ts) and
// the event trigger's follow of a table's parts (partsFollow.ts) read it back through partsOf.
import { createHash } from 'node:crypto';
import type { SchemaObject } from './catalog';

/** A recorded identity read back. */
export interface TargetIdentity {
  readonly relation: string;
  readonly object: string;
  readonly digest: string;
}

/**
 * The identity of a part of a relation. Not a column's (its OID is its table's: columns are told by
 * attnum) nor a comment's; objects of their own (tables, views, functions, types) have none, as
 * nothing tells pgferry's own making them again from someone else's.
 */
export function targetIdentity(t: SchemaObject): string | undefined {
  if (t.relation === null || t.kind === 'column' || t.kind === 'comment') return undefined;
  const props = JSON.stringify(
    Object.keys(t.props)
      .sort()
      .map((k) => [k, t.props[k]]),
  );
  return `${t.ownerObjectId}:${t.objectId}:${createHash('sha256').update(props).digest('hex').slice(0, 16)}`;
}

/** An identity's parts; undefined for none. */
export function partsOf(identity: string | undefined): TargetIdentity | undefined {
  if (identity === undefined) return undefined;
  const [relation = '', object = '', digest = ''] = identity.split(':');
  return { relation, object, digest };
}
