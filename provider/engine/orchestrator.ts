// The whole migration on one screen: register, validate, roles, then per database the phases of
// engine/offlinePhases.ts (offline) or the online flow, recording state in the control catalog.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunOptions } from './api';
import { closeSession, openSession, serverMajor, withSession } from './connect/session';
import { ControlStore } from './control/store';
import { exportSnapshot } from './connect/snapshot';
import { takeCopySnapshot } from './copy/copySnapshot';
import { canceledError, errorMessage, isPgferryError, PgferryError } from './errors';
import { safeEmit, type MigrationStatus, type ProgressEvent, type ValidationResult } from './model';
import { databasePhases } from './offlinePhases';
import type { MigrationRun } from './migrationRun';
import { runOnline } from './online';
import { migrateRoles } from './schema/roles';
import { enableRowSecurity } from './schema/rowSecurity';
import { resolvePgTools } from './schema/tools';
import { publicSpec, type MigrationSpec } from './input/migrationSpec';
import { runValidation, validationFailed } from './validate';
import { assertDistinctServers } from './validate/sameServer';
import { targetDatabaseExistsError, targetDatabaseOid, targetDatabasePlan } from './schema/database';
import { verifyDatabases } from './verify';

export interface OrchestrateOptions extends RunOptions {
  /** The migration is already registered (a runner started by startMigration, or a resume). */
  readonly adopt?: boolean;
  /** Resume a migration an earlier process left unfinished. */
  readonly resume?: boolean;
}

