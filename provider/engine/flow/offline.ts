// The offline flow: per database, the target database, the copy at a snapshot that holds the
// tables it reads, a verification in that same snapshot, then the finishing steps; the migration
// Succeeds once every database has. A server that goes away during a database's copy (a restart,
// a failover, a network drop) makes that database's copy start again, as RETRY_POLICIES.phase says.
import { exportSnapshot } from '../connect/snapshot';
import { takeCopySnapshot } from '../copy/copySnapshot';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { canceledError, PgferryError } from '../core/errors';
import type { MigrationRun } from './migrationRun';
import { outageRetry } from './outage';
import { mayResumeInside } from './copyWork';
import { copyDatabaseAt, finishDatabase, prepareTargetDatabase, readSourceProperties } from './databasePhases';
import type { DatabaseProperties } from '../catalog';
import { enableRowSecurity } from '../schema/rowSecurity';
import { verifyDatabases } from '../verify';

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
  if (!resumeInside) await prepareTargetDatabase(run, database, props);
  // The copy's snapshot, taken once every table it reads is locked against TRUNCATE and rewrites.
  const copy = await takeCopySnapshot({
    source: spec.source,
    database,
    lockTimeoutSeconds: spec.lockTimeoutSeconds,
    sessions: spec.tableJobs,
    filters: spec,
    snapshots: { take: () => exportSnapshot(spec.source, database), nameOf: (s) => s.name, discard: (s) => s.release() },
  });
  try {
    await copyDatabaseAt(run, database, props, copy.sessions, { resumeInside });
    if (!spec.verify) return { props };
    // Verify against what the copy read: the same snapshot, still held.
    const report = await verifyDatabases(spec, {
      signal: run.signal,
      onProgress: run.onProgress,
      databases: [database],
      sourceSessions: new Map([[database, copy.sessions]]),
    });
    const previous = (await store.get(spec.migrationName))?.verification;
    const leftOut = [...(previous?.leftOut ?? []), ...(report.leftOut ?? [])];
    await store.setVerification(spec.migrationName, {
      ok: (previous?.ok ?? true) && report.ok,
      tables: [...(previous?.tables ?? []), ...report.tables],
      firstMismatch: previous?.firstMismatch ?? report.firstMismatch,
      ...(leftOut.length ? { leftOut } : {}),
    });
    return report.ok ? { props } : { props, mismatch: report.firstMismatch };
  } finally {
    await copy.release();
    await copy.snapshot.release();
  }
}

export async function runOffline(run: MigrationRun): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  for (const database of spec.databases) {
    if (run.signal.aborted) throw canceledError();
    const current = (await store.get(name))?.databases.find((d) => d.database === database);
    if (run.resuming && current?.state === 'Succeeded') continue;
    await store.updateDatabase(name, database, { state: 'InProgress', startedAt: true, message: null });
    const { props, mismatch: verifyFailure } = await retrying(
      RETRY_POLICIES.phase,
      () => copyAndVerify(run, database),
      outageRetry(run, `the copy of "${database}"`, database),
    );
    await finishDatabase(run, database, props);
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
