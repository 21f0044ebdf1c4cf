// Groups row changes into multi-row statements. Per table, commit order is kept exactly: a group
// grows while the statement shape (operation, set of columns) stays the same and no row touches a
// key the group already holds (one UPDATE ... FROM (VALUES) cannot apply two changes to one row);
// any other change of that table closes its group first.
// Across tables, `perTable` keeps one open group per table, so the common OLTP transaction
// (update a row here, insert two there) still yields multi-row statements. That reorders changes of
// DIFFERENT tables inside one target transaction, which is only invisible when nothing checks
// across tables mid-transaction: the applier turns it on only under session_replication_role =
// replica (no foreign-key or user triggers fire). In that mode a table's deletes may also be held
// beside its insert group and run first, unless a key is shared (see add()). Pure: no IO.
import { CopyRows } from './copyRows';
import type { RowOp } from './normalizer';
import {
  copyInsertStatement,
  deleteStatement,
  fullIdentityStatement,
  insertStatement,
  stagedStatements,
  updateStatement,
  type StageTable,
  type Statement,
  type TargetTable,
} from './statements';
import { type Tuple, type TupleValue, UNCHANGED } from './tuple';

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
  /**
   * Update and delete groups of at least this many rows go through a staging table filled by COPY
   * (stagedStatements); smaller ones, or all when undefined, are one statement with parameters.
   */
  readonly stageMinRows?: number;
}

export const DEFAULT_LIMITS: PlannerLimits = { maxRows: 2000, maxParams: 30_000, maxBytes: 8 * 1024 * 1024, perTable: true };

interface Group {
  readonly shape: string;
  readonly op: RowOp;
  readonly table: TargetTable;
  readonly keyCols: readonly number[];
  readonly cols: readonly number[];
  /** The rows as COPY data: [...old key values, ...values of cols] (inserts: values only). */
  readonly rows: CopyRows;
  readonly keys: Set<string>;
  /** Update groups: row index of each key updated in place (old key = new key). */
  readonly inPlace: Map<string, number>;
  params: number;
}

/**
 * A row key as one string, for the sets that detect two changes of one row. One column: the value
 * itself (NUL cannot occur in a text value, so "\0" stands for NULL); several: length-prefixed.
 * `value(i)` gives key column i's value; an unchanged TOAST value cannot identify a row.
 */
function keyString(keyCols: readonly number[], value: (i: number) => TupleValue, label: (i: number) => string): string {
  let out = '';
  for (const i of keyCols) {
    const v = value(i);
    if (v === UNCHANGED) throw new Error(`${label(i)} is an unchanged TOAST value and cannot identify a row`);
    if (keyCols.length === 1) return v ?? '\0';
    out += v === null ? 'N' : `${v.length}:${v}`;
  }
  return out;
}

/** What add() needs of a table on every row, computed once per table. */
interface TableShape {
  readonly keyCols: readonly number[];
  /** Every column, and the insert shape that sets them all. */
  readonly allCols: readonly number[];
  readonly insertShape: string;
  /** Columns an UPDATE may set (not GENERATED ALWAYS identity), and its shape when none is unchanged. */
  readonly updateCols: readonly number[];
  readonly updateShape: string;
}

const shapes = new WeakMap<TargetTable, TableShape>();

function tableShape(table: TargetTable): TableShape {
  let shape = shapes.get(table);
  if (!shape) {
    const allCols = table.columns.map((_, i) => i);
    const updateCols = allCols.filter((i) => !table.columns[i]!.identityAlways);
    shape = {
      keyCols: allCols.filter((i) => table.columns[i]!.isKey),
      allCols,
      insertShape: `insert|${allCols.join(',')}`,
      updateCols,
      updateShape: `update|${updateCols.join(',')}`,
    };
    shapes.set(table, shape);
  }
  return shape;
}

