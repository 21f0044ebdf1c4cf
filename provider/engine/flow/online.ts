// The online flow: per database a publication and a pgoutput slot with an exported snapshot, the
// offline copy phases at that snapshot, then change data capture until the user triggers the
// cutover (or cancels). Failure or cancel stops streaming and drops slot and publication, so an
// abandoned migration never holds WAL on the source; a crashed runner leaves them for its resume.
import { trace } from '../util/trace';
import type pg from 'pg';
import { formatLsn } from '../cdc/decode/lsn';
import { endPreviousRunnerSessions } from '../cdc/prepare/takeover';
import { appliedUpTo, startStream, streamCounts, streamNames, type OnlineStream } from '../cdc/apply/onlineStream';
import { readSlotPositions } from '../cdc/receive/slotPositions';
import { setTargetIdentityFull } from '../cdc/prepare/identityFull';
import { prepareSourceAndSnapshot } from '../cdc/prepare/sourcePrep';
import { SourceTableWatch } from '../cdc/prepare/tableWatch';
import { prepareTargetForStreaming } from '../cdc/prepare/streamingTarget';
import { createSlotWithSnapshot, dropSlot, slotState, type ExportedSlot, type SlotState } from '../cdc/prepare/slot';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { migrationEnd } from './migrationEnd';
import { takeCopySnapshot, type CopySnapshot } from '../copy/copySnapshot';
import { closeSession, openSession, withSession } from '../connect/session';
import { isRetryable } from '../connect/sqlstate';
import { cutover, finishCutover } from './cutover';
import { releaseStream } from './releaseStream';
import { canceledError, PgferryError } from '../core/errors';
import type { ApplyStop } from '../core/model';
import { outageRetry } from '../run/outage';
import { releaseOpenDatabases, startCleanup } from './cleanup';
import { releaseDatabase } from './releaseDatabase';
import { endOfDatabases, streamingSubState } from '../core/transitions';
import { failpoint } from '../util/failpoints';
import { StreamStops } from './streamStops';
import { RequestWakeup } from '../control/requestWakeup';
import { recordStreamSample } from '../control/streamSamples';
import type { MigrationRun } from '../run/migrationRun';
import { SchemaWatch } from './schemaWatch';
import { copyDatabaseAt, finishDatabase, prepareTargetDatabase, readSourceProperties } from './databasePhases';
import { BackgroundVerification } from '../verify/background';
import { ApplyRateMeter } from '../cutover/lagGate';

const POLL_MS = 1000;

