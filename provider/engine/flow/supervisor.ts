// The online flow's supervisor: once every database is copied and streams, one loop per migration
// watches the databases' streams and answers what the user asks of them in the control catalog.
// Each look goes down the table below, (condition -> handler), each handler a small module of flow/
// that says what it does and why; the requests are read from the catalog once per look, when the
// first condition that needs them asks.
//
//   condition                                          handler
//   the migration is canceled (the run's signal)       handleCancel.ts        cancelMigration
//   a stream stopped longer than maxApplyStopHours     handleStreamStops.ts   failOverdueStop
//   a stream failed, or one is stopped                 handleStreamStops.ts   handleStreamStops
//   some databases are asked to cancel                 handleCancel.ts        cancelRequestedDatabases
//   a cutover is asked (whole, or some databases)      handleCutover.ts       startCutover
//   the tick is due (every 2 s)                        handleTick.ts          tick
//
// Beside the loop, each on a timer of its own, run the reporter (streamReporter.ts: progress, lag,
// slot retention, the console's samples) and the background verification (verify/background.ts).
// A handler that hands off (a cutover, some databases' cancel) ends the watch: its watchers stop
// (supervision.ts), the hand-off runs, and the supervisor watches again the streams left, until
// none is left. A handler that throws ends the online flow (flow/online.ts releases what it holds).
// Between looks the loop sleeps POLL_MS, cut short when a request is made (control/requestWakeup.ts).
// The control catalog may be away (the target restarting): a handler that meets such an outage there
// ends the look, and the next comes a poll later; the appliers ride it out the same way.
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { isRetryable } from '../connect/sqlstate';
import { streamingSubState } from '../core/transitions';
import type { ApplyRateMeter } from '../switchover/lagGate';
import type { MigrationRun } from '../run/migrationRun';
import { trace } from '../util/trace';
import { cancelMigration, cancelRequestedDatabases, databasesToCancel, migrationCanceled } from './handleCancel';
import { databasesToCutOver, startCutover } from './handleCutover';
import { failOverdueStop, handleStreamStops, overdueStop, streamsFailedOrStopped } from './handleStreamStops';
import { tick, tickDue } from './handleTick';
import type { StreamStops } from './streamStops';
import { Supervision, type Handoff } from './supervision';
import { setState } from '../control/store';

const POLL_MS = 1000;

/** One row of the table: a condition and its handler. */
interface Row {
  /** The condition, in words (traced when its handler hands off). */
  readonly when: string;
  /** It reads or writes the control catalog: an outage there ends the look instead of the flow. */
  readonly catalog: boolean;
  /** Tests the condition and runs the handler when it holds: a hand-off ends the watch. */
  readonly run: (s: Supervision) => Promise<Handoff | undefined>;
}

/** A row: `holds` finds what the condition is about (undefined: it does not hold), `handle` acts on it. */
function row<T>(
  when: string,
  catalog: 'reads the catalog' | 'no catalog',
  holds: (s: Supervision) => T | undefined | Promise<T | undefined>,
  handle: (s: Supervision, found: T) => Handoff | undefined | Promise<Handoff | undefined>,
): Row {
  return {
    when,
    catalog: catalog === 'reads the catalog',
    run: async (s) => {
      const found = await holds(s);
      return found === undefined ? undefined : handle(s, found);
    },
  };
}

const TABLE: readonly Row[] = [
  row('the migration is canceled', 'no catalog', migrationCanceled, cancelMigration),
  row('a stream stopped longer than maxApplyStopHours', 'no catalog', overdueStop, failOverdueStop),
  row('a stream failed, or one is stopped', 'reads the catalog', streamsFailedOrStopped, handleStreamStops),
  row('some databases are asked to cancel', 'reads the catalog', databasesToCancel, cancelRequestedDatabases),
  row('a cutover is asked', 'reads the catalog', databasesToCutOver, startCutover),
  row('the tick is due', 'no catalog', tickDue, tick),
];

/** The control catalog was away during a look: the next look comes a poll later. */
const OUTAGE = Symbol('outage');

/**
 * Supervises the streams until none is left (each cut over or canceled): one watch after another,
 * each ended by a handler's hand-off, which runs between them. Throws what a handler throws.
 */
export async function supervise(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Promise<void> {
  while (streams.length > 0) {
    await setState(run.store, run.spec.migrationName, 'WaitingForUserAction', streamingSubState(false, stops.any));
    const handoff = await watch(run, streams, stops, meter);
    await handoff();
  }
}

/** Looks until a handler hands off (returned, to run once the watchers are stopped) or throws. */
async function watch(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Promise<Handoff> {
  const s = await Supervision.open(run, streams, stops, meter);
  try {
    for (;;) {
      s.nextLook();
      const handoff = await look(s);
      if (handoff === OUTAGE) await new Promise((r) => setTimeout(r, POLL_MS));
      else if (handoff) return handoff;
      else await s.wakeup.sleep(POLL_MS);
    }
  } finally {
    await s.close();
  }
}

/** One look: the table's rows in order, until one hands off. */
async function look(s: Supervision): Promise<Handoff | typeof OUTAGE | undefined> {
  for (const r of TABLE) {
    let handoff: Handoff | undefined;
    try {
      handoff = await r.run(s);
    } catch (error) {
      // The target (and its control catalog) may be restarting: the appliers ride it out, so does this.
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
