// The life of an online migration after its cutover (docs/fallback.md), held in one place as states
// and transitions, where the flows used to call each other back in. Two tables:
//
// - LIFE, the runner's course: streaming forward (the online flow, online.ts, up to each database's
//   cutover or cancel), the fallback window open (the reverse streams supervised), forward again (a
//   fall-back asked with --resume-forward switches the migration back to streaming) and the end.
//   The runner enters it once (orchestrator.ts): at Streaming, or at WindowOpen when it resumes a
//   Succeeded migration. The online flow is handed back to by the ForwardAgain -> Streaming
//   transition, and the cutover it streams to is the second one.
// - WINDOW, each database's window as the control catalog stores it: the events that leave a state
//   and the step each transition runs, looked at by the reverse supervisor (its table WINDOW_OPEN,
//   run by the one stream supervisor, watchLoop.ts) at each look; the fall-back's own rows (Open ->
//   FallingBack to its point of no return, then past it the forward stream made again when asked and
//   the old source released, -> FellBack; or Open again) are taken by its hand-off, every live window
//   one after the other, their mechanisms in fallBackStep.ts.
//
// Two transitions are made elsewhere, inside the cutover's own recorded steps: Opening -> Open when
// the reverse stream is made at the cutover point (windowAtCutover.ts, through fallback.ts
// openFallbackWindows), and at a second cutover FellBack -> Opening (a new window) or Closed (none:
// switchAndRelease.ts, through control/fallbackWindows.ts closeFellBackRecord).
import { appliedUpTo } from '../cdc/apply/onlineStream';
import { parseLsn } from '../core/lsn';
import { errorMessage } from '../core/errors';
import { isFinalState, type ApplyStop } from '../core/model';
import {
  fallbackWindows,
  markFallbackStopped,
  markFallbackStreaming,
  reopenForward,
  type FallbackWindow,
} from '../control/fallbackWindows';
import { get } from '../control/store';
import { applyRetryRequests } from '../control/migrationRequests';
import { retryPhase } from './outage';
import type { SwitchoverRun } from '../run/migrationRun';
import { failpoint } from '../util/failpoints';
import { sleepUnlessAborted } from '../util/sleep';
import { trace } from '../util/trace';
import {
  failedPastReturn,
  fallBackAgain,
  fallBackFailedPastReturn,
  fallBackOne,
  fallBackStopped,
  fellBack,
  forwardStreamAgain,
  pastReturnDue,
  releaseOldSource,
  type ReverseStream,
} from './fallBackStep';
import { closeWindow, recordProgress, startReverse } from './fallback';
import { endSessionsAheadOfHold, FALL_BACK_HOLD } from './hold';
import { reverseStopCause, stopRecord } from './streamStops';
import { retryDelayMs, row, superviseStreams, type Handoff, type Watched, type WatchRow } from './watchLoop';

/** Where a runner is in a migration's life from its first stream on. */
type Life = 'Streaming' | 'WindowOpen' | 'ForwardAgain' | 'Ended';

/** What the life asks of the runner that enters it. */
export interface LifeSteps {
  /**
   * Streams forward until every database is cut over or canceled (online.ts runOnline); `again`:
   * after a fall-back asked with --resume-forward, as a resumed runner streams. Returns the run it
   * streamed with, which the reverse streams take next; undefined: the migration ended before it
   * streamed.
   */
  streamForward(again: boolean): Promise<SwitchoverRun | undefined>;
}

/** What a course through the life holds between its steps. */
interface Course {
  readonly steps: LifeSteps;
  /** The run the reverse streams take: the one that streamed forward, or the resumed runner's. */
  run: SwitchoverRun | undefined;
  /** The state the course came from. */
  from: Life;
}

