// The cutover of an online migration: mark the cutover point in every database's stream, apply
// everything up to it, copy sequence values, verify every table, then drop slot, publication and
// apply progress. Downtime is measured from the moment the cutover first began to completion (a
// resumed cutover keeps the first start). This is a step of the flow, started by the online
// supervisor's cutover handler (handleCutover.ts) once the user asks. This file is the step's course,
// in order; each of its parts is a module beside it: the fallback window refused before anything is
// changed or opened at the cutover point (windowAtCutover.ts), what the stream does not carry brought
// level after the drain (cutoverSync.ts), the checks before the point of no return
// (cutoverChecks.ts), the switch and the release past it (switchAndRelease.ts), every way the cutover
// stops before it and streams on (cutoverRollBack.ts), and how each step is tried again and told
// (cutoverStep.ts). The mechanisms they run (the marker, sequence sync and recheck, the large objects)
// are switchover/'s, and ranked below it; the hold (the pooler paused, the writers fenced, the lag
// gate, the writes past the point read, all given back at a roll-back) is hold.ts's; the target's
// guard of a held cutover, from the pin to the switch, is targetGuardAtCutover.ts's.
import { applierResult, lateArrivals, markCutoverPoint } from '../switchover/marker';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { classifyStreamFailure } from '../cdc/apply/applyStop';
import type { MigrationRun } from '../run/migrationRun';
import { stepClock, type StepClock } from '../util/stepClock';
import { clearCutoverOptions } from '../control/cutoverOptions';
import type { ApplyRateMeter } from '../switchover/lagGate';
import { CUTOVER_HOLD, cutoverGate, endSessionsAheadOfHold, holdAtCutover, keptFences, type Gate } from './hold';
import { clearMessage, recordEvent, setCutoverStep, setMigrationDowntime, setState } from '../control/store';
import { clearCutoverStart, markCutoverStarted } from '../control/migrationRequests';
import { displayIdent } from '../connect/quote';
import { again, announce } from './cutoverStep';
import { openWindowAtCutover, unfencedWindow, windowRightsRefused } from './windowAtCutover';
import { sequencesAndLargeObjects } from './cutoverSync';
import { verifiedAndUnwritten } from './cutoverChecks';
import { releaseAfterSwitch, switchAtCutover } from './switchAndRelease';
import { resumeAfterStop, rollBack, rollBackLateArrival, type RolledBack } from './cutoverRollBack';

/**
 * How a cutover ended: its databases cut over (their streams ended), or stopped before its point of
 * no return with the streams it had held as they go on (those that ended at the marker started again
 * past it: the caller puts them in its list, handleCutover.ts).
 */
export type CutoverEnd = { readonly cutOver: true } | ({ readonly cutOver: false } & RolledBack);

/**
 * Runs the cutover of `databases` (all streams, or dbsToTriggerCutoverOn); `cutOver` when they
 * completed (the caller ends the migration once no database streams). `all` is read, never changed. Each database's step is recorded before the
 * next irreversible one, so a runner killed anywhere resumes the cutover where it was (flow/online.ts):
 * 'drained' (applied up to the marker, sequences copied), 'verified', then 'released' before its
 * slot is dropped. A verification mismatch stops the cutover: streaming resumes, the cutover
 * request is cleared, and the mismatch (naming the table) is the migration's message, so the user
 * can fix the cause and cut over again.
 */
export async function cutover(
  run: MigrationRun,
  all: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  meter: ApplyRateMeter,
): Promise<CutoverEnd> {
  const { spec, store } = run;
  const name = spec.migrationName;
  // dbsToTriggerCutoverOn: only these databases cut over; the others stream on untouched
  const streams = all.filter((s) => databases.has(s.database));
  const cutOver = streams.map((s) => s.database);
  const whole = streams.length === all.length;
  const untouched: CutoverEnd = { cutOver: false, streaming: streams };
  if (await unfencedWindow(run)) return untouched;
  if (await windowRightsRefused(run, cutOver)) return untouched;
  const gate = await cutoverGate(run);
  const began = (await markCutoverStarted(store, name)).getTime();
  await setState(store, name, 'InProgress', 'CompletingMigration');
  // an earlier stopped attempt's message would read as this attempt's while it runs
  await clearMessage(store, name);
  const which = whole ? '' : ` of ${streams.map((s) => displayIdent(s.database)).join(', ')}`;
  await recordEvent(
    store,
    name,
    'info',
    `cutover${which} started: ${gate.pooler ? 'pausing the pooler, then ' : ''}${gate.fence ? 'fencing the writers, then ' : ''}applying the last changes`,
  );
  const clock = stepClock();
  try {
    return await heldCutover(run, { whole, databases, streams, meter, gate, clock, began });
  } finally {
    // the sessions the hold kept open ahead (hold.ts), whichever way it ended
    await endSessionsAheadOfHold(run, CUTOVER_HOLD, cutOver);
  }
}

