// The index pool's work for each table, in order (copy/copyTables.ts runs the pools): its indexes as
// soon as its rows are in, then its VACUUM (ANALYZE) once the transactions that could keep it from
// marking pages all-visible have ended.
import type { SourceIndex, SourceTable } from '../catalog/introspect';
import type { WorkQueue } from '../util/workQueue';

/**
 * What the index pool does: build one index; VACUUM the TOAST table of a table loaded frozen as
 * soon as its rows are in; VACUUM one table once its rows and indexes are in (without its TOAST
 * table when that was vacuumed already).
 */
export type TableWork =
  | { readonly index: SourceIndex }
  | { readonly toast: SourceTable }
  | { readonly vacuum: SourceTable; readonly analyze: boolean; readonly toastDone: boolean };

/**
 * The copy's own transactions on the target (COPY jobs, index builds), by the tick each began at:
 * a VACUUM marks a page all-visible only once no transaction older than its rows is open, and in
 * this database the copy's are the ones that could be.
 */
export class OpenWork {
  private tick = 0;
  private readonly open = new Map<symbol, number>();
  onEnd: () => void = () => undefined;

  begin(): symbol {
    const id = Symbol('work');
    this.open.set(id, ++this.tick);
    return id;
  }

  end(id: symbol): void {
    if (this.open.delete(id)) this.onEnd();
  }

  now(): number {
    return this.tick;
  }

  /** Has every transaction that began at or before `tick` ended? */
  endedBy(tick: number): boolean {
    for (const began of this.open.values()) if (began <= tick) return false;
    return true;
  }

  async around<T>(fn: () => Promise<T>): Promise<T> {
    const id = this.begin();
    try {
      return await fn();
    } finally {
      this.end(id);
    }
  }
}

/**
 * Each table's work for the index pool, in order: its indexes as soon as its rows are in, then its
 * VACUUM (ANALYZE) once the last of them is built: at once for a table loaded frozen; for a table
 * loaded in parts (not frozen) once every transaction of the copy that began before its last part
 * committed has ended, so that the VACUUM can mark its pages all-visible while other tables still
 * copy. The last step (finishDatabase) vacuums whatever is left, or was vacuumed too early.
 */
export class TableWorkOrder {
  private readonly indexesLeft = new Map<string, number>();
  private readonly frozen = new Set<string>();
  /** Per table loaded unfrozen: the tick of the copy's work when its last part committed. */
  private readonly rowsInAt = new Map<string, number>();
  /** Tables whose indexes are built, waiting for the older transactions to end before their VACUUM. */
  private readonly vacuumWaits = new Map<string, SourceTable>();
  /** Frozen tables whose TOAST table the pool vacuumed on its own (their VACUUM leaves it out). */
  private readonly toastVacuumed = new Set<string>();
  /** Tables whose rows are in and whose work is not all queued yet. */
  private waiting = 0;
  private rowsAllIn = false;
  constructor(
    private readonly queue: WorkQueue<TableWork>,
    private readonly byTable: ReadonlyMap<string, readonly SourceIndex[]>,
    private readonly analyzeLater: ReadonlySet<string>,
    private readonly work: OpenWork,
    /** Vacuum a frozen table's TOAST table apart, as soon as its rows are in (TOAST_APART_FROM). */
    private readonly toastApart: boolean,
  ) {
    work.onEnd = () => this.releaseVacuums();
  }

  /** The table's rows are all in; `frozen`: loaded in one COPY FREEZE. */
  rowsIn(table: SourceTable, frozen: boolean): void {
    const indexes = this.byTable.get(table.oid) ?? [];
    if (frozen) this.frozen.add(table.oid);
    else this.rowsInAt.set(table.oid, this.work.now());
    if (frozen && this.toastApart && !this.queue.isClosed()) this.queue.push({ toast: table });
    this.indexesLeft.set(table.oid, indexes.length);
    this.waiting += 1;
    if (indexes.length === 0) this.tableDone(table);
    else this.queue.push(...indexes.map((index) => ({ index })));
  }

  /** The table's TOAST table was vacuumed on its own (before its indexes were all built, or its VACUUM includes it again). */
  toastDone(table: SourceTable): void {
    this.toastVacuumed.add(table.oid);
  }

  /** Every table's rows are in (or the copy stopped): the queue closes once the last table's work is queued. */
  copyEnded(): void {
    this.rowsAllIn = true;
    this.closeWhenDone();
  }

  /** Is the table's index being built the last one left (every other build of it has ended)? */
  lastIndexLeft(table: SourceTable): boolean {
    return this.indexesLeft.get(table.oid) === 1;
  }

  /** One of the table's indexes is built. */
  indexBuilt(table: SourceTable): void {
    const left = (this.indexesLeft.get(table.oid) ?? 1) - 1;
    this.indexesLeft.set(table.oid, left);
    if (left === 0) this.tableDone(table);
  }

  private tableDone(table: SourceTable): void {
    if (this.frozen.has(table.oid)) this.queueVacuum(table);
    else this.vacuumWaits.set(table.oid, table);
    this.releaseVacuums();
  }

  /** Queues the VACUUM of each waiting table whose older transactions have all ended. */
  private releaseVacuums(): void {
    for (const [oid, table] of this.vacuumWaits) {
      if (!this.work.endedBy(this.rowsInAt.get(oid) ?? 0)) continue;
      this.vacuumWaits.delete(oid);
      this.queueVacuum(table);
    }
    this.closeWhenDone();
  }

  private queueVacuum(table: SourceTable): void {
    this.waiting -= 1;
    if (this.queue.isClosed()) return; // the copy stopped on a failure: nothing more to queue
    const toastDone = this.toastVacuumed.has(table.oid);
    this.queue.push({ vacuum: table, analyze: !this.analyzeLater.has(table.oid), toastDone });
  }

  private closeWhenDone(): void {
    if (this.rowsAllIn && this.waiting === 0 && !this.queue.isClosed()) this.queue.close();
  }
}
