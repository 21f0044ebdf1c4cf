// The fall-back (`pgferry update --fall-back`, docs/fallback.md): the old source made the primary
// again within a fallback window, without losing a write. Per database, each step recorded before
// the next irreversible one, so a runner killed anywhere does it again on resume (every step is
// idempotent): the target fenced (footprint/targetFence.ts), a marker emitted on it and the reverse
// stream drained to it, the sequences moved back (never lower than the old source handed out), the
// large objects brought level as the cutover brings them (nothing streams them), the schema and the
// rows compared as the cutover compares them, then the reverse slot, publication and position
// dropped and the old source's fence lifted. A difference, or a reverse stream that stops
// before the marker, stops the fall-back before anything irreversible: the target's fence lifted,
// the reverse stream streaming on, the window Open with the reason as its message. Through a pooler
// its databases are paused before the fence and resumed on the new server when it stops, or pointed
// at the old source once its fence is lifted (footprint/poolerPauseBack.ts); the pause, the fence
// and the lag gate before and inside them are the cutover's hold the other way (hold.ts). Past its point of
// no return (fall_back_released) nothing lifts the target's fence any more: a step that fails there
// (the release, the completion) leaves the window FallingBack and is tried again. These are the
// mechanisms; which one moves a window when (Open -> FallingBack -> FellBack, or Open again) is a
// row of afterCutover.ts WINDOW.
import type { Applier } from '../cdc/apply/applier';
import type { SessionEnd } from '../cdc/apply/applySession';
import { errorMessage, PgferryError } from '../core/errors';
import {
  clearFallBack,
  fallbackWindows,
  markFallBackReleased,
  markFallBackRetry,
  markFallingBack,
  markFellBack,
  tablesAtOpening,
  sequencesAtOpening,
  type SequenceAtOpening,
  type FallbackWindow,
} from '../control/fallbackWindows';
import { notStreamedTables } from '../control/sourceTables';
import { recordEvent } from '../control/store';
import { lateArrivals, lateArrivalWords, markFallBackPoint } from '../switchover/marker';
import { madeByMigration, SequenceRenamedInWindow, syncSequencesBack, type SequencesBack } from '../switchover/sequenceSync';
import { keptLargeObjectsMessage, syncLargeObjects } from '../switchover/largeObjectDelta';
import { fenceWindowTables, handOverFences } from '../footprint/targetFence';
import { releaseFallback } from '../footprint/release';
import { switchPoolerBack } from '../footprint/poolerPauseBack';
import type { SwitchoverRun } from '../run/migrationRun';
import { retryPhase } from './outage';
import { schemaDifferenceMessage } from '../verify/schema/checkSchema';
import { wholeSchemaCheck, type WholeSchemaCheck } from './wholeSchemaCheck';
import { columnsLeftBehind } from './columnsLeftBehind';
import type pg from 'pg';
import {
  carryWindowTables,
  planWindowTables,
  windowTablesSincePlan,
  windowTablesSincePlanMessage,
  type CarryTarget,
  type PlannedWindow,
  type WindowTable,
} from '../switchover/windowTables';
import { recordCarry, takeBackCarried } from '../footprint/windowCarry';
import { reverseStreamNamesOf } from '../core/names';
import { readFilterPlan, type FilterPlan } from '../filter/plan';
import { withSession, withSessionPair } from '../connect/session';
import { configRowsMessages, syncExtensionConfigRows } from '../switchover/extensionConfigSync';
import { configRowsLedger, extensionConfigRows } from '../control/extensionConfigRows';
import { verifyDatabases, type VerifyOptions } from '../verify/verifyTables';
import { reverseRecheck } from '../switchover/recheckPlan';
import { verifyMaterializedViewsBack } from '../verify/materializedViews';
import { failpoint, holdpoint } from '../util/failpoints';
import { openForwardAgain } from './forwardAgain';
import { FALL_BACK_HOLD, fallBackGate, holdAtFallBack, liftHold } from './hold';
import { stepClock, type StepClock } from '../util/stepClock';
import { retryDelayMs } from './watchLoop';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import { sqlStateWithin } from '../connect/sqlstate';