/** The columns a change sets, and its statement shape (operation and those columns). */
function changedColumns(op: RowOp, values: Tuple | undefined, meta: TableShape): { cols: readonly number[]; shape: string } {
  if (op === 'delete' || !values) return { cols: [], shape: `${op}|` };
  const base = op === 'insert' ? meta.allCols : meta.updateCols;
  let complete = values.length === meta.allCols.length;
  for (let j = 0; complete && j < base.length; j++) if (values.isUnchanged(base[j]!)) complete = false;
  if (complete) return { cols: base, shape: op === 'insert' ? meta.insertShape : meta.updateShape };
  const cols = base.filter((i) => i < values.length && !values.isUnchanged(i));
  return { cols, shape: `${op}|${cols.join(',')}` };
}

export class BatchPlanner {
  /** Per table: the open insert or update group. */
  private readonly groups = new Map<number, Group>();
  /** Per table (perTable only): deletes held beside an insert group; they run first. */
  private readonly deletes = new Map<number, Group>();
  private held = 0;
  /** Staging tables by table and statement shape, numbered in this planner (one per session). */
  private readonly stages = new Map<string, StageTable>();

  constructor(private readonly limits: PlannerLimits = DEFAULT_LIMITS) {}

  /** Bytes of COPY data held in open groups. */
  get pendingBytes(): number {
    return this.held;
  }

  get pendingRows(): number {
    let n = 0;
    for (const g of [...this.groups.values(), ...this.deletes.values()]) n += g.rows.rows;
    return n;
  }

  /** Adds a change; returns the statements that must run before it, in order (possibly none). */
  add(change: RowChange): Statement[] {
    const { table } = change;
    const perTable = this.limits.perTable ?? false;
    const out: Statement[] = [];
    if (!perTable && this.groups.size > 0 && !this.groups.has(table.oid)) out.push(...this.flush());
    if (table.identityFull && change.op !== 'insert') {
      const old = change.identity ?? change.values;
      if (!old) throw new Error(`${change.op} on ${table.schema}.${table.name} without old values`);
      return [...out, ...this.flushTable(table.oid), fullIdentityStatement(table, change.op, old, change.values)];
    }
    const meta = tableShape(table);
    const { keyCols } = meta;
    if (change.op !== 'insert' && keyCols.length === 0) {
      throw new Error(`${change.op} on ${table.schema}.${table.name}, which has no replica identity columns`);
    }
    const values = change.values;
    // An UPDATE leaves GENERATED ALWAYS identity columns alone: the target refuses to set them.
    const { cols, shape } = changedColumns(change.op, values, meta);
    const label = (i: number): string => `key column "${table.columns[i]!.name}" of ${table.schema}.${table.name}`;
    const identity = change.op === 'insert' ? undefined : (change.identity ?? values);
    if (change.op !== 'insert' && !identity) throw new Error(`${change.op} on ${table.schema}.${table.name} without old values`);
    const keyStrings: string[] = [];
    if (identity) keyStrings.push(keyString(keyCols, (i) => identity.value(i), label));
    if (change.op === 'update' && values) {
      keyStrings.push(keyString(keyCols, (i) => (values.isUnchanged(i) ? identity!.value(i) : values.value(i)), label));
    }
    // Inserts remember their keys only where deletes may be held beside them.
    if (change.op === 'insert' && values && perTable && keyCols.length > 0 && keyCols.every((i) => !values.isUnchanged(i))) {
      keyStrings.push(keyString(keyCols, (i) => values.value(i), label));
    }
    const rowKeyCols = change.op === 'insert' ? [] : keyCols;
    const rowParams = rowKeyCols.length + cols.length;
    const full = (g: Group): boolean =>
      g.rows.written >= this.limits.maxRows || g.params + rowParams > this.limits.maxParams || g.rows.byteLength >= this.limits.maxBytes;

    let target: Map<number, Group> = this.groups;
    if (change.op === 'delete' && perTable) {
      // Deletes of keys no pending insert holds may run before those inserts: removing rows first
      // never creates a unique (or exclusion) conflict the source order did not have.
      const g = this.groups.get(table.oid);
      if (g && (g.op !== 'insert' || keyStrings.some((k) => g.keys.has(k)))) out.push(...this.flushTable(table.oid));
      const d = this.deletes.get(table.oid);
      if (d && (full(d) || keyStrings.some((k) => d.keys.has(k)))) out.push(...this.take(this.deletes, table.oid));
      target = this.deletes;
    } else {
      const g = this.groups.get(table.oid);
      // A later update of the same row with the same columns supersedes the earlier one: both
      // set absolute values, so only the last needs to run.
      const inPlace = change.op === 'update' && keyStrings[0] === keyStrings[1] ? g?.inPlace.get(keyStrings[0]!) : undefined;
      if (g && inPlace !== undefined && g.shape === shape && !full(g)) {
        g.rows.supersede(inPlace);
        g.inPlace.set(keyStrings[0]!, this.append(g, identity, rowKeyCols, values, cols));
        return out;
      }
      const conflict = g && (g.shape !== shape || full(g) || keyStrings.some((k) => g.keys.has(k)));
      if (conflict || (change.op === 'update' && this.deletes.has(table.oid))) out.push(...this.flushTable(table.oid));
    }
    // all open groups together stay within one statement's byte budget
    if (this.held >= this.limits.maxBytes) out.push(...this.flush());
    let open = target.get(table.oid);
    if (!open) {
      open = { shape, op: change.op, table, keyCols: rowKeyCols, cols, rows: new CopyRows(), keys: new Set(), inPlace: new Map(), params: 0 };
      target.set(table.oid, open);
    }
    const row = this.append(open, identity, rowKeyCols, values, cols);
    open.params += rowParams;
    for (const k of keyStrings) open.keys.add(k);
    if (change.op === 'update' && keyStrings[0] === keyStrings[1]) open.inPlace.set(keyStrings[0]!, row);
    return out;
  }

