// The online supervisor's handlers of stopped streams (flow/supervisor.ts), over the stops
// themselves (flow/streamStops.ts). A stream that fails on an error the user can fix stops, keeping
// its slot and what was copied: the database ApplyStopped, the migration WaitingForApplyFix, the
// cause and its fix in the message. It is tried again on its own (back-off) or at once when the user
// asks (`pgferry resume`, `pulumi up`: the retry requests in the control catalog), and streams
// again once it applies past the change that stopped it. Any other failure is thrown and ends the
// migration. A stream stopped for longer than maxApplyStopHours fails the migration, which releases
// its slots so a forgotten migration cannot fill the source's disk.
import type { ApplyStop } from '../core/model';
import { PgferryError } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';
import type { Supervision } from './supervision';
import { applyRetryRequests, setStreaming } from '../control/migrationRequests';
import { displayIdent } from '../connect/quote';

/** A stream stopped for longer than maxApplyStopHours, if any. */
export function overdueStop(s: Supervision): { database: string; stop: ApplyStop } | undefined {
  return s.stops.overdue();
}

/** The bound the user set on a stopped stream passed: the migration fails and releases its slots. */
export function failOverdueStop(s: Supervision, overdue: { database: string; stop: ApplyStop }): never {
  throw stoppedTooLong(s.run, overdue.database, overdue.stop);
}

/** A stream failed since the last look, or one is stopped: something for handleStreamStops. */
export function streamsFailedOrStopped(s: Supervision): true | undefined {
  return s.streams.some((stream) => stream.failure !== undefined) || s.stops.any || undefined;
}

/**
 * Records the streams that failed since the last look (throws on a failure the user cannot fix),
 * starts again the stopped ones that are due or asked for, and clears the stops of those that
 * applied past them: the migration streams again once none is stopped.
 */
export async function handleStreamStops(s: Supervision): Promise<undefined> {
  const { run, stops, streams } = s;
  const name = run.spec.migrationName;
  await stops.recordFailures(streams);
  if (stops.any) {
    stops.retryDue(streams, await applyRetryRequests(run.store, name));
    if (await stops.clearMoved(streams)) await setStreaming(run.store, name, stops.streamingAgainMessage());
  }
  return undefined;
}

function stoppedTooLong(run: MigrationRun, database: string, stop: ApplyStop): PgferryError {
  return new PgferryError(
    'CDC_STOPPED_TOO_LONG',
    `database ${displayIdent(database)}: streaming stopped at ${stop.since} and was not fixed within maxApplyStopHours (${run.spec.maxApplyStopHours} h): the replication slots are released so the source keeps no more WAL for them; the error was: ${stop.error}`,
    { category: 'target', fix: `${stop.fix}, then migrate the database again` },
  );
}
