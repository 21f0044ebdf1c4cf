// The online flow: per database a publication and a pgoutput slot with an exported snapshot, the
// offline copy phases at that snapshot, then change data capture until the user triggers the
// cutover (or cancels). Failure or cancel stops streaming and drops slot and publication, so an
// abandoned migration never holds WAL on the source; a crashed runner leaves them for its resume.
import type pg from 'pg';
import { formatLsn } from './cdc/lsn';
import { startStream, streamNames, type OnlineStream } from './cdc/onlineStream';
import { readSlotPositions } from './cdc/monitor';
import { setIdentityFull, tablesWithoutIdentity, type TableName } from './cdc/replicaIdentity';
import { fireAsReplica, replicaRolePermitted, restoreTriggers } from './cdc/targetTriggers';
import { createSlotWithSnapshot, dropSlot, dropSlotAndPublication, ensurePublication } from './cdc/slot';
import { takeCopySnapshot } from './copy/copySnapshot';
import { closeSession, openSession, withSession } from './connect/session';
import { isRetryable } from './connect/sqlstate';
import { qualified } from './connect/quote';
import { cutover } from './cutover';
import { canceledError, errorMessage, PgferryError } from './errors';
import type { DatabasePhases, MigrationRun } from './migrationRun';

const POLL_MS = 1000;

/** Publication, replica identity, slot + snapshot, copy at the snapshot; returns the stream's start. */
async function copyDatabase(run: MigrationRun, phases: DatabasePhases, database: string): Promise<bigint> {
  const { spec, store } = run;
  const { slot, publication } = streamNames(run, database);
  await store.updateDatabase(spec.migrationName, database, { state: 'InProgress', startedAt: true, message: null });
  // A copy an earlier runner did not finish cannot be continued: its snapshot died with it.
  await dropSlotAndPublication(spec.source, database, slot, publication);
  await phases.prepareTargetDatabase(run, database);
  let full: TableName[] = [];
  await withSession(spec.source, { database, purpose: 'online', writable: true }, async (client) => {
    full = await tablesWithoutIdentity(client);
    if (full.length > 0 && !spec.allowReplicaIdentityFull) {
      const list = full
        .slice(0, 5)
        .map((t) => qualified(t.schema, t.name))
        .join(', ');
      throw new PgferryError(
        'REPLICA_IDENTITY_MISSING',
        `database "${database}": ${full.length} table(s) have no primary key or replica identity (${list}); their updates and deletes cannot be streamed`,
        {
          category: 'validation',
          field: 'allowReplicaIdentityFull',
          fix: 'add primary keys, or set allowReplicaIdentityFull to use REPLICA IDENTITY FULL for them',
        },
      );
    }
    // Before the slot exists, so every streamed update and delete carries the whole old row.
    await setIdentityFull(client, full);
    if (full.length > 0) await run.warn(`REPLICA IDENTITY FULL set on ${full.length} table(s) without a key`, database);
    await ensurePublication(client, publication);
  });
  // The slot's snapshot, taken once every table the copy reads is locked against TRUNCATE and rewrites.
  const copy = await takeCopySnapshot({
    source: spec.source,
    database,
    lockTimeoutSeconds: spec.lockTimeoutSeconds,
    sessions: spec.tableJobs,
    snapshots: {
      take: () => createSlotWithSnapshot(spec.source, database, slot),
      nameOf: (s) => s.snapshotName,
      discard: async (s) => {
        await s.release();
        await dropSlot(spec.source, database, slot);
      },
    },
  });
  const exported = copy.snapshot;
  try {
    await phases.copyDatabaseAt(run, database, copy.sessions);
  } finally {
    await copy.release();
    await exported.release();
  }
  if (full.length > 0) {
    await withSession(spec.target, { database, purpose: 'online', writable: true }, async (client) => {
      await setIdentityFull(client, full);
    });
  }
  await phases.finishDatabase(run, database);
  await withSession(spec.target, { database, purpose: 'online', writable: true }, async (client) => {
    if (await replicaRolePermitted(client)) return;
    const silenced = await fireAsReplica(client);
    if (silenced > 0) {
      await run.warn(
        `${silenced} trigger(s) disabled on the target while changes stream (session_replication_role = replica is not permitted, and the source's triggers already produced their effects); set back as on the source at cutover or cancel`,
        database,
      );
    }
  });
  return exported.consistentLsn;
}