  /** Writes a row into a group, keeping the count of bytes held; returns its row index. */
  private append(g: Group, identity: Tuple | undefined, keyCols: readonly number[], values: Tuple | undefined, cols: readonly number[]): number {
    const before = g.rows.byteLength;
    const row = g.rows.append(identity, keyCols, values, cols);
    this.held += g.rows.byteLength - before;
    return row;
  }

  /** Closes every open group: their statements (table by table), or nothing. */
  flush(): Statement[] {
    const out: Statement[] = [];
    for (const oid of new Set([...this.deletes.keys(), ...this.groups.keys()])) out.push(...this.flushTable(oid));
    return out;
  }

  /** A table's held deletes, then its insert or update group. */
  private flushTable(oid: number): Statement[] {
    return [...this.take(this.deletes, oid), ...this.take(this.groups, oid)];
  }

  private take(from: Map<number, Group>, oid: number): Statement[] {
    const g = from.get(oid);
    if (!g) return [];
    from.delete(oid);
    this.held -= g.rows.byteLength;
    if (g.rows.rows === 0) return [];
    switch (g.op) {
      case 'insert':
        if (g.cols.length === 0) return [insertStatement(g.table, g.cols, Array.from({ length: g.rows.rows }, () => []))];
        return [g.table.rowSecurity ? insertStatement(g.table, g.cols, g.rows.params()) : copyInsertStatement(g.table, g.cols, g.rows)];
      case 'update':
        if (g.cols.length === 0) return []; // nothing but unchanged TOAST values: no-op
        if (this.staging(g)) return stagedStatements(g.table, 'update', g.keyCols, g.cols, g.rows, this.stage(g));
        return [updateStatement(g.table, g.keyCols, g.cols, g.rows.params())];
      case 'delete':
        if (this.staging(g)) return stagedStatements(g.table, 'delete', g.keyCols, [], g.rows, this.stage(g));
        return [deleteStatement(g.table, g.keyCols, g.rows.params())];
    }
  }

  private staging(g: Group): boolean {
    return this.limits.stageMinRows !== undefined && g.rows.rows >= this.limits.stageMinRows;
  }

  private stage(g: Group): StageTable {
    const key = `${g.table.oid}|${g.shape}`;
    let stage = this.stages.get(key);
    if (!stage) {
      stage = { name: `pgferry_stage_${this.stages.size + 1}` };
      this.stages.set(key, stage);
    }
    return stage;
  }
}
