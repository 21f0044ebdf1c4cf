// A table's children on the target (its partitions, and its inheritance children), looked at
// before the table is dropped because the source dropped it (flow/tableDropsFollow.ts).
// PostgreSQL drops a partitioned table's partitions with it, all the way down a sub-partitioned
// tree: it records them as automatic dependents, so targetDependents, which reads the normal ones,
// never lists them. It refuses to drop a table that has inheritance children without CASCADE.
//
// A partition goes with its parent only when the migration knows it as its own
// (control/knownObjects.ts) and the source has no relation under its name any more: the source
// dropped it with its parent. What depends on such a partition is judged as what depends on the
// table (flow/tableDropsFollow.ts): anything pgferry did not make holds the drop back. Every other child is detached first, in the drop's transaction, and
// kept with its rows: a partition a DBA made and attached on the target alone, one under a name the
// filters leave out, one the source detached before the drop (the stream follows a detach only at
// the partition's next change, so the target may still hold it attached), and every inheritance
// child (NO INHERIT: the source made it a table of its own, which is then mirrored, or dropped it,
// which the child's own follow then follows with its own dependents' check). A kept child keeps
// its own children with it.
//
// Detached rather than keeping the whole parent: what a DBA cares about in such a child is its rows
// and its definition, and both are kept whole; the parent is the source's to drop, and a parent kept
// for a child's sake would be a table the source no longer has, on which the cutover stops. The
// follow's event names every child detached, and why.
import type pg from 'pg';
import { displayName, qualified } from '../connect/quote';
import { schemaObjectKey } from '../core/names';

/** One child of a table in the tree below it on the target, with the parent it hangs from. */
export interface TableChild {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly parentSchema: string;
  readonly parent: string;
  /** A partition (else an inheritance child). */
  readonly partition: boolean;
}

/** Every child below the table of OID `$1`, each with its parent, sub-partitions too. */
const CHILDREN_SQL = `
WITH RECURSIVE tree AS (
  SELECT i.inhrelid AS child, i.inhparent AS parent FROM pg_catalog.pg_inherits i WHERE i.inhparent = $1::pg_catalog.oid
  UNION
  SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.child
)
SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, pn.nspname AS "parentSchema", p.relname AS parent, c.relispartition AS partition
  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.child JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_class p ON p.oid = tree.parent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
 ORDER BY 1, 2, 3, 4`;

/** The children below a table (by OID) on the target, read once the drop holds the table's lock. */
export async function tableChildren(client: pg.Client, table: string): Promise<TableChild[]> {
  const { rows } = await client.query<TableChild>(CHILDREN_SQL, [table]);
  return rows;
}

/**
 * Which of the tables named a server has a relation under, qualified: read on the source, for the
 * known partitions only (a partition the migration does not know is kept whatever the source has).
 */
export async function relationsNamed(
  client: pg.Client,
  tables: readonly { readonly schema: string; readonly name: string }[],
): Promise<Set<string>> {
  if (tables.length === 0) return new Set();
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name FROM unnest($1::text[], $2::text[]) AS t(schema, name)
      WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = t.schema AND c.relname = t.name)`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Set(rows.map((r) => qualified(r.schema, r.name)));
}

/** Why a child is kept. */
type KeptBecause = 'not made by pgferry' | 'a table of its own on the source' | 'an inheritance child';

/** A child detached before its parent is dropped, and the statement that detaches it. */
export interface KeptChild {
  readonly child: TableChild;
  readonly because: KeptBecause;
  readonly statement: string;
}

/** The known-objects key of a table (a partition is a table there too). */
export function tableKey(t: { readonly schema: string; readonly name: string }): string {
  return schemaObjectKey('table', t.schema, null, t.name, null);
}

/** What a table's drop does with its children: those detached first and kept, and those that go with it. */
export interface ChildrenFate {
  readonly kept: readonly KeptChild[];
  readonly going: readonly TableChild[];
}

/**
 * Pure: the children to detach before the table `root` is dropped, parents before their children's
 * turn, and those that go with it. `known`: the migration's known objects; `onSource`: the tables
 * (qualified) the source still has. A child that goes takes its children's turn with it; a kept one
 * keeps its own children.
 */
export function childrenFate(
  root: { readonly schema: string; readonly name: string },
  children: readonly TableChild[],
  known: ReadonlyMap<string, unknown>,
  onSource: ReadonlySet<string>,
): ChildrenFate {
  const kept: KeptChild[] = [];
  const going: TableChild[] = [];
  const parents = [qualified(root.schema, root.name)];
  for (let i = 0; i < parents.length; i++) {
    const parent = parents[i]!;
    for (const child of children.filter((c) => qualified(c.parentSchema, c.parent) === parent)) {
      const name = qualified(child.schema, child.name);
      const because = keptBecause(child, known, onSource);
      if (because === undefined) {
        if (parents.includes(name)) continue;
        parents.push(name);
        going.push(child);
        continue;
      }
      const statement = child.partition ? `ALTER TABLE ${parent} DETACH PARTITION ${name}` : `ALTER TABLE ${name} NO INHERIT ${parent}`;
      kept.push({ child, because, statement });
    }
  }
  return { kept, going };
}

function keptBecause(child: TableChild, known: ReadonlyMap<string, unknown>, onSource: ReadonlySet<string>): KeptBecause | undefined {
  if (!child.partition) return 'an inheritance child';
  if (!known.has(tableKey(child))) return 'not made by pgferry';
  if (onSource.has(qualified(child.schema, child.name))) return 'a table of its own on the source';
  return undefined;
}

/** How the follow's event names a kept child. */
export function describeKept(k: KeptChild): string {
  const what = k.child.partition ? 'partition' : 'inheritance child';
  const name = displayName(k.child.schema, k.child.name);
  if (k.because === 'an inheritance child') return `${what} ${name} (made a table of its own: NO INHERIT)`;
  return `${what} ${name} (${k.because})`;
}
