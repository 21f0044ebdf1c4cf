// Per-table progress for the live view, read from the control catalog's table list. MigrationStatus
// carries per-database counters only; this belongs in ControlStore once the engine exposes it.
import { ControlStore, type ServerSpec } from '../engine';
import { CONTROL_SCHEMA } from '../engine/names';

export interface ProgressEventLine {
  readonly at: string;
  readonly level: string;
  readonly database?: string;
  readonly message: string;
}

export interface TableProgress {
  readonly database: string;
  readonly table: string;
  readonly state: 'Queued' | 'Loading' | 'Completed' | 'Errored';
  readonly rows: number;
  readonly bytes: number;
  readonly parts: number;
  readonly partsDone: number;
  readonly message?: string;
}

/** Tables not Queued (loading or finished) of one migration, in database order. */
export const TABLE_PROGRESS_SQL = `
SELECT t.database, t.table_name, t.state, t.rows, t.bytes, t.parts, t.parts_done, t.message
  FROM "${CONTROL_SCHEMA}".migration_table t
  JOIN "${CONTROL_SCHEMA}".migration_database d ON d.migration = t.migration AND d.database = t.database
 WHERE t.migration = $1 AND t.state <> 'Queued'
 ORDER BY d.ordinal, t.started_at NULLS LAST, t.table_name`;

interface Row {
  database: string;
  table_name: string;
  state: TableProgress['state'];
  rows: string;
  bytes: string;
  parts: number;
  parts_done: number;
  message: string | null;
}

/** A reader on its own connection, so polling tables never blocks the status poll. */
export class TableProgressReader {
  private readonly store: ControlStore;

  constructor(target: ServerSpec) {
    this.store = new ControlStore(target);
  }

  async read(name: string): Promise<TableProgress[]> {
    try {
      const rows = await this.store.query<Row>(TABLE_PROGRESS_SQL, [name]);
      return rows.map((r) => ({
        database: r.database,
        table: r.table_name,
        state: r.state,
        rows: Number(r.rows),
        bytes: Number(r.bytes),
        parts: r.parts,
        partsDone: r.parts_done,
        message: r.message ?? undefined,
      }));
    } catch {
      // Progress is a nicety: a failed read must not end the wait.
      return [];
    }
  }

  /** The latest catalog events (step timings, warnings), oldest first. */
  async events(name: string, limit = 20): Promise<ProgressEventLine[]> {
    try {
      return await this.store.events(name, limit);
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
