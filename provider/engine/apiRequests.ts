// The library API's requests of a migration in progress: its cancel, its cutover, the overwrite
// confirmation, the logical replication setup and the start of its data migration. Each checks the
// migration's status first and records the request in the control catalog, whose runner acts on it
// (control/migrationRequests.ts); the rest of the API is api.ts. One is carried out here, not by a
// runner: lifting a fence kept after the migration ended (`pgferry fence lift`), when no runner is left to ask.
import { withStore, notFound } from './api';
import { displayIdent, displayName } from './connect/quote';
import type { CatalogConnection } from './control/connection';
import { isPgferryError, PgferryError } from './core/errors';
import {
  checkWindowUsable,
  DATABASES_WAIT,
  isDatabaseDone,
  SCHEDULED_SUB_STATES,
  unknownDatabases,
  type MigrationWindow,
} from './core/transitions';
import { nameDatabases } from './control/databasesToMigrate';
import { isFinalState, type MigrationStatus, type MigrationSubState } from './core/model';
import { runnerStopped, waitingForApplyFix } from './core/statusChecks';
import type { CutoverOptions, MigrationSpec, ServerSpec } from './input/migrationSpec';
import { recordCutoverOptions } from './control/cutoverOptions';
import { requestTableResync, tableResyncs } from './control/tableResyncs';
import { knownTables } from './control/knownObjects';
import { recordEvent } from './control/store';
import { shownStatus as get } from './footprint/shown';
import {
  confirmOverwrite as catalogConfirmOverwrite,
  requestCancel,
  requestCutover as catalogRequestCutover,
  requestDataMigrationStart as catalogRequestDataMigrationStart,
  requestDatabaseCancel,
  requestDatabaseCutover,
  requestReplicationSetup as catalogRequestReplicationSetup,
  setMigrationWindow,
} from './control/migrationRequests';
import { requestFallBack as catalogRequestFallBack, requestFallbackClose } from './control/fallbackWindows';

/**
 * The databases a per-database request names, checked: each one migrated by this migration and
 * not cut over or canceled yet. Throws the one-line error naming what is wrong.
 */
function checkRequestedDatabases(status: MigrationStatus, databases: readonly string[], field: string): void {
  const unknown = unknownDatabases(
    databases,
    status.databases.map((d) => d.database),
  );
  if (unknown) throw new PgferryError('DATABASE_NOT_MIGRATED', `${field}: ${unknown}`, { category: 'input', field });
  const done = status.databases.filter((d) => databases.includes(d.database) && isDatabaseDone(d.state));
  if (done.length > 0) {
    throw new PgferryError(
      'DATABASE_FINISHED',
      `${field}: ${done.map((d) => `${displayIdent(d.database)} is already ${d.state}`).join(', ')}; name only databases still migrating`,
      { category: 'input', field },
    );
  }
}

/**
 * Why a cancel of a finished migration is refused. A fall-back under way is not stopped by a
 * cancel: its runner finishes it, and the refusal says where that leaves the pooler's pause, so a
 * user who sees the applications held knows they resume on one server holding every write.
 */
function finishedRefusal(status: MigrationStatus): PgferryError {
  const falling = status.databases.filter((d) => d.fallback?.state === 'FallingBack').map((d) => displayIdent(d.database));
  if (falling.length === 0) {
    return new PgferryError('MIGRATION_FINISHED', `migration "${status.name}" is already ${status.state}; there is nothing to cancel`, {
      category: 'input',
      field: 'name',
    });
  }
  return new PgferryError(
    'MIGRATION_FINISHED',
    `migration "${status.name}" is ${status.state} and the fall-back of ${falling.join(', ')} is under way, which a cancel does not stop: nothing was changed; a pooler it paused resumes on the old source once it fell back, or on the new server if it stops, with every write`,
    {
      category: 'input',
      field: 'name',
      fix: 'pgferry show says where the fall-back is; if its runner stopped, pgferry resume finishes it',
    },
  );
}

/**
 * Asks the process running the migration to stop; returns the status at that moment. When its
 * runner has stopped, nothing would act on the request: with `spec` (the source's credentials) the
 * cancel is carried out here, slots, publications and origins released; without, it is refused.
 * With `databases` (Azure's dbsToCancelMigrationOn), an online migration cancels only those,
 * the others streaming on; naming every database still migrating is the whole cancel.
 * `poolerPassword`: the admin password of a pooler its cutover paused, when `spec` names no pooler.
 */
