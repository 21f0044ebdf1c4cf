// The apply session's following of the partition tree at the relation message (partitionTree.ts
// plans and runs the steps): the target's tree made the source's before the change that follows,
// the partitioned root on which a partition's shape is followed, and the stop, naming the rename,
// of a partition renamed where the stream comes from. It works on the session's connections and
// target tables, given by the shape follow that composes it (shapeFollower.ts).
import { displayName, ident, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { planPartitionTree, runPartitionSteps } from './partitionTree';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { TargetDdl } from './targetDdl';
import type { TargetTable } from '../plan/types';
import type { Relation } from '../decode/changeEvents';

/** A partition's topmost partitioned ancestor and that root's leaves (quoted as quote.ts's qualified); no row for a table that is no partition. */
const PARTITION_ROOT_SQL = `
WITH RECURSIVE up AS (
  SELECT c.oid, 0 AS depth FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1) AND c.relispartition
  UNION ALL
  SELECT i.inhparent, up.depth + 1 FROM up
    JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.oid
    JOIN pg_catalog.pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
), root AS (SELECT oid FROM up ORDER BY depth DESC LIMIT 1),
down AS (
  SELECT oid FROM root
  UNION ALL
  SELECT i.inhrelid FROM down JOIN pg_catalog.pg_inherits i ON i.inhparent = down.oid
)
SELECT n.nspname AS schema, c.relname AS name,
       ARRAY(SELECT '"' || pg_catalog.replace(ln.nspname, '"', '""') || '"."' || pg_catalog.replace(l.relname, '"', '""') || '"' FROM down JOIN pg_catalog.pg_class l ON l.oid = down.oid
               JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace WHERE l.relkind <> 'p') AS leaves
  FROM root JOIN pg_catalog.pg_class c ON c.oid = root.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE root.oid <> pg_catalog.to_regclass($1)`;

/** A partition's root (its parent, as the stream names partitions under their own name) and bounds, by OID. */
const PARTITION_BOUNDS_SQL = `
SELECT pn.nspname AS root_schema, p.relname AS root, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bounds
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
  JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
 WHERE c.oid = $1 AND c.relispartition`;

/** The partition of a parent (by its qualified name) with the given bounds. */
const SAME_BOUNDS_SQL = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE i.inhparent = pg_catalog.to_regclass($1) AND c.relispartition
   AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) = $2`;

/** A session's partition tree followed at its relation messages, over its connections and target tables. */
export class PartitionFollower {
  constructor(
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    private readonly ddl: TargetDdl,
    /** The session's target tables by relation OID (shapeFollower.ts): a table moved in the tree is read again. */
    private readonly tables: Map<number, TargetTable>,
  ) {}

  /**
   * Step, after a relation message of a table that is a partition on the target, in a source
   * transaction not applied before (the apply loop skips the others): the target's partition tree
   * made the source's, inside the open transaction and before the change that follows
   * (partitionTree.ts says why this point is exact). A step the target refuses now is tried again
   * at the next such message, and at the cutover.
   */
  async follow(relation: Relation): Promise<void> {
    if (this.tables.get(relation.oid)?.partition !== true) return;
    await this.connections.txn.flush();
    await this.connections.txn.begin();
    const steps = await planPartitionTree(await this.connections.sourceSession(), this.connections.target, this.state.parentsCopied);
    if (steps.length === 0) return;
    this.connections.forgetTablesAhead();
    const { done } = await runPartitionSteps(this.connections.target, steps);
    // the moved tables' Relation facts (partition or not) are read again at their next message
    for (const step of done) {
      for (const [oid, table] of this.tables) if (qualified(table.schema, table.name) === step.table) this.tables.delete(oid);
    }
  }

  /**
   * Of a table that is a partition on the target, its partitioned root there and the root's leaf
   * partitions (as the stream names them); undefined for any other table. A partitioned table's
   * shape is followed on its root: PostgreSQL refuses a column added to, dropped from or retyped on
   * a partition, and a change made on the root reaches every partition as it did on the source.
   */
  async rootOf(relation: Relation): Promise<{ schema: string; name: string; leaves: string[] } | undefined> {
    if (this.ddl.pending) await this.ddl.settled();
    const { rows } = await this.connections.target.query<{ schema: string; name: string; leaves: string[] }>(PARTITION_ROOT_SQL, [
      qualified(relation.schema, relation.name),
    ]);
    return rows[0];
  }

  /**
   * A partition the target lacks under the name the stream gives, whose root on the target has a
   * partition of the same bounds under another name: renamed where the stream comes from (a
   * partition manager's or a DBA's rename; on the new server during a fallback window, the reverse
   * stream). Its rows are not written through the bounds into the other name: the comparison of a
   * switchover would then stop on the names, and a rename pgferry made on its own on a server the
   * user writes is a DDL it was not asked for. The stop names the rename and the statement that
   * follows it; undefined when the bounds match no partition there.
   */
  async renamed(relation: Relation): Promise<PgferryError | undefined> {
    const source = await this.connections.sourceSession();
    const { rows } = await source.query<{ root_schema: string; root: string; bounds: string }>(PARTITION_BOUNDS_SQL, [relation.oid]);
    const part = rows[0];
    if (!part) return undefined;
    const { rows: same } = await this.connections.target.query<{ schema: string; name: string }>(SAME_BOUNDS_SQL, [
      qualified(part.root_schema, part.root),
      part.bounds,
    ]);
    const there = same[0];
    if (!there) return undefined;
    const [from, to] = this.state.carriedBack ? ['the new server', 'the old source'] : ['the source', 'the target'];
    const was = qualified(there.schema, there.name);
    return new PgferryError(
      'CDC_TABLE_MISSING',
      `partition ${displayName(relation.schema, relation.name)} of ${displayName(part.root_schema, part.root)} (${part.bounds}) is ${displayName(there.schema, there.name)} on ${to}: it was renamed on ${from}, and ${to} has no table of the new name`,
      {
        category: 'target',
        fix: `rename it on ${to} too (ALTER TABLE ${was} RENAME TO ${ident(relation.name)}${there.schema === relation.schema ? '' : `, and SET SCHEMA ${ident(relation.schema)}`}), or rename it back on ${from}; the stream is tried again by itself and applies its rows once`,
      },
    );
  }
}
