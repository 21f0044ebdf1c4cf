// The partial updates of a migration's database and table rows, as one statement each: every
// field of a patch is optional and only the given ones change (pure; the store runs them).
import { ident } from '../connect/quote';
import type { ApplyStop, DatabaseState } from '../core/model';
import { CONTROL_SCHEMA, type QualifiedName } from '../core/names';

const S = ident(CONTROL_SCHEMA);

type TableState = 'Queued' | 'Loading' | 'Completed' | 'Errored';

export interface DatabasePatch {
  state?: DatabaseState;
  message?: string | null;
  startedAt?: boolean;
  endedAt?: boolean;
  rowsCopied?: number;
  bytesCopied?: number;
  inserts?: number;
  updates?: number;
  deletes?: number;
  latencySeconds?: number | null;
  pendingBytes?: number | null;
  slotRetainedBytes?: number | null;
  appliedLsn?: string;
  /** Why the stream stopped; null once it moves again. */
  applyStop?: ApplyStop | null;
  /** An online database's cutover downtime, written with its Succeeded so no reader sees one without the other. */
  downtimeSeconds?: number;
}

export interface TablePatch {
  state?: TableState;
  rows?: number;
  bytes?: number;
  parts?: number;
  partsDone?: number;
  startedAt?: boolean;
  endedAt?: boolean;
  message?: string | null;
}

export interface PatchQuery {
  readonly text: string;
  readonly params: unknown[];
}

export function databasePatchQuery(name: string, database: string, patch: DatabasePatch): PatchQuery {
  return {
    text: `UPDATE ${S}.migration_database SET
         state = COALESCE($3, state),
         message = CASE WHEN $4::boolean THEN $5 ELSE message END,
         started_at = CASE WHEN $6 THEN COALESCE(started_at, now()) ELSE started_at END,
         ended_at = CASE WHEN $7 THEN now() ELSE ended_at END,
         rows_copied = COALESCE($8, rows_copied),
         bytes_copied = COALESCE($9, bytes_copied),
         inserts = COALESCE($10, inserts),
         updates = COALESCE($11, updates),
         deletes = COALESCE($12, deletes),
         latency_seconds = CASE WHEN $13::boolean THEN $14 ELSE latency_seconds END,
         pending_bytes = CASE WHEN $15::boolean THEN $16 ELSE pending_bytes END,
         slot_retained_bytes = CASE WHEN $17::boolean THEN $18 ELSE slot_retained_bytes END,
         applied_lsn = COALESCE($19, applied_lsn),
         apply_stop = CASE WHEN $20::boolean THEN $21::jsonb ELSE apply_stop END,
         downtime_seconds = COALESCE($22, downtime_seconds)
       WHERE migration = $1 AND database = $2`,
    params: [
      name,
      database,
      patch.state ?? null,
      patch.message !== undefined,
      patch.message ?? null,
      patch.startedAt ?? false,
      patch.endedAt ?? false,
      patch.rowsCopied ?? null,
      patch.bytesCopied ?? null,
      patch.inserts ?? null,
      patch.updates ?? null,
      patch.deletes ?? null,
      patch.latencySeconds !== undefined,
      patch.latencySeconds ?? null,
      patch.pendingBytes !== undefined,
      patch.pendingBytes ?? null,
      patch.slotRetainedBytes !== undefined,
      patch.slotRetainedBytes ?? null,
      patch.appliedLsn ?? null,
      patch.applyStop !== undefined,
      patch.applyStop ? JSON.stringify(patch.applyStop) : null,
      patch.downtimeSeconds ?? null,
    ],
  };
}

export function tablePatchQuery(name: string, database: string, table: QualifiedName, patch: TablePatch): PatchQuery {
  return {
    text: `UPDATE ${S}.migration_table SET
         state = COALESCE($4, state),
         rows = COALESCE($5, rows),
         bytes = COALESCE($6, bytes),
         parts = COALESCE($7, parts),
         parts_done = CASE WHEN $4 = 'Completed' THEN COALESCE($7, parts) ELSE COALESCE($8, parts_done) END,
         started_at = CASE WHEN $9 THEN COALESCE(started_at, now()) ELSE started_at END,
         ended_at = CASE WHEN $10 THEN now() ELSE ended_at END,
         message = CASE WHEN $11::boolean THEN $12 ELSE message END
       WHERE migration = $1 AND database = $2 AND schema_name = $3 AND table_name = $13`,
    params: [
      name,
      database,
      table.schema,
      patch.state ?? null,
      patch.rows ?? null,
      patch.bytes ?? null,
      patch.parts ?? null,
      patch.partsDone ?? null,
      patch.startedAt ?? false,
      patch.endedAt ?? false,
      patch.message !== undefined,
      patch.message ?? null,
      table.name,
    ],
  };
}