/** One database's reverse applier as the runner holds it. */
export interface ReverseStream {
  readonly database: string;
  readonly applier: Applier;
  readonly startedAt: number;
  /** The retry requests (`pgferry resume`) counted when it started: a later one tries it again at once once it stopped. */
  readonly requestsSeen: number;
  /** Settles when the applier's run does: how it ended, or the error it stopped on. */
  done: Promise<SessionEnd | Error>;
  /** Set once `done` settled. */
  ended?: SessionEnd | Error;
  /** A stopped stream is tried again from then. */
  retryAt?: number;
  /** The fall-back under way on its database, from the ask on. */
  fallBack?: FallBackCourse;
}

/** A fall-back under way on one database, as its steps leave it: afterCutover.ts WINDOW reads its end. */
interface FallBackCourse {
  readonly began: number;
  readonly clock: StepClock;
  /** Where the forward stream starts again (--resume-forward), once made. */
  forward?: string;
  /** Past the point of no return (fall_back_released recorded): finished from here, never stopped. */
  released?: boolean;
  /** The reverse stream and the old source's fence given back: only the completion is left. */
  oldSourceReleased?: boolean;
  /** How it ended: 'released' once the old source is released, or the error it failed on (before or past the point of no return). */
  end?: 'released' | { readonly error: unknown };
  /** Past the point of no return, the failed tries so far (the reverse supervisor's back-off) and when the next is due. */
  tries?: number;
  retryAt?: number;
}

/** What a fall-back's start reads of its database's window: the database, whether it is past its point of no return, the reverse stream's start. */
type FallBackAsked = Pick<FallbackWindow, 'database' | 'fallBackReleased' | 'openedLsn'>;

/** The fall-back failed past its point of no return: it is tried again, never stopped (afterCutover.ts WINDOW). */
export function failedPastReturn(w: Pick<FallbackWindow, 'fallBackReleased'>, stream: ReverseStream): boolean {
  const course = stream.fallBack;
  return typeof course?.end === 'object' && (course.released === true || w.fallBackReleased);
}

/** Why a fall-back stopped before anything irreversible. */
class FallBackStopped extends Error {}

/** A step tried again while a server is away (every step is idempotent). */
function again<T>(run: SwitchoverRun, what: string, step: () => Promise<T>): Promise<T> {
  return retryPhase(run, `fall-back: ${what}`, step);
}

/**
 * Runs one of the fall-back's steps; what fails it is left on `stream.fallBack` (unless the run is
 * stopped), from which the window moves on (afterCutover.ts WINDOW).
 */
async function settled(run: SwitchoverRun, stream: ReverseStream, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (run.signal.aborted) throw error;
    stream.fallBack = { began: Date.now(), clock: stepClock(), ...stream.fallBack, end: { error } };
  }
}

/**
 * A fall-back asked, on one database of the migration's live windows: the window FallingBack, then
 * everything up to its point of no return (fence, marker, drain, sequences, large objects, the
 * comparison), recorded as passed. What follows it is WINDOW's next rows: the forward stream made
 * again when asked (forwardStreamAgain), then the old source released (releaseOldSource).
 */
export async function fallBackOne(run: SwitchoverRun, w: FallBackAsked, stream: ReverseStream): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const database = w.database;
  await settled(run, stream, async () => {
    // A runner resumed past the verification (fall_back_released) started a reverse applier like
    // any other: the target is fenced and drained, so it has nothing to apply, but its session
    // holds the reverse origin on the old source, which the release must drop ("in use by PID").
    const released = w.fallBackReleased;
    if (released) {
      stream.applier.stop();
      await stream.done;
    }
    const began = (await markFallingBack(store, name, database)).getTime();
    await recordEvent(store, name, 'info', 'fall-back started: fencing the writers of the target, then applying its last writes', database);
    const course: FallBackCourse = { began, clock: stepClock(), released };
    stream.fallBack = course;
    if (!released) await drainAndVerify(run, database, w.openedLsn, stream, course);
  });
}

