// One database's copy in the online flow: its publication and replica identity, the slot whose
// exported snapshot the copy reads, the copy's phases at that snapshot (databasePhases.ts), and the
// target readied for the stream. Its own module, loaded only when a database is copied
// (online.ts): a resumed runner streams on from its slots and never needs it, and its start is
// time to the first applied change.
import { prepareSourceAndSnapshot } from '../cdc/prepare/sourcePrep';
import { setIdentityFull, setTargetIdentityFull } from '../footprint/replicaIdentity';
import { prepareTargetForStreaming } from './streamingTarget';
import { createSlotWithSnapshot, dropSlot, type ExportedSlot } from '../footprint/slotAndPublication';
import { takeCopySnapshot, type CopySnapshot } from '../copy/copySnapshot';
import { withSession } from '../connect/session';
import { releaseStream } from '../footprint/release';
import type { MigrationRun } from '../run/migrationRun';
import { copyDatabaseAt, finishDatabase, prepareTargetDatabase, readSourceProperties } from './databasePhases';
import { streamNames } from '../cdc/apply/onlineStream';
import { updateDatabase } from '../control/store';

/** Publication, replica identity, slot + snapshot, copy at the snapshot; returns the stream's start. */
export async function copyDatabase(run: MigrationRun, database: string): Promise<bigint> {
  const { spec, store } = run;
  const { slot, publication } = streamNames(run, database);
  await updateDatabase(store, spec.migrationName, database, { state: 'InProgress', startedAt: true, message: null });
  // A copy an earlier runner did not finish cannot be continued: its snapshot died with it, and
  // what its stream had applied goes with the target database it re-creates.
  await releaseStream(spec, database, run.instance);
  const props = await readSourceProperties(run, database);
  await prepareTargetDatabase(run, database, props);
  // Replica identity and the publication's table list, then the slot's snapshot, taken once every
  // table the copy reads is locked against TRUNCATE and rewrites (and checked to be streamed).
  const takeCopy = (): Promise<CopySnapshot<ExportedSlot>> =>
    takeCopySnapshot({
      source: spec.source,
      database,
      lockTimeoutSeconds: spec.lockTimeoutSeconds,
      sessions: spec.tableJobs,
      filters: spec,
      snapshots: {
        take: () => createSlotWithSnapshot(spec.source, database, slot),
        nameOf: (s) => s.snapshotName,
        discard: async (s) => {
          await s.release();
          await dropSlot(spec.source, database, slot);
        },
      },
    });
  const { copy, fullTables } = await prepareSourceAndSnapshot(run, setIdentityFull, database, publication, takeCopy, async (unused) => {
    await unused.release();
    await unused.snapshot.release();
    await dropSlot(spec.source, database, slot);
  });
  const exported = copy.snapshot;
  try {
    await copyDatabaseAt(run, database, props, copy.sessions);
  } finally {
    await copy.release();
    await exported.release();
  }
  if (fullTables.length > 0) {
    await withSession(spec.target, { database, purpose: 'online', writable: true }, (client) => setTargetIdentityFull(client, fullTables));
  }
  await finishDatabase(run, database, props);
  await prepareTargetForStreaming(run, database);
  return exported.consistentLsn;
}
