// Groups row changes into multi-row statements. Per table, commit order is kept exactly: a group
// grows while the statement shape (operation, set of columns) stays the same and no row touches a
// key the group already holds (one UPDATE ... FROM (VALUES) cannot apply two changes to one row);
// any other change of that table closes its group first.
// Across tables, `perTable` keeps one open group per table, so the common OLTP transaction
// (update a row here, insert two there) still yields multi-row statements. That reorders changes of
// DIFFERENT tables inside one target transaction, which is only invisible when nothing checks
// across tables mid-transaction: the applier turns it on only under session_replication_role =
// replica (no foreign-key or ordinary user triggers or rules fire), or where the target has none to
// fire (apply/applyTarget.ts). In that mode a table's deletes may also be held beside its insert group
// and run first, unless a key is shared (see add()). Pure: no IO.
import { displayIdent, displayName } from '../../connect/quote';
import { GroupRows } from './groupRows';
import { padTuple } from './recordText';
import {
  copyInsertStatement,
  deleteStatement,
  fullIdentityStatement,
  insertStatement,
  stageColumnTypes,
  stagedStatements,
  updateStatement,
} from './statements';
import { type Tuple, type TupleValue, UNCHANGED } from '../decode/tuple';
import type { PlannerLimits, RowChange, StageTable, Statement, TargetTable } from './types';
import type { RowOp } from '../decode/changeEvents';

export const DEFAULT_LIMITS: PlannerLimits = { maxRows: 2000, maxParams: 30_000, maxBytes: 8 * 1024 * 1024, perTable: true };

interface Group {
  readonly shape: string;
  readonly op: RowOp;
  readonly table: TargetTable;
  readonly keyCols: readonly number[];
  readonly cols: readonly number[];
  /** The rows: [...old key values, ...values of cols] (inserts: values only). */
  readonly rows: GroupRows;
  readonly keys: Set<string>;
  /** Update groups: row index of each key updated in place (old key = new key). */
  readonly inPlace: Map<string, number>;
  params: number;
}

/**
 * A row key as one string, for the sets that detect two changes of one row. One column: the value
 * itself (NUL cannot occur in a text value, so "\0" stands for NULL); several: length-prefixed.
 * Key column values come from `tuple`, or from `fallback` where `tuple` has an unchanged TOAST
 * value (an update's new key); an unchanged value cannot identify a row.
 */
function keyString(table: TargetTable, keyCols: readonly number[], tuple: Tuple, fallback?: Tuple): string {
  let out = '';
  for (const i of keyCols) {
    let v: TupleValue = tuple.value(i);
    if (v === UNCHANGED && fallback) v = fallback.value(i);
    if (v === UNCHANGED) {
      throw new Error(
        `key column ${displayIdent(table.columns[i]!.name)} of ${displayName(table.schema, table.name)} is an unchanged TOAST value and cannot identify a row`,
      );
    }
    if (keyCols.length === 1) return v ?? '\0';
    out += v === null ? 'N' : `${v.length}:${v}`;
  }
  return out;
}

/** What add() returns when no statement has to run first (most rows): one shared empty list. */
const NOTHING: readonly Statement[] = Object.freeze([]);
const NO_COLUMNS: readonly number[] = Object.freeze([]);

function anyUnchanged(tuple: Tuple, cols: readonly number[]): boolean {
  for (const i of cols) if (tuple.isUnchanged(i)) return true;
  return false;
}

/** Whether a group holds one of a row's keys. */
function touches(g: Group, oldKey: string | undefined, newKey: string | undefined): boolean {
  return (oldKey !== undefined && g.keys.has(oldKey)) || (newKey !== undefined && g.keys.has(newKey));
}

/** `more` after `list`, making a list only when there is something. */
function append(list: Statement[] | undefined, more: Statement[]): Statement[] | undefined {
  if (more.length === 0) return list;
  if (!list) return more;
  for (const s of more) list.push(s);
  return list;
}