/** What the cutover hands its steps from the hold on: whether it is the whole migration's, the streams it cuts over, its gate, clock and start. */
interface CutoverUnderWay {
  readonly whole: boolean;
  readonly databases: ReadonlySet<string>;
  readonly streams: readonly OnlineStream[];
  readonly meter: ApplyRateMeter;
  readonly gate: Gate;
  readonly clock: StepClock;
  readonly began: number;
}

/** The cutover from its hold on: see cutover. */
async function heldCutover(
  run: MigrationRun,
  { whole, databases, streams, meter, gate, clock, began }: CutoverUnderWay,
): Promise<CutoverEnd> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const cutOver = streams.map((s) => s.database);
  const which = whole ? '' : ` of ${streams.map((s) => displayIdent(s.database)).join(', ')}`;
  const held = await holdAtCutover(run, streams, meter, gate, clock);
  if ('refused' in held) {
    await rollBack(run, cutOver, held.refused);
    return { cutOver: false, streaming: streams };
  }
  const arrivals = new Map(streams.map((s) => [s.database, drainDatabase(run, s, began)] as const));
  const late = await lateArrivals(arrivals, gate.budget);
  if (late.length > 0) return { cutOver: false, ...(await rollBackLateArrival(run, streams, databases, late, gate)) };
  const drains = await Promise.allSettled(arrivals.values());
  const failedDrain = drains.find((d) => d.status === 'rejected');
  if (failedDrain) {
    // A stream stopped on an error the user can fix: the cutover waits for the fix, streaming on.
    const stopped = streams.filter((s) => s.failure && classifyStreamFailure(s.failure).kind === 'stop');
    if (run.signal.aborted || stopped.length === 0) throw failedDrain.reason;
    return { cutOver: false, ...(await resumeAfterStop(run, streams, databases, stopped)) };
  }
  clock.done('drain');
  const synced = await sequencesAndLargeObjects(run, databases, streams);
  if ('streaming' in synced) return { cutOver: false, ...synced };
  clock.done('sequences and large objects');
  // behind a pooler too, a write past the point (a writer that bypassed it) rolls the cutover back
  const stopped = await verifiedAndUnwritten(run, databases, streams, { keptLargeObjects: synced.kept, pinned: held.pinned }, gate, clock);
  if (stopped) return { cutOver: false, ...stopped };
  for (const s of streams) await setCutoverStep(store, name, s.database, 'verified');
  // a fallback window: the reverse stream opens at the cutover point, before the release (fallback.ts)
  if (await openWindowAtCutover(run, streams)) clock.done('fallback window');
  // the last databases: the migration shows CleaningUp while slots, publications and origins go
  if (whole) await setState(store, name, 'CleaningUp', 'CompletingMigration');
  for (const s of streams) {
    await setCutoverStep(store, name, s.database, 'released');
    await again(run, `the switch of ${displayIdent(s.database)}`, () => switchAtCutover(run, s.database));
  }
  clock.done('switch');
  for (const s of streams) await again(run, `the release of ${displayIdent(s.database)}`, () => releaseAfterSwitch(run, s.database, began));
  clock.done('release');
  // each database's own downtime went with its Succeeded; the migration's is the longest
  const downtime = (Date.now() - began) / 1000;
  await setMigrationDowntime(store, name);
  const fenced = await keptFences(run, cutOver);
  await announce(run, `cutover${which} completed in ${downtime.toFixed(1)} s (${clock.steps()})${fenced}`);
  // the next cutover of other databases measures its own downtime, with the spec's gate unless asked otherwise
  if (!whole) {
    await clearCutoverStart(store, name);
    await clearCutoverOptions(store, name);
  }
  // an earlier stopped attempt's message no longer applies (setState keeps a message it is not given)
  await clearMessage(store, name);
  return { cutOver: true };
}

/** Marks the cutover point of one database and waits until its applier has applied up to it. */
async function drainDatabase(run: MigrationRun, stream: OnlineStream, began: number): Promise<void> {
  await again(run, `the cutover marker of ${displayIdent(stream.database)}`, () => markCutoverPoint(run, stream, began));
  await applierResult(run, stream);
}

/**
 * What is left of a database's cutover once its changes are applied and verified: everything the
 * migration changed given back (releaseDatabase: triggers and rules, foreign keys, slot,
 * publication and origin, row-level security, replica identities), Succeeded. Idempotent:
 * a runner killed after recording 'released' does it again on resume (the stream is never
 * restarted for it).
 *
 * `began`: when the cutover's downtime began (undefined for a release a resumed runner finishes):
 * the database's downtime is recorded with its Succeeded, in one statement.
 */
export async function finishCutover(run: MigrationRun, database: string, began?: number): Promise<void> {
  await switchAtCutover(run, database);
  await releaseAfterSwitch(run, database, began);
}
