// The target's guard over a held cutover (a pooler's pause or the writer fence), its whole course
// in one place: put on before the pin that precedes the hold, the tables verified at that pin
// (switchover/pinBeforePause.ts), its records read inside the hold, and dropped at the switch while
// the applications are still held, or at a roll-back, or when a resumed runner finds a cutover a
// killed one left. The guard's SQL, its ledger rows and its undo are footprint/targetGuard.ts's;
// this module says when each runs. It is a flow/ step, not a switchover/ one: the footprint ranks
// above the switchover's mechanisms, and the guard is a change of the footprint.
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { errorMessage } from '../core/errors';
import { LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { dropGuardOrRefuse, dropGuardWhileHeld, guardTarget, guardedWrites, guardedWritesMessage } from '../footprint/targetGuard';
import type { MigrationRun, SwitchoverRun } from '../run/migrationRun';
import { retryPhase } from './outage';
import { NOTHING_PINNED, pinBeforePause, type PinnedBeforePause } from '../switchover/pinBeforePause';
import { holdpoint } from '../util/failpoints';
import { displayIdent } from '../connect/quote';

/**
 * The target guarded, then every table verified at a pin, verify: true only. A database whose
 * target cannot be guarded is not pinned: its tables are counted inside the hold, as before the pin
 * existed, with a warning.
 */
export async function pinUnderGuard(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  hold: 'pause' | 'fence',
): Promise<PinnedBeforePause> {
  if (run.spec.verify !== true) return NOTHING_PINNED;
  const guarded: OnlineStream[] = [];
  for (const s of streams) {
    try {
      await guardTarget(run, s.database);
      guarded.push(s);
    } catch (error) {
      if (run.signal.aborted) throw error;
      await dropTargetGuard(run, s.database);
      await run.warn(
        `cutover: the target's tables could not be guarded (${errorMessage(error)}); they are counted inside the ${hold}`,
        s.database,
      );
    }
  }
  const pinned = await pinBeforePause(run, guarded, hold);
  for (const s of guarded) await holdpoint(`cutover-pinned:${s.database}`);
  return pinned;
}

/**
 * What the guard recorded in each database, read inside the hold: one line per database a session
 * that is not pgferry's wrote on the target after the pin, naming the table and who wrote;
 * undefined when nothing did.
 */
export async function writtenOnTarget(run: SwitchoverRun, streams: readonly OnlineStream[]): Promise<string | undefined> {
  const found: string[] = [];
  for (const s of streams) {
    const writes = await retryPhase(run, `cutover: the target's guard of ${displayIdent(s.database)}`, () =>
      guardedWrites(run, s.database),
    );
    if (writes.length > 0) found.push(guardedWritesMessage(s.database, writes));
  }
  return found.length > 0 ? found.join('; ') : undefined;
}

/**
 * The guard dropped at the switch, past the point of no return: while the applications are still
 * held, so its DDL queues behind none of them (a lock it cannot take at once leaves it to the release).
 */
export async function dropGuardAtSwitch(run: SwitchoverRun, database: string): Promise<void> {
  await dropGuardWhileHeld(run, database);
}

/**
 * The guard dropped at a roll-back, or the guard of a cutover a killed runner left: what it recorded
 * is forgotten by the verification with it, so those tables are read whole at the next cutover.
 * A lock someone holds on a guarded table (often the one that kept the drain from its point) leaves
 * the guard on, recorded: failing the migration for it would throw the copy away. What it records
 * meanwhile makes those tables read whole at the next pin (guardTarget), and the release drops it.
 */
export async function dropTargetGuard(run: SwitchoverRun, database: string): Promise<void> {
  try {
    await retryPhase(
      run,
      `cutover: dropping the target's guard of ${displayIdent(database)}`,
      () => dropGuardOrRefuse(run, database),
      database,
    );
  } catch (error) {
    if (run.signal.aborted || sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
    await run.warn(
      `the target's guard of ${displayIdent(database)} stays on for now (${errorMessage(error)}: a session holds a lock on one of its tables); the next cutover puts it on afresh and reads the tables it recorded whole, the release drops it`,
      database,
    );
  }
}
