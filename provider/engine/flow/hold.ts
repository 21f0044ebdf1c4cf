// The hold of a switchover: the applications' writes held while the last changes drain (the user's
// pooler paused, then the writers fenced), the lag gate before the hold and inside it, and the hold
// given back when the switchover stops before its point of no return. One module serves both
// directions through a HoldWay: the cutover holds the source (footprint/writerFence.ts,
// footprint/poolerPause.ts), a fall-back the new server (footprint/targetFence.ts,
// footprint/poolerPauseBack.ts). Those changes own their SQL, their ledger rows and their undo; this
// module says when each runs. The cutover's second line, the writes read past its point inside the
// hold (switchover/lateWrites.ts), is here too. Past the point of no return the fence is kept and the
// pooler switched by the step itself (cutover.ts finishCutover, fallBackStep.ts fallBackOne).
import type { Applier } from '../cdc/apply/applier';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { keepSessionsAhead, lostSessionWords, withSession } from '../connect/session';
import { aheadKey, endAhead } from '../connect/sessionsAhead';
import { cutoverOptionsOf } from '../control/cutoverOptions';
import { errorMessage } from '../core/errors';
import { fenceNamesOf, gateMessagePrefix } from '../core/names';
import type { ReversibleChange } from '../footprint/change';
import { pausePooler, poolerPause } from '../footprint/poolerPause';
import { pausePoolerBack, poolerPauseBack } from '../footprint/poolerPauseBack';
import { fenceTarget, targetFence } from '../footprint/targetFence';
import { checkFenceRights, fenceDatabase, fenceOf, liftStatements, writerFence } from '../footprint/writerFence';
import type { MigrationRun, SwitchoverRun } from '../run/migrationRun';
import { retryPhase } from './outage';
import {
  ApplyRateMeter,
  DEFAULT_FENCED_LAG_BUDGET_SECONDS,
  measureCatchUp,
  overBudget,
  overBudgetMessage,
  overBudgetWords,
  type CatchUp,
  type GatedStream,
  type LagBudget,
} from '../switchover/lagGate';
import { lateWrites, lateWritesMessage } from '../switchover/lateWrites';
import { NOTHING_PINNED, type PinnedBeforePause } from '../switchover/pinBeforePause';
import { failpoint, holdpoint } from '../util/failpoints';
import type { StepClock } from '../util/stepClock';
import { pinUnderGuard } from './targetGuardAtCutover';
import { trace } from '../util/trace';
import { displayIdent } from '../connect/quote';

/** One direction of the hold: the changes that hold the applications, and the server they hold. */
export interface HoldWay {
  /** The switchover it holds for, as its retries name it. */
  readonly step: 'cutover' | 'fall-back';
  /** The server whose writers are held, and whose WAL the held streams read: the gate reads its end there. */
  readonly held: 'source' | 'target';
  /** Where the pooler's held queries run once a pause is given back, in words. */
  readonly resumedOn: string;
  /** Puts the writer fence on one database, recorded first; returns how many sessions it ended. */
  readonly fenceOn: (run: SwitchoverRun, database: string) => Promise<number>;
  /** The fence's change: its undo lifts it. */
  readonly fence: ReversibleChange;
  /** Pauses the pooler's databases of one database, recorded first; returns their names (none without a pooler). */
  readonly pauseOn: (run: SwitchoverRun, database: string) => Promise<readonly string[]>;
  /** The pause's change: its undo resumes the pooler where its lines point. */
  readonly pause: ReversibleChange;
  /**
   * The servers whose maintenance database the steps inside the hold open sessions on, which the
   * hold keeps one open ahead of: the held server's (the lag gate's probe, the fence), and at a
   * fall-back the old source's too (its fence lifted at the release).
   */
  readonly maintenanceAhead: readonly ('source' | 'target')[];
}

