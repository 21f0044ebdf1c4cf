// The offline flow: per database, the target database, the copy at a snapshot that holds the
// tables it reads, a verification in that same snapshot, then the finishing steps; the migration
// Succeeds once every database has. A server that goes away during a database's copy (a restart,
// a failover, a network drop) makes that database's copy start again, as RETRY_POLICIES.phase says.
import { extensionConfigRows } from '../control/extensionConfigRows';
import { exportSnapshot, takeCopySnapshot } from '../copy/copySnapshot';
import { canceledError, PgferryError } from '../core/errors';
import { failpoint } from '../util/failpoints';
import { endOfDatabases } from '../core/transitions';
import type { CatalogConnection } from '../control/connection';
import type { MigrationRun } from '../run/migrationRun';
import { retryPhase } from './outage';
import { mayResumeInside } from './copyWork';
import { copyDatabaseAt, finishDatabase, prepareTargetDatabase, readSourceProperties } from './databasePhases';
import type { DatabaseProperties } from '../catalog/introspect';
import { enableRowSecurity } from '../schema/rowSecurity';
import { verifyDatabases } from '../verify/verifyTables';
import { checkSchema, schemaCheckSummary, schemaMismatchError, withSchemaCheck } from '../verify/schema/checkSchema';
import { clearMessage, get, recordEvent, setState, setVerification, updateDatabase } from '../control/store';
import { databaseRequests } from '../control/migrationRequests';
import { displayIdent } from '../connect/quote';

/**
 * One database: the target database, the copy at a snapshot that holds its tables, and (verify)
 * the verification in that same snapshot; returns the source database's properties and the first
 * mismatch, if any. Redone from its start when a server goes away meanwhile (runOffline): the
 * snapshot dies with the session that held it.
 */
async function copyAndVerify(run: MigrationRun, database: string): Promise<{ props: DatabaseProperties; mismatch?: string }> {
  const { spec, store } = run;
  const props = await readSourceProperties(run, database);
  // An earlier copy of this database (a killed runner, or a server that went away) is resumed
  // inside when that is exact; else the target database is created again.
  const resumeInside = await mayResumeInside(run, database);
  // The target database is made (an overwrite's DROP waits for a checkpoint) while the source takes
  // the snapshot and the schema is dumped, and the copy waits for it before it writes there. Each
  // path below lets it settle before returning, so a phase tried again never overlaps it.
  const targetReady = resumeInside ? undefined : prepareTargetDatabase(run, database, props);
  const settled = async () => targetReady?.catch(() => undefined);
  void settled();
  // The copy's snapshot, taken once every table it reads is locked against TRUNCATE and rewrites.
  const copy = await takeCopySnapshot({
    source: spec.source,
    database,
    lockTimeoutSeconds: spec.lockTimeoutSeconds,
    sessions: spec.tableJobs,
    filters: spec,
    snapshots: { take: () => exportSnapshot(spec.source, database), nameOf: (s) => s.name, discard: (s) => s.release() },
  }).catch(async (error: unknown) => {
    await settled();
    throw error;
  });
  try {
    await copyDatabaseAt(run, database, props, copy.sessions, { resumeInside, targetReady });
    if (!spec.verify) return { props };
    // Verify against what the copy read: the same snapshot, still held.
    const report = await verifyDatabases(spec, {
      signal: run.signal,
      onProgress: run.onProgress,
      databases: [database],
      sourceSessions: new Map([[database, copy.sessions]]),
      materializedViews: spec.staleMaterializedViews,
      // a configuration row the target had of its own is kept and left out (switchover/extensionConfigSync.ts)
      configRows: new Map([[database, await extensionConfigRows(store, spec.migrationName, database)]]),
    });
    const previous = (await get(store, spec.migrationName))?.verification;
    const leftOut = [...(previous?.leftOut ?? []), ...(report.leftOut ?? [])];
    await setVerification(store, spec.migrationName, {
      ok: (previous?.ok ?? true) && report.ok,
      tables: [...(previous?.tables ?? []), ...report.tables],
      firstMismatch: previous?.firstMismatch ?? report.firstMismatch,
      ...(leftOut.length ? { leftOut } : {}),
    });
    return report.ok ? { props } : { props, mismatch: report.firstMismatch };
  } finally {
    await settled();
    await copy.release();
    await copy.snapshot.release();
  }
}

/**
 * The target's schema compared with the source's once the database is finished (indexes, keys,
 * grants, row security): a difference fails the database with each object and its fix, and keeps
 * the rows; never Succeeded over a target that differs.
 */
async function checkSchemaBeforeSuccess(run: MigrationRun, database: string): Promise<void> {
  const { spec, store } = run;
  const check = await retryPhase(
    run,
    `the schema check of ${displayIdent(database)}`,
    () => checkSchema(spec, database, { whileSetAside: false }),
    database,
  );
  run.onProgress({ kind: 'info', database, message: schemaCheckSummary(check) });
  const error = check.differences.length > 0 ? schemaMismatchError(check) : undefined;
  // verify: false records no report (the check still runs: never Succeeded over a difference)
  if (spec.verify) {
    const report = withSchemaCheck((await get(store, spec.migrationName))?.verification, check);
    await setVerification(store, spec.migrationName, { ...report, firstMismatch: report.firstMismatch ?? error?.message });
  }
  if (!error) return;
  await updateDatabase(store, spec.migrationName, database, { state: 'Failed', endedAt: true, message: error.message });
  throw error;
}

