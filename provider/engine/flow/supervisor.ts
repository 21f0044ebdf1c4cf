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
// The mechanism (the watches one after another, the looks, the wakeup and the wait between them, a
// catalog outage) is watchLoop.ts, the one stream supervisor, which the reverse streams' table
// (afterCutover.ts) is run by too.
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { streamingSubState } from '../core/transitions';
import type { ApplyRateMeter } from '../switchover/lagGate';
import type { MigrationRun } from '../run/migrationRun';
import { cancelMigration, cancelRequestedDatabases, databasesToCancel, migrationCanceled } from './handleCancel';
import { databasesToCutOver, startCutover } from './handleCutover';
import { failOverdueStop, handleStreamStops, overdueStop, streamsFailedOrStopped } from './handleStreamStops';
import { tick, tickDue } from './handleTick';
import type { StreamStops } from './streamStops';
import { Supervision } from './supervision';
import { row, superviseStreams, type WatchRow } from './watchLoop';
import { setState } from '../control/store';

const TABLE: readonly WatchRow<Supervision>[] = [
  row('the migration is canceled', 'no catalog', migrationCanceled, cancelMigration),
  row('a stream stopped longer than maxApplyStopHours', 'no catalog', overdueStop, failOverdueStop),
  row('a stream failed, or one is stopped', 'reads the catalog', streamsFailedOrStopped, handleStreamStops),
  row('some databases are asked to cancel', 'reads the catalog', databasesToCancel, cancelRequestedDatabases),
  row('a cutover is asked', 'reads the catalog', databasesToCutOver, startCutover),
  row('the tick is due', 'no catalog', tickDue, tick),
];

/**
 * Supervises the streams until none is left (each cut over or canceled): one watch after another,
 * each ended by a handler's hand-off, which runs between them. Throws what a handler throws.
 */
export async function supervise(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Promise<void> {
  await superviseStreams(run.spec, {
    table: TABLE,
    streamsLeft: () => streams.length > 0,
    openWatch: async () => {
      await setState(run.store, run.spec.migrationName, 'WaitingForUserAction', streamingSubState(false, stops.any));
      return Supervision.open(run, streams, stops, meter);
    },
  });
}