/** The cutover holds the source's writers. */
export const CUTOVER_HOLD: HoldWay = {
  step: 'cutover',
  held: 'source',
  resumedOn: 'the source',
  fenceOn: (run, database) => fenceDatabase(run, database),
  fence: writerFence,
  pauseOn: pausePooler,
  pause: poolerPause,
  maintenanceAhead: ['source'],
};

/** A fall-back holds the new server's writers, those the cutover let through. */
export const FALL_BACK_HOLD: HoldWay = {
  step: 'fall-back',
  held: 'target',
  resumedOn: 'the new server',
  fenceOn: fenceTarget,
  fence: targetFence,
  pauseOn: pausePoolerBack,
  pause: poolerPauseBack,
  maintenanceAhead: ['target', 'source'],
};

/** A step of the hold tried again while a server is away (every step is idempotent). */
function again<T>(
  run: Pick<SwitchoverRun, 'signal' | 'warn' | 'onProgress'>,
  way: HoldWay,
  what: string,
  step: () => Promise<T>,
): Promise<T> {
  return retryPhase(run, `${way.step}: ${what}`, step);
}

/** Whether a switchover fences the writers or pauses the pooler, and the lag budget it must fit (undefined: no gate). */
export interface Gate extends LagBudget {
  readonly fence: boolean;
  /** The pooler in front of the held server is paused before the marker (spec.pooler). */
  readonly pooler: boolean;
}

/** The budget of both directions: the one given, else the default while anybody is held, else none. */
function budgetOf(given: number | undefined, held: Gate['defaulted']): Pick<Gate, 'budget' | 'defaulted'> {
  if (given !== undefined) return { budget: given, defaulted: false };
  // held, the applications wait for the whole catch-up
  return held ? { budget: DEFAULT_FENCED_LAG_BUDGET_SECONDS, defaulted: held } : { budget: undefined, defaulted: false };
}

/**
 * The cutover request's own options (update --cutover --fence-writers ...) over the spec's. The
 * budget defaults to DEFAULT_FENCED_LAG_BUDGET_SECONDS with a fence or a pooler: the applications
 * wait for the whole catch-up then. Without either there is no gate unless one is asked for: the
 * applications keep writing, and the cutover drains whatever the lag is, as it always has.
 */
export async function cutoverGate(run: Pick<SwitchoverRun, 'spec' | 'store'>): Promise<Gate> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  // a window asked with the request fences that cutover's writers (docs/fallback.md)
  const fence = options.fenceWriters ?? (options.fallbackWindow !== undefined || run.spec.fenceWriters);
  const pooler = run.spec.pooler !== undefined;
  const given = options.cutoverLagBudgetSeconds ?? run.spec.cutoverLagBudgetSeconds;
  return { fence, pooler, ...budgetOf(given, fence ? 'fenceWriters' : pooler ? 'a pooler' : false) };
}

/**
 * A fall-back always fences the new server, and its drain is bounded by the lag budget either way:
 * the fence refuses the applications' writes until the old source takes them, so a drain that cannot
 * finish (a lock held on the old source) must stop the fall-back and lift the fence rather than hold
 * them off for as long as it waits. It predicts the catch-up (the gate) only through a pooler, whose
 * pause holds the applications' statements for the whole drain
 * (docs/pooler.md#the-fall-back-through-the-pooler); without one the probe would only lengthen the
 * downtime.
 */
export function fallBackGate(run: Pick<SwitchoverRun, 'spec'>): Gate {
  const pooler = run.spec.pooler !== undefined;
  return { fence: true, pooler, ...budgetOf(run.spec.cutoverLagBudgetSeconds, pooler ? 'a pooler' : "the fall-back's fence") };
}