/** What add() needs of a table on every row, computed once per table. */
interface TableShape {
  readonly keyCols: readonly number[];
  /** The tuple's columns, those left out included. */
  readonly width: number;
  /** Every column but those left out (what an insert sets). */
  readonly allCols: readonly number[];
  /** Columns an UPDATE may set (not GENERATED ALWAYS identity). */
  readonly updateCols: readonly number[];
  /** changedColumns() answers for rows that set every column it may (allocated once). */
  readonly insertAll: ChangedColumns;
  readonly updateAll: ChangedColumns;
  readonly deleteKeys: ChangedColumns;
}

interface ChangedColumns {
  readonly cols: readonly number[];
  readonly shape: string;
}

const shapes = new WeakMap<TargetTable, TableShape>();

function tableShape(table: TargetTable): TableShape {
  let shape = shapes.get(table);
  if (!shape) {
    // a column left out is in every tuple and in no statement
    const allCols = table.columns.flatMap((c, i) => (c.leftOut ? [] : [i]));
    const updateCols = allCols.filter((i) => !table.columns[i]!.identityAlways);
    shape = {
      keyCols: allCols.filter((i) => table.columns[i]!.isKey),
      width: table.columns.length,
      allCols,
      updateCols,
      insertAll: { cols: allCols, shape: `insert|${allCols.join(',')}` },
      updateAll: { cols: updateCols, shape: `update|${updateCols.join(',')}` },
      deleteKeys: { cols: [], shape: 'delete|' },
    };
    shapes.set(table, shape);
  }
  return shape;
}

/** The columns a change sets, and its statement shape (operation and those columns). */
function changedColumns(op: RowOp, values: Tuple | undefined, meta: TableShape): ChangedColumns {
  if (op === 'delete' || !values) return meta.deleteKeys;
  const base = op === 'insert' ? meta.allCols : meta.updateCols;
  let complete = values.length === meta.width;
  for (let j = 0; complete && j < base.length; j++) if (values.isUnchanged(base[j]!)) complete = false;
  if (complete) return op === 'insert' ? meta.insertAll : meta.updateAll;
  const cols = base.filter((i) => i < values.length && !values.isUnchanged(i));
  return { cols, shape: `${op}|${cols.join(',')}` };
}

export class BatchPlanner {
  /** Per table: the open insert or update group. */
  private readonly groups = new Map<number, Group>();
  /** Per table (perTable only): deletes held beside an insert group; they run first. */
  private readonly deletes = new Map<number, Group>();
  private held = 0;
  /** Staging tables by table, statement shape and column types, numbered in this planner (one per session). */
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

