// The requests made of a migration, as the control catalog records them: its cancel and cutover
// (of every database or of some), the overwrite confirmation, the logical replication setup, the
// start of its data migration and the retry of its stopped streams. Each request notifies
// REQUEST_CHANNEL, so a runner waiting on it (requestWakeup.ts) acts within milliseconds instead of
// at its next poll. Beside them, what the runner records as it acts on them: a cutover's start, its
// clearing when the cutover stops, and the streams moving again after a stop. Plain functions over
// the catalog handle (connection.ts), as every module of control/.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA, REQUEST_CHANNEL } from '../core/names';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

/** Wakes the runner of `name` at once (RequestWakeup); a runner not listening sees the request at its next look. */
async function notifyRequest(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query('SELECT pg_notify($1, $2)', [REQUEST_CHANNEL, name]);
}

/**
 * Wakes the agents (runner/agent.ts listens on the same channel): a migration of runtime agents was
 * registered, or asked to resume, and an agent with its credentials takes it up at once instead of
 * at its next look.
 */
export async function notifyAgents(catalog: CatalogConnection, name: string): Promise<void> {
  await notifyRequest(catalog, name);
}

export async function requestCancel(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET cancel_requested = true, updated_at = now() WHERE name = $1`, [name]);
  await notifyRequest(catalog, name);
}

export async function isCancelRequested(catalog: CatalogConnection, name: string): Promise<boolean> {
  const rows = await catalog.query<{ c: boolean }>(`SELECT cancel_requested AS c FROM ${S}.migration WHERE name = $1`, [name]);
  return rows[0]?.c ?? false;
}

export async function requestCutover(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET cutover_requested_at = COALESCE(cutover_requested_at, now()), updated_at = now() WHERE name = $1`,
    [name],
  );
  await notifyRequest(catalog, name);
}

/** When the cutover first began (set now if it had not): downtime counts from there, across runners. */
export async function markCutoverStarted(catalog: CatalogConnection, name: string): Promise<Date> {
  const rows = await catalog.query<{ t: Date }>(
    `UPDATE ${S}.migration SET cutover_started_at = COALESCE(cutover_started_at, now()), updated_at = now() WHERE name = $1
     RETURNING cutover_started_at AS t`,
    [name],
  );
  return rows[0]?.t ?? new Date();
}

/**
 * A stopped cutover (no request, no start, no steps; `message` says why): streaming again, waiting for a new request. State and message change in one
 * statement, so nobody reads the message with the cutover's state still shown beside it.
 */
export async function clearCutover(
  catalog: CatalogConnection,
  name: string,
  message: string,
  subState: 'WaitingForCutoverTrigger' | 'WaitingForApplyFix' = 'WaitingForCutoverTrigger',
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET cutover_requested_at = NULL, cutover_started_at = NULL, message = $2, updated_at = now(),
            state = 'WaitingForUserAction', sub_state = $3
      WHERE name = $1`,
    [name, message, subState],
  );
  await catalog.query(
    `UPDATE ${S}.migration_database SET cutover_step = NULL, cutover_requested_at = NULL WHERE migration = $1 AND state <> 'Succeeded'`,
    [name],
  );
}

/** Asks for the cutover of some databases only (dbsToTriggerCutoverOn); the others stream on. */
export async function requestDatabaseCutover(catalog: CatalogConnection, name: string, databases: readonly string[]): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database SET cutover_requested_at = COALESCE(cutover_requested_at, now())
      WHERE migration = $1 AND database = ANY($2::text[])`,
    [name, [...databases]],
  );
  await catalog.query(`UPDATE ${S}.migration SET updated_at = now() WHERE name = $1`, [name]);
  await notifyRequest(catalog, name);
}

/** Asks for the cancel of some databases only (dbsToCancelMigrationOn); the others stream on. */
export async function requestDatabaseCancel(catalog: CatalogConnection, name: string, databases: readonly string[]): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database SET cancel_requested_at = COALESCE(cancel_requested_at, now())
      WHERE migration = $1 AND database = ANY($2::text[])`,
    [name, [...databases]],
  );
  await catalog.query(`UPDATE ${S}.migration SET updated_at = now() WHERE name = $1`, [name]);
  await notifyRequest(catalog, name);
}

/** The per-database requests not acted on yet: databases to cut over, databases to cancel. */
export async function databaseRequests(catalog: CatalogConnection, name: string): Promise<{ cutover: string[]; cancel: string[] }> {
  const rows = await catalog.query<{ database: string; cutover: boolean; cancel: boolean }>(
    `SELECT database, cutover_requested_at IS NOT NULL AS cutover, cancel_requested_at IS NOT NULL AS cancel
       FROM ${S}.migration_database
      WHERE migration = $1 AND state NOT IN ('Succeeded', 'Canceled', 'Failed')
      ORDER BY ordinal`,
    [name],
  );
  return {
    cutover: rows.filter((r) => r.cutover && !r.cancel).map((r) => r.database),
    cancel: rows.filter((r) => r.cancel).map((r) => r.database),
  };
}

/** A cutover of some databases completed: the next one measures its downtime from its own start. */
export async function clearCutoverStart(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET cutover_started_at = NULL WHERE name = $1`, [name]);
}

