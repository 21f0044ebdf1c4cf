// How a cutover stops before its point of no return, each way with its own message: refused before
// its marker (the streams never stopped), or stopped inside its hold (streams late past the lag
// budget, a stream stopped on an error the user can fix, a check that failed, writes past the cutover
// point). Whichever way, the hold and the target's guard are given back (hold.ts liftHold: the fence
// lifted, the pooler resumed on the old source), the streams go on, and the cutover request is
// cleared with a message that says what to fix before asking again. Each way past the marker returns
// the streams it was handed as they go on (RolledBack), never changing the caller's list: the
// supervisor, whose list it is, puts them in it (handleCutover.ts).
import { lateArrivalWords } from '../switchover/marker';
import { startStream, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import type { MigrationRun } from '../run/migrationRun';
import { clearCutoverOptions } from '../control/cutoverOptions';
import { dropTargetGuard } from './targetGuardAtCutover';
import { CUTOVER_HOLD, givenBack, liftHold, type Gate } from './hold';
import { recordEvent } from '../control/store';
import { clearCutover } from '../control/migrationRequests';
import { displayIdent } from '../connect/quote';

/**
 * A cutover stopped before its point of no return, past its marker: the streams of the databases it
 * cut over as they go on, in the order handed, each one that ended at the cutover point a new one
 * started past it; a failed one as it was, for the stop to record.
 */
export interface RolledBack {
  readonly streaming: readonly OnlineStream[];
}

/** A cutover stopped before its marker: the fences lifted, the pooler resumed, the request cleared with `message`; the streams never stopped. */
export async function rollBack(run: MigrationRun, databases: readonly string[], message: string): Promise<void> {
  const name = run.spec.migrationName;
  await liftHoldAndGuard(run, databases);
  await recordEvent(run.store, name, 'warning', message);
  run.onProgress({ kind: 'warning', message, recorded: true });
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message);
}

/**
 * Streams that had not reached the cutover point within the lag budget (switchover/marker.ts
 * lateArrivals): the cutover rolls back before anything irreversible, naming who holds the lock
 * their apply waits for, and they stream on past the marker.
 */
export async function rollBackLateArrival(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  late: readonly string[],
  gate: Gate,
): Promise<RolledBack> {
  const what = { stream: 'stream', point: 'cutover point', where: 'the target' };
  const why = await lateArrivalWords(run.spec.target, late, what, gate);
  const lifted = givenBack(gate.fence, gate.pooler);
  const message = `cutover rolled back: ${why}; ${lifted ? `${lifted} and ` : ''}changes stream on: request the cutover again once that session is done, or raise cutoverLagBudgetSeconds`;
  return streamOnAfterStop(run, streams, databases, message);
}

/**
 * A stream stopped during the drain on an error the user can fix: the cutover stops before
 * anything irreversible (no sequence, verification or release has run), the other streams go on,
 * and the stopped one waits for its fix (streamStops.ts) before the cutover can be asked again.
 */
export async function resumeAfterStop(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  stopped: readonly OnlineStream[],
): Promise<RolledBack> {
  const dbs = stopped.map((s) => displayIdent(s.database)).join(', ');
  const message = `cutover stopped: streaming of ${dbs} stopped on an error before the cutover point (see the database's message); request the cutover again once it is fixed and streams`;
  return streamOnAfterStop(run, streams, databases, message, 'WaitingForApplyFix');
}

/** Why a check inside the hold stops the cutover, and what the user does about it. */
const STOP_CAUSES = {
  verification: 'writes still running on the source?',
  'a table not streamed': 'run the fix it names on the source: pgferry then copies the table and streams it',
  'the large objects': 'give the target user what the fix says',
  'the schema check': 'run the fixes on the target, or undo the change on the source',
  "the target's guard": 'stop whoever writes on the target before its cutover; the tables written are read whole at the next cutover',
} as const;

/** A verification mismatch: streaming starts again and the cutover request is cleared. */
export async function resumeAfterMismatch(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  mismatch: string | undefined,
  check: keyof typeof STOP_CAUSES,
): Promise<RolledBack> {
  const pooler = run.spec.pooler ? ', the pooler resumed on the old source' : '';
  const what =
    check === "the target's guard"
      ? mismatch
      : check === 'a table not streamed'
        ? `the verification failed: ${mismatch}`
        : `${check} failed: ${mismatch}`;
  const message = `cutover stopped: ${what}; streaming resumed${pooler}, request the cutover again once the cause is fixed (${STOP_CAUSES[check]})`;
  return streamOnAfterStop(run, streams, databases, message);
}

/** Writes past the cutover point: the fences lifted and the pooler resumed (`lifted` says which), streaming on (it carries those writes to the target), the request cleared naming them. */
export async function rollBackLateWrites(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  late: string,
  lifted: string,
): Promise<RolledBack> {
  const message = `cutover rolled back: ${late}; ${lifted} and changes stream on (those writes reach the target): stop that writer on the source or point it at the target, then request the cutover again`;
  return streamOnAfterStop(run, streams, databases, message);
}

/**
 * A cutover stopped inside its hold, after its marker: the stop recorded, the hold and the target's
 * guard given back, the streams started again past the marker, the request cleared with `message`.
 */
async function streamOnAfterStop(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
  message: string,
  subState?: 'WaitingForApplyFix',
): Promise<RolledBack> {
  const name = run.spec.migrationName;
  await recordEvent(run.store, name, 'error', message);
  await liftHoldAndGuard(run, [...databases]);
  const streaming = await restartStreams(run, streams, databases);
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message, subState);
  return { streaming };
}

/**
 * Streams that ended at the cutover point (or are draining to it) stream on, each a new one started
 * past it; failed ones stay as they are for the stop to record. Returns the streams handed, in order,
 * with the new ones in their places: the list handed is the caller's and is left as it was.
 */
async function restartStreams(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  databases: ReadonlySet<string>,
): Promise<OnlineStream[]> {
  const streaming: OnlineStream[] = [];
  for (const s of streams) {
    if (s.failure || !databases.has(s.database)) {
      streaming.push(s);
      continue;
    }
    s.applier.stop();
    await s.done.catch(() => undefined);
    const again = startStream(run, s.database, undefined, streamCounts(s), s.applier.tracker, s.applier.ddlFollowing);
    // started again while the flow may change the target's tables: each is read at its relation message
    again.applier.giveUpTablesAhead();
    streaming.push(again);
  }
  return streaming;
}

/** The hold given back on these databases (hold.ts liftHold: the fence lifted, the pooler resumed on the old source), then the target's guard dropped. */
async function liftHoldAndGuard(run: MigrationRun, databases: readonly string[]): Promise<void> {
  for (const database of databases) {
    await liftHold(run, CUTOVER_HOLD, database);
    await dropTargetGuard(run, database);
  }
}