/** Each state of the runner's course: the step it runs, and from what the step ends on, the next state. */
const LIFE: { readonly [S in Exclude<Life, 'Ended'>]: (c: Course) => Promise<Life> } = {
  // the online flow, to each database's cutover or cancel; a window opened by a cutover follows
  Streaming: async (c) => {
    const run = await c.steps.streamForward(c.from === 'ForwardAgain');
    if (run === undefined) return 'Ended';
    c.run = run;
    return 'WindowOpen';
  },
  // every live window to its close or fall-back (WINDOW, WINDOW_OPEN); a stopped run leaves the windows to a resume
  WindowOpen: (c) =>
    pastCutover(c, async (run) => {
      await streamBack(run);
      return run.signal.aborted ? 'Ended' : 'ForwardAgain';
    }),
  // resume-forward asked: once no window is live, one catalog statement switches the migration back
  // to streaming (control/fallbackWindows.ts reopenForward), and the online flow takes it up again
  ForwardAgain: async (c) => {
    const next = await pastCutover(c, async (run) => {
      const reopened = await reopenForward(run.store, run.spec.migrationName);
      for (const database of reopened) {
        failpoint(`fallback-forward-reopened:${database}`);
        run.onProgress({ kind: 'info', database, message: 'fell back: the forward stream runs again; cut over again when ready' });
      }
      return 'Streaming';
    });
    if (next === 'Ended' || c.run!.signal.aborted) return 'Ended';
    const status = await get(c.run!.store, c.run!.spec.migrationName);
    return status === undefined || isFinalState(status.state) ? 'Ended' : 'Streaming';
  },
};

/**
 * A step past a cutover. What fails it is told, with the way on, and the step is tried again after
 * the reverse supervisor's back-off, until it ends or the run is stopped: a window left Open with no
 * runner following it would stream nothing back and never close, its slot keeping the target's WAL
 * past the window's end. The migration has cut over and stays Succeeded: a Succeeded migration must
 * never read Failed for a stop the user can fix (docs/fallback.md). This holds for the runner that
 * cut over and for one resumed at the window alike.
 */
async function pastCutover(c: Course, step: (run: SwitchoverRun) => Promise<Life>): Promise<Life> {
  const run = c.run!;
  for (let tries = 1; ; tries++) {
    const started = Date.now();
    try {
      return await step(run);
    } catch (error) {
      if (run.signal.aborted) return 'Ended';
      // a step that ran a while before it failed starts the back-off again, as a recovered stream does
      if (Date.now() - started >= STREAMING_AFTER_MS) tries = 1;
      const wait = retryDelayMs(tries);
      await run.warn(
        `the reverse stream stopped: ${errorMessage(error)}; the runner tries again by itself in ${wait / 1000} s, then at doubling intervals up to ${retryDelayMs(Infinity) / 60_000} min, the fallback window open with its slot meanwhile: fix the cause (docs/fallback.md)`,
      );
      await sleepUnlessAborted(wait, run.signal);
      if (run.signal.aborted) return 'Ended';
    }
  }
}

/**
 * Follows a migration's life from `entry` until it ends: at Streaming for a run that streams first,
 * at WindowOpen with `run` for a Succeeded migration resumed (`pgferry resume` after its runner died
 * in a window: the reverse stream goes on from the position the old source committed, exactly once,
 * a fall-back under way goes on too, and nothing else of the migration runs unless a fall-back asked
 * to stream forward again).
 */
export async function followLife(entry: 'Streaming' | 'WindowOpen', steps: LifeSteps, run?: SwitchoverRun): Promise<void> {
  if (entry === 'WindowOpen') run?.onProgress({ kind: 'info', message: 'fallback window: the reverse stream resumes' });
  const course: Course = { steps, run, from: entry };
  let state: Life = entry;
  while (state !== 'Ended') {
    const next: Life = await LIFE[state](course);
    trace(`life: ${state} -> ${next}`);
    course.from = state;
    state = next;
  }
}

/** A stream tried again that has run this long without failing is streaming, even with nothing to apply past its stop. */
const STREAMING_AFTER_MS = 10_000;

/** The window states the runner has work in: streaming back, stopped and tried again, falling back. */
const LIVE: readonly FallbackWindow['state'][] = ['Open', 'Stopped', 'FallingBack'];