export async function cancelMigration(
  target: ServerSpec,
  name: string,
  options: { spec?: MigrationSpec; databases?: readonly string[]; poolerPassword?: string } = {},
): Promise<MigrationStatus> {
  const status = await withStore(target, (store) => get(store, name));
  if (!status) throw notFound(name);
  if (isFinalState(status.state)) throw finishedRefusal(status);
  const some = options.databases;
  if (some && some.length > 0) {
    checkRequestedDatabases(status, some, 'dbsToCancelMigrationOn');
    const open = status.databases.filter((d) => !isDatabaseDone(d.state)).map((d) => d.database);
    if (open.some((d) => !some.includes(d))) {
      return withStore(target, async (store) => {
        await requestDatabaseCancel(store, name, some);
        return (await get(store, name))!;
      });
    }
  }
  // runtime agents, never started by an agent: nothing may ever run it, so the cancel is carried out
  // here, unless an agent's runner took the lease meanwhile (then it sees the request)
  const notStarted = status.runtime === 'agents' && status.runner === undefined;
  if (runnerStopped(status) || notStarted) {
    const { cancelWithoutRunner } = await import('./runner/stoppedRunner');
    try {
      return await cancelWithoutRunner(target, name, options.spec, options.poolerPassword);
    } catch (error) {
      if (!(notStarted && isPgferryError(error) && error.code === 'RUNNER_ALREADY_RUNNING')) throw error;
    }
  }
  return withStore(target, async (store) => {
    await requestCancel(store, name);
    return (await get(store, name))!;
  });
}

/**
 * Requests the cutover of an online migration waiting for it: of every database, or with
 * `databases` (Azure's dbsToTriggerCutoverOn) of those only, the others streaming on. `options`
 * (fenceWriters, cutoverLagBudgetSeconds) apply to this cutover alone, over the migration's spec.
 */
export async function requestCutover(
  target: ServerSpec,
  name: string,
  databases?: readonly string[],
  options: CutoverOptions = {},
): Promise<MigrationStatus> {
  const given = await checkedCutoverOptions(options);
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    if (status.mode !== 'Online') {
      throw new PgferryError('CUTOVER_OFFLINE', `migration "${name}" is Offline; cutover applies only to Online migrations`, {
        category: 'input',
        field: 'cutover',
      });
    }
    const ready: readonly string[] = ['WaitingForCutoverTrigger', 'CompletingMigration', 'CancelingRequestedDBMigrations'];
    // a stopped stream the user fixed and resumed is being tried again: the cutover waits for it
    const resumed = status.subState === 'WaitingForApplyFix' && !waitingForApplyFix(status);
    if (!ready.includes(status.subState) && !resumed) {
      throw new PgferryError(
        'CUTOVER_NOT_READY',
        `migration "${name}" is ${status.state}/${status.subState}; cutover is allowed only in WaitingForCutoverTrigger`,
        { category: 'input', field: 'cutover', fix: 'wait until `pgferry show` reports WaitingForCutoverTrigger' },
      );
    }
    if (databases && databases.length > 0) checkRequestedDatabases(status, databases, 'dbsToTriggerCutoverOn');
    // recorded before the request itself, so the runner that wakes on it reads them
    if (Object.keys(given).length > 0) await recordCutoverOptions(store, name, given);
    if (databases && databases.length > 0) {
      await requestDatabaseCutover(store, name, databases);
    } else {
      await catalogRequestCutover(store, name);
    }
    return (await get(store, name))!;
  });
}

/** The options given, checked with the spec's own rules (zod loaded only when there are any). */
async function checkedCutoverOptions(options: CutoverOptions): Promise<CutoverOptions> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  if (Object.keys(given).length === 0) return {};
  const [{ cutoverOptionsSchema }, { zodToInputError }] = await Promise.all([import('./input/migrationSpec'), import('./input/parse')]);
  const parsed = cutoverOptionsSchema.safeParse(given);
  if (!parsed.success) throw zodToInputError(parsed.error);
  return parsed.data;
}

/**
 * Allows a migration waiting in WaitingForTargetDBOverwriteConfirmation to overwrite its target
 * databases (Azure: PATCH overwriteDbsInTarget true); refused in any other substate.
 */