/**
 * Past the point of no return, with --resume-forward: the forward stream made again while the old
 * source is still fenced (forwardAgain.ts), so that its slot's point is exactly what the target
 * holds and no write of the old source falls between them.
 */
export async function forwardStreamAgain(run: SwitchoverRun, database: string, stream: ReverseStream): Promise<void> {
  await settled(run, stream, async () => {
    const course = stream.fallBack!;
    course.forward = await again(run, 'the forward stream again', () => openForwardAgain(run, database));
    course.clock.done('forward stream');
  });
}

/**
 * Past the point of no return: the reverse slot, publication and position dropped, the fences
 * handed over and, through a pooler, its lines pointed back: the old source takes the writes again.
 */
export async function releaseOldSource(run: SwitchoverRun, database: string, stream: ReverseStream): Promise<void> {
  await settled(run, stream, async () => {
    const course = stream.fallBack!;
    await again(run, 'the release', async () => {
      await releaseFallback(run, database);
      failpoint(`fallback-reverse-dropped:${database}`);
      await handOverFences(run, database);
      // the old source writable again: the pooler's held queries go there (no-op without a pooler)
      await switchPoolerBack(run, database);
    });
    course.oldSourceReleased = true;
    course.clock.done('release');
    failpoint(`fallback-released:${database}`);
    course.end = 'released';
  });
}

/** Past the point of no return with nothing failed, and the old source not released yet: forwardStreamAgain and releaseOldSource are due. */
export function pastReturnDue(stream: ReverseStream): boolean {
  const course = stream.fallBack;
  return course?.released === true && course.end === undefined && course.oldSourceReleased !== true;
}

/** FallingBack -> FellBack: the completion recorded, the migration's state with it (one statement), the reverse applier stopped. */
export async function fellBack(run: SwitchoverRun, database: string, stream: ReverseStream): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const course = stream.fallBack!;
  const seconds = (Date.now() - course.began) / 1000;
  const after =
    course.forward === undefined ? 'the target stays fenced' : `the target stays fenced and follows it again from ${course.forward}`;
  const message = `fall-back of ${displayIdent(database)} completed in ${seconds.toFixed(1)} s (${course.clock.steps()}): the old source is the primary again, ${after}`;
  // the window, its event and the migration's state in one statement: a completion tried again after it records nothing twice
  await markFellBack(
    store,
    name,
    database,
    `fell back: the old source is the primary again (downtime ${seconds.toFixed(1)} s); ${after}`,
    message,
  );
  failpoint(`fallback-fell-back:${database}`);
  run.onProgress({ kind: 'info', database, message });
  stream.applier.stop();
  await stream.done;
}

/**
 * FallingBack, past the point of no return, a step failed (the release, the completion): nothing is
 * undone, the target stays fenced, the window FallingBack with why; what is left is tried again
 * after the reverse supervisor's back-off (WINDOW's next row), or by a resumed runner.
 */
export async function fallBackFailedPastReturn(run: SwitchoverRun, database: string, stream: ReverseStream): Promise<void> {
  const course = stream.fallBack!;
  const { error } = course.end as { error: unknown };
  course.tries = (course.tries ?? 0) + 1;
  const wait = retryDelayMs(course.tries);
  course.retryAt = Date.now() + wait;
  const left = course.oldSourceReleased ? 'its completion is recorded' : "the reverse stream and the old source's fence are given back";
  const message =
    `the fall-back failed past its point of no return: ${errorMessage(error)}; it is not undone (the target stays fenced): ` +
    `${left} again by itself in ${wait / 1000} s, then at doubling intervals up to ${retryDelayMs(Infinity) / 60_000} min; ` +
    'fix the cause, or pgferry resume finishes it';
  await run.warn(message, database);
  await markFallBackRetry(run.store, run.spec.migrationName, database, message);
}