/** What the reverse supervisor's rows share during one watch: the streams, the windows and the retry requests read once per look. */
class ReverseWatch implements Watched {
  private windowsRead: Promise<FallbackWindow[] | undefined> | undefined;

  constructor(
    readonly run: SwitchoverRun,
    readonly streams: Map<string, ReverseStream>,
    /** The retry requests (`pgferry resume`) counted at the last read: a stopped stream that has not seen them is tried at once. */
    public requests: number,
  ) {}

  nextLook(): void {
    this.windowsRead = undefined;
  }

  /** The windows this run streams back, read once per look; undefined while the catalog is away (the next look reads again). */
  windows(): Promise<FallbackWindow[] | undefined> {
    const { store, spec } = this.run;
    this.windowsRead ??= Promise.all([fallbackWindows(store, spec.migrationName), applyRetryRequests(store, spec.migrationName)]).then(
      ([windows, requests]) => {
        this.requests = requests;
        return windows.filter((w) => this.streams.has(w.database));
      },
      () => undefined,
    );
    return this.windowsRead;
  }

  /** Nothing runs beside the looks of a reverse watch. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** One look at one database's window: the window as the catalog has it, its reverse stream, the watch. */
interface WindowLook {
  readonly watch: ReverseWatch;
  readonly window: FallbackWindow;
  readonly stream: ReverseStream;
}

/** A transition of one database's window: from which states, on which event, to which state, by which step. */
interface WindowTransition {
  readonly from: readonly FallbackWindow['state'][];
  readonly event: string;
  readonly to: FallbackWindow['state'];
  /** Taken by the fall-back's hand-off, its step's end the event; else at a look of the reverse supervisor. */
  readonly by?: 'fall-back';
  /** A step of the fall-back past its point of no return that the next one follows in the same hand-off (fallBackEach). */
  readonly followed?: true;
  /** Whether the event has come, read from the window and its stream at `now` alone. */
  readonly occurs: (window: FallbackWindow, stream: ReverseStream, now: number) => boolean;
  readonly step: (l: WindowLook) => Promise<void>;
  /** The stream goes on past the step: its figures for `show` are recorded after it, as on a look with no event. */
  readonly figures?: true;
}

/**
 * Each database's window, the first transition whose state and event hold: at a look of the reverse
 * supervisor, or for the fall-back's rows, at each step of the fall-back (WINDOW_OPEN hands it off
 * once no live window is stopped, and it takes every live window one after the other).
 */
const WINDOW: readonly WindowTransition[] = [
  // a stopped stream too: the window's end bounds the WAL the target keeps
  { from: LIVE, event: 'close asked', to: 'Closed', occurs: (w) => w.closeRequested, step: (l) => closed(l, 'closed by the user') },
  // a fall-back past its point of no return finishes, whenever the window ends
  {
    from: LIVE,
    event: 'the window passes',
    to: 'Closed',
    occurs: (w, _s, now) => now >= w.endsAt.getTime() && !w.fallBackReleased,
    step: (l) => closed(l, 'the window passed'),
  },
  { from: ['Open'], event: 'the reverse stream stopped', to: 'Stopped', occurs: (_w, s) => s.ended !== undefined, step: stopped },
  // a stream tried again that failed again waits longer before the next try, as a forward one does;
  // its record counts the attempt, so a resumed runner goes on with the same wait
  {
    from: ['Stopped'],
    event: 'the stream tried again stopped',
    to: 'Stopped',
    occurs: (_w, s) => s.ended !== undefined && s.retryAt === undefined,
    step: (l) => recordStop(l).then(() => undefined),
  },
  {
    from: ['Stopped'],
    event: 'its try is due',
    to: 'Stopped',
    occurs: (_w, s, now) => s.ended !== undefined && now >= s.retryAt!,
    step: async ({ watch, window }) => void watch.streams.set(window.database, startReverse(watch.run, window, watch.requests)),
  },
  {
    from: ['Stopped'],
    event: 'its try is not due yet',
    to: 'Stopped',
    occurs: (_w, s) => s.ended !== undefined,
    step: async () => undefined,
  },
  {
    from: ['Stopped'],
    event: 'the reverse stream recovered',
    to: 'Open',
    occurs: (w, s, now) =>
      (w.stoppedLsn !== undefined && appliedUpTo(s.applier.stats()) > parseLsn(w.stoppedLsn)) || now - s.startedAt >= STREAMING_AFTER_MS,
    step: async ({ watch, window }) => {
      const had = window.stop ? ` (it had stopped ${window.stop.attempts} time(s) since ${window.stop.since})` : '';
      const message = `the reverse stream applies again${had}`;
      // the window's message says so until a newer one: `show` tells a stream that stopped and was fixed from one that never stopped
      await markFallbackStreaming(watch.run.store, watch.run.spec.migrationName, window.database, message);
      watch.run.onProgress({ kind: 'info', database: window.database, message });
    },
    figures: true,
  },
  // the fence, marker, drain and comparison, each step recorded first, to the point of no return (fallBackStep.ts)
  {
    from: ['Open', 'FallingBack'],
    event: 'fall-back asked',
    to: 'FallingBack',
    by: 'fall-back',
    // the ask is read by WINDOW_OPEN for every live window at once: each that has not begun begins
    occurs: (_w, s) => s.fallBack === undefined,
    step: ({ watch, window, stream }) => fallBackOne(watch.run, window, stream),
  },
  // --resume-forward: the forward stream made again before the old source's fence is lifted (forwardAgain.ts)
  {
    from: ['FallingBack'],
    event: 'past the point of no return, the forward stream asked again',
    to: 'FallingBack',
    by: 'fall-back',
    followed: true,
    occurs: (w, s) => pastReturnDue(s) && w.forwardAgain && s.fallBack!.forward === undefined,
    step: ({ watch, window, stream }) => forwardStreamAgain(watch.run, window.database, stream),
  },
  {
    from: ['FallingBack'],
    event: 'past the point of no return',
    to: 'FallingBack',
    by: 'fall-back',
    followed: true,
    occurs: (_w, s) => pastReturnDue(s),
    step: ({ watch, window, stream }) => releaseOldSource(watch.run, window.database, stream),
  },
  {
    from: ['FallingBack'],
    event: 'the old source released',
    to: 'FellBack',
    by: 'fall-back',
    occurs: (_w, s) => s.fallBack?.end === 'released',
    step: async ({ watch, window, stream }) => {
      await fellBack(watch.run, window.database, stream);
      watch.streams.delete(window.database);
    },
  },
  // past the point of no return nothing lifts the target's fence: a step that failed (the release, or
  // the completion, which may have recorded FellBack already) is tried again after the back-off's wait
  {
    from: ['FallingBack', 'FellBack'],
    event: 'a step past the point of no return failed',
    to: 'FallingBack',
    by: 'fall-back',
    occurs: (w, s) => failedPastReturn(w, s) && s.fallBack!.retryAt === undefined,
    step: ({ watch, window, stream }) => fallBackFailedPastReturn(watch.run, window.database, stream),
  },
  {
    from: ['FallingBack', 'FellBack'],
    event: 'its try past the point of no return is due',
    to: 'FallingBack',
    by: 'fall-back',
    occurs: (w, s, now) => failedPastReturn(w, s) && now >= s.fallBack!.retryAt!,
    step: async ({ stream }) => fallBackAgain(stream),
  },
  // the target's fence lifted; the applier that drained to the marker has ended, a new one goes on
  {
    from: ['FallingBack'],
    event: 'the fall-back stopped before anything irreversible',
    to: 'Open',
    by: 'fall-back',
    occurs: (w, s) => typeof s.fallBack?.end === 'object' && !failedPastReturn(w, s),
    step: async ({ watch, window, stream }) => {
      if (await fallBackStopped(watch.run, window.database, stream))
        watch.streams.set(window.database, startReverse(watch.run, window, watch.requests));
      else stream.fallBack = undefined;
    },
  },
];

/** Open -> Closed: the reverse applier stopped, its slot, publication and position given back. */
async function closed({ watch, window, stream }: WindowLook, why: string): Promise<void> {
  await closeWindow(watch.run, window.database, stream, why);
  watch.streams.delete(window.database);
}

/** The message a stopped reverse stream leaves on its window: what failed, the fix on the old source, how it goes on. */
function reverseStopMessage(stop: ApplyStop): string {
  const statement = stop.statement ? ` [statement: ${stop.statement}]` : '';
  return (
    `the reverse stream stopped: ${stop.error}${statement}; fix on the old source, where it applies: ${stop.fix}; ` +
    `it is tried again by itself (after ${retryDelayMs(stop.attempts) / 1000} s, then at doubling intervals up to ${retryDelayMs(Infinity) / 60_000} min), ` +
    'or at once with `pgferry resume`; a fall-back waits for it'
  );
}

/**
 * A reverse stream's stop recorded in its window as a forward stream's is (streamStops.ts
 * stopRecord): its cause, since, attempts, where the old source had applied; its next try after
 * the back-off's wait for that many attempts. Returns the record.
 */
async function recordStop({ watch, window, stream }: WindowLook): Promise<ApplyStop> {
  const { run } = watch;
  const stop = stopRecord(window.stop, reverseStopCause(stream.ended!), {
    applied: appliedUpTo(stream.applier.stats()),
    began: stream.startedAt,
    requestsSeen: stream.requestsSeen,
  });
  await markFallbackStopped(run.store, run.spec.migrationName, window.database, reverseStopMessage(stop), stop);
  stream.retryAt = Date.now() + retryDelayMs(stop.attempts);
  return stop;
}

/** Open -> Stopped: the stop recorded where it applied up to, its first try after the back-off's wait. */
async function stopped(look: WindowLook): Promise<void> {
  const stop = await recordStop(look);
  if (stop.attempts === 1) await look.watch.run.warn(reverseStopMessage(stop), look.window.database);
}

/**
 * The transition one database's window takes, the first of WINDOW whose state and event hold: at a
 * look, or `by` the fall-back at its steps; undefined: none, the stream goes on.
 */
export function windowTransition(
  window: FallbackWindow,
  stream: ReverseStream,
  now: number,
  by?: 'fall-back',
): WindowTransition | undefined {
  return WINDOW.find((t) => t.by === by && t.from.includes(window.state) && t.occurs(window, stream, now));
}

/**
 * One database's look: the first transition of WINDOW that holds, then the figures for `show` while
 * the stream goes on. A stopped stream waiting for its try is due at once when the user asked since
 * its attempt began (`pgferry resume`), as a forward one is.
 */
async function lookAt(watch: ReverseWatch, window: FallbackWindow): Promise<void> {
  const look: WindowLook = { watch, window, stream: watch.streams.get(window.database)! };
  if (look.stream.retryAt !== undefined && watch.requests > look.stream.requestsSeen) look.stream.retryAt = Date.now();
  const transition = windowTransition(window, look.stream, Date.now());
  if (transition) {
    trace(`window ${window.database}: ${window.state}, ${transition.event} -> ${transition.to}`);
    await transition.step(look);
    if (!transition.figures) return;
  }
  await recordProgress(watch.run, window.database, look.stream.applier).catch(() => undefined);
}

/** One step of the fall-back on one database's window: the fall-back's row of WINDOW that holds, if any; returns it. */
async function fallBackStep(watch: ReverseWatch, window: FallbackWindow): Promise<WindowTransition | undefined> {
  const look: WindowLook = { watch, window, stream: watch.streams.get(window.database)! };
  const transition = windowTransition(window, look.stream, Date.now(), 'fall-back');
  if (!transition) return undefined;
  trace(`window ${window.database}: ${window.state}, ${transition.event} -> ${transition.to}`);
  await transition.step(look);
  return transition;
}

/**
 * A fall-back: every window asked, one after the other, through the fall-back's rows of WINDOW: its
 * step to the point of no return (or its try again), the steps past it that hold, then the row its
 * end takes. A database that stops is Open again with the reason; the others go on. A completion
 * that fails is past the point of no return, as the release is: tried again, never stopped.
 */
async function fallBackEach(watch: ReverseWatch, windows: readonly FallbackWindow[]): Promise<void> {
  for (const window of windows) {
    try {
      await fallBackRows(watch, window);
    } finally {
      // the sessions its hold kept open ahead (hold.ts), served to every row up to the last one taken
      await endSessionsAheadOfHold(watch.run, FALL_BACK_HOLD, [window.database]);
    }
  }
}

/** One window's rows of the fall-back, in one hand-off: see fallBackEach. */
async function fallBackRows(watch: ReverseWatch, window: FallbackWindow): Promise<void> {
  await fallBackStep(watch, window);
  const falling: FallbackWindow = { ...window, state: 'FallingBack' };
  try {
    let taken = await fallBackStep(watch, falling);
    while (taken?.followed) taken = await fallBackStep(watch, falling);
  } catch (error) {
    if (watch.run.signal.aborted) throw error;
    const stream = watch.streams.get(window.database)!;
    stream.fallBack = { ...stream.fallBack!, end: { error } };
    await fallBackStep(watch, falling);
  }
}

/** Ends the watch with nothing to run: the supervisor looks at its streams and the run again. */
const endWatch = (): Handoff => async () => undefined;

/**
 * A fall-back: every live window asked whose fall-back has a step to take now (WINDOW's fall-back
 * rows), once none is stopped (the request is refused then); one past its point of no return goes
 * on whatever the others do. A step past it that waits for its try is left to a later look.
 */
async function fallBackAsked(w: ReverseWatch): Promise<FallbackWindow[] | undefined> {
  const mine = await w.windows();
  if (!mine) return undefined;
  const held = mine.some((x) => x.state === 'Stopped');
  const now = Date.now();
  const due = mine.filter(
    (x) =>
      (x.fallBackRequested || x.state === 'FallingBack') &&
      (!held || x.fallBackReleased) &&
      windowTransition(x, w.streams.get(x.database)!, now, 'fall-back') !== undefined,
  );
  return due.length > 0 ? due : undefined;
}

/** The reverse supervisor's table while the window is open, run by the one stream supervisor (watchLoop.ts). */
const WINDOW_OPEN: readonly WatchRow<ReverseWatch>[] = [
  row('the run is stopped', 'no catalog', (w) => (w.run.signal.aborted ? true : undefined), endWatch),
  // fall-back asked: the fall-back's rows of WINDOW, Open -> FallingBack -> FellBack, or Open again when it stops
  row('a fall-back is asked', 'reads the catalog', fallBackAsked, (w, windows) => () => fallBackEach(w, windows)),
  row(
    'a window is live',
    'reads the catalog',
    (w) => w.windows(),
    async (w, windows) => {
      for (const x of windows) await lookAt(w, x);
      return undefined;
    },
  ),
  row('every window is closed or fell back', 'no catalog', (w) => (w.streams.size === 0 ? true : undefined), endWatch),
];

/**
 * The WindowOpen state's step: the reverse streams, each window to its close or fall-back, or until
 * the run is stopped (the windows stay open for a resume).
 */
async function streamBack(run: SwitchoverRun): Promise<void> {
  const { spec, store } = run;
  // read as every phase reads while a server is away: a resumed runner may start while the target restarts
  const windows = await retryPhase(run, 'fallback window: reading the windows', () => fallbackWindows(store, spec.migrationName));
  const live = windows.filter((w) => LIVE.includes(w.state));
  if (live.length === 0) return;
  const requests = await applyRetryRequests(store, spec.migrationName).catch(() => 0);
  const streams = new Map(live.map((w) => [w.database, startReverse(run, w, requests)] as const));
  try {
    await superviseStreams(spec, {
      table: WINDOW_OPEN,
      streamsLeft: () => streams.size > 0 && !run.signal.aborted,
      openWatch: async () => new ReverseWatch(run, streams, requests),
    });
  } finally {
    for (const s of streams.values()) s.applier.stop();
    await Promise.all([...streams.values()].map((s) => s.done));
  }
}
