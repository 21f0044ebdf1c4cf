// Partitions attached and detached on the source while changes stream (issue 49), followed on the
// target. The publication lists every partition by name and does not publish via the root
// (cdc/prepare/publication.ts), so each row arrives under the partition that holds it on the source,
// and is written to that table on the target directly: where a table hangs in the target's tree
// does not decide where its rows go. It only decides which rows the target's partitions accept (a
// row written into a partition directly must fit its partition constraint), and what the schema
// check compares at cutover.
//
// When the target follows:
// - a DETACH on the source loosens what it constrains: the detached table accepts any row, and the
//   default partition now takes the detached range (a row the source routes there after the DETACH
//   arrives under the default partition's name, and the target's default partition refuses it
//   while the old partition is still attached there). So the target must detach before that row,
//   and it may detach earlier: a detach only loosens constraints, and every row still goes where
//   the source put it. The DETACH commits a relcache invalidation of the detached table and of
//   the parent's default partition, so pgoutput sends a Relation message for each before its next
//   change; the applier follows the tree at every Relation message of a table that is a partition
//   on the target (partitionFollower.ts), inside its open transaction, before that change: exact. A
//   step the target refuses there (a foreign key still referencing the detached rows, because the
//   source's catalog read now is ahead of the stream) is rolled back alone and tried again at the
//   next one, and at the cutover.
// - an ATTACH on the source only tightens: until the target attaches too, its tables accept more
//   than the source's, and rows still go where the source put them. It is followed at the same
//   points; one whose rows do not fit yet (the stream is behind) is tried again later.
// - at the cutover, after the drain, when the target holds exactly what the source held at the
//   marker, the whole tree is followed once more (followPartitionTree), then the schema check
//   compares it: a step that still fails is a difference that stops the cutover with its fix.
// Only tables on both servers are moved: a table created or dropped on one side is not this
// module's (the schema check names it).
// - a parent renamed on the source (same OID, new name) and not yet renamed on the target: its
//   partitions hang under the new name on the source and the old one on the target, and the
//   target has no table of the new name to attach them to. The tree is the same one, so they are
//   left where they are, and the online flow's rename (flow/tableDropsFollow.ts) carries them to
//   the new name; detached now, they would stay detached until the next look. Which target table
//   the copy made of which source parent is the copy's record (control/copyItems.ts), by source
//   OID: a parent the source dropped, its partition moved under a new table, is not the same
//   one, and the partition is detached as before, so the parent's drop never takes it along.
import type pg from 'pg';
import { qualified } from '../../connect/quote';
import { qualifiedKey } from '../../core/names';
import { IN_FAILED_SQL_TRANSACTION, sqlState } from '../../connect/sqlstate';
import { errorMessage } from '../../core/errors';
import { inTransaction } from '../../connect/transaction';

/**
 * Every partition, attached, with its parent and bound (pg_get_expr prints `FOR VALUES ...` or
 * `DEFAULT`), and which of the tables named are tables there (plain or partitioned): one statement
 * reading the catalog's rows, so both come from one snapshot. pg_get_expr looks the table up afresh:
 * it gives no bound for a partition dropped since the snapshot, which is then left out, as a
 * partition and as a table.
 */
const TREE_SQL = `
SELECT coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                  'schema', n.nspname, 'name', c.relname, 'parentSchema', pn.nspname, 'parent', p.relname,
                  'parentOid', p.oid::text, 'bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid)))
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
           JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
           JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
          WHERE c.relispartition AND c.relkind IN ('r', 'p')), '[]') AS partitions,
       coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object('schema', t.schema, 'name', t.name))
           FROM unnest($1::text[], $2::text[]) AS t(schema, name)
          WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = t.schema AND c.relname = t.name AND c.relkind IN ('r', 'p'))), '[]') AS tables`;

export interface PartitionLink {
  readonly schema: string;
  readonly name: string;
  readonly parentSchema: string;
  readonly parent: string;
  /** The parent's OID on the server read (absent where a caller builds a link by hand). */
  readonly parentOid?: string;
  readonly bound: string;
}

/**
 * The partitioned tables the copy made on the target: source OID to the name it gave them
 * (qualifiedKey), as the copy's plan recorded them.
 */
export type ParentsCopied = ReadonlyMap<string, string>;

/** One server's tree, and which of the names asked about are tables there. */
interface Tree {
  readonly partitions: readonly PartitionLink[];
  readonly tables: ReadonlySet<string>;
}

export interface PartitionStep {
  readonly kind: 'detach' | 'attach';
  readonly table: string;
  readonly statement: string;
}

const key = (l: TableName): string => qualified(l.schema, l.name);
const parentKey = (l: PartitionLink): string => qualified(l.parentSchema, l.parent);

/** A table by schema and name, as the tree names its tables and their parents. */
interface TableName {
  readonly schema: string;
  readonly name: string;
}

async function readTree(client: pg.Client, names: readonly TableName[]): Promise<Tree> {
  const { rows } = await client.query<{
    partitions: (PartitionLink | (Omit<PartitionLink, 'bound'> & { bound: null }))[];
    tables: TableName[];
  }>(TREE_SQL, [names.map((n) => n.schema), names.map((n) => n.name)]);
  const partitions = rows[0]!.partitions.filter((l): l is PartitionLink => l.bound !== null);
  // dropped since the snapshot: neither a partition nor a table, until the next look
  const gone = new Set(rows[0]!.partitions.filter((l) => l.bound === null).map(key));
  return { partitions, tables: new Set(rows[0]!.tables.map(key).filter((k) => !gone.has(k))) };
}

