// Per-table bookkeeping of the data phase: a table may be copied as several parts by several
// items at once; its progress events count finished parts plus bytes in flight, and it is done
// (its indexes may start) when its last part is in.
import type { SourceTable } from '../catalog/introspect';
import { safeEmit, type ProgressListener } from '../core/model';
import type { CopyItem } from './plan';

/** A copy item reports its bytes in flight every this many bytes (the catalog write is throttled too). */
const PROGRESS_BYTES = 4 * 1024 * 1024;

interface TableState {
  parts: number;
  partsDone: number;
  rows: number;
  bytes: number;
  inFlight: number;
  started: number;
}

export interface TallyHooks {
  readonly database: string;
  readonly onProgress?: ProgressListener;
  readonly onTableStart?: (table: SourceTable, parts: number) => void | Promise<void>;
  /** Called when a table's rows are all in (before its indexes). */
  readonly onTableDone?: (table: SourceTable, rows: number, bytes: number, seconds: number) => void | Promise<void>;
}

export class TableTally {
  private readonly tables = new Map<string, TableState>();
  totalRows = 0;
  totalBytes = 0;

  constructor(
    items: readonly CopyItem[],
    private readonly hooks: TallyHooks,
  ) {
    for (const item of items) {
      const entry = this.tables.get(item.table.oid) ?? { parts: 0, partsDone: 0, rows: 0, bytes: 0, inFlight: 0, started: 0 };
      entry.parts += 1;
      this.tables.set(item.table.oid, entry);
    }
  }

  get tableCount(): number {
    return this.tables.size;
  }

  /** An item starts: the first part of a table starts the table. */
  async itemStarts(item: CopyItem): Promise<void> {
    const state = this.tables.get(item.table.oid)!;
    if (state.started !== 0) return;
    state.started = Date.now();
    await this.hooks.onTableStart?.(item.table, item.part?.count ?? 1);
    safeEmit(this.hooks.onProgress, {
      kind: 'table-start',
      database: this.hooks.database,
      table: item.table.display,
      part: item.part?.index,
      parts: item.part?.count,
    });
  }

  /** A byte counter for one item, emitting progress every PROGRESS_BYTES. */
  bytesOf(item: CopyItem): { readonly onBytes: (n: number) => void; readonly sent: () => number } {
    const state = this.tables.get(item.table.oid)!;
    let sent = 0;
    let reported = 0;
    return {
      sent: () => sent,
      onBytes: (n) => {
        sent += n;
        state.inFlight += n;
        if (sent - reported < PROGRESS_BYTES) return;
        reported = sent;
        this.progress(item.table, state);
      },
    };
  }

  /** An item's bytes in flight went nowhere (another claimer copies its item instead). */
  bytesLost(item: CopyItem, bytesInFlight: number): void {
    this.tables.get(item.table.oid)!.inFlight -= bytesInFlight;
  }

  /** An item's part is in; returns whether it was the table's last (the table is done). */
  async itemDone(item: CopyItem, result: { rows: number; bytes: number }, bytesInFlight: number): Promise<boolean> {
    const state = this.tables.get(item.table.oid)!;
    state.inFlight -= bytesInFlight;
    state.rows += result.rows;
    state.bytes += result.bytes;
    state.partsDone += 1;
    if (item.part) this.progress(item.table, state, state.partsDone);
    this.totalRows += result.rows;
    this.totalBytes += result.bytes;
    state.parts -= 1;
    if (state.parts > 0) return false;
    const seconds = (Date.now() - state.started) / 1000;
    const { database } = this.hooks;
    safeEmit(this.hooks.onProgress, {
      kind: 'table-done',
      database,
      table: item.table.display,
      rows: state.rows,
      bytes: state.bytes,
      seconds,
    });
    await this.hooks.onTableDone?.(item.table, state.rows, state.bytes, seconds);
    return true;
  }

  private progress(table: SourceTable, state: TableState, partsDone?: number): void {
    safeEmit(this.hooks.onProgress, {
      kind: 'table-progress',
      database: this.hooks.database,
      table: table.display,
      relation: { schema: table.schema, name: table.name },
      rows: state.rows,
      bytes: state.bytes + state.inFlight,
      ...(partsDone === undefined ? {} : { partsDone }),
    });
  }
}
