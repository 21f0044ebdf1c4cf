// The control catalog's record of fallback windows (pgferry.fallback_window, control migration 22;
// docs/fallback.md): per database cut over with a window, written before its reverse slot and
// publication are made on the target (Opening), then Open with the slot's consistent point, until
// it closes. The reverse stream's applied position itself commits on the old source with the rows
// (cdc/apply/positionCommit.ts); the one here is for reporting.
import { displayIdent, ident } from '../connect/quote';
import { CONTROL_SCHEMA, REQUEST_CHANNEL } from '../core/names';
import { PgferryError } from '../core/errors';
import type { ApplyStop, FallbackStatus } from '../core/model';
import type { CatalogConnection } from './connection';

const CONTROL = ident(CONTROL_SCHEMA);
const T = `${CONTROL}.fallback_window`;

/**
 * Opening: recorded, the reverse slot may not exist yet. Open: the reverse stream applies.
 * Stopped: it stopped on an error and is tried again. FallingBack: `update --fall-back` under way.
 * FellBack: the old source is the primary again. Closed: slot and publication dropped.
 */
type FallbackState = FallbackStatus['state'];

export interface FallbackWindow {
  readonly database: string;
  readonly state: FallbackState;
  readonly openedAt: Date;
  readonly endsAt: Date;
  /** The reverse slot's consistent point on the target (the cutover point), once made. */
  readonly openedLsn?: string;
  readonly appliedLsn?: string;
  readonly closeRequested: boolean;
  readonly closedAt?: Date;
  readonly message?: string;
  readonly latencySeconds?: number;
  readonly pendingBytes?: number;
  readonly retainedBytes?: number;
  /** Stopped: how far the old source had applied when it stopped. */
  readonly stoppedLsn?: string;
  /** Stopped: the stop as a forward stream's is recorded (its cause and fix, since, attempts), kept across runners. */
  readonly stop?: ApplyStop;
  readonly fallBackRequested: boolean;
  /** When the fall-back fenced the target (its downtime starts there). */
  readonly fallBackStartedAt?: Date;
  /** The fall-back is past its verification, giving back the reverse stream and the old source's fence. */
  readonly fallBackReleased: boolean;
  readonly fellBackAt?: Date;
  readonly downtimeSeconds?: number;
  /** The fall-back was asked with --resume-forward: the forward stream starts again from its point. */
  readonly forwardAgain: boolean;
  /** The forward slot's consistent point on the old source, made before its fence was lifted. */
  readonly forwardLsn?: string;
  /** The database was switched back to streaming forward (reopenForward, below). */
  readonly forwardReopened: boolean;
}

/** A row of SELECT_WINDOWS. */
export interface WindowRow {
  database: string;
  state: FallbackState;
  opened_at: Date;
  ends_at: Date;
  opened_lsn: string | null;
  applied_lsn: string | null;
  close_requested_at: Date | null;
  closed_at: Date | null;
  message: string | null;
  latency_seconds: number | null;
  pending_bytes: string | null;
  retained_bytes: string | null;
  stopped_lsn: string | null;
  apply_stop: ApplyStop | null;
  fall_back_requested_at: Date | null;
  fall_back_started_at: Date | null;
  fall_back_released: boolean;
  fell_back_at: Date | null;
  downtime_seconds: number | null;
  forward_again: boolean | null;
  forward_lsn: string | null;
  forward_reopened_at: Date | null;
}

function shape(r: WindowRow): FallbackWindow {
  return {
    database: r.database,
    state: r.state,
    openedAt: r.opened_at,
    endsAt: r.ends_at,
    ...(r.opened_lsn ? { openedLsn: r.opened_lsn } : {}),
    ...(r.applied_lsn ? { appliedLsn: r.applied_lsn } : {}),
    closeRequested: r.close_requested_at !== null,
    ...(r.closed_at ? { closedAt: r.closed_at } : {}),
    ...(r.message ? { message: r.message } : {}),
    ...(r.latency_seconds !== null ? { latencySeconds: r.latency_seconds } : {}),
    ...(r.pending_bytes !== null ? { pendingBytes: Number(r.pending_bytes) } : {}),
    ...(r.retained_bytes !== null ? { retainedBytes: Number(r.retained_bytes) } : {}),
    ...(r.stopped_lsn ? { stoppedLsn: r.stopped_lsn } : {}),
    ...(r.apply_stop ? { stop: r.apply_stop } : {}),
    fallBackRequested: r.fall_back_requested_at !== null,
    ...(r.fall_back_started_at ? { fallBackStartedAt: r.fall_back_started_at } : {}),
    fallBackReleased: r.fall_back_released,
    ...(r.fell_back_at ? { fellBackAt: r.fell_back_at } : {}),
    ...(r.downtime_seconds !== null ? { downtimeSeconds: r.downtime_seconds } : {}),
    forwardAgain: r.forward_again === true,
    ...(r.forward_lsn ? { forwardLsn: r.forward_lsn } : {}),
    forwardReopened: Boolean(r.forward_reopened_at),
  };
}