/** The stream predicted slowest to catch up on the held server's WAL, if it is over the budget. */
async function slowestOver(
  run: Pick<SwitchoverRun, 'spec'>,
  way: HoldWay,
  streams: readonly GatedStream[],
  meter: ApplyRateMeter,
  budget: number,
  probe: boolean,
): Promise<CatchUp | undefined> {
  const goalPrefix = gateMessagePrefix(run.spec.migrationName);
  return overBudget(await measureCatchUp(run.spec[way.held], streams, meter, { probe, budgetSeconds: budget, goalPrefix }), budget);
}

/** Where the cutover's hold stands: on (with the tables pinned before it), or refused with why, before anything or with it given back. */
export type Held = { readonly pinned: PinnedBeforePause } | { readonly refused: string };

/**
 * Before the cutover point is marked: the pooler paused (spec.pooler), the writers fenced
 * (fenceWriters) and the lag gate passed. The prediction is taken first without a pause or fence
 * (a backlog already over the budget is not worth holding anybody's queries for), then with them,
 * when nothing can add to the backlog. Anything in the way (the budget, a right the source user
 * lacks, a session that cannot be ended, a PAUSE that waits too long) refuses the hold, with why;
 * the caller rolls the cutover back (liftHold). Else the tables verified at a pin just before the
 * pause or the fence, the target guarded from before it (pinUnderGuard), which the verification
 * inside the hold reads by their changed keys alone.
 */
export async function holdAtCutover(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  meter: ApplyRateMeter,
  gate: Gate,
  clock: StepClock,
): Promise<Held> {
  const way = CUTOVER_HOLD;
  // no pause, no fence, no budget: nothing to gate
  if (!gate.fence && !gate.pooler && gate.budget === undefined) return { pinned: NOTHING_PINNED };
  const databases = streams.map((s) => s.database);
  let pinned = NOTHING_PINNED;
  // whether a fence is (or may be) on the source, or the pooler paused: then a roll-back gives them back, and says so
  let fencing = false;
  let pausing = false;
  const over = async (probe: boolean) => {
    if (gate.budget === undefined) return undefined;
    const late = await slowestOver(run, way, streams, meter, gate.budget, probe);
    const stage = fencing
      ? 'fence lifted'
      : pausing
        ? 'pause lifted'
        : gate.fence
          ? 'before the fence'
          : gate.pooler
            ? 'before the pause'
            : 'no fence';
    return late && overBudgetMessage(late, gate.budget, stage, gate.defaulted);
  };
  let refusal: string | undefined;
  try {
    // a resumed cutover whose fence a killed runner left: the source is fenced already, nothing to spare it
    const fenced = await Promise.all(databases.map((d) => fenceOf(run.store, run.spec.migrationName, d)));
    fencing = fenced.some(Boolean);
    refusal = (gate.fence || gate.pooler) && !fencing ? await over(false) : undefined;
    if (!refusal && (gate.pooler || gate.fence) && !fencing) {
      // the tables verified while the applications still run, the target guarded from before that
      // pin: the pause or the fence reads only what changes after it
      pinned = await pinUnderGuard(run, streams, gate.pooler ? 'pause' : 'fence');
      clock.done('pin');
      keepSessionsAheadOfHold(run, way, databases);
    }
    if (!refusal && gate.pooler) {
      pausing = true;
      for (const database of databases) {
        await way.pauseOn(run, database);
      }
      trace('hold: paused');
    }
    if (!refusal && gate.fence) {
      await checkFenceRights(run, databases);
      fencing = true;
      for (const database of databases) {
        await again(run, way, `the writer fence of ${displayIdent(database)}`, () => way.fenceOn(run, database));
        failpoint(`cutover-fenced:${database}`);
      }
    }
    refusal ??= await over(true);
  } catch (error) {
    if (run.signal.aborted) throw error;
    // a lost session names its server, and the stop says what to do: nothing is left half done
    const lost = lostSessionWords(error, run.spec);
    const why = lost ?? errorMessage(error);
    const next = lost ? ': request the cutover again once that server answers' : '';
    refusal =
      fencing || pausing
        ? `cutover rolled back: ${why}; ${givenBack(fencing, pausing)} and changes stream on${next}`
        : `cutover not started: ${why}; nothing was changed on the source, and changes stream on${next}`;
  }
  if (refusal !== undefined) return { refused: refusal };
  clock.done(gate.fence ? 'fence' : gate.pooler ? 'pause' : 'lag gate');
  // a test acts here, past the gate and before the marker (a lock taken where the drain applies)
  for (const database of databases) await holdpoint(`cutover-held:${database}`);
  return { pinned };
}

