// The verification a held cutover (a pooler's PAUSE, or the writer fence) does before it holds the
// applications, so that the hold does not grow with the data: every table of each database is
// pinned once more while the applications still run (verify/background.ts pinEveryTable: read
// whole where its last pin no longer stands, else its count and the keys changed since), and
// inside the hold only the keys the apply changed since that pin are read again
// (switchover/recheckPlan.ts), with no count. A difference found at this pin is recorded as the
// background verifier records one: the cutover then reads that table whole inside the hold and
// stops there. What the target gets from anyone but the apply after the pin is the target's
// guard's to see (footprint/targetGuard.ts, put on before this pin by flow/targetGuardAtCutover.ts).
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { errorMessage } from '../core/errors';
import { recordEvent } from '../control/store';
import type { MigrationRun } from '../run/migrationRun';
import { BackgroundVerification, type PinnedTable } from '../verify/background';

/** Per database, the tables (quoted qualified names) whose pin before the pause matched, with its position and their rows there. */
export type PinnedBeforePause = ReadonlyMap<string, ReadonlyMap<string, PinnedTable>>;

export const NOTHING_PINNED: PinnedBeforePause = new Map();

/**
 * Pins every table of these streams now (verify: true only; 'full' and false read no pin). A
 * database whose pins cannot be taken (a server away, a refused message) is said and left out: its
 * tables are then read inside the pause as before, their count with their changed keys.
 */
export async function pinBeforePause(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  hold: 'pause' | 'fence' = 'pause',
): Promise<PinnedBeforePause> {
  if (run.spec.verify !== true) return NOTHING_PINNED;
  const pinned = new Map<string, ReadonlyMap<string, PinnedTable>>();
  for (const stream of streams) {
    const verifier = new BackgroundVerification(run, () => stream);
    const started = Date.now();
    try {
      const tables = await verifier.pinEveryTable();
      pinned.set(stream.database, tables);
      const seconds = ((Date.now() - started) / 1000).toFixed(2);
      const message = `cutover: ${tables.size} table(s) verified at a pin before the ${hold} in ${seconds} s`;
      // an event too: what the pause was spared is read back after the cutover (show, tests)
      await recordEvent(run.store, run.spec.migrationName, 'info', message, stream.database);
      run.onProgress({ kind: 'info', database: stream.database, message });
    } catch (error) {
      if (run.signal.aborted) throw error;
      await run.warn(
        `cutover: the tables could not be pinned before the ${hold} (${errorMessage(error)}); they are counted inside it`,
        stream.database,
      );
    } finally {
      await verifier.stop();
    }
  }
  return pinned;
}