/**
 * FallingBack, past the point of no return, its try due: the failure set aside, so that WINDOW's
 * rows past the point of no return take the course up where it failed (every step of them is
 * idempotent), or only the completion when the old source was released already.
 */
export function fallBackAgain(stream: ReverseStream): void {
  const course = stream.fallBack!;
  course.retryAt = undefined;
  // past the point of no return as the course or the catalog says (failedPastReturn): the catalog's
  // record may have committed when the step that made it failed
  course.released = true;
  course.end = course.oldSourceReleased ? 'released' : undefined;
}

/**
 * FallingBack -> Open: a fall-back stopped before anything irreversible, the target's fence lifted,
 * the window Open with why. Returns whether the reverse stream needs a new applier: the one that
 * drained to the marker has ended. Refused past the point of no return (the catalog read again): the
 * old source's fence may be lifted already, and both servers would take writes.
 */
export async function fallBackStopped(run: SwitchoverRun, database: string, stream: ReverseStream): Promise<boolean> {
  const { error } = stream.fallBack!.end as { error: unknown };
  const why = error instanceof FallBackStopped ? error.message : `it failed: ${errorMessage(error)}`;
  const now = (await fallbackWindows(run.store, run.spec.migrationName)).find((x) => x.database === database);
  if (stream.fallBack!.released || now?.fallBackReleased)
    throw new Error(
      `fall-back of ${displayIdent(database)} is past its point of no return: its target's fence is kept, the fall-back finished, never stopped`,
    );
  const pausedBack = await liftHold(run, FALL_BACK_HOLD, database);
  const pooler = pausedBack ? ', the pooler resumed on the new server' : '';
  const message = `fall-back stopped: ${why}; the reverse stream goes on${pooler}, ask again once the cause is fixed`;
  // the event first: whoever sees the request cleared (a caller waiting for the fall-back to settle) finds why
  await recordEvent(run.store, run.spec.migrationName, 'error', message, database);
  await clearFallBack(run.store, run.spec.migrationName, database, message);
  if (stream.ended === undefined && !(error instanceof FallBackStopped)) return false;
  stream.applier.stop();
  await stream.done;
  return true;
}

/**
 * What the fall-back's steps read of the old source's filters and of the control catalog (the
 * foreign keys the cutover left out, the known objects, the tables not streamed), read once before
 * the hold and handed to each step: the old source is fenced since the cutover and nothing streams
 * forward in the window, so none of it changes before the comparison, and the applications are not
 * held while it is read. The old source's plan serves every step, the sequences taken back from the
 * new server too (they are left out by name).
 */
interface ReadBeforeHold {
  readonly filter: FilterPlan;
  readonly schema: WholeSchemaCheck;
  readonly notStreamed: Awaited<ReturnType<typeof notStreamedTables>>;
  /** The new server's tables when the window opened (switchover/windowTables.ts); none recorded before control migration 34. */
  readonly opening: readonly string[] | undefined;
  /** The free-standing sequences paired when the window opened (switchover/sequenceSync.ts); none recorded before control migration 36. */
  readonly sequencesAtOpening: readonly SequenceAtOpening[] | undefined;
}

async function readBeforeHold(run: SwitchoverRun, database: string): Promise<ReadBeforeHold> {
  const { spec, store } = run;
  const filter = await again(run, 'the filters', () =>
    withSession(spec.source, { database, purpose: 'fall-back' }, (client) => readFilterPlan(client, spec)),
  );
  const schema = await wholeSchemaCheck(run, database, { filter });
  const notStreamed = await notStreamedTables(store, spec.migrationName, [database]);
  const opening = await tablesAtOpening(store, spec.migrationName, database);
  const sequencesOpened = await sequencesAtOpening(store, spec.migrationName, database);
  return { filter, schema, notStreamed, opening, sequencesAtOpening: sequencesOpened };
}

