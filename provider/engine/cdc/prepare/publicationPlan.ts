// Which source tables pgferry's publication lists, which streamed tables lack a usable replica
// identity, and which tables are not streamed: pure decisions over the judged catalog
// (catalog/identityVerdict.ts), shared by the start of streaming and the table watch.
//
// The publication is an explicit list, never FOR ALL TABLES: a table the application creates
// later is not published behind its back (its first UPDATE would fail on the source if it had no
// key). A partitioned table is listed itself (PostgreSQL 13+) only when its own primary key is
// usable: a partition created or attached later then gets that key and is published at once, as
// a member of its listed root, and followed onto the target (flow/tableResync.ts). Any other
// partitioned table has its partitions listed one by one, so a partition added later is a new
// table like any other, published by nobody until the resync that follows it publishes it.
//
// Every partition is listed by name as well, and the publication does not publish via the root
// (publication.ts): pgoutput then sends each partition's changes under the partition's own name,
// TRUNCATE of one partition or of a sub-partitioned branch included (published via its root,
// pgoutput drops those: pgoutput_truncate skips a partition whose changes go out as its
// ancestor's). Listed by name, a partition detached on the source stays published as the table it
// has become, so its later rows are not lost between the DETACH and the next scan.
import type { SourceRelation } from '../../catalog/identityVerdict';

export interface PlanOptions {
  /** A partitioned table can be listed (PostgreSQL 13+); before, only its partitions can. */
  readonly viaRoot: boolean;
}

interface UnstreamedTable {
  readonly relation: SourceRelation;
  readonly reason: string;
}

export interface PublicationPlan {
  /** What the publication lists: ordinary tables, every partition, and partitioned roots whose key every partition inherits. */
  readonly publish: readonly SourceRelation[];
  /** Streamed tables whose UPDATE and DELETE fail under a publication unless they get REPLICA IDENTITY FULL. */
  readonly withoutIdentity: readonly SourceRelation[];
  /** Tables whose changes logical decoding cannot see. */
  readonly unstreamable: readonly UnstreamedTable[];
}

/** The topmost partitioned ancestor of a partition (itself for anything else). */
export function rootOf(relation: SourceRelation, byOid: ReadonlyMap<string, SourceRelation>): SourceRelation {
  let current = relation;
  for (let parent = byOid.get(current.parent ?? ''); parent; parent = byOid.get(parent.parent ?? '')) current = parent;
  return current;
}

/** A partitioned table that may be listed itself: every partition, present or future, inherits its usable key. */
function publishedViaRoot(root: SourceRelation, options: PlanOptions): boolean {
  return options.viaRoot && root.partitioned && !root.unlogged && root.identity.kind === 'primary-key';
}

/** Tables that hold rows (not partitioned parents): what is streamed or not. */
function holdsRows(relation: SourceRelation): boolean {
  return !relation.partitioned;
}

/** Pure: the publication for a database's tables as they are now. */
export function planPublication(relations: readonly SourceRelation[], options: PlanOptions): PublicationPlan {
  const publish: SourceRelation[] = [];
  const withoutIdentity: SourceRelation[] = [];
  const unstreamable: UnstreamedTable[] = [];
  for (const relation of relations) {
    if (relation.partitioned) {
      if (relation.parent === undefined && publishedViaRoot(relation, options)) publish.push(relation);
      continue;
    }
    if (relation.unlogged) {
      unstreamable.push({ relation, reason: 'it is unlogged: logical decoding does not see its changes' });
      continue;
    }
    publish.push(relation);
    if (relation.identity.kind === 'none') withoutIdentity.push(relation);
  }
  return { publish, withoutIdentity, unstreamable };
}

/** The relation whose publication membership streams this table's changes (itself or its partitioned root), if any. */
export function streamedAs(
  relation: SourceRelation,
  byOid: ReadonlyMap<string, SourceRelation>,
  options: PlanOptions,
): SourceRelation | undefined {
  if (relation.published) return relation;
  if (relation.parent === undefined || !options.viaRoot) return undefined;
  const root = rootOf(relation, byOid);
  return root.published ? root : undefined;
}

export interface TableReview {
  /** Streamed tables that have no usable replica identity (any more): their UPDATE and DELETE fail on the source. */
  readonly lostIdentity: readonly { readonly relation: SourceRelation; readonly publishedAs: SourceRelation }[];
  /** Tables neither streamed nor already reported: created (or attached) after the migration started. */
  readonly newTables: readonly SourceRelation[];
}

/**
 * Pure: what the table watch must act on, given the tables already reported as not streamed
 * (by OID). A streamed table is one the publication lists, or a partition of a listed root.
 */
export function reviewTables(relations: readonly SourceRelation[], reported: ReadonlySet<string>, options: PlanOptions): TableReview {
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const lostIdentity: { relation: SourceRelation; publishedAs: SourceRelation }[] = [];
  const newTables: SourceRelation[] = [];
  for (const relation of relations.filter(holdsRows)) {
    // an unlogged table is never decoded, even as a partition of a published table: no key needed
    const publishedAs = relation.unlogged ? undefined : streamedAs(relation, byOid, options);
    if (publishedAs) {
      if (relation.identity.kind === 'none') lostIdentity.push({ relation, publishedAs });
    } else if (!reported.has(relation.oid)) {
      newTables.push(relation);
    }
  }
  return { lostIdentity, newTables };
}

/**
 * Pure: why a table created after the migration started is not streamed, and what would keep it
 * from being published safely. Following new tables (creating them on the target, copying and
 * streaming them) starts here: a table with no blocker is the one that could be published.
 */
export function newTableReason(relation: SourceRelation, allowFull: boolean, partitionOf?: SourceRelation): string {
  const what = partitionOf ? `partition of ${partitionOf.display} ` : '';
  const blockers: string[] = [];
  if (relation.unlogged) blockers.push('it is unlogged');
  if (relation.identity.kind === 'none' && !allowFull) blockers.push(`${relation.identity.flaw} (allowReplicaIdentityFull is off)`);
  if (!relation.owned) blockers.push(`the source user does not own it (owner ${relation.owner})`);
  const tail = blockers.length > 0 ? `; it could not be published safely either: ${blockers.join('; ')}` : '';
  return `${what}created on the source after the migration started: pgferry streams only the tables it copied${tail}`;
}
