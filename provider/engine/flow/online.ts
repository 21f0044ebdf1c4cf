// The online flow: per database a publication and a pgoutput slot with an exported snapshot, the
// offline copy phases at that snapshot, then change data capture, watched by the supervisor
// (supervisor.ts: cancel, cutover, stopped streams, the tick and the reporter), until the user
// triggers the cutover (or cancels). Failure or cancel stops streaming and drops slot and
// publication, so an abandoned migration never holds WAL on the source; a crashed runner leaves
// them for its resume. What follows a cutover (a fallback window) is afterCutover.ts's.
import type { DdlFollowing } from '../cdc/apply/ddlFollow';
import { sourceEventTrigger } from '../footprint/sourceEventTrigger';
import { forgetIdentities, knownWithIdentities, recordKnownObjects } from '../control/knownObjects';
import { partKeys, planPartsFollow } from '../verify/schema/partsFollow';
import { trace } from '../util/trace';
import { endPreviousRunnerSessions } from '../cdc/prepare/takeover';
import { startStream, streamNames, type OnlineStream } from '../cdc/apply/onlineStream';
import { readAppliedCounts } from '../cdc/apply/positionCommit';
import { installEventTrigger } from '../footprint/sourceEventTrigger';
import { slotState, type SlotState } from '../footprint/slotAndPublication';
import { migrationEnd } from './migrationEnd';
import type { MigrationStatus } from '../core/model';
import { releaseDatabase } from '../footprint/release';
import { dropTargetGuard } from './targetGuardAtCutover';
import { resumeLeftPause } from './hold';
import { canceledError } from '../core/errors';
import { retryPhase } from './outage';
import { releaseOpenDatabases, startCleanup } from './cleanup';
import { endOfDatabases } from '../core/transitions';
import { StreamStops } from './streamStops';
import type { MigrationRun } from '../run/migrationRun';
import { trackerWithResyncs } from './tableResync';
import { ApplyRateMeter } from '../switchover/lagGate';
import { supervise } from './supervisor';
import { openStreamConnectionsAhead, type ResumeAhead, type StreamConnectionsAhead } from './resumeAhead';
import { clearMessage, get, setState, updateDatabase } from '../control/store';
import { displayIdent } from '../connect/quote';

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
  read: { slotRead?: Promise<SlotState>; status?: MigrationStatus | undefined },
): Promise<OnlineStream | undefined> {
  const { store } = run;
  const name = run.spec.migrationName;
  const { slotRead } = read;
  const status = read.status ?? (await get(store, name));
  const current = status?.databases.find((d) => d.database === database);
  if (current?.state === 'Succeeded' || current?.state === 'Canceled') return undefined; // cut over or canceled before a crash
  if (current?.state === 'Canceling' || status?.dbsToCancelMigrationOn?.includes(database)) {
    // canceled before its stream began, or while a runner that was killed released it
    await retryPhase(run, `the cancel of ${displayIdent(database)}`, () => releaseDatabase(run, database, 'throw'), database);
    await updateDatabase(store, name, database, { state: 'Canceled', endedAt: true, message: 'canceled by the user' });
    return undefined;
  }
  if (run.resuming && current?.cutoverStep === 'released') {
    // applied, verified and recorded before the crash; only the release may be unfinished
    const { finishCutover } = await import('./cutover');
    await retryPhase(run, `the release of ${displayIdent(database)}`, () => finishCutover(run, database), database);
    return undefined;
  }
  const streaming = current?.state === 'WaitingForCutoverTrigger' || current?.state === 'ApplyStopped';
  // A resumed stream's connections are opened beside the steps below, given back below unless the
  // stream takes them; and its counters (one read on the target's catalog session opened with
  // them) are read beside those steps rather than after them, since the stream starts only once it
  // has them; they are used only when the slot still streams.
  const opened =
    run.resuming && streaming ? openStreamConnectionsAhead(run.spec, database, streamNames(run, database).publication) : undefined;
  const counted = opened ? countsSoFar(run, database, current, opened) : undefined;
  counted?.catch(() => undefined); // awaited below when used; a rejection is not lost
  try {
    const stream = await resumedOrCopied(run, stops, database, { slotRead, streaming, counted, opened });
    // a session that never took one (stopped before it started) gives it back when the stream ends
    void stream.done.catch(() => undefined).finally(() => void opened?.close());
    return stream;
  } catch (error) {
    await opened?.close();
    throw error;
  }
}