/** Fence, marker, drain, the window's tables, then the rest: everything before the point of no return. */
async function drainAndVerify(
  run: SwitchoverRun,
  database: string,
  openedLsn: FallbackWindow['openedLsn'],
  stream: ReverseStream,
  course: FallBackCourse,
): Promise<void> {
  const { spec } = run;
  const { clock } = course;
  const name = spec.migrationName;
  const read = await readBeforeHold(run, database);
  // the new server held: through a pooler paused, fenced, the lag gate passed before and inside
  const gate = fallBackGate(run);
  const refused = await holdAtFallBack(run, database, stream.applier, gate, clock);
  if (refused) throw new FallBackStopped(refused);
  // the reverse stream drained to a marker emitted behind every write the target accepted, within the budget the gate used
  await again(run, 'the marker', () => markFallBackPoint(spec.target, stream.applier, name, database));
  if ((await lateArrivals(new Map([[database, stream.done]]), gate.budget)).length > 0) {
    const what = { stream: 'reverse stream', point: 'fall-back point', where: 'the old source' };
    throw new FallBackStopped(await lateArrivalWords(spec.source, [database], what, gate));
  }
  const end = await stream.done;
  if (end !== 'cutover') {
    const why = end instanceof Error ? errorMessage(end) : `it ${end}`;
    throw new FallBackStopped(`the reverse stream of ${displayIdent(database)} stopped before the fall-back point: ${why}`);
  }
  failpoint(`fallback-drained:${database}`);
  clock.done('drain');
  try {
    const planned = await windowTablesBack(run, database, read);
    await levelAndVerify(run, database, { ...read, planned }, openedLsn, stream, course);
  } catch (error) {
    // a stop takes the carried rows back (those rows alone, footprint/windowCarry.ts), so that the next
    // fall-back carries them again with what the window writes meanwhile, instead of finding the table filled
    if (error instanceof FallBackStopped) await tablesOfTheWindowTakenBack(run, database);
    throw error;
  }
}

/** The rows a carry of this fall-back, or of one a killed runner left, wrote into the old source's tables: taken back, those alone. */
async function tablesOfTheWindowTakenBack(run: SwitchoverRun, database: string): Promise<void> {
  const taken = await again(run, 'the tables of the window taken back', () => takeBackCarried(run, database));
  if (taken.length === 0) return;
  const rows = taken.map((t) => `${t.table} ${t.rows}`).join(', ');
  await recordEvent(run.store, run.spec.migrationName, 'info', `fall-back: carried rows taken back from the old source: ${rows}`, database);
}

/** Sequences, large objects, extension configuration rows and the comparison, the new server fenced and drained. */
async function levelAndVerify(
  run: SwitchoverRun,
  database: string,
  read: ReadBeforeHold & { readonly planned: PlannedWindow | undefined },
  openedLsn: FallbackWindow['openedLsn'],
  stream: ReverseStream,
  course: FallBackCourse,
): Promise<void> {
  const { spec, store } = run;
  const { clock } = course;
  const name = spec.migrationName;
  // a free-standing sequence of the new server is the migration's only as restored or made there (its OID)
  const made = madeByMigration(read.schema.known);
  const mine = {
    ...(read.opening ? { opening: read.opening } : {}),
    ...(made ? { madeByMigration: made } : {}),
    ...(read.sequencesAtOpening ? { atOpening: read.sequencesAtOpening } : {}),
  };
  const sequences = await again(run, 'the sequences', () => syncSequencesBack(spec.target, spec.source, database, read.filter, mine)).catch(
    (error: unknown) => {
      // a sequence renamed on the new server in the window: nothing set yet, the rename to follow first
      throw error instanceof SequenceRenamedInWindow ? new FallBackStopped(error.message) : error;
    },
  );
  run.onProgress({
    kind: 'info',
    database,
    message: `fall-back: ${sequences.moved} sequence value(s) moved forward on the old source, ${sequences.kept} already as far`,
  });
  failpoint(`fallback-sequences:${database}`);
  clock.done('sequences');
  const kept = await largeObjectsBack(run, database, read.filter);
  await configRowsBack(run, database);
  clock.done('large objects');
  const recheck = reverseRecheck(stream.applier, openedLsn);
  await verifyBack(run, database, read, recheck, kept, sequences);
  clock.done('verification');
  // read last, as close to the point of no return as can be: a table made or filled since the plan
  if (read.planned) await windowTablesAgain(run, database, read.planned);
  await markFallBackReleased(store, name, database);
  course.released = true;
  failpoint(`fallback-verified:${database}`);
}

