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
import type { RowOp } from './normalizer';
import { UNCHANGED, type Tuple, type TupleValue } from './pgoutput';
import {
  copyInsertStatement,
  deleteStatement,
  fullIdentityStatement,
  insertStatement,
  stagedStatements,
  updateStatement,
  type Param,
  type StageTable,
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
  readonly rows: Param[][];
  readonly keys: Set<string>;
  /** Update groups: row index of each key updated in place (old key = new key). */
  readonly inPlace: Map<string, number>;
  params: number;
  bytes: number;
}

function param(value: TupleValue | undefined, what: string): Param {
  if (value === UNCHANGED) throw new Error(`${what} is an unchanged TOAST value and cannot identify a row`);
  return value ?? null;
}

const sizeOf = (row: readonly Param[]): number => {
  let n = 16;
  for (const v of row) n += v === null ? 1 : v.length + 8;
  return n;
};

/**
 * A row key as one string, for the sets that detect two changes of one row. One column: the value
 * itself (NUL cannot occur in a text value, so "\0" stands for NULL); several: length-prefixed.
 */
function keyString(parts: readonly Param[]): string {
  if (parts.length === 1) return parts[0] ?? '\0';
  let out = '';
  for (const p of parts) out += p === null ? 'N' : `${p.length}:${p}`;
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
function changedColumns(op: RowOp, values: Tuple, meta: TableShape): { cols: readonly number[]; shape: string } {
  if (op === 'delete') return { cols: [], shape: 'delete|' };
  const base = op === 'insert' ? meta.allCols : meta.updateCols;
  let complete = values.length === meta.allCols.length;
  for (let j = 0; complete && j < base.length; j++) if (values[base[j]!] === UNCHANGED) complete = false;
  if (complete) return { cols: base, shape: op === 'insert' ? meta.insertShape : meta.updateShape };
  const cols = base.filter((i) => i < values.length && values[i] !== UNCHANGED);
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

  /** Bytes of parameter text held in open groups. */
  get pendingBytes(): number {
    return this.held;
  }

  get pendingRows(): number {
    let n = 0;
    for (const g of [...this.groups.values(), ...this.deletes.values()]) n += g.rows.length;
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
    const values = change.values ?? [];
    // An UPDATE leaves GENERATED ALWAYS identity columns alone: the target refuses to set them.
    const { cols, shape } = changedColumns(change.op, values, meta);
    const label = (i: number): string => `key column "${table.columns[i]!.name}" of ${table.schema}.${table.name}`;
    const key = (tuple: Tuple): Param[] => keyCols.map((i) => param(tuple[i], label(i)));
    const oldKey = change.op === 'insert' ? [] : key(change.identity ?? values);
    const row: Param[] = oldKey;
    for (const i of cols) row.push(values[i] as Param);
    const keyStrings: string[] = [];
    if (change.op !== 'insert') keyStrings.push(keyString(row.slice(0, keyCols.length)));
    if (change.op === 'update') {
      keyStrings.push(keyString(keyCols.map((i, j) => (values[i] === UNCHANGED ? row[j]! : (values[i] as Param)))));
    }
    // Inserts remember their keys only where deletes may be held beside them.
    if (change.op === 'insert' && perTable && keyCols.length > 0 && keyCols.every((i) => values[i] !== UNCHANGED)) {
      keyStrings.push(keyString(key(values)));
    }
    const full = (g: Group): boolean =>
      g.rows.length >= this.limits.maxRows || g.params + row.length > this.limits.maxParams || g.bytes >= this.limits.maxBytes;

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
      if (g && inPlace !== undefined && g.shape === shape) {
        const size = sizeOf(row);
        this.held += size - sizeOf(g.rows[inPlace]!);
        g.bytes += size - sizeOf(g.rows[inPlace]!);
        g.rows[inPlace] = row;
        return out;
      }
      const conflict = g && (g.shape !== shape || full(g) || keyStrings.some((k) => g.keys.has(k)));
      if (conflict || (change.op === 'update' && this.deletes.has(table.oid))) out.push(...this.flushTable(table.oid));
    }
    // all open groups together stay within one statement's byte budget
    if (this.held >= this.limits.maxBytes) out.push(...this.flush());
    let open = target.get(table.oid);
    if (!open) {
      open = { shape, op: change.op, table, keyCols: change.op === 'insert' ? [] : keyCols, cols, rows: [], keys: new Set(), inPlace: new Map(), params: 0, bytes: 0 };
      target.set(table.oid, open);
    }
    const size = sizeOf(row);
    open.rows.push(row);
    open.params += row.length;
    open.bytes += size;
    this.held += size;
    for (const k of keyStrings) open.keys.add(k);
    if (change.op === 'update' && keyStrings[0] === keyStrings[1]) open.inPlace.set(keyStrings[0]!, open.rows.length - 1);
    return out;
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
    this.held -= g.bytes;
    if (g.rows.length === 0) return [];
    switch (g.op) {
      case 'insert':
        return [g.table.rowSecurity || g.cols.length === 0 ? insertStatement(g.table, g.cols, g.rows) : copyInsertStatement(g.table, g.cols, g.rows)];
      case 'update':
        if (g.cols.length === 0) return []; // nothing but unchanged TOAST values: no-op
        if (this.staging(g)) return stagedStatements(g.table, 'update', g.keyCols, g.cols, g.rows, this.stage(g));
        return [updateStatement(g.table, g.keyCols, g.cols, g.rows)];
      case 'delete':
        if (this.staging(g)) return stagedStatements(g.table, 'delete', g.keyCols, [], g.rows, this.stage(g));
        return [deleteStatement(g.table, g.keyCols, g.rows)];
    }
  }

  private staging(g: Group): boolean {
    return this.limits.stageMinRows !== undefined && g.rows.length >= this.limits.stageMinRows;
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