/**
 * The rest of openStream: a resumed stream's leftovers given back, then its stream, on from its
 * slot, or after a copy made again.
 */
async function resumedOrCopied(
  run: MigrationRun,
  stops: StreamStops,
  database: string,
  resumed: {
    slotRead: Promise<SlotState> | undefined;
    streaming: boolean;
    counted: Promise<OnlineStream['base']> | undefined;
    opened: StreamConnectionsAhead | undefined;
  },
): Promise<OnlineStream> {
  const { store } = run;
  const name = run.spec.migrationName;
  const { slotRead, streaming, counted, opened } = resumed;
  if (run.resuming) {
    // a cutover a killed runner left before its point of no return: its pause given back at once
    await resumeLeftPause(run, database);
    // and the target's guard of that cutover goes (what it recorded makes those tables read whole next time)
    await dropTargetGuard(run, database);
  }
  // a copied database streams on from its slot, unless the slot is gone (dropped, or invalidated
  // past max_slot_wal_keep_size): then its copy is made again
  const copied = run.resuming && streaming && (await slotStillUsable(run, database, slotRead));
  if (!copied) await opened?.close(); // a copy made again streams from a new slot once it is done
  if (run.resuming && streaming && !copied && sourceEventTrigger.madeFor(run.spec)) {
    // the lost stream's event trigger goes first, as it came after the first copy: the copy made
    // again would otherwise read it as the user's, one that needs pgferry's left-out function
    await retryPhase(run, `the event trigger of ${displayIdent(database)}`, () => sourceEventTrigger.undo(run, database), database);
  }
  // the copy's modules are loaded only for a copy: a resumed runner's start is time to its first change
  const copy = async () => (await import('./onlineCopy')).copyDatabase(run, database);
  const initialLsn = copied ? undefined : await retryPhase(run, `the copy of ${displayIdent(database)}`, copy, database);
  const base = copied && counted ? await counted : { inserts: 0, updates: 0, deletes: 0 };
  const tracker = await trackerWithResyncs(run, database);
  const stream = startStream(run, database, initialLsn, base, tracker, await ddlFollowingOf(run, database), copied ? opened : undefined);
  if (!stops.isStopped(database)) await updateDatabase(store, name, database, { state: 'WaitingForCutoverTrigger' });
  return stream;
}

/**
 * What a resumed stream's counters start from: the changes the target committed, counted in the
 * transactions that committed them (cdc/apply/positionCommit.ts), so a runner killed between two
 * reports loses none of them. The counts the control catalog last recorded stand for a stream an
 * earlier version of pgferry applied, which counted nothing on the target.
 */
async function countsSoFar(
  run: MigrationRun,
  database: string,
  current: { inserts: number; updates: number; deletes: number } | undefined,
  opened: StreamConnectionsAhead,
): Promise<OnlineStream['base']> {
  const counted = await opened.onTargetCatalog((client) => readAppliedCounts(client, streamNames(run, database).origin));
  return counted ?? { inserts: current?.inserts ?? 0, updates: current?.updates ?? 0, deletes: current?.deletes ?? 0 };
}

/**
 * schemaChangeCapture eventTrigger: the source database's event trigger, made once the copy is done
 * (made before, the schema's pg_dump would copy it), and how the stream follows its messages. A
 * DDL between the copy's snapshot and this point reaches the target through the schema watch.
 */