/**
 * The tables the applications made on the new server in the window (switchover/windowTables.ts),
 * the new server fenced and drained: one holding rows the old source has no table for stops the
 * fall-back, nothing changed, naming the statement that makes it there; the rows of one the user
 * made there, empty, are carried in one old-source transaction, recorded first (footprint/windowCarry.ts),
 * with the sequences of its columns.
 */
async function windowTablesBack(run: SwitchoverRun, database: string, read: ReadBeforeHold): Promise<PlannedWindow | undefined> {
  const opening = read.opening;
  if (!opening) return undefined;
  // a runner killed after an earlier carry left its rows there: taken back, carried again below with the rest
  await tablesOfTheWindowTakenBack(run, database);
  // the fence on the window's tables, those made since the target was fenced too, before a row of them is read
  const fence = await again(run, 'the fence on the tables of the window', () => fenceWindowTables(run, database));
  const sides = { newServer: run.spec.target, oldSource: run.spec.source };
  const { publication } = reverseStreamNamesOf(run.spec.migrationName, database, run.instance);
  const plan = await again(run, 'the tables of the window', () => planWindowTables(sides, database, opening, publication));
  if (plan.leftBehind) throw new FallBackStopped(plan.leftBehind);
  const planned: PlannedWindow = { opening, publication, seen: plan.seen, filled: plan.filled };
  if (plan.carry.length === 0) return planned;
  await carriedUnfenced(run, database, plan.carry, fence.fenced);
  const record = (client: pg.Client, tables: readonly CarryTarget[]) => recordCarry(run, database, client, tables);
  // tried again after a lost connection: what the try before may have committed is taken back first, never carried twice
  const carry = async () => {
    await takeBackCarried(run, database);
    return carryWindowTables(sides, database, plan.carry, record);
  };
  const carried = await again(run, 'the tables of the window', carry).catch((error: unknown) => {
    // a row the old source's table refuses (a column or a type it lacks): its table is not the new server's
    if (sqlStateWithin(error)) throw new FallBackStopped(`${errorMessage(error)} (fix: make it on the old source as on the new server)`);
    throw error;
  });
  failpoint(`fallback-carried:${database}`);
  await holdpoint(`fallback-carried:${database}`);
  run.onProgress({
    kind: 'info',
    database,
    message: `fall-back: rows of the tables made on the new server in the window carried to the old source: ${carried.map((c) => `${c.table} ${c.rows}${c.sequences > 0 ? ` (${c.sequences} sequence value(s) moved forward)` : ''}`).join(', ')}`,
  });
  return planned;
}

/**
 * The window's tables read again last before the point of no return, the fence put on those made
 * since first: a session that turns read-only off may make a table after the plan read them (the
 * fence's trigger is on tables, and CREATE TABLE writes none of them) and fill it, and its rows
 * would be on the new server alone. One such table stops the fall-back, nothing changed, naming it.
 */
async function windowTablesAgain(run: SwitchoverRun, database: string, planned: PlannedWindow): Promise<void> {
  const fence = await again(run, 'the fence on the tables of the window', () => fenceWindowTables(run, database));
  const late = await again(run, 'the tables of the window', () => windowTablesSincePlan(run.spec.target, database, planned, fence.fenced));
  if (late.length > 0) throw new FallBackStopped(windowTablesSincePlanMessage(late));
}