export async function confirmOverwrite(target: ServerSpec, name: string): Promise<MigrationStatus> {
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    if (status.subState !== 'WaitingForTargetDBOverwriteConfirmation') {
      throw new PgferryError(
        'OVERWRITE_NOT_WAITING',
        `migration "${name}" is ${status.state}/${status.subState}; an overwrite confirmation applies only in WaitingForTargetDBOverwriteConfirmation`,
        { category: 'input', field: 'overwriteDbsInTarget' },
      );
    }
    await catalogConfirmOverwrite(store, name);
    return (await get(store, name))!;
  });
}

/** A request that applies only while the migration waits in `subState` (az update's PATCH). */
async function requestWhileWaiting(
  target: ServerSpec,
  name: string,
  wait: { subState: MigrationSubState; code: 'SETUP_REPLICATION_NOT_WAITING' | 'DATA_MIGRATION_NOT_WAITING'; field: string; what: string },
  record: (store: CatalogConnection) => Promise<void>,
): Promise<MigrationStatus> {
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    if (status.subState !== wait.subState) {
      throw new PgferryError(
        wait.code,
        `migration "${name}" is ${status.state}/${status.subState}; ${wait.what} applies only in ${wait.subState}`,
        { category: 'input', field: wait.field },
      );
    }
    await record(store);
    return (await get(store, name))!;
  });
}

/**
 * az's `update --setup-replication`: a migration waiting in
 * WaitingForLogicalReplicationSetupRequestOnSourceDB may set what the source lacks with ALTER
 * SYSTEM (it never restarts the source).
 */
export function requestReplicationSetup(target: ServerSpec, name: string): Promise<MigrationStatus> {
  return requestWhileWaiting(
    target,
    name,
    {
      subState: 'WaitingForLogicalReplicationSetupRequestOnSourceDB',
      code: 'SETUP_REPLICATION_NOT_WAITING',
      field: 'setupLogicalReplicationOnSourceDbIfNeeded',
      what: 'a logical replication setup request',
    },
    (store) => catalogRequestReplicationSetup(store, name),
  );
}

/**
 * Moves a migration's window (migrationWindowStartTimeInUtc / EndTimeInUtc), as an update of
 * Azure's Migration may: a migration still waiting for its window (or not started yet) starts in
 * the new one; one whose copy started already keeps going and records the new window, which then
 * schedules nothing (a resume compares equal either way). A window that ends before it starts or
 * is over is refused, and nothing changes.
 */
export async function moveMigrationWindow(target: ServerSpec, name: string, window: MigrationWindow): Promise<MigrationStatus> {
  const normalized: MigrationWindow = {
    ...(window.start ? { start: new Date(window.start).toISOString() } : {}),
    ...(window.end ? { end: new Date(window.end).toISOString() } : {}),
  };
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const stored = status.spec;
    if (stored.migrationWindowStartTimeInUtc === normalized.start && stored.migrationWindowEndTimeInUtc === normalized.end) return status;
    if (isFinalState(status.state)) {
      throw new PgferryError('MIGRATION_FINISHED', `migration "${name}" is already ${status.state}; its window can no longer move`, {
        category: 'input',
        field: 'migrationWindowStartTimeInUtc',
      });
    }
    checkWindowUsable(normalized, Date.now());
    await setMigrationWindow(store, name, normalized);
    const waits = SCHEDULED_SUB_STATES.has(status.subState) || status.subState === 'PerformingPreRequisiteSteps';
    await recordEvent(
      store,
      name,
      'info',
      `migration window moved to ${normalized.start ?? 'now'} .. ${normalized.end ?? 'open-ended'}${waits ? '' : ' (the copy had started: the window schedules nothing more)'}`,
    );
    return (await get(store, name))!;
  });
}

/**
 * The databases of a migration created without them (Azure's PATCH of dbsToMigrate; `pgferry update
 * --db-names`, an update body, PgMigration's input), checked as at create (the same one-line errors,
 * under `field`, the name the caller's user wrote): the migration waiting in
 * WaitingForDBsToMigrateSpecification goes on with them. The same databases again change nothing;
 * another list, once named (or a migration that ended), is refused, and nothing changes.
 */