/**
 * Records a database's window before anything is made for it; a record already there (a resumed
 * cutover) is kept as it is, unless it is a window that fell back and streamed forward again: a
 * second cutover's window replaces it (docs/fallback.md).
 */
export async function recordFallbackWindow(store: CatalogConnection, migration: string, database: string, seconds: number): Promise<void> {
  await store.install(); // the forward columns come with version 23
  await store.query(
    `INSERT INTO ${T} AS w (migration, database, ends_at) VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (migration, database) DO UPDATE
        SET opened_at = now(), ends_at = excluded.ends_at, state = 'Opening', opened_lsn = NULL, applied_lsn = NULL,
            close_requested_at = NULL, closed_at = NULL, message = NULL, latency_seconds = NULL, pending_bytes = NULL,
            retained_bytes = NULL, stopped_lsn = NULL, apply_stop = NULL, fall_back_requested_at = NULL, fall_back_started_at = NULL,
            fall_back_released = false, fell_back_at = NULL, downtime_seconds = NULL, forward_again = false,
            forward_lsn = NULL, forward_reopened_at = NULL, target_tables = NULL, sequences = NULL
      WHERE w.state = 'FellBack' AND w.forward_reopened_at IS NOT NULL`,
    [migration, database, seconds],
  );
}

/**
 * A free-standing sequence of the new server when a window opened: its name then, its OID there, and
 * the OID of the old source's it was paired with (null: none, a sequence not the migration's).
 */
export interface SequenceAtOpening {
  readonly schema: string;
  readonly name: string;
  /** The OID of its mate on the old source; null for one the migration did not pair (a DBA's, one outside the filters). */
  readonly source: string | null;
  /** Its OID on the new server. */
  readonly target: string;
}

/**
 * The reverse slot and publication exist: the window is Open from the slot's consistent point, with
 * the OIDs of the target's tables at that point (a table made later is the window's own), and the
 * free-standing sequences paired then (control migration 36).
 */
export async function markFallbackOpen(
  store: CatalogConnection,
  migration: string,
  database: string,
  openedLsn: string,
  targetTables: readonly string[],
  sequences: readonly SequenceAtOpening[],
): Promise<void> {
  await store.install(); // the sequences come with version 36
  await store.query(
    `UPDATE ${T} SET state = 'Open', opened_lsn = $3, target_tables = $4::oid[], sequences = $5::jsonb
      WHERE migration = $1 AND database = $2 AND state = 'Opening'`,
    [migration, database, openedLsn, targetTables, JSON.stringify(sequences)],
  );
}

/**
 * The free-standing sequences paired when the database's window opened; undefined for a window
 * opened by a pgferry before control migration 36, which did not record them.
 */
