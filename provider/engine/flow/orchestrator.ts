// The whole migration on one screen: register, validate, prerequisites, roles, then the offline
// flow (offline.ts) or the online one, entered once through the life after cutover (afterCutover.ts:
// streaming forward, a fallback window, a fall-back, forward again), recording state in the control
// catalog.
import { trace } from '../util/trace';
import { promises as fs } from 'node:fs';
import type pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import { closeSession, openSession } from '../connect/session';
import { CatalogConnection } from '../control/connection';
import { retryPhase } from './outage';
import { canceledError } from '../core/errors';
import { migrationEnd } from './migrationEnd';
import { safeEmit, type MigrationStatus, type ProgressEvent, type ProgressListener } from '../core/model';
import type { MigrationRun, RunOptions, SwitchoverRun } from '../run/migrationRun';
import { runOnline } from './online';
import { startResumeAhead, type ResumeAhead } from './resumeAhead';
import { followLife, type LifeSteps } from './afterCutover';
import { resolvePgTools, type PgTools } from '../schema/pgTools';
import type { MigrationSpec } from '../input/migrationSpec';
import { assertDistinctServers } from '../validate/sameServer';
import { targetDatabaseExistsError } from '../schema/database';
import {
  setupLogicalReplication,
  targetDatabaseGate,
  waitForDatabasesToMigrate,
  waitForDataMigrationStart,
  refuseLiveOverwrites,
  waitForOverwriteConfirmation,
  waitForWindow,
} from './preCopyWaits';
import { cleaningUpAfterCutover, finishCleanup } from './cleanup';
import { refuseBeforeChanges } from './filterGuard';
import { rolesNeededBySpec } from '../filter/roles';
import { isCancelRequested } from '../control/migrationRequests';
import { get, markOpenDatabases, recordEvent, setState, setValidation, setVersions, updateTable } from '../control/store';

export interface OrchestrateOptions extends RunOptions {
  /** Resume a migration an earlier process left unfinished. */
  readonly resume?: boolean;
  /** The control store to use (a runner's, already connected); the caller closes it. Else one of its own. */
  readonly store?: CatalogConnection;
  /** The runner's lease session: every apply COMMIT of the run checks it still holds its lock. */
  readonly leaseSessionPid?: number;
}

/**
 * Polls the catalog for a cancel request and turns it into an abort: the one place a cancel is
 * read while a migration runs (every phase, the online supervisor's loop too, follows the signal:
 * flow/handleCancel.ts).
 */
