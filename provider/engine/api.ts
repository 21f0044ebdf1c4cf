// Entry points over the orchestrator and the control catalog.
import { serverMajor, withSession } from './connect/session';
import { ControlStore } from './control/store';
import { isPgferryError, PgferryError } from './core/errors';
import { isDatabaseDone, unknownDatabases } from './core/transitions';
import {
  isFinalState,
  runnerStopped,
  type MigrationStatus,
  type MigrationSubState,
  type ProgressListener,
  type VerificationReport,
} from './core/model';
import { dropDatabase, targetDatabaseOid } from './schema/database';
import type { CutoverOptions, MigrationSpec, ServerSpec } from './input/migrationSpec';
import { recordCutoverOptions } from './control/writerFences';
import { sameMigration } from './input/publicSpec';

export interface RunOptions {
  /**
   * Aborts the migration: work in flight stops at once (a COPY cut mid-stream is rolled back on the
   * target, nothing half-written stays), what an online migration holds on the source is released,
   * and the state becomes Canceled.
   */
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

/**
 * Runs a migration in this process. Offline: to a final state. Online: copy, then streaming until
 * a cutover completes or the migration is canceled. Returns the final status from the catalog.
 */
export async function runMigration(spec: MigrationSpec, options: RunOptions = {}): Promise<MigrationStatus> {
  await withStore(spec.target, (store) => store.register(spec));
  const { orchestrate } = await import('./flow/orchestrator');
  return orchestrate(spec, options);
}

/**
 * Registers the migration and starts a detached runner process that performs it, so the work
 * outlives the caller; returns once the runner holds its lease. With runtime agents it only
 * registers: the agents that hold the source's credentials run it.
 */
export async function startMigration(spec: MigrationSpec): Promise<void> {
  await withStore(spec.target, (store) => store.register(spec));
  // runtime agents: registered is all; `pgferry agent` processes near the target run it
  if (spec.runtime === 'agents') return;
  const { spawnRunner } = await import('./runner/spawn');
  await spawnRunner(spec, 'create');
}

/**
 * Restarts a migration whose runner is gone (killed, machine restarted) from its recorded
 * position, with the caller's credentials; a stream stopped on an error (WaitingForApplyFix) is
 * tried again now, by its live runner or a new one. Refused while a live runner holds the lease
 * otherwise, for a finished migration, and when the spec names other servers or databases than the
 * stored one.
 */
export async function resumeMigration(spec: MigrationSpec): Promise<void> {
  const name = spec.migrationName;
  const status = await showMigration(spec.target, name);
  if (!status) throw notFound(name);
  if (isFinalState(status.state)) {
    throw new PgferryError('MIGRATION_FINISHED', `migration "${name}" is already ${status.state}; there is nothing to resume`, {
      category: 'input',
      field: 'name',
    });
  }
  if (!sameMigration(status, spec)) {
    throw new PgferryError('SPEC_MISMATCH', `migration "${name}" was created with other servers, databases or mode than given`, {
      category: 'input',
      field: 'properties',
      fix: 'resume with the properties the migration was created with',
    });
  }
  const stopped = status.subState === 'WaitingForApplyFix';
  // a stopped stream is tried again now, by the live runner or by the one started here
  if (stopped) await withStore(spec.target, (store) => store.requestApplyRetry(name));
  // (a migration run in the caller's process has no runner record: its watch loop reads the request too)
  if (stopped && (status.runner === undefined || status.runner.alive)) return;
  // runtime agents: no runner of its own to start; any agent with the credentials takes it up
  if (status.runtime === 'agents') return;
  if (status.runner?.alive) {
    throw new PgferryError(
      'RUNNER_ALREADY_RUNNING',
      `migration "${name}" already has a live runner (pid ${status.runner.pid} on ${status.runner.host})`,
      {
        category: 'input',
        field: 'name',
      },
    );
  }
  const { spawnRunner } = await import('./runner/spawn');
  await spawnRunner(spec, 'resume');
}

async function withStore<T>(target: ServerSpec, fn: (store: ControlStore) => Promise<T>): Promise<T> {
  const store = new ControlStore(target);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function showMigration(target: ServerSpec, name: string): Promise<MigrationStatus | undefined> {
  return withStore(target, (store) => store.get(name));
}

export async function listMigrations(target: ServerSpec, filter: 'active' | 'all' = 'active'): Promise<MigrationStatus[]> {
  return withStore(target, (store) => store.list(filter));
}

function notFound(name: string): PgferryError {
  return new PgferryError('MIGRATION_NOT_FOUND', `migration "${name}" not found on the target`, {
    category: 'input',
    field: 'name',
    fix: 'check the name with `pgferry list --filter all`',
  });
}

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
      `${field}: ${done.map((d) => `"${d.database}" is already ${d.state}`).join(', ')}; name only databases still migrating`,
      { category: 'input', field },
    );
  }
}