export async function sequencesAtOpening(
  store: CatalogConnection,
  migration: string,
  database: string,
): Promise<readonly SequenceAtOpening[] | undefined> {
  await store.install();
  const rows = await store.query<{ sequences: SequenceAtOpening[] | null }>(
    `SELECT sequences FROM ${T} WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  return rows[0]?.sequences ?? undefined;
}

/**
 * The OIDs of the target database's tables when its window opened; undefined for a window opened
 * by a pgferry before control migration 34, which did not record them.
 */
export async function tablesAtOpening(
  store: CatalogConnection,
  migration: string,
  database: string,
): Promise<readonly string[] | undefined> {
  const rows = await store.query<{ tables: string[] | null }>(
    `SELECT target_tables::text[] AS tables FROM ${T} WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  return rows[0]?.tables ?? undefined;
}

/** What the runner reads of the reverse stream for `show`: how far the old source has applied, the lag, the target's WAL pending and kept. */
export interface FallbackProgress {
  readonly appliedLsn: string;
  readonly latencySeconds: number;
  readonly pendingBytes?: number;
  readonly retainedBytes?: number;
}

/** Records the reverse stream's figures (reporting only: the position itself commits on the old source). */
export async function recordFallbackProgress(
  store: CatalogConnection,
  migration: string,
  database: string,
  p: FallbackProgress,
): Promise<void> {
  await store.query(
    `UPDATE ${T} SET applied_lsn = $3, latency_seconds = $4, pending_bytes = $5, retained_bytes = $6 WHERE migration = $1 AND database = $2`,
    [migration, database, p.appliedLsn, p.latencySeconds, p.pendingBytes ?? null, p.retainedBytes ?? null],
  );
}

/**
 * The user asks to close the windows (`pgferry update --close-fallback`); the runner is woken.
 * None is taken while a fall-back is asked or under way (one statement: it cannot slip between).
 */
export async function requestFallbackClose(store: CatalogConnection, migration: string): Promise<number> {
  const rows = await store.query<{ database: string }>(
    `UPDATE ${T} SET close_requested_at = coalesce(close_requested_at, now())
      WHERE migration = $1 AND state NOT IN ('Closed', 'FellBack')
        AND NOT EXISTS (SELECT 1 FROM ${T} o WHERE o.migration = $1 AND o.state NOT IN ('Closed', 'FellBack')
                          AND (o.state = 'FallingBack' OR o.fall_back_requested_at IS NOT NULL))
      RETURNING database`,
    [migration],
  );
  if (rows.length > 0) await store.query('SELECT pg_notify($1, $2)', [REQUEST_CHANNEL, migration]);
  return rows.length;
}

/**
 * The reverse stream stopped on an error, or stopped again when tried: Stopped, with the stop's
 * record (flow/streamStops.ts), its message and how far the old source had applied when it first
 * stopped.
 */
export async function markFallbackStopped(
  store: CatalogConnection,
  migration: string,
  database: string,
  message: string,
  stop: ApplyStop,
): Promise<void> {
  await store.install(); // the stop's column comes with version 29
  await store.query(
    `UPDATE ${T} SET state = 'Stopped', message = $3, apply_stop = $4, stopped_lsn = coalesce(stopped_lsn, $5)
      WHERE migration = $1 AND database = $2 AND state IN ('Open', 'Stopped')`,
    [migration, database, message, JSON.stringify(stop), stop.appliedLsn],
  );
}

/** A stopped reverse stream applies again: Open, the stop cleared, its message replaced by `message` (which says so). */
export async function markFallbackStreaming(store: CatalogConnection, migration: string, database: string, message: string): Promise<void> {
  await store.install(); // the stop's column comes with version 29
  await store.query(
    `UPDATE ${T} SET state = 'Open', message = $3, stopped_lsn = NULL, apply_stop = NULL
      WHERE migration = $1 AND database = $2 AND state = 'Stopped'`,
    [migration, database, message],
  );
}

/**
 * The user asks to fall back (`pgferry update --fall-back`): every open window of the migration at
 * once, in one statement, only while each is Open (the caller has said why not otherwise); the
 * runner is woken. `forwardAgain` (--resume-forward): the forward stream starts again from the
 * fall-back point (docs/fallback.md). Windows that fell back already (another window stopped before
 * its point of no return, asked again) stay as they are, and only the same choice of `forwardAgain`
 * they fell back with is taken: the migration streams forward again all together or not at all.
 * Returns how many windows took the request.
 */
export async function requestFallBack(store: CatalogConnection, migration: string, forwardAgain = false): Promise<number> {
  await store.install(); // forward_again comes with version 23
  const rows = await store.query<{ database: string }>(
    `UPDATE ${T} SET fall_back_requested_at = now(), message = NULL${forwardAgain ? ', forward_again = true' : ''}
      WHERE migration = $1 AND state = 'Open' AND fall_back_requested_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM ${T} o WHERE o.migration = $1 AND o.state IN ('Opening', 'Stopped', 'FallingBack'))
        AND NOT EXISTS (SELECT 1 FROM ${T} f WHERE f.migration = $1 AND f.state = 'FellBack' AND f.forward_again IS DISTINCT FROM $2)
      RETURNING database`,
    [migration, forwardAgain],
  );
  if (rows.length > 0) await store.query('SELECT pg_notify($1, $2)', [REQUEST_CHANNEL, migration]);
  return rows.length;
}

/**
 * The fall-back of a database begins (the target is about to be fenced); a resumed one keeps its first
 * start. Returns that start. Only an Open window begins one, and only a FallingBack one goes on: a
 * window that fell back, closed or stopped is never taken back to FallingBack (its completion would
 * be recorded again, a closed window's slot is gone), and is refused, nothing changed.
 */
export async function markFallingBack(store: CatalogConnection, migration: string, database: string): Promise<Date> {
  const rows = await store.query<{ started: Date }>(
    `UPDATE ${T} SET state = 'FallingBack', fall_back_started_at = coalesce(fall_back_started_at, now())
      WHERE migration = $1 AND database = $2 AND state IN ('Open', 'FallingBack') RETURNING fall_back_started_at AS started`,
    [migration, database],
  );
  if (rows[0]) return rows[0].started;
  const now = await store.query<{ state: string }>(`SELECT state FROM ${T} WHERE migration = $1 AND database = $2`, [migration, database]);
  throw new PgferryError(
    'FALLBACK_REFUSED',
    `migration "${migration}": the fallback window of database ${displayIdent(database)} is ${now[0]?.state ?? 'not recorded'}; a fall-back begins only in an Open window and goes on only in a FallingBack one, nothing was changed`,
    { category: 'input', fix: '`pgferry show` says the window; a fall-back is asked again only of an Open window' },
  );
}

/**
 * A fall-back stopped before anything irreversible (a difference found, a stream that failed): the
 * window is Open again, the request cleared (--resume-forward with it: the next request says again),
 * the message says why; the downtime start is forgotten. Never a window past its point of no return
 * (fall_back_released): the old source's fence may be lifted already, so that fall-back is finished,
 * never undone. Returns whether the window was cleared.
 */
export async function clearFallBack(store: CatalogConnection, migration: string, database: string, message: string): Promise<boolean> {
  await store.install(); // the forward columns come with version 23
  const rows = await store.query(
    `UPDATE ${T} SET state = 'Open', fall_back_requested_at = NULL, fall_back_started_at = NULL, forward_again = false, message = $3
      WHERE migration = $1 AND database = $2 AND state IN ('Open', 'FallingBack') AND NOT fall_back_released
      RETURNING database`,
    [migration, database, message],
  );
  return rows.length > 0;
}

/** The forward slot is made on the old source (the fall-back asked for the forward stream again): its consistent point. */
export async function markForwardSlot(store: CatalogConnection, migration: string, database: string, lsn: string): Promise<void> {
  await store.query(`UPDATE ${T} SET forward_lsn = $3 WHERE migration = $1 AND database = $2 AND forward_again`, [
    migration,
    database,
    lsn,
  ]);
}

/**
 * Past the fall-back's verification: what follows is given back, never stopped (a resumed runner
 * finishes it). The rows it carried into the old source's tables of the window (footprint change
 * windowCarry) are the applications' from here on: kept in the same statement, so that no release
 * after a runner killed between the two takes them back.
 */
export async function markFallBackReleased(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await store.query(
    `WITH released AS (
       UPDATE ${T} SET fall_back_released = true WHERE migration = $1 AND database = $2 AND state = 'FallingBack' RETURNING database
     )
     UPDATE ${CONTROL}.footprint SET kept_at = now()
      WHERE migration = $1 AND database = $2 AND change = 'windowCarry' AND undone_at IS NULL AND kept_at IS NULL
        AND EXISTS (SELECT 1 FROM released)`,
    [migration, database],
  );
}

/**
 * A step past the fall-back's point of no return failed: the window stays FallingBack (the target
 * fenced), its message says why and when the step is tried again, for `show`.
 */
export async function markFallBackRetry(store: CatalogConnection, migration: string, database: string, message: string): Promise<void> {
  await store.query(
    `UPDATE ${T} SET message = $3 WHERE migration = $1 AND database = $2 AND state = 'FallingBack' AND fall_back_released`,
    [migration, database, message],
  );
}

/**
 * The old source is the primary again: FellBack, with the downtime from the target's fence to the old
 * source's lifted, its completion's event and the migration's state (Succeeded, the event its
 * message), in one statement, so a runner killed at any moment leaves all three or none. Only a
 * FallingBack window moves, so a completion tried again after this committed records nothing twice.
 * Returns whether it moved.
 */
export async function markFellBack(
  store: CatalogConnection,
  migration: string,
  database: string,
  message: string,
  event: string,
): Promise<boolean> {
  const rows = await store.query(
    `WITH moved AS (
       UPDATE ${T} SET state = 'FellBack', fell_back_at = now(), closed_at = now(), message = $3,
              downtime_seconds = extract(epoch FROM now() - fall_back_started_at)
        WHERE migration = $1 AND database = $2 AND state = 'FallingBack'
        RETURNING migration, database
     ), settled AS (
       UPDATE ${CONTROL}.migration SET state = 'Succeeded', sub_state = 'Completed', message = $4, updated_at = now(), ended_at = now()
        WHERE name = $1 AND EXISTS (SELECT 1 FROM moved)
     )
     INSERT INTO ${CONTROL}.event (migration, level, database, message) SELECT migration, 'info', database, $4 FROM moved
     RETURNING 1`,
    [migration, database, message, event],
  );
  return rows.length > 0;
}

/** The reverse slot and publication are gone: Closed, with why. */
export async function markFallbackClosed(store: CatalogConnection, migration: string, database: string, message: string): Promise<void> {
  await store.query(`UPDATE ${T} SET state = 'Closed', closed_at = now(), message = $3 WHERE migration = $1 AND database = $2`, [
    migration,
    database,
    message,
  ]);
}

/** The window states a runner still has work in: the reverse stream, or a fall-back under way. */
const RUNNER_STATES: ReadonlySet<string> = new Set(['Open', 'Stopped', 'FallingBack']);

/**
 * Whether a migration cut over still needs a runner for its windows: one streams back or falls
 * back, or a fall-back with --resume-forward completed and its forward stream is not made again.
 */
export function windowsNeedRunner(windows: readonly FallbackWindow[]): boolean {
  return windows.some((w) => RUNNER_STATES.has(w.state) || (w.state === 'FellBack' && w.forwardAgain && !w.forwardReopened));
}

/** Every window of the migration, by database (`show`, the runner). */
export async function fallbackWindows(store: CatalogConnection, migration: string): Promise<FallbackWindow[]> {
  if (!(await hasWindows(store))) return [];
  return windowsOf(await store.query<WindowRow>(SELECT_WINDOWS, [migration]));
}

/** Whether the catalog has the windows' table (one from before windows existed has none); found once per connection. */
export function hasWindows(store: CatalogConnection): Promise<boolean> {
  return store.tableExists(T);
}

/** A migration's windows ($1: the migration), by database; their rows are shaped by windowsOf. */
export const SELECT_WINDOWS = `SELECT database, state, opened_at, ends_at, opened_lsn, applied_lsn, close_requested_at, closed_at, message,
            latency_seconds, pending_bytes::text, retained_bytes::text, stopped_lsn, to_jsonb(w) -> 'apply_stop' AS apply_stop,
            fall_back_requested_at,
            fall_back_started_at, fall_back_released, fell_back_at, downtime_seconds,
            to_jsonb(w) -> 'forward_again' AS forward_again, to_jsonb(w) ->> 'forward_lsn' AS forward_lsn,
            (to_jsonb(w) ->> 'forward_reopened_at')::timestamptz AS forward_reopened_at
       FROM ${T} w WHERE migration = $1 ORDER BY database`;

/** The windows of SELECT_WINDOWS's rows. */
export function windowsOf(rows: readonly WindowRow[]): FallbackWindow[] {
  return rows.map(shape);
}

/** The windows as `show` reports them, by database (an empty map for a migration without one). */
export async function fallbackStatuses(store: CatalogConnection, migration: string): Promise<Map<string, FallbackStatus>> {
  return statusesOf(await fallbackWindows(store, migration));
}

/** The windows as `show` reports them, by database. */
export function statusesOf(windows: readonly FallbackWindow[]): Map<string, FallbackStatus> {
  return new Map(
    windows.map((w) => [
      w.database,
      {
        state: w.state,
        endsAt: w.endsAt.toISOString(),
        ...(w.latencySeconds !== undefined ? { latencySeconds: w.latencySeconds } : {}),
        ...(w.pendingBytes !== undefined ? { pendingBytes: w.pendingBytes } : {}),
        ...(w.retainedBytes !== undefined ? { retainedBytes: w.retainedBytes } : {}),
        ...(w.appliedLsn ? { appliedLsn: w.appliedLsn } : {}),
        ...(w.closedAt ? { closedAt: w.closedAt.toISOString() } : {}),
        ...(w.message ? { message: w.message } : {}),
        // asked and not done: a window that fell back keeps its request, which no status reads as pending
        ...(w.fallBackRequested && w.state !== 'FellBack' ? { fallBackRequested: true } : {}),
        ...(w.fellBackAt ? { fellBackAt: w.fellBackAt.toISOString() } : {}),
        ...(w.downtimeSeconds !== undefined ? { downtimeSeconds: w.downtimeSeconds } : {}),
        ...(w.forwardLsn ? { forwardLsn: w.forwardLsn } : {}),
      },
    ]),
  );
}

// The switch back to streaming forward after a fall-back asked with --resume-forward
// (docs/fallback.md "The forward stream again"): once no fallback window of the migration is live
// any more, the databases that fell back with their forward slot made are streaming again
// (WaitingForCutoverTrigger), the migration is InProgress until its runner streams forward (it
// then waits for a cutover trigger, as at its first start, so a waiter sees that only once changes
// stream), and the target's writer fence, kept by the fall-back, is pending again in the footprint
// ledger, so the next cutover's release (or a cancel) lifts it. One statement: a runner killed
// around it finds the switch made whole or not at all, and a resume makes it then.

const FORWARD_AGAIN_MESSAGE = 'fell back; the forward stream runs again from the fall-back point: cut over again when ready';

/**
 * Switches the databases that fell back with the forward stream asked for to streaming; returns
 * them (empty: nothing to switch, or a window still live, whose fall-back goes first).
 */
export async function reopenForward(store: CatalogConnection, migration: string): Promise<string[]> {
  await store.install(); // the forward columns come with version 23
  const rows = await store.query<{ database: string }>(
    `WITH live AS (
       SELECT 1 FROM ${T} WHERE migration = $1 AND state IN ('Opening', 'Open', 'Stopped', 'FallingBack')
     ), reopened AS (
       UPDATE ${T} SET forward_reopened_at = now(), message = $2
        WHERE migration = $1 AND state = 'FellBack' AND forward_again AND forward_lsn IS NOT NULL
          AND forward_reopened_at IS NULL AND NOT EXISTS (SELECT 1 FROM live)
       RETURNING database
     ), databases AS (
       UPDATE ${CONTROL}.migration_database d
          SET state = 'WaitingForCutoverTrigger', cutover_step = NULL, cutover_requested_at = NULL, ended_at = NULL, message = NULL
        WHERE d.migration = $1 AND d.database IN (SELECT database FROM reopened)
       RETURNING d.database
     ), fences AS (
       UPDATE ${CONTROL}.footprint SET kept_at = NULL
        WHERE migration = $1 AND change = 'targetFence' AND undone_at IS NULL AND database IN (SELECT database FROM reopened)
     ), migration AS (
       UPDATE ${CONTROL}.migration
          SET state = 'InProgress', sub_state = 'MigratingData', cutover_requested_at = NULL,
              cutover_started_at = NULL, cutover_options = NULL, ended_at = NULL, message = $2, updated_at = now()
        WHERE name = $1 AND EXISTS (SELECT 1 FROM reopened)
     )
     SELECT database FROM databases ORDER BY database`,
    [migration, FORWARD_AGAIN_MESSAGE],
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
    `UPDATE ${T}
        SET state = 'Closed', closed_at = now(),
            message = 'fell back at ' || to_char(fell_back_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ', then cut over again without a window'
      WHERE migration = $1 AND database = $2 AND state = 'FellBack' AND forward_reopened_at IS NOT NULL`,
    [migration, database],
  );
}