export async function readPartitions(client: pg.Client): Promise<readonly PartitionLink[]> {
  return (await readTree(client, [])).partitions;
}

/**
 * Whether the target's link `t` is the source's `s` under its parent's old name: the same bound,
 * the source's parent missing on the target under its new name, and the target's parent the table
 * the copy made of the source's parent (by its source OID).
 */
function parentRenamed(s: PartitionLink, t: PartitionLink, onTarget: ReadonlySet<string>, copied: ParentsCopied): boolean {
  if (s.bound !== t.bound || onTarget.has(parentKey(s)) || s.parentOid === undefined) return false;
  return copied.get(s.parentOid) === qualifiedKey(t.parentSchema, t.parent);
}

/**
 * Pure: the target's steps to hang its tables as the source does, detaches first. `onSource` and
 * `onTarget`: which of the tables involved exist there (a table on one side only is left alone).
 * `copied`: the parents the copy made on the target; a partition whose parent the source renamed
 * and the target has not yet is left where it is (the rename carries it).
 */
export function partitionSteps(
  source: readonly PartitionLink[],
  target: readonly PartitionLink[],
  onSource: ReadonlySet<string>,
  onTarget: ReadonlySet<string>,
  copied: ParentsCopied = new Map(),
): PartitionStep[] {
  const bySource = new Map(source.map((l) => [key(l), l]));
  const byTarget = new Map(target.map((l) => [key(l), l]));
  const same = (a: PartitionLink, b: PartitionLink) => parentKey(a) === parentKey(b) && a.bound === b.bound;
  const steps: PartitionStep[] = [];
  for (const [table, t] of byTarget) {
    const s = bySource.get(table);
    if (s ? same(s, t) || parentRenamed(s, t, onTarget, copied) : !onSource.has(table)) continue;
    steps.push({ kind: 'detach', table, statement: `ALTER TABLE ${parentKey(t)} DETACH PARTITION ${table}` });
  }
  for (const [table, s] of bySource) {
    const t = byTarget.get(table);
    if (t && same(s, t)) continue;
    if (!onTarget.has(table) || !onTarget.has(parentKey(s))) continue;
    steps.push({ kind: 'attach', table, statement: `ALTER TABLE ${parentKey(s)} ATTACH PARTITION ${table} ${s.bound}` });
  }
  return steps;
}

/**
 * The steps that make the target's partition tree the source's, as read now on both. Each side's
 * tree and which tables it has come from one statement: read apart, a partition the source made
 * between the two reads would look like a table it had detached, and the target's partition of
 * that name would be detached. The target's partitions are read first only to name what to ask
 * the source about; the plan uses the target as its later read has it (a partition made on the
 * target in between is not asked about, so it is left alone).
 */
export async function planPartitionTree(
  source: pg.Client,
  target: pg.Client,
  parentsCopied?: () => Promise<ParentsCopied>,
): Promise<PartitionStep[]> {
  const s = await readTree(source, await readPartitions(target));
  const parents = s.partitions.map((l) => ({ schema: l.parentSchema, name: l.parent }));
  const t = await readTree(target, [...s.partitions, ...parents]);
  const onSource = new Set([...s.tables, ...s.partitions.map(key)]);
  const onTarget = new Set([...t.tables, ...t.partitions.map(key)]);
  // the copy's record is read only when a partition of the target hangs, on the source, under a
  // parent the target has no table of (a rename not followed yet, or a parent made since)
  const onTargetUnder = new Map(t.partitions.map((l) => [key(l), parentKey(l)]));
  const unmatched = s.partitions.some((l) => onTargetUnder.has(key(l)) && !onTarget.has(parentKey(l)));
  const copied = unmatched && parentsCopied ? await parentsCopied() : undefined;
  return partitionSteps(s.partitions, t.partitions, onSource, onTarget, copied);
}

export interface TreeResult {
  readonly done: readonly PartitionStep[];
  /** Steps the target refused, each with its error: tried again later, or left to the schema check. */
  readonly refused: readonly { readonly step: PartitionStep; readonly error: string }[];
}

/**
 * Runs the steps on `target` inside its open transaction, each under a savepoint, so one the target
 * refuses is undone alone and the transaction goes on. A transaction already failed is not hidden.
 */
export async function runPartitionSteps(target: pg.Client, steps: readonly PartitionStep[]): Promise<TreeResult> {
  const done: PartitionStep[] = [];
  const refused: { step: PartitionStep; error: string }[] = [];
  for (const step of steps) {
    await target.query('SAVEPOINT pgferry_partition');
    try {
      await target.query(step.statement);
      await target.query('RELEASE SAVEPOINT pgferry_partition');
      done.push(step);
    } catch (error) {
      if (sqlState(error) === IN_FAILED_SQL_TRANSACTION) throw error;
      await target.query('ROLLBACK TO SAVEPOINT pgferry_partition');
      refused.push({ step, error: errorMessage(error) });
    }
  }
  return { done, refused };
}

/** The cutover's look, after the drain: the whole tree followed in one target transaction of its own. */
export async function followPartitionTree(
  source: pg.Client,
  target: pg.Client,
  parentsCopied?: () => Promise<ParentsCopied>,
): Promise<TreeResult> {
  const steps = await planPartitionTree(source, target, parentsCopied);
  if (steps.length === 0) return { done: [], refused: [] };
  return inTransaction(target, () => runPartitionSteps(target, steps));
}
