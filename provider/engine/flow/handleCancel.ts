// The online supervisor's cancel handlers (flow/supervisor.ts). The migration's cancel (`update
// --cancel`, `pulumi destroy`) reaches the supervisor as the run's abort signal, which the
// orchestrator's cancel watch sets from the control catalog (flow/orchestrator.ts): the watch ends
// at its next look, and the online flow stops every stream and releases what the migration holds
// (flow/online.ts). Some databases' cancel (dbsToCancelMigrationOn) is read from the control catalog
// here: the watch hands off to cancelDatabases, which stops and releases those databases' streams
// while the others stream on.
import { failpoint } from '../util/failpoints';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { canceledError } from '../core/errors';
import { streamingSubState } from '../core/transitions';
import { retryPhase } from './outage';
import type { MigrationRun } from '../run/migrationRun';
import { releaseDatabase } from '../footprint/release';
import type { StreamStops } from './streamStops';
import type { Supervision } from './supervision';
import type { Handoff } from './watchLoop';
import { recordEvent, setState, updateDatabase } from '../control/store';
import { displayIdent } from '../connect/quote';

/** The migration is canceled: the orchestrator aborted the run's signal. */
export function migrationCanceled(s: Supervision): true | undefined {
  return s.run.signal.aborted || undefined;
}

/** Ends the watch: the online flow releases everything on the way out (runOnline). */
export function cancelMigration(): never {
  throw canceledError();
}

/** The streaming databases the user asked to cancel (dbsToCancelMigrationOn), if any. */
export async function databasesToCancel(s: Supervision): Promise<ReadonlySet<string> | undefined> {
  const { cancel } = await s.databaseRequests();
  return cancel.length > 0 ? new Set(cancel) : undefined;
}

/** Hands off the cancel of `databases`: it runs once the watch is closed. */
export function cancelRequestedDatabases(s: Supervision, databases: ReadonlySet<string>): Handoff {
  const { run, streams, stops } = s;
  return () => cancelDatabases(run, streams, stops, databases);
}

/**
 * Cancels some databases (dbsToCancelMigrationOn) while the others stream on: each one's stream
 * stops, what the migration holds for it is released (slot, publication, origin, the target's
 * triggers and foreign keys, replica identities), and it ends Canceled. Its target database keeps
 * what was copied, as a whole-migration cancel leaves it.
 */
async function cancelDatabases(
  run: MigrationRun,
  streams: OnlineStream[],
  stops: StreamStops,
  databases: ReadonlySet<string>,
): Promise<void> {
  const { store } = run;
  const name = run.spec.migrationName;
  await setState(store, name, 'InProgress', streamingSubState(true, stops.any));
  for (const database of databases) {
    const index = streams.findIndex((s) => s.database === database);
    if (index < 0) continue;
    await updateDatabase(store, name, database, { state: 'Canceling', latencySeconds: null, pendingBytes: null });
    const stream = streams[index]!;
    stream.applier.stop();
    await stream.done.catch(() => undefined);
    streams.splice(index, 1);
    stops.forget(database);
    failpoint(`cancel-database:${database}`);
    await retryPhase(run, `the cancel of ${displayIdent(database)}`, () => releaseDatabase(run, database, 'throw'), database);
    await updateDatabase(store, name, database, { state: 'Canceled', endedAt: true, applyStop: null, message: 'canceled by the user' });
    await recordEvent(store, name, 'info', 'canceled by the user: streaming stopped, slot and publication released', database);
  }
}