/**
 * Asks the process running the migration to stop; returns the status at that moment. When its
 * runner has stopped, nothing would act on the request: with `spec` (the source's credentials) the
 * cancel is carried out here, slots, publications and origins released; without, it is refused.
 * With `databases` (Azure's dbsToCancelMigrationOn), an online migration cancels only those,
 * the others streaming on; naming every database still migrating is the whole cancel.
 */
export async function cancelMigration(
  target: ServerSpec,
  name: string,
  options: { spec?: MigrationSpec; databases?: readonly string[] } = {},
): Promise<MigrationStatus> {
  const status = await withStore(target, (store) => store.get(name));
  if (!status) throw notFound(name);
  if (isFinalState(status.state)) {
    throw new PgferryError('MIGRATION_FINISHED', `migration "${name}" is already ${status.state}; there is nothing to cancel`, {
      category: 'input',
      field: 'name',
    });
  }
  const some = options.databases;
  if (some && some.length > 0) {
    checkRequestedDatabases(status, some, 'dbsToCancelMigrationOn');
    const open = status.databases.filter((d) => !isDatabaseDone(d.state)).map((d) => d.database);
    if (open.some((d) => !some.includes(d))) {
      return withStore(target, async (store) => {
        await store.requestDatabaseCancel(name, some);
        return (await store.get(name))!;
      });
    }
  }
  // runtime agents, never started by an agent: nothing may ever run it, so the cancel is carried out
  // here, unless an agent's runner took the lease meanwhile (then it sees the request)
  const notStarted = status.runtime === 'agents' && status.runner === undefined;
  if (runnerStopped(status) || notStarted) {
    const { cancelWithoutRunner } = await import('./flow/stoppedRunner');
    try {
      return await cancelWithoutRunner(target, name, options.spec);
    } catch (error) {
      if (!(notStarted && isPgferryError(error) && error.code === 'RUNNER_ALREADY_RUNNING')) throw error;
    }
  }
  return withStore(target, async (store) => {
    await store.requestCancel(name);
    return (await store.get(name))!;
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
    const status = await store.get(name);
    if (!status) throw notFound(name);
    if (status.mode !== 'Online') {
      throw new PgferryError('CUTOVER_OFFLINE', `migration "${name}" is Offline; cutover applies only to Online migrations`, {
        category: 'input',
        field: 'cutover',
      });
    }
    const ready: readonly string[] = ['WaitingForCutoverTrigger', 'CompletingMigration', 'CancelingRequestedDBMigrations'];
    if (!ready.includes(status.subState)) {
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
      await store.requestDatabaseCutover(name, databases);
    } else {
      await store.requestCutover(name);
    }
    return (await store.get(name))!;
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
    const status = await store.get(name);
    if (!status) throw notFound(name);
    if (status.subState !== 'WaitingForTargetDBOverwriteConfirmation') {
      throw new PgferryError(
        'OVERWRITE_NOT_WAITING',
        `migration "${name}" is ${status.state}/${status.subState}; an overwrite confirmation applies only in WaitingForTargetDBOverwriteConfirmation`,
        { category: 'input', field: 'overwriteDbsInTarget' },
      );
    }
    await store.confirmOverwrite(name);
    return (await store.get(name))!;
  });
}

/** A request that applies only while the migration waits in `subState` (az update's PATCH). */
async function requestWhileWaiting(
  target: ServerSpec,
  name: string,
  wait: { subState: MigrationSubState; code: 'SETUP_REPLICATION_NOT_WAITING' | 'DATA_MIGRATION_NOT_WAITING'; field: string; what: string },
  record: (store: ControlStore) => Promise<void>,
): Promise<MigrationStatus> {
  return withStore(target, async (store) => {
    const status = await store.get(name);
    if (!status) throw notFound(name);
    if (status.subState !== wait.subState) {
      throw new PgferryError(
        wait.code,
        `migration "${name}" is ${status.state}/${status.subState}; ${wait.what} applies only in ${wait.subState}`,
        { category: 'input', field: wait.field },
      );
    }
    await record(store);
    return (await store.get(name))!;
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
    (store) => store.requestReplicationSetup(name),
  );
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
    (store) => store.requestDataMigrationStart(name),
  );
}