export async function nameDatabasesToMigrate(
  target: ServerSpec,
  name: string,
  databases: readonly string[],
  field = 'dbsToMigrate',
): Promise<MigrationStatus> {
  await checkDatabaseList(target, databases, field);
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const stored = status.databases.map((d) => d.database);
    const same = stored.length === databases.length && stored.every((d) => databases.includes(d));
    if (stored.length > 0 && same) return status;
    const refuse = (why: string) =>
      new PgferryError('DATABASES_NOT_WAITING', `${field}: migration "${name}" ${why}; it may be given only in ${DATABASES_WAIT}`, {
        category: 'input',
        field,
      });
    if (isFinalState(status.state)) throw refuse(`is already ${status.state}`);
    if (stored.length > 0) throw refuse(`migrates ${stored.map((d) => displayIdent(d)).join(', ')} already, named when it was created`);
    if (!(await nameDatabases(store, name, databases))) {
      const now = await get(store, name);
      throw refuse(now && isFinalState(now.state) ? `ended meanwhile (${now.state})` : 'had its databases named meanwhile');
    }
    await recordEvent(store, name, 'info', `databases to migrate named: ${databases.join(', ')}`);
    return (await get(store, name))!;
  });
}

/** A database list checked with the spec's own rules (zod loaded only here), errors under `field`. */
async function checkDatabaseList(target: ServerSpec, databases: readonly string[], field: string): Promise<void> {
  const [{ migrationSpecSchema }, { describeIssue }] = await Promise.all([import('./input/migrationSpec'), import('./input/parse')]);
  const parsed = migrationSpecSchema.shape.databases.safeParse([...databases]);
  const issue = parsed.success ? undefined : parsed.error.issues[0];
  if (issue) {
    const described = describeIssue(issue, field);
    throw new PgferryError('INVALID_INPUT', `${described.field}: ${described.message}`, { category: 'input', field: described.field });
  }
  // as the spec refuses it at create: the control catalog lives in the target's maintenance database
  const maintenance = target.maintenanceDatabase;
  if (maintenance !== undefined && databases.includes(maintenance)) {
    throw new PgferryError(
      'INVALID_INPUT',
      `${field}: must not include "${maintenance}", the target's maintenance database that holds the control catalog; set target.maintenanceDatabase to another existing database`,
      { category: 'input', field },
    );
  }
}

/** startDataMigration: True on a migration created with False, waiting in WaitingForDataMigrationScheduling. */
export function requestDataMigrationStart(target: ServerSpec, name: string): Promise<MigrationStatus> {
  return requestWhileWaiting(
    target,
    name,
    {
      subState: 'WaitingForDataMigrationScheduling',
      code: 'DATA_MIGRATION_NOT_WAITING',
      field: 'startDataMigration',
      what: 'startDataMigration: True',
    },
    (store) => catalogRequestDataMigrationStart(store, name),
  );
}

/**
 * Parses a table named for a resync: `schema.table`, or `database/schema.table`; a part may be
 * double-quoted to hold a dot, a slash or a quote (written twice). Undefined when it is not a name.
 */
export function parseResyncTable(text: string): { database?: string; schema: string; name: string } | undefined {
  const parts: string[] = [];
  const separators: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let part = '';
    // U&"...": the form a name with a control character is printed in (connect/quote.ts displayIdent)
    const unicode = text.startsWith('U&"', i);
    if (unicode) i += 2;
    if (text[i] === '"') {
      for (i++; i < text.length; i++) {
        if (text[i] === '"' && text[i + 1] === '"') {
          part += '"';
          i++;
        } else if (text[i] === '"') break;
        else if (unicode && text[i] === '\\') {
          const escape = /^\\(?:\\|([0-9A-Fa-f]{4})|\+([0-9A-Fa-f]{6}))/.exec(text.slice(i));
          if (!escape) return undefined;
          part += escape[0] === '\\\\' ? '\\' : String.fromCodePoint(parseInt(escape[1] ?? escape[2]!, 16));
          i += escape[0].length - 1;
        } else part += text[i];
      }
      if (text[i] !== '"') return undefined;
      i++;
    } else {
      while (i < text.length && text[i] !== '.' && text[i] !== '/') part += text[i++];
    }
    if (part === '') return undefined;
    parts.push(part);
    if (i >= text.length) break;
    separators.push(text[i]!);
    i++;
    if (i >= text.length) return undefined;
  }
  if (parts.length === 2 && separators[0] === '.') return { schema: parts[0]!, name: parts[1]! };
  if (parts.length === 3 && separators[0] === '/' && separators[1] === '.')
    return { database: parts[0]!, schema: parts[1]!, name: parts[2]! };
  return undefined;
}