/**
 * How many sessions a hold keeps open ahead (connect/sessionsAhead.ts) of each database on each
 * server: its steps open them one or two at a time, and a taken one is replaced meanwhile.
 */
const SESSIONS_AHEAD = 2;

/**
 * The sessions a hold keeps open ahead of it, on both servers for each database, and one on each
 * maintenance database its way names: opened before the hold, so that its steps do not wait for
 * connections. A cutover opens none before the pin: its sessions read in snapshots of their own.
 */
function sessionsAheadOfHold(run: Pick<MigrationRun, 'spec'>, way: HoldWay, databases: readonly string[]) {
  const { source, target } = run.spec;
  return [
    ...way.maintenanceAhead.map((side) => ({ server: run.spec[side], database: undefined, keep: 1 })),
    ...databases.flatMap((database) => [
      { server: source, database, keep: SESSIONS_AHEAD },
      { server: target, database, keep: SESSIONS_AHEAD },
    ]),
  ];
}

function keepSessionsAheadOfHold(run: Pick<MigrationRun, 'spec'>, way: HoldWay, databases: readonly string[]): void {
  for (const s of sessionsAheadOfHold(run, way, databases)) keepSessionsAhead(s.server, s.database, s.keep, `${way.step} ahead`);
}

/**
 * The sessions kept ahead of a hold ended, once its switchover is over whichever way (one that
 * never held has none): the cutover's after its last step, a fall-back's after the last row it
 * takes of its database (flow/afterCutover.ts fallBackEach), the release included.
 */
export async function endSessionsAheadOfHold(run: Pick<MigrationRun, 'spec'>, way: HoldWay, databases: readonly string[]): Promise<void> {
  await endAhead(sessionsAheadOfHold(run, way, databases).map((s) => aheadKey(s.server, s.database)));
}

/**
 * A fall-back's hold on one database: through a pooler, its databases paused first, as at the
 * cutover (transactions in flight end, new queries wait), then the new server fenced, with the lag
 * gate on the reverse stream before the pause and inside it (none without a pooler). The reverse
 * stream has no rate measured before the ask, so the gate watches it both times. Past the first
 * reading, the sessions of the steps inside the hold and of the release are opened ahead of it, as
 * the cutover's are (the fall-back ends them: endSessionsAheadOfHold). Returns why the fall-back
 * may not go on (the prediction over the budget, in one line), or undefined once the new server is
 * held.
 */
export async function holdAtFallBack(
  run: SwitchoverRun,
  database: string,
  applier: Applier,
  gate: Gate,
  clock: StepClock,
): Promise<string | undefined> {
  const way = FALL_BACK_HOLD;
  const meter = new ApplyRateMeter();
  const over = async (paused: boolean) => {
    // no pooler, no prediction: the budget bounds the drain alone (fallBackGate)
    if (!gate.pooler || gate.budget === undefined) return undefined;
    const late = await slowestOver(run, way, [{ database, applier }], meter, gate.budget, true);
    if (!late) return undefined;
    const when = paused ? 'paused' : 'before the pause (the pooler was not paused)';
    return `the reverse stream of ${overBudgetWords(late, gate.budget, gate.defaulted)}, ${when}: ask again once its pending bytes (pgferry show) have dropped, or raise cutoverLagBudgetSeconds`;
  };
  const before = await over(false);
  if (before) return before;
  // the sessions the steps from here to the release take, opened while the applications still write
  keepSessionsAheadOfHold(run, way, [database]);
  const paused = await again(run, way, 'the pause of the pooler', () => way.pauseOn(run, database));
  if (paused.length > 0) clock.done('pause');
  await again(run, way, 'the target fence', () => way.fenceOn(run, database));
  failpoint(`fallback-fenced:${database}`);
  clock.done('fence');
  const inside = await over(true);
  if (!inside) await holdpoint(`fallback-held:${database}`);
  return inside;
}