async function ddlFollowingOf(run: MigrationRun, database: string): Promise<DdlFollowing | undefined> {
  if (!sourceEventTrigger.madeFor(run.spec)) return undefined;
  const names = await retryPhase(run, `the event trigger of ${displayIdent(database)}`, () => installEventTrigger(run, database), database);
  const migration = run.spec.migrationName;
  return {
    prefix: names.prefix,
    filters: run.spec,
    // a drop is followed only for what the migration knows (control/knownObjects.ts), as the watch's
    // are: what a message shows on the source is known from then on, recorded before it is made
    plan: async (source, target, seen) => {
      if (seen)
        await recordKnownObjects(
          run.store,
          migration,
          database,
          partKeys(source).map((object) => ({ object, attnum: null })),
          run.spec,
        );
      const { known, knownIdentities } = await knownWithIdentities(run.store, migration, database);
      const planned = planPartsFollow(source, target, new Set(known.keys()), knownIdentities);
      // what the apply makes gets a new OID: its identity recorded before (a part the source made
      // again under its name) no longer tells it, and is forgotten until a look finds it equal
      await forgetIdentities(run.store, migration, database, planned.made);
      return planned;
    },
  };
}

/**
 * What a resume reads before its streams: every slot's state and the takeover of the previous
 * runner's sessions, started by the orchestrator beside the steps before data when it could
 * (flow/resumeAhead.ts), else here, beside the stops. Its first change waits for all three, one
 * round trip each, so they run side by side. (The state of a slot does not depend on which
 * walsender holds it.)
 */
async function beforeStreams(
  run: MigrationRun,
  ahead: ResumeAhead | undefined,
): Promise<{ stops: StreamStops; slotReads: Map<string, Promise<SlotState>>; status: MigrationStatus | undefined }> {
  const { spec } = run;
  const slots = ahead?.slots;
  const slotReads = new Map(
    run.resuming
      ? spec.databases.map((d) => {
          const own = () => slotState(spec.source, d, streamNames(run, d).slot);
          return [d, slots ? slots.then((states) => states.get(d) ?? own(), own) : own()] as const;
        })
      : [],
  );
  for (const read of slotReads.values()) read.catch(() => undefined); // awaited where used; a rejection is not lost
  const takeover = run.resuming ? (ahead?.takeover ?? endPreviousRunnerSessions(run)) : undefined;
  const [status] = await Promise.all([get(run.store, spec.migrationName), takeover]);
  // the session the takeover and the slots' read shared is not kept while the streams run
  await ahead?.close();
  return { stops: await StreamStops.load(run, status), slotReads, status };
}

/** The online flow of a migration's databases; `ahead` is what a resume started before its steps before data. */
export async function runOnline(run: MigrationRun, ahead?: ResumeAhead): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const streams: OnlineStream[] = [];
  try {
    trace('online: start');
    const { stops, slotReads, status } = await beforeStreams(run, ahead);
    trace('stops + takeover');
    // the migration as read with the stops serves the first database; each later one reads it again
    // (a database before it may have been copied meanwhile, and the user may have asked something)
    let read = status;
    for (const database of spec.databases) {
      if (run.signal.aborted) throw canceledError();
      const stream = await openStream(run, stops, database, { slotRead: slotReads.get(database), status: read });
      read = undefined;
      if (stream) streams.push(stream);
      trace(`stream opened ${database}`);
    }
    // the supervisor watches the streams and answers the user's requests until none streams
    await supervise(run, streams, stops, new ApplyRateMeter());
    await endOnline(run);
  } catch (error) {
    await stopAll(streams);
    // Only an end that is recorded releases anything: a runner that cannot record it (the target
    // is down) leaves everything for a resume, which streams on from the slots.
    const end = migrationEnd(error, run.signal.aborted, run.spec);
    if (!(await startCleanup(store, name, end.state === 'Canceled', end.message))) throw error;
    // Nothing will stream again: give back what the migration changed on both servers, warning
    // about what is left. The target's data is left as it is. The caller records the final state.
    await releaseOpenDatabases(run, await get(store, name).catch(() => undefined), end.state === 'Canceled', 'warn');
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
  const status = await get(store, name);
  const ending = endOfDatabases(status?.databases ?? []);
  await setState(store, name, ending.state, 'Completed', ending.message);
  if (ending.message === null) await clearMessage(store, name);
}