/** Publication, replica identity, slot + snapshot, copy at the snapshot; returns the stream's start. */
async function copyDatabase(run: MigrationRun, database: string): Promise<bigint> {
  const { spec, store } = run;
  const { slot, publication } = streamNames(run, database);
  await store.updateDatabase(spec.migrationName, database, { state: 'InProgress', startedAt: true, message: null });
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
  const { copy, fullTables } = await prepareSourceAndSnapshot(run, database, publication, takeCopy, async (unused) => {
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

/**
 * Reports counters, latency, pending bytes and slot retention; warns past slotRetainedWarnBytes.
 * Each stream's pending bytes and applied position also go to `meter`, which the cutover's lag gate
 * predicts from.
 */
async function report(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  source: pg.Client,
  warned: Set<string>,
  meter: ApplyRateMeter,
): Promise<void> {
  const positions = await readSlotPositions(
    source,
    streams.map((s) => s.slot),
  );
  const at = Date.now();
  for (const s of streams) {
    const stats = s.applier.stats();
    const pos = positions.get(s.slot);
    const applied = appliedUpTo(stats);
    const pending = pos && applied > 0n && pos.currentLsn > applied ? Number(pos.currentLsn - applied) : 0;
    if (pos && applied > 0n) meter.record(s.database, { at, pendingBytes: pending, applied });
    const retained = pos?.restartLsn !== undefined && pos.currentLsn > pos.restartLsn ? Number(pos.currentLsn - pos.restartLsn) : null;
    await run.store.updateDatabase(run.spec.migrationName, s.database, {
      ...streamCounts(s),
      latencySeconds: stats.latencySeconds,
      pendingBytes: pending,
      slotRetainedBytes: retained,
      ...(stats.appliedLsn > 0n ? { appliedLsn: formatLsn(stats.appliedLsn) } : {}),
    });
    // the console's charts: one row every few seconds (control/streamSamples.ts bounds the rate)
    await recordStreamSample(
      run.store,
      run.spec.migrationName,
      s.database,
      { latencySeconds: stats.latencySeconds, pendingBytes: pending },
      at,
    );
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

/** What ends a watch: the migration canceled, or some databases to cut over or to cancel. */
type WatchOutcome =
  { readonly kind: 'cancel' } | { readonly kind: 'cutover' | 'cancel-databases'; readonly databases: ReadonlySet<string> };

/**
 * Streams until a cutover is requested (of the whole migration or of some databases:
 * dbsToTriggerCutoverOn), some databases' cancel (dbsToCancelMigrationOn), or the migration's
 * cancel. A stream that fails on an error the user can fix stops, keeping its slot, and is tried
 * again (streamStops.ts); any other failure is thrown.
 */
async function watch(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Promise<WatchOutcome> {
  const name = run.spec.migrationName;
  const warned = new Set<string>();
  let source: pg.Client | undefined;
  const tables = new SourceTableWatch(run, streams);
  const schema = new SchemaWatch(run);
  // a cutover or cancel request wakes the loop at once instead of at its next look
  const wakeup = await RequestWakeup.listen(run.spec.target, name);
  try {
    for (let tick = 0; ; tick++) {
      if (run.signal.aborted) return { kind: 'cancel' };
      const overdue = stops.overdue();
      if (overdue) throw stoppedTooLong(run, overdue.database, overdue.stop);
      try {
        await stops.recordFailures(streams);
        if (stops.any) {
          stops.retryDue(streams, await run.store.applyRetryRequests(name));
          if (await stops.clearMoved(streams)) await run.store.setStreaming(name);
        }
        const streaming = streams.map((s) => s.database);
        const requests = await run.store.databaseRequests(name);
        const toCancel = requests.cancel.filter((d) => streaming.includes(d));
        if (toCancel.length > 0) return { kind: 'cancel-databases', databases: new Set(toCancel) };
        const whole = (await run.store.cutoverRequestedAt(name)) !== undefined;
        const toCutOver = whole ? streaming : requests.cutover.filter((d) => streaming.includes(d));
        if (toCutOver.length > 0) {
          const stopped = toCutOver.filter((d) => stops.isStopped(d));
          if (stopped.length > 0) {
            // a stream tried again after its fix keeps the request: the cutover starts once it applies
            if (!stopped.every((d) => stops.isRetrying(d, streams)))
              await run.store.clearCutover(name, cutoverRefusedMessage(stops), 'WaitingForApplyFix');
          } else {
            await tables.scan(); // tables created until now are reported before the cutover verifies
            return { kind: 'cutover', databases: new Set(toCutOver) };
          }
        }
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
          await report(run, streams, source, warned, meter);
        } catch {
          await closeSession(source);
          source = undefined; // the source may be restarting: the appliers reconnect on their own
        }
        await tables.scan();
        // a schema change on the source is told within seconds (the look runs beside this loop)
        schema.look(streams.map((s) => s.database));
      }
      await wakeup.sleep(POLL_MS);
    }
  } finally {
    await wakeup.close();
    await closeSession(source);
    await tables.close();
    await schema.close();
  }
}

function cutoverRefusedMessage(stops: StreamStops): string {
  const dbs = stops.databases.map((d) => `"${d}"`).join(', ');
  return `cutover not started: streaming of ${dbs} is stopped on an error to fix first (see the database's message); request the cutover again once it streams`;
}

/** The bound the user set on a stopped stream passed: the migration fails and releases its slots. */
function stoppedTooLong(run: MigrationRun, database: string, stop: ApplyStop): PgferryError {
  return new PgferryError(
    'CDC_STOPPED_TOO_LONG',
    `database "${database}": streaming stopped at ${stop.since} and was not fixed within maxApplyStopHours (${run.spec.maxApplyStopHours} h): the replication slots are released so the source keeps no more WAL for them; the error was: ${stop.error}`,
    { category: 'target', fix: `${stop.fix}, then migrate the database again` },
  );
}

/** Whether a copied database's slot can still stream (it exists and has not lost WAL it needs). */
async function slotStillUsable(run: MigrationRun, database: string, read?: Promise<SlotState>): Promise<boolean> {
  const { slot } = streamNames(run, database);
  const state = await (read ?? slotState(run.spec.source, database, slot));
  if (state === 'usable') return true;
  await run.warn(
    `replication slot ${slot} is ${state === 'missing' ? 'gone' : 'invalidated (it lost WAL)'}: the database is copied again`,
    database,
  );
  return false;
}

/**
 * Verification while streaming (verify: true, the default): one verifier per stream, following the
 * stream through restarts (streams[i] is replaced by a restarted one). Stopped before a cutover.
 */
function startVerifiers(run: MigrationRun, streams: OnlineStream[]): BackgroundVerification[] {
  if (run.spec.verify !== true) return [];
  return streams.map((_, i) => {
    const verifier = new BackgroundVerification(run, () => streams[i]!);
    verifier.start();
    return verifier;
  });
}

async function stopVerifiers(verifiers: readonly BackgroundVerification[]): Promise<void> {
  await Promise.all(verifiers.map((v) => v.stop()));
}

async function stopAll(streams: readonly OnlineStream[]): Promise<void> {
  for (const s of streams) s.applier.stop();
  await Promise.all(streams.map((s) => s.done.catch(() => undefined)));
}

/**
 * One database's stream, copying it first unless a resumed runner finds it copied with a usable
 * slot; undefined when it was cut over before a crash (its release is finished here).
 */
async function openStream(
  run: MigrationRun,
  stops: StreamStops,
  database: string,
  slotRead?: Promise<SlotState>,
): Promise<OnlineStream | undefined> {
  const { store } = run;
  const name = run.spec.migrationName;
  const status = await store.get(name);
  const current = status?.databases.find((d) => d.database === database);
  if (current?.state === 'Succeeded' || current?.state === 'Canceled') return undefined; // cut over or canceled before a crash
  if (current?.state === 'Canceling' || status?.dbsToCancelMigrationOn?.includes(database)) {
    // canceled before its stream began, or while a runner that was killed released it
    await retrying(
      RETRY_POLICIES.phase,
      () => releaseDatabase(run, database, 'throw'),
      outageRetry(run, `the cancel of "${database}"`, database),
    );
    await store.updateDatabase(name, database, { state: 'Canceled', endedAt: true, message: 'canceled by the user' });
    return undefined;
  }
  if (run.resuming && current?.cutoverStep === 'released') {
    // applied, verified and recorded before the crash; only the release may be unfinished
    await retrying(RETRY_POLICIES.phase, () => finishCutover(run, database), outageRetry(run, `the release of "${database}"`, database));
    return undefined;
  }
  // a copied database streams on from its slot, unless the slot is gone (dropped, or invalidated
  // past max_slot_wal_keep_size): then its copy is made again
  const streaming = current?.state === 'WaitingForCutoverTrigger' || current?.state === 'ApplyStopped';
  const copied = run.resuming && streaming && (await slotStillUsable(run, database, slotRead));
  const initialLsn = copied
    ? undefined
    : await retrying(RETRY_POLICIES.phase, () => copyDatabase(run, database), outageRetry(run, `the copy of "${database}"`, database));
  const base = {
    inserts: copied ? (current?.inserts ?? 0) : 0,
    updates: copied ? (current?.updates ?? 0) : 0,
    deletes: copied ? (current?.deletes ?? 0) : 0,
  };
  const stream = startStream(run, database, initialLsn, base);
  if (!stops.isStopped(database)) await store.updateDatabase(name, database, { state: 'WaitingForCutoverTrigger' });
  return stream;
}

export async function runOnline(run: MigrationRun): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const streams: OnlineStream[] = [];
  let verifiers: BackgroundVerification[] = [];
  const meter = new ApplyRateMeter();
  try {
    // A resume reads every slot's state beside the takeover and the stops: its first change waits
    // for all three, one round trip each, so they run side by side. (The state of a slot does not
    // depend on which walsender holds it.)
    const slotReads = new Map(
      run.resuming ? spec.databases.map((d) => [d, slotState(spec.source, d, streamNames(run, d).slot)] as const) : [],
    );
    for (const read of slotReads.values()) read.catch(() => undefined); // awaited where used; a rejection is not lost
    trace('online: start');
    const [stops] = await Promise.all([StreamStops.load(run), run.resuming ? endPreviousRunnerSessions(run) : undefined]);
    trace('stops + takeover');
    for (const database of spec.databases) {
      if (run.signal.aborted) throw canceledError();
      const stream = await openStream(run, stops, database, slotReads.get(database));
      if (stream) streams.push(stream);
      trace(`stream opened ${database}`);
    }
    for (;;) {
      if (streams.length === 0) return await endOnline(run);
      await store.setState(name, 'WaitingForUserAction', streamingSubState(false, stops.any));
      verifiers = startVerifiers(run, streams);
      const outcome = await watch(run, streams, stops, meter);
      await stopVerifiers(verifiers);
      verifiers = [];
      if (outcome.kind === 'cancel') throw canceledError();
      if (outcome.kind === 'cancel-databases') {
        await cancelDatabases(run, streams, stops, outcome.databases);
      } else if (await cutover(run, streams, outcome.databases, meter)) {
        // cut over: those streams ended; the others stream on (else it stopped, saying why, and all stream on)
        for (let i = streams.length - 1; i >= 0; i--) if (outcome.databases.has(streams[i]!.database)) streams.splice(i, 1);
      }
    }
  } catch (error) {
    await stopVerifiers(verifiers);
    await stopAll(streams);
    // Only an end that is recorded releases anything: a runner that cannot record it (the target
    // is down) leaves everything for a resume, which streams on from the slots.
    const end = migrationEnd(error, run.signal.aborted);
    if (!(await startCleanup(store, name, end.state === 'Canceled', end.message))) throw error;
    // Nothing will stream again: give back what the migration changed on both servers, warning
    // about what is left. The target's data is left as it is. The caller records the final state.
    await releaseOpenDatabases(run, await store.get(name).catch(() => undefined), end.state === 'Canceled', 'warn');
    throw error;
  }
}

/**
 * Every database was cut over or canceled on its own: the migration ends Succeeded (at least one
 * was cut over) or Canceled (all were), as core/transitions.ts decides.
 */
async function endOnline(run: MigrationRun): Promise<void> {
  const { store } = run;
  const name = run.spec.migrationName;
  const status = await store.get(name);
  const ending = endOfDatabases(status?.databases ?? []);
  await store.setState(name, ending.state, 'Completed', ending.message);
  if (ending.message === null) await store.clearMessage(name);
}

/**
 * Cancels some databases (dbsToCancelMigrationOn) while the others stream on: each one's stream
 * stops, what the migration holds for it is released (slot, publication, origin, the target's
 * triggers and foreign keys, replica identities), and it ends Canceled. Its target database keeps
 * what was copied, as a whole-migration cancel leaves it.
 */
async function cancelDatabases(
  run: MigrationRun,
  streams: OnlineStream[],
  stops: StreamStops,
  databases: ReadonlySet<string>,
): Promise<void> {
  const { store } = run;
  const name = run.spec.migrationName;
  await store.setState(name, 'InProgress', streamingSubState(true, stops.any));
  for (const database of databases) {
    const index = streams.findIndex((s) => s.database === database);
    if (index < 0) continue;
    await store.updateDatabase(name, database, { state: 'Canceling', latencySeconds: null, pendingBytes: null });
    const stream = streams[index]!;
    stream.applier.stop();
    await stream.done.catch(() => undefined);
    streams.splice(index, 1);
    stops.forget(database);
    failpoint(`cancel-database:${database}`);
    await retrying(
      RETRY_POLICIES.phase,
      () => releaseDatabase(run, database, 'throw'),
      outageRetry(run, `the cancel of "${database}"`, database),
    );
    await store.updateDatabase(name, database, { state: 'Canceled', endedAt: true, applyStop: null, message: 'canceled by the user' });
    await store.recordEvent(name, 'info', 'canceled by the user: streaming stopped, slot and publication released', database);
  }
}