function watchCancel(store: CatalogConnection, name: string, controller: AbortController): () => void {
  const timer = setInterval(() => {
    isCancelRequested(store, name)
      .then((requested) => {
        if (requested) controller.abort(canceledError());
      })
      .catch(() => undefined);
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Live table progress reaches the catalog at most this often per table. */
const TABLE_PROGRESS_INTERVAL_MS = 1000;

/** Maps progress events to catalog writes and forwards them to the caller. */
function progressRecorder(store: CatalogConnection, name: string, listener: RunOptions['onProgress']) {
  const lastWrite = new Map<string, number>();
  // Fire and forget: progress is recorded best effort, and a catalog write that fails (the target
  // restarting) never stops or slows the migration; the next event writes the figures again.
  return (event: ProgressEvent): void => {
    safeEmit(listener, event);
    if (event.kind === 'table-progress') {
      const key = `${event.database}\0${event.table}`;
      const now = Date.now();
      // A finished part is always recorded; bytes in flight at most once a second.
      if (event.partsDone === undefined && now - (lastWrite.get(key) ?? 0) < TABLE_PROGRESS_INTERVAL_MS) return;
      lastWrite.set(key, now);
      void updateTable(store, name, event.database, event.relation, {
        rows: event.rows,
        bytes: event.bytes,
        partsDone: event.partsDone,
      }).catch(() => undefined);
    } else if (event.kind === 'table-error') {
      void updateTable(store, name, event.database, event.relation, { state: 'Errored', message: event.message }).catch(() => undefined);
    } else if (event.kind === 'warning' && !event.recorded) {
      void recordEvent(store, name, 'warning', event.message, event.database).catch(() => undefined);
    } else if (event.kind === 'step-done') {
      void recordEvent(store, name, 'info', `${event.step} done in ${event.seconds.toFixed(1)} s`, event.database).catch(() => undefined);
    }
  };
}

/**
 * Both servers' versions, and the refusal of one server as both source and target: the target's
 * read on the control catalog's session, the source's on a session of its own or on the one a
 * resume opened ahead (flow/resumeAhead.ts), which stays open (a resume waits for these round trips
 * before its first change, and each connection opened is one more on its way).
 */
async function serverFacts(
  spec: MigrationSpec,
  store: CatalogConnection,
  lentSource: Promise<pg.Client> | undefined,
): Promise<{ source: string; target: string; sourceMajor: number; targetMajor: number }> {
  const lent = lentSource ? await lentSource.catch(() => undefined) : undefined;
  const source = lent ?? (await openSession(spec.source, { purpose: 'versions', readOnly: true }));
  try {
    // the version and its major in one round trip
    const read = async (c: pg.Client) => {
      const { rows } = await c.query<{ v: string; n: string }>(
        `SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n`,
      );
      return { version: rows[0]!.v, major: Math.floor(Number(rows[0]!.n) / 10000) };
    };
    const s = read(source);
    s.catch(() => undefined); // awaited below; a rejection is not lost
    const t = await store.exclusive(async (target) => {
      const [, facts] = await Promise.all([assertDistinctServers(spec, source, target), read(target)]);
      return facts;
    });
    const sv = await s;
    return { source: sv.version, target: t.version, sourceMajor: sv.major, targetMajor: t.major };
  } finally {
    if (!lent) await closeSession(source);
  }
}

/**
 * Fails before any change when a target database exists that this migration neither created nor
 * may overwrite (on a resume too: a resume never widens what may be dropped), or, with
 * waitForOverwriteConfirmation, waits for the user to allow it; then refuses to overwrite one that
 * is live unless overwriteLiveDbsInTarget names it. Returns the spec the run uses:
 * overwriteDbsInTarget set once the user allowed it (control/migrationRequests.ts confirmOverwrite).
 */
async function checkTargetDatabases(spec: MigrationSpec, store: CatalogConnection, signal: AbortSignal): Promise<MigrationSpec> {
  const name = spec.migrationName;
  const { blocked, refusedLive, status } = await targetDatabaseGate(spec, store);
  let allowed = status?.overwriteAllowed === true;
  if (blocked.length > 0) {
    if (!spec.waitForOverwriteConfirmation) throw targetDatabaseExistsError(blocked[0]!);
    allowed = (await waitForOverwriteConfirmation(spec, store, signal, blocked)) || allowed;
    await setState(store, name, 'InProgress', 'PerformingPreRequisiteSteps');
  }
  const runSpec = allowed && !spec.overwriteDbsInTarget ? { ...spec, overwriteDbsInTarget: true } : spec;
  // after a wait, the databases it overwrites are asked about again: the user changed them meanwhile
  if (blocked.length > 0) await refuseLiveOverwrites(runSpec, store);
  else if (refusedLive) throw refusedLive;
  return runSpec;
}

/** Validation, read-only on both servers; returns the final status when the migration ends there. */
async function validationStep(
  spec: MigrationSpec,
  store: CatalogConnection,
  onProgress: ProgressListener,
  signal: AbortSignal,
  resume: boolean,
  registered: MigrationStatus | undefined,
): Promise<MigrationStatus | undefined> {
  const name = spec.migrationName;
  // A resume validates again unless an earlier run finished validating.
  if (spec.option === 'Migrate' || (resume && (registered?.validation.length ?? 0) > 0)) return undefined;
  // loaded only when validating: a resumed runner skips it, and its start is time to the first change
  const { runValidation, validationFailed } = await import('../validate/runValidation');
  await setState(store, name, 'InProgress', 'ValidationInProgress');
  safeEmit(onProgress, { kind: 'step', step: 'validation', index: 1, total: 1 });
  const validation = await runValidation(spec, { signal, instance: registered?.instance });
  await setValidation(store, name, validation);
  const failed = validationFailed(validation);
  if (spec.option !== 'Validate' && !failed) return undefined;
  const message = failed
    ? validation
        .filter((v) => v.status === 'Failed')
        .map((v) => v.message)
        .join('; ')
    : null;
  await setState(store, name, failed ? 'ValidationFailed' : 'Succeeded', 'Completed', message);
  return (await get(store, name))!;
}

/** What the steps before data are given: the run's context, and what a resume started ahead (flow/resumeAhead.ts). */
type BeforeDataContext = Pick<MigrationRun, 'signal' | 'onProgress' | 'workDir' | 'resuming' | 'leaseSessionPid'> & {
  readonly ahead?: ResumeAhead;
};

/**
 * Checks that hold whatever the option and however the run started, then the run's context (its
 * instance from the migration as this run first read it: it is set once, at the registration).
 */
async function prerequisites(
  spec: MigrationSpec,
  store: CatalogConnection,
  registered: MigrationStatus | undefined,
  { ahead, ...context }: BeforeDataContext,
): Promise<MigrationRun> {
  const name = spec.migrationName;
  await setState(store, name, 'InProgress', 'PerformingPreRequisiteSteps');
  // Read-only checks side by side (each is round trips, and a resume waits for all of them before
  // its first change). Nothing is changed on a target that is the source: the distinct-servers
  // check settles before anything below writes.
  // a resume reads whether its target databases may be written beside them: they are its own
  const targetCheck = context.resuming ? checkTargetDatabases(spec, store, context.signal) : undefined;
  targetCheck?.catch(() => undefined); // awaited below; a rejection is not lost
  const versions = await serverFacts(spec, store, ahead?.source);
  await setVersions(store, name, versions.source, versions.target);
  let tools: Promise<PgTools> | undefined;
  const pgTools = (): Promise<PgTools> => (tools ??= resolvePgTools(spec, versions.sourceMajor));
  // A first run finds the tools before it changes anything (a missing pg_dump fails it at once);
  // a resume looks for them only if a database must be copied again.
  const [runSpec] = await Promise.all([
    targetCheck ?? checkTargetDatabases(spec, store, context.signal),
    context.resuming ? undefined : pgTools(),
  ]);
  return {
    ...context,
    spec: runSpec,
    store,
    tools: pgTools,
    sourceMajor: versions.sourceMajor,
    targetMajor: versions.targetMajor,
    instance: registered?.instance,
    async warn(message, database) {
      safeEmit(context.onProgress, { kind: 'warning', message, database });
    },
  };
}

async function rolesStep(run: MigrationRun): Promise<void> {
  const { migrateRoles } = await import('../schema/roles');
  // with filters, only the roles what moves needs (filter/roles.ts)
  const needed = await rolesNeededBySpec(run.spec);
  const source = await openSession(run.spec.source, { purpose: 'roles' });
  try {
    const target = await openSession(run.spec.target, { purpose: 'roles', writable: true });
    try {
      const roles = await migrateRoles(source, target, needed);
      for (const line of [...roles.stripped, ...roles.failures]) await run.warn(line);
      safeEmit(run.onProgress, {
        kind: 'info',
        message: `roles: ${roles.created.length} created, ${roles.existing.length} already present`,
      });
    } finally {
      await closeSession(target);
    }
  } finally {
    await closeSession(source);
  }
}

/** Records how a migration that threw ended (Canceled, ValidationFailed or Failed); the status, when the catalog answers. */
async function recordEnd(store: CatalogConnection, spec: MigrationSpec, error: unknown, aborted: boolean): Promise<MigrationStatus> {
  const name = spec.migrationName;
  const { state, message } = migrationEnd(error, aborted, spec);
  // the databases first: whoever reads the migration's final state reads its databases' too
  await markOpenDatabases(store, name, state === 'Canceled' ? 'Canceled' : 'Failed', message).catch(() => undefined);
  await setState(store, name, state, 'Completed', message).catch(() => undefined);
  const status = await get(store, name).catch(() => undefined);
  if (status) return status;
  throw error;
}

/** A migration's run, or the status it ended with before its data moved (validation alone, or failed). */
const isRun = (prepared: MigrationRun | MigrationStatus): prepared is MigrationRun => 'store' in prepared;

/**
 * The steps before data moves: the source's logical replication, validation, the waits for the
 * user, the prerequisites and the roles. Returns the run, or the status when the migration ends at
 * validation.
 */
async function beforeData(
  spec: MigrationSpec,
  store: CatalogConnection,
  registered: MigrationStatus | undefined,
  context: BeforeDataContext,
): Promise<MigrationRun | MigrationStatus> {
  const { signal, onProgress, resuming } = context;
  // a run that reached the data migration passed this step: a resume does not ask the source again
  const dataStarted = registered?.startedAt !== undefined;
  if (!(resuming && dataStarted)) await setupLogicalReplication(spec, store, { signal, onProgress }, registered?.instance);
  trace('setupLogicalReplication');
  const ended = await validationStep(spec, store, onProgress, signal, resuming, registered);
  trace('validation');
  if (ended) return ended;
  // With option Migrate validation did not run: what it would refuse in the filters is refused
  // now, before the roles step and the target databases change anything on the target.
  if (spec.option === 'Migrate' && !resuming) await refuseBeforeChanges(spec);
  await waitForDataMigrationStart(spec, store, signal, dataStarted);
  await waitForWindow(spec, store, signal, dataStarted);
  trace('waits');
  const run = await prerequisites(spec, store, registered, context);
  trace('prerequisites');
  if (spec.migrateRoles && !resuming) await retryPhase(run, 'the roles step', () => rolesStep(run));
  trace('roles');
  await setState(store, spec.migrationName, 'InProgress', 'MigratingData');
  return run;
}

/**
 * Runs a registered migration (control/store.ts register) to its end (offline) or until it is cut over
 * or canceled and its fallback windows, if any, are closed or fell back (online), recording every step.
 */
export async function orchestrate(given: MigrationSpec, options: OrchestrateOptions = {}): Promise<MigrationStatus> {
  let spec = given;
  const name = spec.migrationName;
  const store = options.store ?? new CatalogConnection(spec.target);
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(canceledError());
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) controller.abort(canceledError());
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-work-'));
  const stopWatching = watchCancel(store, name, controller);
  let ahead: ResumeAhead | undefined;
  try {
    const onProgress = progressRecorder(store, name, options.onProgress);
    const resuming = options.resume ?? false;
    let registered = await get(store, name);
    // created without dbsToMigrate: nothing happens until an update names them (Azure's wait); a
    // resume given the properties it was created with runs with the databases named since
    spec = await waitForDatabasesToMigrate(spec, store, controller.signal);
    if (resuming && registered?.state === 'CleaningUp' && !cleaningUpAfterCutover(registered)) {
      return await finishCleanup(spec, store, registered);
    }
    trace('orchestrate: registered read');
    // a resume that streams on ends the previous runner's sessions and reads its slots beside the steps before data
    ahead = resuming ? startResumeAhead(spec, store, registered, onProgress) : undefined;
    // The steps before data moves, run once: a runner that resumes a Succeeded migration runs them
    // only when a fall-back asked to stream forward again (the life after cutover, afterCutover.ts).
    let prepared: MigrationRun | MigrationStatus | undefined;
    const prepare = async (): Promise<MigrationRun | MigrationStatus> => {
      prepared ??= await beforeData(spec, store, registered, {
        signal: controller.signal,
        onProgress,
        workDir,
        resuming,
        leaseSessionPid: options.leaseSessionPid,
        ahead,
      });
      return prepared;
    };
    const streamForward = async (again: boolean): Promise<SwitchoverRun | undefined> => {
      const run = await prepare();
      if (!isRun(run)) return undefined;
      await runOnline(again ? { ...run, resuming: true } : run, again ? undefined : ahead);
      return run;
    };
    // cut over with a fallback window whose runner died: its life goes on at the window
    if (resuming && registered?.state === 'Succeeded') {
      const windowRun: SwitchoverRun = {
        spec,
        store,
        instance: registered.instance,
        signal: controller.signal,
        onProgress,
        warn: async (message, database) => onProgress({ kind: 'warning', message, ...(database ? { database } : {}) }),
      };
      const steps: LifeSteps = {
        // a fall-back asked with --resume-forward: the steps before data read the migration as the switch back to streaming left it
        streamForward: async (again) => {
          registered = await get(store, name);
          return streamForward(again);
        },
      };
      await followLife('WindowOpen', steps, windowRun);
      return (await get(store, name))!;
    }
    const run = await prepare();
    if (!isRun(run)) return run;
    if (spec.mode === 'Online') await followLife('Streaming', { streamForward });
    else await (await import('./offline')).runOffline(run);
    return (await get(store, name))!;
  } catch (error) {
    return await recordEnd(store, spec, error, controller.signal.aborted);
  } finally {
    stopWatching();
    await ahead?.close();
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (!options.store) await store.close();
    await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
