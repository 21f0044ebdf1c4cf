// The decisions that move a migration between Azure's states and substates, in one pure module:
// the waits before any copy (logical replication setup, overwrite confirmation, the migration
// window), which databases a per-database cutover or cancel names, the substate while streaming,
// and how a migration whose databases each ended on their own ends. The flow code asks; the
// control catalog records what it answers.
import { PgferryError } from './errors';
import { displayIdent } from './printedName';
import type { DatabaseState, MigrationState, MigrationStatus, MigrationSubState } from './model';

/** Substates in which nothing moves until the user acts (a settled wait, for `--wait` and `pulumi up`). */
export const USER_ACTION_SUB_STATES: ReadonlySet<MigrationSubState> = new Set([
  'WaitingForLogicalReplicationSetupRequestOnSourceDB',
  'WaitingForTargetDBOverwriteConfirmation',
]);

/** Substates in which the migration waits for its window: it starts by itself, nobody needs to act. */
export const SCHEDULED_SUB_STATES: ReadonlySet<MigrationSubState> = new Set([
  'WaitingForDataMigrationScheduling',
  'WaitingForDataMigrationWindow',
]);

/**
 * Created without dbsToMigrate (Azure's migration may be): nothing happens until an update names
 * the databases. Shown InProgress, as Azure shows it, though only the user can end it.
 */
export const DATABASES_WAIT: MigrationSubState = 'WaitingForDBsToMigrateSpecification';

/** The state each wait before the copy is shown in (Azure shows user waits as WaitingForUserAction). */
export function waitState(subState: MigrationSubState): MigrationState {
  return USER_ACTION_SUB_STATES.has(subState) ? 'WaitingForUserAction' : 'InProgress';
}

/** A migration waiting before its copy, for the user or for its window: a run's wait is over there. */
export function waitsBeforeCopy(status: Pick<MigrationStatus, 'subState'>): boolean {
  return USER_ACTION_SUB_STATES.has(status.subState) || SCHEDULED_SUB_STATES.has(status.subState) || status.subState === DATABASES_WAIT;
}

export interface MigrationWindow {
  /** ISO 8601 instants (UTC), as migrationWindowStartTimeInUtc / migrationWindowEndTimeInUtc. */
  readonly start?: string;
  readonly end?: string;
}

export type WindowPhase = 'before' | 'open' | 'closed';

/** Where `nowMs` falls in the window: no start means it is open from now, no end that it never closes. */
export function windowPhase(window: MigrationWindow, nowMs: number): WindowPhase {
  if (window.end !== undefined && nowMs >= Date.parse(window.end)) return 'closed';
  if (window.start !== undefined && nowMs < Date.parse(window.start)) return 'before';
  return 'open';
}

/**
 * Why a window cannot be used for a new migration (undefined when it can): its end is not after its
 * start, or it is already over. Judged at create only: a resumed migration's window may be past.
 */
export function windowRefusal(window: MigrationWindow, nowMs: number): string | undefined {
  if (window.start !== undefined && window.end !== undefined && Date.parse(window.end) <= Date.parse(window.start)) {
    return `migrationWindowEndTimeInUtc (${window.end}) must be after migrationWindowStartTimeInUtc (${window.start})`;
  }
  if (window.end !== undefined && Date.parse(window.end) <= nowMs) {
    return `migrationWindowEndTimeInUtc (${window.end}) is in the past; give a window that ends after now (UTC ${new Date(nowMs).toISOString()})`;
  }
  return undefined;
}

/** windowRefusal as the input error a create or a window move gives, nothing changed. */
export function checkWindowUsable(window: MigrationWindow, nowMs: number): void {
  const refused = windowRefusal(window, nowMs);
  if (!refused) return;
  throw new PgferryError('MIGRATION_WINDOW_INVALID', refused, {
    category: 'input',
    field: 'migrationWindowEndTimeInUtc',
    fix: 'give a window whose end is in the future and after its start, or leave both unset to start now',
  });
}

/**
 * What a migration created without its databases says while it waits for them (DATABASES_WAIT):
 * from its registration on, so that no look at it finds the substate without the way out of it.
 */
export function databasesWaitMessage(name: string): string {
  return `created without dbsToMigrate: the migration waits for the databases to migrate, named with \`pgferry update --name ${name} --db-names DB...\`, an update body {"properties": {"dbsToMigrate": [...]}} or dbsToMigrate and \`pulumi up\`; nothing was changed on either server`;
}

/**
 * The substate a new migration is registered in: waiting for its databases when none is named,
 * scheduled when its window opens later.
 */
export function registeredSubState(window: MigrationWindow, nowMs: number, databases = 1): MigrationSubState {
  if (databases === 0) return DATABASES_WAIT;
  return windowPhase(window, nowMs) === 'before' ? 'WaitingForDataMigrationScheduling' : 'PerformingPreRequisiteSteps';
}

/**
 * The databases a per-database request names, checked against the migration's: undefined when all
 * are known, else the one-line reason naming the unknown ones and the allowed ones.
 */
export function unknownDatabases(requested: readonly string[], migrated: readonly string[]): string | undefined {
  const unknown = requested.filter((d) => !migrated.includes(d));
  if (unknown.length === 0) return undefined;
  const list = (dbs: readonly string[]) => dbs.map(displayIdent).join(', ');
  return `${list(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not migrated by this migration; it migrates ${list(migrated)}`;
}

/** A database that will not stream again: cut over, canceled or failed. */
export function isDatabaseDone(state: DatabaseState): boolean {
  return state === 'Succeeded' || state === 'Canceled' || state === 'Failed';
}

/** The substate while databases stream: a cancel of some goes first, then a stopped stream, then the cutover wait. */
export function streamingSubState(canceling: boolean, anyStopped: boolean): MigrationSubState {
  if (canceling) return 'CancelingRequestedDBMigrations';
  return anyStopped ? 'WaitingForApplyFix' : 'WaitingForCutoverTrigger';
}

export interface MigrationEnding {
  readonly state: Extract<MigrationState, 'Succeeded' | 'Canceled'>;
  readonly message: string | null;
}

/**
 * How a migration ends once every database was cut over or canceled on its own. Succeeded when at
 * least one database was cut over (applications now use the target: the migration did its job,
 * and the message names the databases that were canceled); Canceled when every one was canceled.
 */
export function endOfDatabases(
  databases: readonly { readonly database: string; readonly state: DatabaseState }[],
  done: 'cut over' | 'copied' = 'cut over',
): MigrationEnding {
  const canceled = databases.filter((d) => d.state === 'Canceled').map((d) => displayIdent(d.database));
  if (canceled.length === databases.length) return { state: 'Canceled', message: 'canceled by the user (every database was canceled)' };
  if (canceled.length === 0) return { state: 'Succeeded', message: null };
  return { state: 'Succeeded', message: `${done}; ${canceled.join(', ')} canceled by the user and not migrated` };
}

/** Where a cancel or a failure goes before its final state: CleaningUp while what pgferry created is dropped. */
export function cleanupSubState(canceled: boolean): MigrationSubState {
  return canceled ? 'CancelingRequestedDBMigrations' : 'CompletingMigration';
}
