// The switch back to streaming forward after a fall-back asked with --resume-forward
// (docs/fallback.md "The forward stream again"): once no fallback window of the migration is live
// any more, the databases that fell back with their forward slot made are streaming again
// (WaitingForCutoverTrigger), the migration is InProgress until its runner streams forward (it
// then waits for a cutover trigger, as at its first start, so a waiter sees that only once changes
// stream), and the target's writer fence, kept by the fall-back, is pending again in the footprint
// ledger, so the next cutover's release (or a cancel) lifts it. One statement: a runner killed
// around it finds the switch made whole or not at all, and a resume makes it then.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

const MESSAGE = 'fell back; the forward stream runs again from the fall-back point: cut over again when ready';

/**
 * Switches the databases that fell back with the forward stream asked for to streaming; returns
 * them (empty: nothing to switch, or a window still live, whose fall-back goes first).
 */
export async function reopenForward(store: CatalogConnection, migration: string): Promise<string[]> {
  await store.install(); // the forward columns come with version 23
  const rows = await store.query<{ database: string }>(
    `WITH live AS (
       SELECT 1 FROM ${S}.fallback_window WHERE migration = $1 AND state IN ('Opening', 'Open', 'Stopped', 'FallingBack')
     ), reopened AS (
       UPDATE ${S}.fallback_window SET forward_reopened_at = now(), message = $2
        WHERE migration = $1 AND state = 'FellBack' AND forward_again AND forward_lsn IS NOT NULL
          AND forward_reopened_at IS NULL AND NOT EXISTS (SELECT 1 FROM live)
       RETURNING database
     ), databases AS (
       UPDATE ${S}.migration_database d
          SET state = 'WaitingForCutoverTrigger', cutover_step = NULL, cutover_requested_at = NULL, ended_at = NULL, message = NULL
        WHERE d.migration = $1 AND d.database IN (SELECT database FROM reopened)
       RETURNING d.database
     ), fences AS (
       UPDATE ${S}.footprint SET kept_at = NULL
        WHERE migration = $1 AND change = 'targetFence' AND undone_at IS NULL AND database IN (SELECT database FROM reopened)
     ), migration AS (
       UPDATE ${S}.migration
          SET state = 'InProgress', sub_state = 'MigratingData', cutover_requested_at = NULL,
              cutover_started_at = NULL, cutover_options = NULL, ended_at = NULL, message = $2, updated_at = now()
        WHERE name = $1 AND EXISTS (SELECT 1 FROM reopened)
     )
     SELECT database FROM databases ORDER BY database`,
    [migration, MESSAGE],
  );
  return rows.map((r) => r.database);
}

/**
 * A database that streamed forward again is cut over a second time without a new window: its
 * record of the fall-back is Closed (no window is open, the old source does not follow), its message
 * saying when it fell back. With a window the cutover replaced the record already (Opening).
 */
export async function closeFellBackRecord(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await store.query(
    `UPDATE ${S}.fallback_window
        SET state = 'Closed', closed_at = now(),
            message = 'fell back at ' || to_char(fell_back_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ', then cut over again without a window'
      WHERE migration = $1 AND database = $2 AND state = 'FellBack' AND forward_reopened_at IS NOT NULL`,
    [migration, database],
  );
}