/** How often a database's copy looks for a cancel of that database alone (dbsToCancelMigrationOn). */
const DATABASE_CANCEL_POLL_MS = 1000;

/**
 * The copy of one database, abortable on its own: aborted when the migration is, or when the
 * user cancels this database (dbsToCancelMigrationOn) while the others go on.
 */
function databaseCancelWatch(store: CatalogConnection, name: string, database: string, migration: AbortSignal) {
  const controller = new AbortController();
  let canceledAlone = false;
  /** The Canceling state recorded when the cancel was noticed: show says so while the copy unwinds. */
  let noticed: Promise<void> = Promise.resolve();
  const onMigrationAbort = () => controller.abort(migration.reason);
  migration.addEventListener('abort', onMigrationAbort, { once: true });
  const timer = setInterval(() => {
    databaseRequests(store, name)
      .then((requests) => {
        if (!requests.cancel.includes(database) || controller.signal.aborted) return;
        canceledAlone = true;
        // before the abort: a copy waiting on a slow target can take a while to give up
        noticed = markCanceling(store, name, database).catch(() => undefined);
        controller.abort(canceledError());
      })
      // a catalog that does not answer for a moment delays the cancel, never fails the copy
      .catch(() => undefined);
  }, DATABASE_CANCEL_POLL_MS);
  timer.unref();
  return {
    signal: controller.signal,
    /** True when this database alone was canceled (the migration goes on). */
    canceledAlone: () => canceledAlone && !migration.aborted,
    /** Settles once the Canceling state the watch records is written (the Canceled one follows it). */
    noticed: () => noticed,
    stop: () => {
      clearInterval(timer);
      migration.removeEventListener('abort', onMigrationAbort);
    },
  };
}

async function markCanceling(store: CatalogConnection, name: string, database: string): Promise<void> {
  await setState(store, name, 'InProgress', 'CancelingRequestedDBMigrations');
  await updateDatabase(store, name, database, { state: 'Canceling' });
}

/** This database was named in dbsToCancelMigrationOn: it ends Canceled, keeping what was copied. */
async function recordDatabaseCanceled(run: MigrationRun, database: string, during: boolean): Promise<void> {
  const { store } = run;
  const name = run.spec.migrationName;
  const message = during
    ? 'canceled by the user: its copy stopped; the target database keeps what was copied'
    : 'canceled by the user before its copy started';
  await updateDatabase(store, name, database, { state: 'Canceled', endedAt: true, message: 'canceled by the user' });
  await recordEvent(store, name, 'info', message, database);
  await setState(store, name, 'InProgress', 'MigratingData');
}

/** One database's copy, verification and finishing steps; false when the user canceled it alone. */
async function migrateDatabase(run: MigrationRun, database: string): Promise<boolean> {
  const { spec, store } = run;
  const name = spec.migrationName;
  await updateDatabase(store, name, database, { state: 'InProgress', startedAt: true, message: null });
  const watch = databaseCancelWatch(store, name, database, run.signal);
  const own: MigrationRun = { ...run, signal: watch.signal };
  try {
    const { props, mismatch: verifyFailure } = await retryPhase(
      own,
      `the copy of ${displayIdent(database)}`,
      () => copyAndVerify(own, database),
      database,
    );
    await finishDatabase(own, database, props);
    await enableRowSecurity(own, database);
    if (verifyFailure) {
      await updateDatabase(store, name, database, { state: 'Failed', endedAt: true, message: `verification failed: ${verifyFailure}` });
      throw new PgferryError('VERIFY_MISMATCH', `verification failed: ${verifyFailure}`, {
        category: 'target',
        field: `database ${displayIdent(database)}`,
      });
    }
    await checkSchemaBeforeSuccess(own, database);
    await updateDatabase(store, name, database, { state: 'Succeeded', endedAt: true });
    return true;
  } catch (error) {
    if (!watch.canceledAlone()) throw error;
    await watch.noticed();
    await markCanceling(store, name, database);
    await recordDatabaseCanceled(run, database, true);
    return false;
  } finally {
    watch.stop();
  }
}

export async function runOffline(run: MigrationRun): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  for (const database of spec.databases) {
    if (run.signal.aborted) throw canceledError();
    const current = (await get(store, name))?.databases.find((d) => d.database === database);
    if (run.resuming && (current?.state === 'Succeeded' || current?.state === 'Canceled')) continue;
    // canceled before its turn came (or while a killed runner was away): never started
    if ((await databaseRequests(store, name)).cancel.includes(database)) {
      await recordDatabaseCanceled(run, database, false);
      continue;
    }
    await migrateDatabase(run, database);
  }
  // every database copied, or canceled on its own: Succeeded, or Canceled when all were. Between
  // the last database's copy and that end, Azure's offline migrations show CompletingMigration
  // (InProgress); so does pgferry, while it sums up the databases' outcomes
  if (run.signal.aborted) throw canceledError();
  await setState(store, name, 'InProgress', 'CompletingMigration');
  failpoint('offline-completing');
  const ending = endOfDatabases((await get(store, name))?.databases ?? [], 'copied');
  await setState(store, name, ending.state, 'Completed', ending.message);
  if (ending.message === null) await clearMessage(store, name);
}
