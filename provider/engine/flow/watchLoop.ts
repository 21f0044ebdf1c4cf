// The stream supervisor, one mechanism for both directions: the forward streams while the databases
// stream towards the target (supervisor.ts, its table of handlers) and the reverse streams while a
// fallback window streams the new server's writes back to the old source (afterCutover.ts, its
// table WINDOW_OPEN). Each direction gives its table of (condition -> handler) rows and how to open
// a watch; the rest is here: the watches one after another while a stream is left, the request
// wakeup each watch sleeps on, the looks, and the back-off of a stopped stream. Each look goes down
// the table's rows in order until one hands off; between looks the loop sleeps a poll, cut short
// when the user makes a request (control/requestWakeup.ts). The control catalog may be away (the
// target restarting): a row that reads it and meets such an outage ends the look, and the next
// comes a poll later, as the appliers ride it out. A handler that throws ends the supervision.
import { isRetryable } from '../connect/sqlstate';
import { RequestWakeup } from '../control/requestWakeup';
import type { ServerSpec } from '../input/migrationSpec';
import { trace } from '../util/trace';

/**
 * What a handler gives the supervisor to run once the watch is closed (its watchers stopped): a
 * cutover, a cancel of some databases, a fall-back. The supervisor then watches what is left.
 */
export type Handoff = () => Promise<void>;

/** One row of a supervisor's table: a condition and its handler. */
export interface WatchRow<W> {
  /** The condition, in words (traced when its handler hands off). */
  readonly when: string;
  /** It reads or writes the control catalog: an outage there ends the look instead of the watch. */
  readonly catalog: boolean;
  /** Tests the condition and runs the handler when it holds: a hand-off ends the watch. */
  readonly run: (w: W) => Promise<Handoff | undefined>;
}

/** A row: `holds` finds what the condition is about (undefined: it does not hold), `handle` acts on it. */
export function row<W, T>(
  when: string,
  catalog: 'reads the catalog' | 'no catalog',
  holds: (w: W) => T | undefined | Promise<T | undefined>,
  handle: (w: W, found: T) => Handoff | undefined | Promise<Handoff | undefined>,
): WatchRow<W> {
  return {
    when,
    catalog: catalog === 'reads the catalog',
    run: async (w) => {
      const found = await holds(w);
      return found === undefined ? undefined : handle(w, found);
    },
  };
}

/** What a direction's watch gives the loop: a new look's start (what a look reads once is read again) and its close. */
export interface Watched {
  nextLook(): void;
  /** Stops what runs beside the looks: nothing of the watch runs after this, so a hand-off runs alone. */
  close(): Promise<void>;
}

/** One direction's supervisor: its table of handlers and what a watch of it holds. */
export interface StreamSupervisor<W extends Watched> {
  readonly table: readonly WatchRow<W>[];
  /** Whether a stream is left to watch: the supervision ends once none is. */
  streamsLeft(): boolean;
  /** Opens the next watch: the streams as they are now, and what runs beside the looks. */
  openWatch(): Promise<W>;
}

/** Between two looks, unless a request wakes the loop first. */
const POLL_MS = 1000;

/**
 * Supervises one direction's streams until none is left: one watch after another, each looked at
 * until a row hands off, then closed, and the hand-off run between two watches. Throws what a
 * handler throws.
 */
export async function superviseStreams<W extends Watched>(
  migration: { readonly target: ServerSpec; readonly migrationName: string },
  supervisor: StreamSupervisor<W>,
): Promise<void> {
  while (supervisor.streamsLeft()) {
    const watch = await supervisor.openWatch();
    let handoff: Handoff;
    try {
      // a request for the migration (a cutover, a cancel, a close, a fall-back) wakes the loop at once instead of at its next look
      const wakeup = await RequestWakeup.listen(migration.target, migration.migrationName);
      try {
        handoff = await watchLoop(supervisor.table, watch, wakeup);
      } finally {
        await wakeup.close();
      }
    } finally {
      await watch.close();
    }
    await handoff();
  }
}

/** The first wait of a stream stopped on an error before it is tried again on its own, in either direction. */
const FIRST_RETRY_MS = 5_000;
/** The longest such wait: a fix may take the user hours, and each try costs a session on both servers. */
const MAX_RETRY_MS = 5 * 60_000;

/**
 * How long a stream stopped for the `attempts`-th time waits before it is tried again on its own:
 * doubling from the first wait up to the longest, as PostgreSQL's apply worker retries a failed
 * subscription. The user's resume, or a fix the next try meets, goes faster.
 */
export function retryDelayMs(attempts: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(Math.max(attempts, 1) - 1, 10));
}

/** The control catalog was away during a look: the next look comes a poll later. */
const OUTAGE = Symbol('outage');

/** Looks down `table` until a row hands off (returned, to run once the watch is closed) or throws. */
async function watchLoop<W extends Watched>(table: readonly WatchRow<W>[], w: W, wakeup: RequestWakeup): Promise<Handoff> {
  for (;;) {
    w.nextLook();
    const handoff = await look(table, w);
    if (handoff === OUTAGE) await new Promise((r) => setTimeout(r, POLL_MS));
    else if (handoff) return handoff;
    else await wakeup.sleep(POLL_MS);
  }
}

/** One look: the table's rows in order, until one hands off. */
async function look<W>(table: readonly WatchRow<W>[], w: W): Promise<Handoff | typeof OUTAGE | undefined> {
  for (const r of table) {
    let handoff: Handoff | undefined;
    try {
      handoff = await r.run(w);
    } catch (error) {
      if (r.catalog && isRetryable(error)) return OUTAGE;
      throw error;
    }
    if (handoff) {
      trace(`supervisor: ${r.when}`);
      return handoff;
    }
  }
  return undefined;
}
