// Per-table progress and recent events for the live view, on a connection of its own so polling
// them never delays the status poll.
import { openControlCatalog, type ControlCatalog, type ServerSpec, type TableProgress, events, tables } from '../engine';

export type { TableProgress };

export interface ProgressEventLine {
  readonly at: string;
  readonly level: string;
  readonly database?: string;
  readonly message: string;
}

/** A reader on its own connection, so polling tables never blocks the status poll. */
export class TableProgressReader {
  private readonly store: ControlCatalog;

  constructor(target: ServerSpec) {
    this.store = openControlCatalog(target);
  }

  /** Every table of the migration, queued ones too: their sizes make each database's total. */
  async read(name: string): Promise<TableProgress[]> {
    try {
      return await tables(this.store, name, { includeQueued: true });
    } catch {
      // Progress is a nicety: a failed read must not end the wait.
      return [];
    }
  }

  /** The latest catalog events (step timings, warnings), oldest first. */
  async events(name: string, limit = 20): Promise<ProgressEventLine[]> {
    try {
      return await events(this.store, name, limit);
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