/**
 * `pgferry update --resync TABLE`: copies one table again at a pinned source position while the
 * other tables stream (flow/tableResync.ts), then streams it from that position, exactly once; a
 * table created on the source while streaming and reported (not published: its owner, its
 * identity) is followed by the same request once the cause is fixed. Recorded in the control
 * catalog; the runner carries it out at its next look (`show` lists it among the events).
 */
export async function requestResync(target: ServerSpec, name: string, table: string): Promise<MigrationStatus> {
  const parsed = parseResyncTable(table);
  if (!parsed) {
    throw new PgferryError(
      'RESYNC_TABLE',
      `--resync: ${JSON.stringify(table)} is not a table name (schema.table or database/schema.table; a part holding a dot, a slash or a double quote is written in double quotes, its double quotes doubled: "my db"/"a.b"."x ""y"" z")`,
      {
        category: 'input',
        field: 'resync',
      },
    );
  }
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const streaming = status.databases
      .filter((d) => d.state === 'WaitingForCutoverTrigger' || d.state === 'ApplyStopped')
      .map((d) => d.database);
    if (status.mode !== 'Online' || isFinalState(status.state) || streaming.length === 0) {
      throw new PgferryError(
        'RESYNC_NOT_STREAMING',
        `migration "${name}" is ${status.mode} and ${status.state}/${status.subState}; a table is resynchronised only while its database streams`,
        { category: 'input', field: 'resync', fix: 'ask once `pgferry show` reports WaitingForCutoverTrigger' },
      );
    }
    const database = parsed.database ?? (streaming.length === 1 ? streaming[0] : undefined);
    if (database === undefined || !streaming.includes(database)) {
      const which =
        database === undefined
          ? `several databases stream (${streaming.join(', ')}): name one`
          : `database ${displayIdent(database)} does not stream in this migration (streaming: ${streaming.join(', ')})`;
      throw new PgferryError('RESYNC_TABLE', `--resync ${table}: ${which}, as database/schema.table`, {
        category: 'input',
        field: 'resync',
      });
    }
    await refuseUnknownTable(store, name, database, table, parsed);
    await requestTableResync(store, name, database, parsed, 'requested');
    await recordEvent(store, name, 'info', `resync of ${displayName(parsed.schema, parsed.name)} requested`, database);
    return (await get(store, name))!;
  });
}

/**
 * A resync of a table the source does not have is refused before anything is recorded, so neither
 * server is touched: the tables the migration knows in the database (those the copy restored, and
 * those the schema watch saw on the source since, or followed there) are what may be asked for. A table created on the
 * source a moment ago is not known yet, but it needs no request: the watch follows it by itself.
 * Nothing is refused when nothing is known (a catalog an older pgferry filled): the runner then
 * tells it, as before.
 */
async function refuseUnknownTable(
  store: CatalogConnection,
  name: string,
  database: string,
  asked: string,
  table: { readonly schema: string; readonly name: string },
): Promise<void> {
  const known = await knownTables(store, name, database);
  if (!known || known.some((t) => t.schema === table.schema && t.name === table.name)) return;
  // A table the watch followed is moved before its next look records it as known.
  const followed = await tableResyncs(store, name);
  if (followed.some((r) => r.database === database && r.schema === table.schema && r.name === table.name)) return;
  const some = known.slice(0, 3).map((t) => displayName(t.schema, t.name));
  const such = some.length === 0 ? '' : ` (such as ${some.join(', ')}${known.length > some.length ? ', ...' : ''})`;
  throw new PgferryError(
    'RESYNC_TABLE',
    `--resync ${JSON.stringify(asked)}: migration ${displayIdent(name)} moves no table ${displayName(table.schema, table.name)} in database ${displayIdent(database)} (the source has none, or the filters leave it out); name a table it moves${such}, as schema.table or database/schema.table`,
    { category: 'input', field: 'resync' },
  );
}

/**
 * Why `closeFallbackWindow` refuses a migration now, from its status (the windows it carries), or
 * undefined when it may close: the error's code and its words after "--close-fallback: migration
 * "m" ". The console's Close window button reads it, so it refuses as the CLI does.
 */