/** Polls the catalog for a cancel request and turns it into an abort. */
function watchCancel(store: ControlStore, name: string, controller: AbortController): () => void {
  const timer = setInterval(() => {
    store
      .isCancelRequested(name)
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
function progressRecorder(store: ControlStore, name: string, listener: RunOptions['onProgress']) {
  const lastWrite = new Map<string, number>();
  return (event: ProgressEvent): void => {
    safeEmit(listener, event);
    if (event.kind === 'table-progress') {
      const key = `${event.database}\0${event.table}`;
      const now = Date.now();
      // A finished part is always recorded; bytes in flight at most once a second.
      if (event.partsDone === undefined && now - (lastWrite.get(key) ?? 0) < TABLE_PROGRESS_INTERVAL_MS) return;
      lastWrite.set(key, now);
      void store
        .updateTable(name, event.database, event.table, { rows: event.rows, bytes: event.bytes, partsDone: event.partsDone })
        .catch(() => undefined);
    } else if (event.kind === 'table-error') {
      void store.updateTable(name, event.database, event.table, { state: 'Errored', message: event.message }).catch(() => undefined);
    } else if (event.kind === 'warning') {
      void store.recordEvent(name, 'warning', event.message, event.database).catch(() => undefined);
    } else if (event.kind === 'step-done') {
      void store.recordEvent(name, 'info', `${event.step} done in ${event.seconds.toFixed(1)} s`, event.database).catch(() => undefined);
    }
  };
}

async function serverVersions(spec: MigrationSpec): Promise<{ source: string; target: string; sourceMajor: number; targetMajor: number }> {
  const read = async (server: MigrationSpec['source']) =>
    withSession(server, { purpose: 'versions' }, async (c) => {
      const { rows } = await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      return { version: rows[0]!.v, major: await serverMajor(c) };
    });
  const [s, t] = await Promise.all([read(spec.source), read(spec.target)]);
  return { source: s.version, target: t.version, sourceMajor: s.major, targetMajor: t.major };
}

/**
 * Fails before any change when a target database exists that this migration neither created nor
 * may overwrite; on a resume too (a resume never widens what may be dropped).
 */
async function checkTargetDatabases(spec: MigrationSpec, status: MigrationStatus | undefined): Promise<void> {
  await withSession(spec.target, { purpose: 'validate' }, async (c) => {
    for (const database of spec.databases) {
      const owned = status?.databases.find((d) => d.database === database)?.targetDatabase;
      const plan = targetDatabasePlan(await targetDatabaseOid(c, database), owned, spec.overwriteDbsInTarget);
      if (plan === 'refuse') throw targetDatabaseExistsError(database);
    }
  });
}

async function runOffline(run: MigrationRun): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  let verifyFailure: string | undefined;
  for (const database of spec.databases) {
    if (run.signal.aborted) throw canceledError();
    const current = (await store.get(name))?.databases.find((d) => d.database === database);
    if (run.resuming && current?.state === 'Succeeded') continue;
    await store.updateDatabase(name, database, { state: 'InProgress', startedAt: true, message: null });
    await databasePhases.prepareTargetDatabase(run, database);
    // The copy's snapshot, taken once every table it reads is locked against TRUNCATE and rewrites.
    const copy = await takeCopySnapshot({
      source: spec.source,
      database,
      lockTimeoutSeconds: spec.lockTimeoutSeconds,
      sessions: spec.tableJobs,
      snapshots: { take: () => exportSnapshot(spec.source, database), nameOf: (s) => s.name, discard: (s) => s.release() },
    });
    try {
      await databasePhases.copyDatabaseAt(run, database, copy.sessions);
      if (spec.verify) {
        // Verify against what the copy read: the same snapshot, still held.
        const report = await verifyDatabases(spec, {
          signal: run.signal,
          onProgress: run.onProgress,
          databases: [database],
          sourceSessions: new Map([[database, copy.sessions]]),
        });
        const previous = (await store.get(name))?.verification;
        const leftOut = [...(previous?.leftOut ?? []), ...(report.leftOut ?? [])];
        await store.setVerification(name, {
          ok: (previous?.ok ?? true) && report.ok,
          tables: [...(previous?.tables ?? []), ...report.tables],
          firstMismatch: previous?.firstMismatch ?? report.firstMismatch,
          ...(leftOut.length ? { leftOut } : {}),
        });
        if (!report.ok) verifyFailure = report.firstMismatch;
      }
    } finally {
      await copy.release();
      await copy.snapshot.release();
    }
    await databasePhases.finishDatabase(run, database);
    await enableRowSecurity(run, database);
    if (verifyFailure) {
      await store.updateDatabase(name, database, { state: 'Failed', endedAt: true, message: `verification failed: ${verifyFailure}` });
      throw new PgferryError('VERIFY_MISMATCH', `verification failed: ${verifyFailure}`, {
        category: 'target',
        field: `database "${database}"`,
      });
    }
    await store.updateDatabase(name, database, { state: 'Succeeded', endedAt: true });
  }
  await store.setState(name, 'Succeeded', 'Completed', null);
}

export async function orchestrate(spec: MigrationSpec, options: OrchestrateOptions = {}): Promise<MigrationStatus> {
  const name = spec.migrationName;
  const store = new ControlStore(spec.target);
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(canceledError());
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) controller.abort(canceledError());
  if (!options.adopt) {
    // Outside the try: a name already taken must not mark the existing migration Failed.
    try {
      await store.createMigration({ name, mode: spec.mode, option: spec.option, spec: publicSpec(spec), databases: spec.databases });
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-work-'));
  let stopWatching = () => {};
  try {
    stopWatching = watchCancel(store, name, controller);
    const onProgress = progressRecorder(store, name, options.onProgress);
    const resume = options.resume ?? false;

    // Validation: read-only on both servers. A resume validates again unless an earlier run finished it.
    let validation: ValidationResult[] = [];
    const validated = resume && ((await store.get(name))?.validation.length ?? 0) > 0;
    if (spec.option !== 'Migrate' && !validated) {
      await store.setState(name, 'InProgress', 'ValidationInProgress');
      safeEmit(onProgress, { kind: 'step', step: 'validation', index: 1, total: 1 });
      validation = await runValidation(spec, { signal: controller.signal, instance: (await store.get(name))?.instance });
      await store.setValidation(name, validation);
      const failed = validationFailed(validation);
      if (spec.option === 'Validate' || failed) {
        const message = failed
          ? validation
              .filter((v) => v.status === 'Failed')
              .map((v) => v.message)
              .join('; ')
          : null;
        await store.setState(name, failed ? 'ValidationFailed' : 'Succeeded', 'Completed', message);
        return (await store.get(name))!;
      }
    }

    await store.setState(name, 'InProgress', 'PerformingPreRequisiteSteps');
    // Whatever the option and however the run started: nothing is changed on a target that is the source.
    await assertDistinctServers(spec);
    const versions = await serverVersions(spec);
    await store.setVersions(name, versions.source, versions.target);
    const registered = await store.get(name);
    await checkTargetDatabases(spec, registered);
    const tools = await resolvePgTools(spec, versions.sourceMajor);
    const run: MigrationRun = {
      spec,
      store,
      signal: controller.signal,
      onProgress,
      tools,
      sourceMajor: versions.sourceMajor,
      targetMajor: versions.targetMajor,
      workDir,
      resuming: resume,
      instance: registered?.instance,
      async warn(message, database) {
        safeEmit(onProgress, { kind: 'warning', message, database });
      },
    };

    if (spec.migrateRoles && !resume) {
      const source = await openSession(spec.source, { purpose: 'roles' });
      const target = await openSession(spec.target, { purpose: 'roles', writable: true });
      try {
        const roles = await migrateRoles(source, target);
        for (const line of [...roles.stripped, ...roles.failures]) await run.warn(line);
        safeEmit(onProgress, { kind: 'info', message: `roles: ${roles.created.length} created, ${roles.existing.length} already present` });
      } finally {
        await closeSession(source);
        await closeSession(target);
      }
    }

    await store.setState(name, 'InProgress', 'MigratingData');
    if (spec.mode === 'Online') {
      await runOnline(run, databasePhases);
    } else {
      await runOffline(run);
    }
    return (await store.get(name))!;
  } catch (error) {
    const canceled = controller.signal.aborted || (isPgferryError(error) && error.category === 'canceled');
    const message = canceled ? 'canceled by the user' : errorMessage(error);
    await store
      .setState(
        name,
        canceled ? 'Canceled' : isPgferryError(error) && error.category === 'validation' ? 'ValidationFailed' : 'Failed',
        'Completed',
        message,
      )
      .catch(() => undefined);
    await store.markOpenDatabases(name, canceled ? 'Canceled' : 'Failed', message).catch(() => undefined);
    const status = await store.get(name).catch(() => undefined);
    if (status) return status;
    throw error;
  } finally {
    stopWatching();
    options.signal?.removeEventListener('abort', onOuterAbort);
    await store.close();
    await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
