// Groups row changes into multi-row statements. Per table, commit order is kept exactly: a group
// grows while the statement shape (operation, set of columns) stays the same and no row touches a
// key the group already holds (one UPDATE ... FROM (VALUES) cannot apply two changes to one row);
// any other change of that table closes its group first.
// Across tables, `perTable` keeps one open group per table, so the common OLTP transaction
// (update a row here, insert two there) still yields multi-row statements. That reorders changes of
// DIFFERENT tables inside one target transaction, which is only invisible when nothing checks
// across tables mid-transaction: the applier turns it on only under session_replication_role =
// replica (no foreign-key or user triggers fire). Pure: no IO.
import type { RowOp } from './normalizer';
import { UNCHANGED, type Tuple, type TupleValue } from './pgoutput';
import {
  deleteStatement,
  fullIdentityStatement,
  insertStatement,
  updateStatement,
  type Param,
  type Statement,
  type TargetTable,
} from './statements';

export interface RowChange {
  readonly op: RowOp;
  readonly table: TargetTable;
  readonly identity?: Tuple;
  readonly values?: Tuple;
}

export interface PlannerLimits {
  /** One open group per table (see above); false keeps one global order. */
  readonly perTable?: boolean;
  /** Rows per statement. */
  readonly maxRows: number;
  /** Parameters per statement (the protocol allows 65,535). */
  readonly maxParams: number;
  /** Approximate bytes of parameter text per statement. */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: PlannerLimits = { maxRows: 2000, maxParams: 30_000, maxBytes: 8 * 1024 * 1024, perTable: true };

interface Group {
  readonly shape: string;
  readonly op: RowOp;
  readonly table: TargetTable;
  readonly keyCols: readonly number[];
  readonly cols: readonly number[];
  readonly rows: Param[][];
  readonly keys: Set<string>;
  params: number;
  bytes: number;
}

function param(value: TupleValue | undefined, what: string): Param {
  if (value === UNCHANGED) throw new Error(`${what} is an unchanged TOAST value and cannot identify a row`);
  return value ?? null;
}

const sizeOf = (row: readonly Param[]): number => row.reduce((n, v) => n + (v === null ? 1 : v.length + 8), 16);

export class BatchPlanner {
  private readonly groups = new Map<number, Group>();
  private held = 0;

  constructor(private readonly limits: PlannerLimits = DEFAULT_LIMITS) {}

  /** Bytes of parameter text held in open groups. */
  get pendingBytes(): number {
    return this.held;
  }

  get pendingRows(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.rows.length;
    return n;
  }

  /** Adds a change; returns the statements that must run before it, in order (possibly none). */
  add(change: RowChange): Statement[] {
    const { table } = change;
    const out: Statement[] = [];
    if (!this.limits.perTable && this.groups.size > 0 && !this.groups.has(table.oid)) out.push(...this.flush());
    if (table.identityFull && change.op !== 'insert') {
      const old = change.identity ?? change.values;
      if (!old) throw new Error(`${change.op} on ${table.schema}.${table.name} without old values`);
      return [...out, ...this.flushTable(table.oid), fullIdentityStatement(table, change.op, old, change.values)];
    }
    const keyCols = change.op === 'insert' ? [] : table.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    if (change.op !== 'insert' && keyCols.length === 0) {
      throw new Error(`${change.op} on ${table.schema}.${table.name}, which has no replica identity columns`);
    }
    const values = change.values ?? [];
    const cols = change.op === 'delete' ? [] : values.flatMap((v, i) => (v === UNCHANGED ? [] : [i]));
    const shape = `${change.op}|${cols.join(',')}`;
    const label = (i: number): string => `key column "${table.columns[i]!.name}" of ${table.schema}.${table.name}`;
    const oldKey = keyCols.map((i) => param((change.identity ?? values)[i], label(i)));
    const row: Param[] = [...oldKey, ...cols.map((i) => values[i] as Param)];
    const keyStrings = change.op === 'insert' ? [] : [JSON.stringify(oldKey)];
    if (change.op === 'update') {
      keyStrings.push(JSON.stringify(keyCols.map((i) => (values[i] === UNCHANGED ? oldKey[keyCols.indexOf(i)] : values[i]) ?? null)));
    }
    const g = this.groups.get(table.oid);
    if (
      g &&
      (g.shape !== shape ||
        g.rows.length >= this.limits.maxRows ||
        g.params + row.length > this.limits.maxParams ||
        g.bytes >= this.limits.maxBytes ||
        keyStrings.some((k) => g.keys.has(k)))
    ) {
      out.push(...this.flushTable(table.oid));
    }
    // all open groups together stay within one statement's byte budget
    if (this.held >= this.limits.maxBytes) out.push(...this.flush());
    let open = this.groups.get(table.oid);
    if (!open) {
      open = { shape, op: change.op, table, keyCols, cols, rows: [], keys: new Set(), params: 0, bytes: 0 };
      this.groups.set(table.oid, open);
    }
    const size = sizeOf(row);
    open.rows.push(row);
    open.params += row.length;
    open.bytes += size;
    this.held += size;
    for (const k of keyStrings) open.keys.add(k);
    return out;
  }

  /** Closes every open group: their statements (table by table), or nothing. */
  flush(): Statement[] {
    const out: Statement[] = [];
    for (const oid of [...this.groups.keys()]) out.push(...this.flushTable(oid));
    return out;
  }

  private flushTable(oid: number): Statement[] {
    const g = this.groups.get(oid);
    if (!g) return [];
    this.groups.delete(oid);
    this.held -= g.bytes;
    if (g.rows.length === 0) return [];
    switch (g.op) {
      case 'insert':
        return [insertStatement(g.table, g.cols, g.rows)];
      case 'update':
        if (g.cols.length === 0) return []; // nothing but unchanged TOAST values: no-op
        return [updateStatement(g.table, g.keyCols, g.cols, g.rows)];
      case 'delete':
        return [deleteStatement(g.table, g.keyCols, g.rows)];
    }
  }
}