export function closeFallbackRefusal(
  status: MigrationStatus,
): { code: 'FALLBACK_REFUSED' | 'FALLBACK_WINDOW_NONE'; why: string } | undefined {
  const windows = status.databases.flatMap((d) => (d.fallback ? [d.fallback] : []));
  const open = windows.filter((w) => w.state !== 'Closed' && w.state !== 'FellBack');
  if (open.some((w) => w.state === 'FallingBack' || w.fallBackRequested)) return { code: 'FALLBACK_REFUSED', why: CLOSE_BUSY };
  if (open.length > 0) return undefined;
  const why =
    status.mode !== 'Online'
      ? 'it is Offline, and only an online cutover opens one'
      : windows.length > 0
        ? 'its window is closed already'
        : `it has none (${status.state}; a window is opened by a cutover with fallbackWindow)`;
  return { code: 'FALLBACK_WINDOW_NONE', why: `has no open fallback window: ${why}` };
}

const CLOSE_BUSY = 'cannot close its fallback window: a fall-back is asked or under way; the window closes with it (see `pgferry show`)';

/**
 * Closes a migration's fallback windows (`pgferry update --close-fallback`, docs/fallback.md): its
 * runner stops the reverse stream and drops the reverse slot, publication and position; the old
 * source keeps the fence the cutover left. Refused in one line, changing nothing, when no window
 * is open: an offline migration, one cut over without a window, one closed already.
 */
export async function closeFallbackWindow(target: ServerSpec, name: string): Promise<MigrationStatus> {
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const refuse = (r: { code: 'FALLBACK_REFUSED' | 'FALLBACK_WINDOW_NONE'; why: string }) =>
      new PgferryError(r.code, `--close-fallback: migration "${name}" ${r.why}`, { category: 'input', field: 'closeFallback' });
    const refused = closeFallbackRefusal(status);
    if (refused) throw refuse(refused);
    // one statement that takes no window while a fall-back is asked: one asked meanwhile is said
    if ((await requestFallbackClose(store, name)) === 0) throw refuse({ code: 'FALLBACK_REFUSED', why: CLOSE_BUSY });
    return (await get(store, name))!;
  });
}

/**
 * Why `requestFallBack` refuses a migration now, in words after "cannot fall back: ", from its
 * status (the windows it carries); undefined when it may. The console's Fall back and Resume
 * forward buttons read it, so they refuse as the CLI does. A window that fell back while another
 * stopped before its point of no return leaves that other Open: asking again falls back the Open
 * ones, with the choice of `resumeForward` the first ask made (a FellBack window's forwardLsn).
 */
export function fallBackRefusal(status: MigrationStatus, resumeForward?: boolean): string | undefined {
  const windows = status.databases.flatMap((d) => (d.fallback ? [{ database: d.database, ...d.fallback }] : []));
  if (status.mode !== 'Online') return 'it is Offline, and only an online cutover with fallbackWindow opens a window to fall back in';
  if (windows.length === 0) return `it has no fallback window (${status.state}; a window is opened by a cutover with fallbackWindow)`;
  if (windows.some((w) => w.state === 'FallingBack' || w.fallBackRequested)) return 'a fall-back is asked already and under way';
  const stopped = windows.find((w) => w.state === 'Stopped');
  if (stopped) {
    return `the reverse stream of ${displayIdent(stopped.database)} is stopped on an error (${stopped.message ?? 'see pgferry show'}); fix the cause, it is tried again by itself, then ask again`;
  }
  if (windows.some((w) => w.state === 'Opening'))
    return 'its fallback window is still opening (the cutover is finishing); ask again once it is Open';
  const fell = windows.find((w) => w.state === 'FellBack');
  if (!windows.some((w) => w.state === 'Open')) {
    if (fell) return `it fell back already (${fell.fellBackAt ?? fell.database}); the old source is the primary`;
    return 'its fallback window is closed, and the old source has not followed the target since';
  }
  if (fell && resumeForward !== undefined && resumeForward !== (fell.forwardLsn !== undefined)) {
    const first = fell.forwardLsn !== undefined ? 'with' : 'without';
    return `${displayIdent(fell.database)} fell back ${first} --resume-forward; ask again ${first} it to fall back the databases still Open`;
  }
  return undefined;
}

/**
 * Asks a migration cut over with a fallback window to fall back (`pgferry update --fall-back`,
 * PgMigration `fallBack: true`; docs/fallback.md): its runner fences the target, drains the reverse
 * stream, moves the sequences back, verifies and lifts the old source's fence. Refused in one line,
 * changing nothing: offline, no window, the window closed, asked twice, the reverse stream stopped.
 * Asked again after a fall-back that passed in some databases and stopped in others, it falls back
 * the windows still Open, with the first ask's `resumeForward` (another choice is refused).
 * `resumeForward` (`--resume-forward`): the forward stream starts again from the fall-back point,
 * so the migration can be cut over again later without a new copy (docs/fallback.md).
 */