/**
 * After a request that ends a wait (startDataMigration: True): the status once the runner has left
 * `subState`, or has stopped (a resume acts on the request), or after `timeoutMs` as it is then.
 */
export async function leftWait(
  target: ServerSpec,
  name: string,
  subState: MigrationSubState,
  timeoutMs = 30_000,
): Promise<MigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  return waitForMigration(target, name, (s) => s.subState !== subState || runnerStopped(s) || Date.now() > deadline, { intervalMs: 250 });
}

/**
 * Removes what an online migration created: its replication slot and publication in every source
 * database and its replication origin (or progress row) in every target database. Idempotent; a
 * slot still held by a dead runner's walsender is released first. The names come from the
 * migration's record on the target (its instance), so nothing of another migration is touched.
 */
export async function cleanupSource(spec: MigrationSpec): Promise<void> {
  const status = await showMigration(spec.target, spec.migrationName);
  const { releaseStreams } = await import('./cdc/source/release');
  await releaseStreams(spec, status?.instance);
}

export interface DroppedDatabases {
  readonly dropped: readonly string[];
  /** Databases left in place, each with why. */
  readonly kept: readonly { readonly database: string; readonly reason: string }[];
}

/**
 * Drops the target databases this migration created (Pulumi's dropTargetDatabasesOnDelete): only
 * those whose OID is the one recorded when the migration created them, never a database that was
 * there before (unless the migration replaced it under overwrite) or was created by someone else
 * since. A migration that has cut over (Succeeded) keeps its databases unless `afterCutover`.
 */
export async function dropTargetDatabases(spec: MigrationSpec, options: { afterCutover?: boolean } = {}): Promise<DroppedDatabases> {
  const status = await showMigration(spec.target, spec.migrationName);
  const dropped: string[] = [];
  const kept: { database: string; reason: string }[] = [];
  if (!status)
    return { dropped, kept: spec.databases.map((database) => ({ database, reason: 'the migration is not recorded on the target' })) };
  if (status.state === 'Succeeded' && !options.afterCutover) {
    return {
      dropped,
      kept: spec.databases.map((database) => ({
        database,
        reason: `migration "${spec.migrationName}" has cut over: its databases are in use`,
      })),
    };
  }
  await withSession(spec.target, { purpose: 'cleanup', writable: true }, async (client) => {
    const major = await serverMajor(client);
    for (const db of status.databases) {
      const oid = await targetDatabaseOid(client, db.database);
      if (oid === undefined) continue;
      if (db.targetDatabase?.oid !== oid) {
        kept.push({ database: db.database, reason: 'it was not created by this migration' });
        continue;
      }
      await dropDatabase(client, db.database, major);
      dropped.push(db.database);
    }
  });
  return { dropped, kept };
}

/** Removes a finished migration's record from the control catalog, freeing its name. */
export async function removeMigration(target: ServerSpec, name: string): Promise<void> {
  await withStore(target, async (store) => {
    const status = await store.get(name);
    if (!status) return;
    if (!isFinalState(status.state)) {
      throw new PgferryError('MIGRATION_IN_PROGRESS', `migration "${name}" is ${status.state}; cancel it before removing it`, {
        category: 'input',
        field: 'name',
        fix: '`pgferry update --cancel`, then remove it',
      });
    }
    await store.remove(name);
  });
}

/** Row counts and content checksums of every table, source vs target, now. */
export async function verifyMigration(spec: MigrationSpec, options: RunOptions = {}): Promise<VerificationReport> {
  const { verifyDatabases } = await import('./verify');
  return verifyDatabases(spec, { signal: options.signal, onProgress: options.onProgress });
}

/** Polls the catalog until `done(status)` holds; calls `onStatus` with each status read. */
export async function waitForMigration(
  target: ServerSpec,
  name: string,
  done: (status: MigrationStatus) => boolean,
  options: { intervalMs?: number; signal?: AbortSignal; onStatus?: (status: MigrationStatus) => void; timeoutMs?: number } = {},
): Promise<MigrationStatus> {
  const started = Date.now();
  return withStore(target, async (store) => {
    for (;;) {
      const status = await store.get(name);
      if (!status) throw notFound(name);
      options.onStatus?.(status);
      if (done(status)) return status;
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
        throw new PgferryError(
          'WAIT_TIMEOUT',
          `migration "${name}" is still ${status.state}/${status.subState} after ${Math.round(options.timeoutMs / 1000)} s`,
          {
            category: 'internal',
            fix: 'the migration keeps running; check it with `pgferry show`',
          },
        );
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  });
}