  /**
   * Adds a change; returns the statements that must run before it, in order (possibly none). Runs
   * once per row: it allocates nothing it can avoid (no closures, no lists for the usual answer).
   */
  add(change: RowChange): readonly Statement[] {
    const { table, op } = change;
    const perTable = this.limits.perTable ?? false;
    let out: Statement[] | undefined;
    if (!perTable && this.groups.size > 0 && !this.groups.has(table.oid)) out = this.flush();
    // a composite written before the target's type was given an attribute: given it, NULL
    const shapes = table.textShapes;
    const values = shapes && change.values ? padTuple(change.values, shapes) : change.values;
    const old = shapes && change.identity ? padTuple(change.identity, shapes) : change.identity;
    // the old row's identity: its key columns, or every column under REPLICA IDENTITY FULL
    const identity = op === 'insert' ? undefined : (old ?? values);
    if (op !== 'insert' && !identity) throw new Error(`${op} on ${displayName(table.schema, table.name)} without old values`);
    if (table.identityFull && op !== 'insert') {
      return [...(out ?? []), ...this.flushTable(table.oid), fullIdentityStatement(table, op, identity!, values)];
    }
    const meta = tableShape(table);
    const { keyCols } = meta;
    if (op !== 'insert' && keyCols.length === 0) {
      throw new Error(`${op} on ${displayName(table.schema, table.name)}, which has no replica identity columns`);
    }
    // An UPDATE leaves GENERATED ALWAYS identity columns alone: the target refuses to set them.
    const { cols, shape } = changedColumns(op, values, meta);
    // The keys the row touches: the old key (update, delete), the new key (update), or an
    // insert's key, remembered only where deletes may be held beside the inserts.
    let oldKey: string | undefined;
    let newKey: string | undefined;
    if (identity) oldKey = keyString(table, keyCols, identity);
    if (op === 'update' && values) newKey = keyString(table, keyCols, values, identity);
    if (op === 'insert' && values && perTable && keyCols.length > 0 && !anyUnchanged(values, keyCols))
      newKey = keyString(table, keyCols, values);
    const rowKeyCols = op === 'insert' ? NO_COLUMNS : keyCols;
    const rowParams = rowKeyCols.length + cols.length;

    let target: Map<number, Group> = this.groups;
    if (op === 'delete' && perTable) {
      // Deletes of keys no pending insert holds may run before those inserts: removing rows first
      // never creates a unique (or exclusion) conflict the source order did not have.
      const g = this.groups.get(table.oid);
      if (g && (g.op !== 'insert' || touches(g, oldKey, newKey))) out = append(out, this.flushTable(table.oid));
      const d = this.deletes.get(table.oid);
      if (d && (this.full(d, rowParams) || touches(d, oldKey, newKey))) out = append(out, this.take(this.deletes, table.oid));
      target = this.deletes;
    } else {
      const g = this.groups.get(table.oid);
      // A later update of the same row with the same columns supersedes the earlier one: both
      // set absolute values, so only the last needs to run.
      const inPlace = op === 'update' && oldKey === newKey && g ? g.inPlace.get(oldKey!) : undefined;
      if (g && inPlace !== undefined && g.shape === shape && !this.full(g, rowParams)) {
        g.rows.supersede(inPlace);
        g.inPlace.set(oldKey!, this.append(g, identity, rowKeyCols, values, cols));
        return out ?? NOTHING;
      }
      const conflict = g && (g.shape !== shape || this.full(g, rowParams) || touches(g, oldKey, newKey));
      if (conflict || (op === 'update' && this.deletes.has(table.oid))) out = append(out, this.flushTable(table.oid));
    }
    // all open groups together stay within one statement's byte budget
    if (this.held >= this.limits.maxBytes) out = append(out, this.flush());
    let open = target.get(table.oid);
    if (!open) {
      open = { shape, op, table, keyCols: rowKeyCols, cols, rows: new GroupRows(), keys: new Set(), inPlace: new Map(), params: 0 };
      target.set(table.oid, open);
    }
    const row = this.append(open, identity, rowKeyCols, values, cols);
    open.params += rowParams;
    if (oldKey !== undefined) open.keys.add(oldKey);
    if (newKey !== undefined) open.keys.add(newKey);
    if (op === 'update' && oldKey === newKey) open.inPlace.set(oldKey!, row);
    return out ?? NOTHING;
  }

  /** Whether a group must close before a row with `rowParams` values joins it. */
  private full(g: Group, rowParams: number): boolean {
    return (
      g.rows.written >= this.limits.maxRows || g.params + rowParams > this.limits.maxParams || g.rows.byteLength >= this.limits.maxBytes
    );
  }

  /** Writes a row into a group, keeping the count of bytes held; returns its row index. */
  private append(
    g: Group,
    identity: Tuple | undefined,
    keyCols: readonly number[],
    values: Tuple | undefined,
    cols: readonly number[],
  ): number {
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
        // COPY needs a column to name; row-level security makes the target refuse COPY FROM
        if (g.cols.length === 0 || g.table.rowSecurity) return [insertStatement(g.table, g.cols, g.rows)];
        return [copyInsertStatement(g.table, g.cols, g.rows)];
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
    return this.limits.stageMinRows !== undefined && g.rows.rows >= this.limits.stageMinRows;
  }

  /**
   * The group's staging table, one per table, statement shape and column types: a column retyped
   * on the source while streaming (its relation message gives the table new casts) gets a new
   * stage, made at its first use; the old one, empty, is left to the session's end.
   */
  private stage(g: Group): StageTable {
    const key = `${g.table.oid}|${g.shape}|${stageColumnTypes(g.table, g.keyCols, g.op === 'update' ? g.cols : NO_COLUMNS).join(',')}`;
    let stage = this.stages.get(key);
    if (!stage) {
      stage = { name: `pgferry_stage_${this.stages.size + 1}` };
      this.stages.set(key, stage);
    }
    return stage;
  }
}
