// The offline flow: per database, the target database, the copy at a snapshot that holds the
// tables it reads, a verification in that same snapshot, then the finishing steps; the migration
// Succeeds once every database has.
import { exportSnapshot } from './connect/snapshot';
import { takeCopySnapshot } from './copy/copySnapshot';
import { canceledError, PgferryError } from './errors';
import type { MigrationRun } from './migrationRun';
import { databasePhases } from './offlinePhases';
import { enableRowSecurity } from './schema/rowSecurity';
import { verifyDatabases } from './verify';

export async function runOffline(run: MigrationRun): Promise<void> {
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