/**
 * A table to carry that the fence does not cover: made after it was put on again (fenced now, before
 * the carry reads it), or one the target user may not put a trigger on, carried as it is with a
 * warning naming the grant: a session that turns read-only off may write it until the carry, and a
 * row it writes after that makes the verification stop the fall-back.
 */
async function carriedUnfenced(
  run: SwitchoverRun,
  database: string,
  carry: readonly WindowTable[],
  fenced: readonly string[],
): Promise<void> {
  if (carry.every((t) => fenced.includes(t.oid))) return;
  const now = (await again(run, 'the fence on the tables of the window', () => fenceWindowTables(run, database))).fenced;
  const open = carry.filter((t) => !now.includes(t.oid));
  if (open.length === 0) return;
  const user = run.spec.target.user;
  await run.warn(
    `fall-back: ${open.map((t) => displayName(t.schema, t.name)).join(', ')} of the new server, made there in the fallback window, carried without the fall-back's fence: ` +
      `the target user ${displayIdent(user)} may not put a trigger on ${open.length === 1 ? 'it' : 'them'}, so a session that turns read-only off may still write there ` +
      `and stop the fall-back at its verification; fix on the new server: ${open.map((t) => `GRANT TRIGGER ON ${qualified(t.schema, t.name)} TO ${ident(user)}`).join('; ')}`,
    database,
  );
}

/**
 * Large objects written, created or unlinked on the new server during the window (logical decoding
 * carries none) brought to the old source inside both fences, as the cutover brings them forward
 * (switchover/largeObjectDelta.ts, direction 'back'): only pgferry's are unlinked there, one made on
 * the old source alone is kept and named. A statement the old source refuses stops the fall-back,
 * nothing changed. Returns the kept objects' OIDs, which the verification leaves out.
 */
async function largeObjectsBack(run: SwitchoverRun, database: string, filter: FilterPlan): Promise<readonly string[]> {
  const delta = await again(run, 'the large objects', () => syncLargeObjects(run.spec, database, run.store, 'back', filter)).catch(
    (error: unknown) => {
      if (error instanceof PgferryError && error.code === 'CUTOVER_LARGE_OBJECTS')
        throw new FallBackStopped(`${error.message} (fix: ${error.fix})`);
      throw error;
    },
  );
  if (delta.kept.length > 0)
    await recordEvent(
      run.store,
      run.spec.migrationName,
      'info',
      keptLargeObjectsMessage('fall-back', database, delta.kept, 'the old source'),
      database,
    );
  if (delta.compared > 0 || delta.unlinked > 0)
    run.onProgress({
      kind: 'info',
      database,
      message: `fall-back: large objects: ${delta.compared} compared, ${delta.created} created, ${delta.rewritten} rewritten, ${delta.unlinked} unlinked on the old source, ${delta.metadataSet} given their owner, grants or comment (${delta.bytes} bytes) in ${delta.seconds.toFixed(2)} s`,
    });
  return delta.kept;
}

/**
 * The rows of the extensions' configuration tables (switchover/extensionConfigSync.ts), which neither stream
 * carries, brought back to the old source inside both fences: the new server's rows but its own
 * kept at the cutover, and the rows pgferry copied that the new server deleted in the window
 * deleted there; one the old source has of its own is kept.
 */
async function configRowsBack(run: SwitchoverRun, database: string): Promise<void> {
  const { spec } = run;
  const purpose = 'fall-back extension configuration';
  const ledger = configRowsLedger(run.store, spec.migrationName, database);
  const copied = await again(run, 'the extension configuration rows', () =>
    withSessionPair(spec.target, { database, purpose, readOnly: true }, spec.source, { database, purpose, writable: true }, (p) =>
      syncExtensionConfigRows(p.source, p.target, 'back', ledger),
    ),
  );
  for (const c of copied) for (const said of configRowsMessages('fall-back', c)) run.onProgress({ ...said, database });
}

