// Groups row changes into multi-row statements in commit order. A group grows while the
// statement shape (operation, table, set of columns) stays the same and no row touches a key the
// group already holds (one UPDATE ... FROM (VALUES) cannot apply two changes to one row); any other
// change closes the group first. Pure: no IO.
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
  /** Rows per statement. */
  readonly maxRows: number;
  /** Parameters per statement (the protocol allows 65,535). */
  readonly maxParams: number;
  /** Approximate bytes of parameter text per statement. */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: PlannerLimits = { maxRows: 2000, maxParams: 30_000, maxBytes: 8 * 1024 * 1024 };

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
  private group: Group | undefined;

  constructor(private readonly limits: PlannerLimits = DEFAULT_LIMITS) {}

  /** Bytes of parameter text held in the open group. */
  get pendingBytes(): number {
    return this.group?.bytes ?? 0;
  }

  get pendingRows(): number {
    return this.group?.rows.length ?? 0;
  }

  /** Adds a change; returns the statements that must run before it, in order (possibly none). */
  add(change: RowChange): Statement[] {
    const { table } = change;
    if (table.identityFull && change.op !== 'insert') {
      const old = change.identity ?? change.values;
      if (!old) throw new Error(`${change.op} on ${table.schema}.${table.name} without old values`);
      return [...this.flush(), fullIdentityStatement(table, change.op, old, change.values)];
    }
    const keyCols = change.op === 'insert' ? [] : table.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    if (change.op !== 'insert' && keyCols.length === 0) {
      throw new Error(`${change.op} on ${table.schema}.${table.name}, which has no replica identity columns`);
    }
    const values = change.values ?? [];
    const cols = change.op === 'delete' ? [] : values.flatMap((v, i) => (v === UNCHANGED ? [] : [i]));
    const shape = `${change.op}|${table.oid}|${cols.join(',')}`;
    const label = (i: number): string => `key column "${table.columns[i]!.name}" of ${table.schema}.${table.name}`;
    const oldKey = keyCols.map((i) => param((change.identity ?? values)[i], label(i)));
    const row: Param[] = [...oldKey, ...cols.map((i) => values[i] as Param)];
    const keyStrings = change.op === 'insert' ? [] : [JSON.stringify(oldKey)];
    if (change.op === 'update') {
      keyStrings.push(JSON.stringify(keyCols.map((i) => (values[i] === UNCHANGED ? oldKey[keyCols.indexOf(i)] : values[i]) ?? null)));
    }
    const out: Statement[] = [];
    const g = this.group;
    if (
      g &&
      (g.shape !== shape ||
        g.rows.length >= this.limits.maxRows ||
        g.params + row.length > this.limits.maxParams ||
        g.bytes >= this.limits.maxBytes ||
        keyStrings.some((k) => g.keys.has(k)))
    ) {
      out.push(...this.flush());
    }
    if (!this.group) {
      this.group = { shape, op: change.op, table, keyCols, cols, rows: [], keys: new Set(), params: 0, bytes: 0 };
    }
    const open = this.group;
    open.rows.push(row);
    open.params += row.length;
    open.bytes += sizeOf(row);
    for (const k of keyStrings) open.keys.add(k);
    return out;
  }

  /** Closes the open group: its statement, or nothing. */
  flush(): Statement[] {
    const g = this.group;
    this.group = undefined;
    if (!g || g.rows.length === 0) return [];
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