export async function requestFallBack(
  target: ServerSpec,
  name: string,
  options: { readonly resumeForward?: boolean } = {},
): Promise<MigrationStatus> {
  return withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const refuse = (why: string) =>
      new PgferryError('FALLBACK_REFUSED', `--fall-back: migration "${name}" cannot fall back: ${why}`, {
        category: 'input',
        field: 'fallBack',
      });
    const forward = options.resumeForward === true;
    const why = fallBackRefusal(status, forward);
    if (why) throw refuse(why);
    // one statement, every open window or none: a window that changed meanwhile is said as it is now
    if ((await catalogRequestFallBack(store, name, forward)) === 0)
      throw refuse(fallBackRefusal((await get(store, name)) ?? status, forward) ?? 'its windows changed meanwhile; ask again');
    await recordEvent(store, name, 'info', `fall-back requested${options.resumeForward ? ', the forward stream to start again' : ''}`);
    return (await get(store, name))!;
  });
}

/** Which server's kept fence `pgferry fence lift` lifts: the old source's after a cutover, the new server's after a fall-back. */
export type FencedServer = 'source' | 'target';

/** What `pgferry fence lift` did: per database whose fence it lifted, the statements it ran there. */
export interface FenceLiftReport {
  readonly migration: string;
  readonly server: FencedServer;
  readonly lifted: readonly { readonly database: string; readonly statements: readonly string[] }[];
}

/**
 * Why a migration's kept fence on `server` may not be lifted now, in words after its name; undefined
 * when it may. While changes still stream (forward, or forward again after a fall-back) or a fallback
 * window is open, the fence is what keeps writes from landing on both servers: lifted then, the
 * writes would split. A fence a switchover holds now is that switchover's to lift or keep.
 */
export function fenceLiftRefusal(status: MigrationStatus, server: FencedServer): string | undefined {
  if (!isFinalState(status.state)) {
    return `is ${status.state} (${status.subState}): while it runs, its fences keep writes from landing on both servers; lift once it has ended`;
  }
  const open = status.databases.find((d) => d.fallback && !['Closed', 'FellBack'].includes(d.fallback.state));
  if (open) {
    return `has the fallback window of ${displayIdent(open.database)} ${open.fallback!.state} until ${open.fallback!.endsAt}: writes on the old source would split from the target's; close it first (\`pgferry update --close-fallback\`) or let it pass`;
  }
  const held = status.databases.find((d) => {
    const fence = server === 'source' ? d.writerFence : d.targetFence;
    return fence !== undefined && !fence.kept;
  });
  if (held)
    return `has a fence on the ${server} of ${displayIdent(held.database)} that a switchover holds, not kept: it is that switchover's to lift`;
  return undefined;
}

/**
 * Lifts the fences a migration keeps on `server` (`pgferry fence lift`): for each database whose
 * fence the footprint ledger records as kept, the statements `show` gives, in one transaction in
 * that database (footprint/writerFence.ts `liftKeptFence`), then the record given back. Refused in
 * one line, changing nothing, while the migration streams or a window is open (fenceLiftRefusal).
 * Idempotent: a fence lifted already is not in the report, and a second run lifts nothing.
 */
export async function liftKeptFences(spec: MigrationSpec, server: FencedServer): Promise<FenceLiftReport> {
  const name = spec.migrationName;
  const [{ liftKeptFence }, { restoreContextOf }] = await Promise.all([import('./footprint/writerFence'), import('./footprint/change')]);
  return withStore(spec.target, async (store) => {
    const status = await get(store, name);
    if (!status) throw notFound(name);
    const why = fenceLiftRefusal(status, server);
    if (why) {
      throw new PgferryError('FENCE_LIFT_REFUSED', `fence lift: migration "${name}" ${why}`, { category: 'input', field: 'server' });
    }
    const ctx = restoreContextOf(spec, store);
    const lifted = [];
    for (const { database } of status.databases) {
      const statements = await liftKeptFence(ctx, database, server);
      if (statements) lifted.push({ database, statements });
    }
    return { migration: name, server, lifted };
  });
}