/** Reports counters, latency, pending bytes and slot retention; warns past slotRetainedWarnBytes. */
async function report(run: MigrationRun, streams: readonly OnlineStream[], source: pg.Client, warned: Set<string>): Promise<void> {
  const positions = await readSlotPositions(
    source,
    streams.map((s) => s.slot),
  );
  for (const s of streams) {
    const stats = s.applier.stats();
    const pos = positions.get(s.slot);
    const applied = stats.confirmedLsn > stats.appliedLsn ? stats.confirmedLsn : stats.appliedLsn;
    const pending = pos && applied > 0n && pos.currentLsn > applied ? Number(pos.currentLsn - applied) : 0;
    const retained = pos?.restartLsn !== undefined && pos.currentLsn > pos.restartLsn ? Number(pos.currentLsn - pos.restartLsn) : null;
    await run.store.updateDatabase(run.spec.migrationName, s.database, {
      inserts: s.base.inserts + stats.inserts,
      updates: s.base.updates + stats.updates,
      deletes: s.base.deletes + stats.deletes,
      latencySeconds: stats.latencySeconds,
      pendingBytes: pending,
      slotRetainedBytes: retained,
      ...(stats.appliedLsn > 0n ? { appliedLsn: formatLsn(stats.appliedLsn) } : {}),
    });
    if (retained !== null && retained > run.spec.slotRetainedWarnBytes && !warned.has(s.slot)) {
      warned.add(s.slot);
      await run.warn(
        `replication slot ${s.slot} retains ${(retained / 1024 / 1024).toFixed(0)} MiB of WAL on the source (warning threshold ${(run.spec.slotRetainedWarnBytes / 1024 / 1024).toFixed(0)} MiB): the target is falling behind or the runner is stopped`,
        s.database,
      );
    } else if (retained !== null && retained <= run.spec.slotRetainedWarnBytes) {
      warned.delete(s.slot);
    }
  }
}

/** Streams until the cutover is requested ('cutover') or the migration is canceled ('cancel'); throws when a stream fails. */
async function watch(run: MigrationRun, streams: readonly OnlineStream[]): Promise<'cutover' | 'cancel'> {
  const name = run.spec.migrationName;
  const warned = new Set<string>();
  let source: pg.Client | undefined;
  try {
    for (let tick = 0; ; tick++) {
      if (run.signal.aborted) return 'cancel';
      const failed = streams.find((s) => s.failure);
      if (failed) {
        throw new PgferryError('CDC_FAILED', `database "${failed.database}": ${errorMessage(failed.failure)}`, {
          category: 'source',
          cause: failed.failure,
        });
      }
      try {
        if (await run.store.isCancelRequested(name)) return 'cancel';
        if (await run.store.cutoverRequestedAt(name)) return 'cutover';
      } catch (error) {
        // The target (and its control catalog) may be restarting: the appliers ride it out, so does this.
        if (!isRetryable(error)) throw error;
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      if (tick % 2 === 0) {
        try {
          if (!source) {
            source = await openSession(run.spec.source, { purpose: 'monitor' });
          }
          await report(run, streams, source, warned);
        } catch {
          await closeSession(source);
          source = undefined; // the source may be restarting: the appliers reconnect on their own
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await closeSession(source);
  }
}

async function stopAll(streams: readonly OnlineStream[]): Promise<void> {
  for (const s of streams) s.applier.stop();
  await Promise.all(streams.map((s) => s.done.catch(() => undefined)));
}

export async function runOnline(run: MigrationRun, phases: DatabasePhases): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const streams: OnlineStream[] = [];
  try {
    for (const database of spec.databases) {
      if (run.signal.aborted) throw canceledError();
      const current = (await store.get(name))?.databases.find((d) => d.database === database);
      if (run.resuming && current?.state === 'Succeeded') continue; // cut over before the crash
      const copied = run.resuming && current?.state === 'WaitingForCutoverTrigger';
      const initialLsn = copied ? undefined : await copyDatabase(run, phases, database);
      const base = {
        inserts: copied ? (current?.inserts ?? 0) : 0,
        updates: copied ? (current?.updates ?? 0) : 0,
        deletes: copied ? (current?.deletes ?? 0) : 0,
      };
      streams.push(startStream(run, database, initialLsn, base));
      await store.updateDatabase(name, database, { state: 'WaitingForCutoverTrigger' });
    }
    if (streams.length === 0) {
      await store.setState(name, 'Succeeded', 'Completed');
      return;
    }
    await store.setState(name, 'WaitingForUserAction', 'WaitingForCutoverTrigger');
    for (;;) {
      if ((await watch(run, streams)) === 'cancel') throw canceledError();
      if (await cutover(run, streams)) return;
      await store.setState(name, 'WaitingForUserAction', 'WaitingForCutoverTrigger');
    }
  } catch (error) {
    await stopAll(streams);
    for (const s of streams) {
      await restoreTriggers(run, s.database).catch((e: Error) => run.warn(`could not restore trigger states: ${e.message}`, s.database));
    }
    // Nothing will stream again: free the source's WAL. The target is left as it is.
    for (const database of spec.databases) {
      const n = streamNames(run, database);
      await dropSlotAndPublication(spec.source, database, n.slot, n.publication).catch((e: Error) =>
        run.warn(`could not drop slot ${n.slot} / publication ${n.publication}: ${e.message}`, database),
      );
    }
    throw error;
  }
}