/**
 * The user allows overwriting the target databases of a migration waiting for that
 * (WaitingForTargetDBOverwriteConfirmation), as Azure's PATCH of overwriteDbsInTarget. Recorded
 * beside the spec, not in it: the spec stays the one the migration was created with, so a resume
 * given that spec is still the same migration, and a resumed runner sees the permission too.
 */
export async function confirmOverwrite(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET overwrite_confirmed_at = COALESCE(overwrite_confirmed_at, now()), updated_at = now() WHERE name = $1`,
    [name],
  );
  await notifyRequest(catalog, name);
}

/** update --setup-replication: the waiting runner may set up logical replication on the source. */
export async function requestReplicationSetup(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET replication_setup_requested_at = COALESCE(replication_setup_requested_at, now()), updated_at = now() WHERE name = $1`,
    [name],
  );
  await notifyRequest(catalog, name);
}

/** startDataMigration: True on a migration created with False: the waiting runner starts the copy. */
export async function requestDataMigrationStart(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET data_migration_start_requested_at = COALESCE(data_migration_start_requested_at, now()), updated_at = now() WHERE name = $1`,
    [name],
  );
  await notifyRequest(catalog, name);
}

/**
 * Moves the migration window: the stored spec's window keys are replaced (an unset one removed),
 * so the runner waiting for it reads the new one (waitForWindow) and a resume compares equal.
 */
export async function setMigrationWindow(
  catalog: CatalogConnection,
  name: string,
  window: { start?: string; end?: string },
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration
        SET spec = (spec - 'migrationWindowStartTimeInUtc' - 'migrationWindowEndTimeInUtc')
                   || jsonb_strip_nulls(jsonb_build_object('migrationWindowStartTimeInUtc', $2::text, 'migrationWindowEndTimeInUtc', $3::text)),
            updated_at = now()
      WHERE name = $1`,
    [name, window.start ?? null, window.end ?? null],
  );
  await notifyRequest(catalog, name);
}

/** The migration window as stored now (it may have been moved since the runner started). */
export async function migrationWindow(catalog: CatalogConnection, name: string): Promise<{ start?: string; end?: string }> {
  const rows = await catalog.query<{ start: string | null; end: string | null }>(
    `SELECT spec->>'migrationWindowStartTimeInUtc' AS start, spec->>'migrationWindowEndTimeInUtc' AS "end" FROM ${S}.migration WHERE name = $1`,
    [name],
  );
  const r = rows[0];
  return { ...(r?.start ? { start: r.start } : {}), ...(r?.end ? { end: r.end } : {}) };
}

/** Asks the runner to try its stopped streams again now (it also tries by itself, less often). */
export async function requestApplyRetry(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET apply_retry_requests = apply_retry_requests + 1, updated_at = now() WHERE name = $1`, [
    name,
  ]);
  await notifyRequest(catalog, name);
}

export async function applyRetryRequests(catalog: CatalogConnection, name: string): Promise<number> {
  const rows = await catalog.query<{ n: number }>(`SELECT apply_retry_requests AS n FROM ${S}.migration WHERE name = $1`, [name]);
  return rows[0]?.n ?? 0;
}

/** Every stream moves again: waiting for the cutover, the message of the stop replaced by `message` (which says so). */
export async function setStreaming(catalog: CatalogConnection, name: string, message: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET state = 'WaitingForUserAction', sub_state = 'WaitingForCutoverTrigger', message = $2, updated_at = now()
      WHERE name = $1 AND sub_state = 'WaitingForApplyFix'`,
    [name, message],
  );
}

export async function cutoverRequestedAt(catalog: CatalogConnection, name: string): Promise<Date | undefined> {
  const rows = await catalog.query<{ t: Date | null }>(`SELECT cutover_requested_at AS t FROM ${S}.migration WHERE name = $1`, [name]);
  return rows[0]?.t ?? undefined;
}