/**
 * The hold given back on `database` when its switchover stops before the point of no return: the
 * writer fence lifted, then the pooler resumed where its lines point (nothing recorded: nothing to
 * do). The fence first, so the pooler's held queries do not meet a read-only server. True when a
 * pause was given back.
 */
export async function liftHold(run: SwitchoverRun, way: HoldWay, database: string): Promise<boolean> {
  await again(run, way, `lifting the writer fence of ${displayIdent(database)}`, () => way.fence.undo(run, database));
  const paused = (await way.pause.pending(run, database)).length > 0;
  await again(run, way, `resuming the pooler on ${way.resumedOn} for ${displayIdent(database)}`, () => way.pause.undo(run, database));
  return paused;
}

/**
 * A cutover a killed runner left before its point of no return, found by a resumed runner: the
 * pooler it paused resumed on the source at once (the applications wait no longer), and a cutover
 * asked again pauses it again. Its writer fence is not lifted here: the next holdAtCutover finds
 * it on (a roll-back or a cancel lifts it).
 */
export async function resumeLeftPause(run: SwitchoverRun, database: string): Promise<void> {
  const way = CUTOVER_HOLD;
  await retryPhase(
    run,
    `resuming the pooler on ${way.resumedOn} for ${displayIdent(database)}`,
    () => way.pause.undo(run, database),
    database,
  );
}

/** What a roll-back of the cutover gave back, in words. */
export function givenBack(fenced: boolean, paused: boolean): string {
  const parts = [...(fenced ? ['the writer fence is lifted'] : []), ...(paused ? ['the pooler is resumed on the old source'] : [])];
  return parts.join(', ');
}

/**
 * The fence's second line, read inside the hold: the writes committed on the source after each
 * stream's cutover point, one line per database with any; undefined: none.
 */
export async function writesPastThePoint(
  run: Pick<MigrationRun, 'spec' | 'sourceMajor' | 'signal' | 'warn' | 'onProgress'>,
  streams: readonly OnlineStream[],
): Promise<string | undefined> {
  const found: string[] = [];
  for (const s of streams) {
    const prefix = fenceNamesOf(run.spec.migrationName, s.database).prefix;
    const after = appliedUpTo(s.applier.stats());
    await holdpoint(`cutover-late-writes:${s.database}`);
    const writes = await again(run, CUTOVER_HOLD, `the writes past the cutover point of ${displayIdent(s.database)}`, () =>
      withSession(run.spec.source, { database: s.database, purpose: 'cutover', writable: true }, (client) =>
        lateWrites(client, s.slot, s.publication, after, prefix, run.sourceMajor),
      ),
    );
    if (writes.length > 0) found.push(lateWritesMessage(s.database, writes));
  }
  return found.length > 0 ? found.join('; ') : undefined;
}

/** The cutover's completion words on the fences that stay past its point of no return, with the statement that lifts each. */
export async function keptFences(run: Pick<SwitchoverRun, 'spec' | 'store'>, databases: readonly string[]): Promise<string> {
  const lifts: string[] = [];
  for (const database of databases) {
    const fence = await fenceOf(run.store, run.spec.migrationName, database);
    if (fence?.kept) lifts.push(liftStatements(run.spec.migrationName, database, fence.priorSetting));
  }
  if (lifts.length === 0) return '';
  return `; the source stays fenced (new transactions read-only) so no write is lost there: once no application writes to it, lift with ${lifts.join('; ')}`;
}