/**
 * Nothing streams a REFRESH either way: each materialized view of the old source is compared with
 * the new server's and refreshed where it differs (verify/materializedViews.ts), its seconds in the
 * downtime; one that still differs stops the fall-back as staleMaterializedViews says.
 */
async function viewsBack(run: SwitchoverRun, database: string, filter: FilterPlan): Promise<void> {
  const views = await again(run, 'the materialized views', () => verifyMaterializedViewsBack(run.spec, database, filter));
  const differing = views.find((v) => !v.row.matches);
  if (differing) throw new FallBackStopped(`verification failed: ${differing.row.table}: ${differing.row.reason ?? 'its rows differ'}`);
  for (const v of views) {
    if (v.refreshed !== undefined)
      run.onProgress({
        kind: 'info',
        database,
        message: `fall-back: ${v.row.table} refreshed on the old source in ${v.refreshed.toFixed(2)} s`,
      });
    if (v.kept) await run.warn(`fall-back: materialized view ${v.kept}`, database);
  }
}

/**
 * The cutover's comparison once more, the target fenced and drained: the schema object by object,
 * then every table's rows (servers as the spec names them; equal is equal both ways). Anything
 * different stops the fall-back.
 */
async function verifyBack(
  run: SwitchoverRun,
  database: string,
  before: ReadBeforeHold,
  recheck: VerifyOptions['recheck'],
  keptLargeObjects: readonly string[],
  sequences?: SequencesBack,
): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  // what the new server alone has (a DBA's index, table or column, made there while streaming or in
  // the window) is not the migration's: kept there and named, neither a difference nor carried back
  const { check: compare, known } = before.schema;
  const check = await again(run, 'the schema check', () => compare(sequences?.identities));
  if (check.differences.length > 0) throw new FallBackStopped(schemaDifferenceMessage(check));
  const leftBehind = await again(run, 'the columns of the new server', () => columnsLeftBehind(spec.target, database, check.kept ?? []));
  if (leftBehind) throw new FallBackStopped(leftBehind);
  if (check.kept && check.kept.length > 0) {
    await recordEvent(
      store,
      name,
      'info',
      `fall-back: on the new server only, made there alone (pgferry did not make it, the source never had it): kept there as it is, not carried back: ${check.kept.map((k) => k.object).join('; ')}`,
      database,
    );
  }
  const configRows = new Map([[database, await extensionConfigRows(store, name, database)]]);
  const report = await again(run, 'the verification', () =>
    verifyDatabases(spec, {
      signal: run.signal,
      onProgress: run.onProgress,
      databases: [database],
      notStreamed: before.notStreamed,
      filters: new Map([[database, before.filter]]),
      keptLargeObjects: () => keptLargeObjects,
      fallBack: true,
      configRows,
      ...(known ? { known: new Map([[database, known.known]]) } : {}),
      // verify: true reads again only what the reverse stream changed since the cutover; 'full' every table whole
      ...(spec.verify === 'full' || !recheck ? {} : { recheck }),
    }),
  );
  if (!report.ok) throw new FallBackStopped(`verification failed: ${report.firstMismatch}`);
  await viewsBack(run, database, before.filter);
  const rows = report.tables.reduce((n, t) => n + t.sourceRows, 0);
  // the rows of large objects and sequences ('(sequences)') are not tables
  const tables = report.tables.filter((t) => !t.table.startsWith('('));
  const read = (method: string) => tables.filter((t) => (t.method ?? 'full') === method).length;
  await recordEvent(
    store,
    name,
    'info',
    `fall-back: schema and ${tables.length} table(s) compared, ${rows} row(s) (read whole ${read('full')}, ` +
      `changed keys ${read('keys')}, count only ${read('count')}), the old source holds what the target holds`,
    database,
  );
}
