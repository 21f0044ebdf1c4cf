// Which rows the apply changed in each table since that table was last verified at a pinned
// position (verify/background.ts): the cutover then re-checks those keys only, not the table.
// Only tables pinned by this runner are tracked (a table it never pinned has no entry and is
// checked whole), so a restart can only make the cutover check more, never less. A table whose
// shape changed while streaming (a column added, dropped, retyped) is checked whole for good: its
// pinned verification compared rows of another shape, and the values a followed column got on the
// target's existing rows are no key's change. Pure.
import { qualified } from '../../connect/quote';
import { UNCHANGED, type Tuple } from '../decode/tuple';
import type { RowChange, TargetColumn, TargetTable } from './types';

/**
 * Keys held per table before it counts as changed wholesale (checked whole at cutover, and first in
 * line for the next background pass). About 100 bytes a key: 20 MB per table at most.
 */
const MAX_TRACKED_KEYS = 200_000;

export interface TableChanges {
  /** The pinned position this entry counts from (its verification's verified_lsn). */
  readonly since: bigint;
  /** Each changed key as its columns' text, JSON-encoded; 'all': too many, a TRUNCATE, or rows without a usable key. */
  keys: Set<string> | 'all';
  /** The table is a partition: a root published for it delivers its rows under the root's name. */
  readonly isPartition: boolean;
  /** The key columns the keys are made of (set with the first key). */
  keyColumns?: readonly TargetColumn[];
}

export class ChangeTracker {
  private readonly tables = new Map<string, TableChanges>();
  /**
   * Tables (quoted qualified names, as the stream names them) being resynchronised
   * (flow/tableResync.ts): their changes are not applied until the pin the copy is taken at, whose
   * snapshot holds them; taken out of the set while the apply waits at that pin. Here because it
   * outlives appliers, as the keys do: a restarted stream skips them too.
   */
  readonly resyncing = new Set<string>();
  /** Tables (quoted qualified names) whose shape changed while this runner streamed. */
  private readonly reshapedTables = new Set<string>();
  /** A partitioned table's shape changed: every partition's did (or may have). */
  private partitionsReshaped = false;

  /** The table is verified at `since`: its changes count from there. Called while the apply is held at that position. */
  startAt(table: string, since: bigint, isPartition: boolean): void {
    this.tables.set(table, { since, keys: new Set(), isPartition });
  }

  forget(table: string): void {
    this.tables.delete(table);
  }

  entry(table: string): TableChanges | undefined {
    return this.tables.get(table);
  }

  get size(): number {
    return this.tables.size;
  }

  /**
   * The table's shape changed while streaming (a relation message whose columns differ from the
   * previous one or from the target's table). `partitioned`: whether it is a partitioned table;
   * undefined when not known, which counts as partitioned. Kept through later pins (startAt).
   */
  reshaped(table: string, partitioned: boolean | undefined): void {
    this.reshapedTables.add(table);
    if (partitioned !== false) this.partitionsReshaped = true;
  }

  /** Whether the table's shape changed while this runner streamed: then the cutover reads it whole. */
  wasReshaped(table: string): boolean {
    return this.reshapedTables.has(table) || (this.partitionsReshaped && this.tables.get(table)?.isPartition === true);
  }

  /** Tables whose changes are only known wholesale: the background verifier takes them first. */
  wholesale(): string[] {
    return [...this.tables].filter(([, e]) => e.keys === 'all').map(([t]) => t);
  }

  /** A row change the apply is about to send. */
  rowChanged(change: RowChange): void {
    if (this.tables.size === 0) return;
    const { table } = change;
    if (table.partitioned) this.partitionsWholesale();
    const entry = this.tables.get(qualified(table.schema, table.name));
    if (!entry || entry.keys === 'all') return;
    const keys = entry.keys;
    const before = change.identity && keyOf(table, change.identity);
    const after = change.values && keyOf(table, change.values);
    if (before === null || after === null || (before === undefined && after === undefined)) {
      entry.keys = 'all';
      return;
    }
    entry.keyColumns ??= table.columns.filter((c) => c.isKey);
    if (before !== undefined) keys.add(before);
    if (after !== undefined) keys.add(after);
    if (keys.size > MAX_TRACKED_KEYS) entry.keys = 'all';
  }

  /** A TRUNCATE: every tracked table it names counts as changed wholesale. */
  truncated(tables: readonly TargetTable[]): void {
    for (const table of tables) {
      if (table.partitioned) this.partitionsWholesale();
      const entry = this.tables.get(qualified(table.schema, table.name));
      if (entry) entry.keys = 'all';
    }
  }

  /** Rows of a partitioned table may land in any partition: no partition's keys are known any more. */
  private partitionsWholesale(): void {
    for (const entry of this.tables.values()) if (entry.isPartition) entry.keys = 'all';
  }
}

/**
 * The key of a row as the JSON array of its key columns' text; null when it cannot be told (a
 * table matched by all its columns, a key value the server did not send). Parallel apply's
 * routing weighs rows by it too (apply/applyLanes.ts).
 */
export function keyOf(table: TargetTable, tuple: Tuple): string | null {
  if (table.identityFull) return null;
  const parts: (string | null)[] = [];
  table.columns.forEach((column, i) => {
    if (!column.isKey) return;
    const value = tuple.value(i);
    parts.push(value === UNCHANGED ? '\u0000' : value);
  });
  if (parts.length === 0 || parts.includes('\u0000')) return null;
  return JSON.stringify(parts);
}
