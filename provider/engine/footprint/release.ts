// The release: everything an online migration changed for one database given back once nothing will
// stream into it again, at the cutover, when the migration is canceled or fails in its runner, and
// when a cancel is carried out for a runner that has stopped. One loop over FOOTPRINT, in its order:
//   1. writerFence         the source's writer fence lifted (first: while it is on, the applications
//                          cannot write; kept only by a database that was cut over)
//   2. poolerPause         the pooler's databases pointed where they were and resumed (after the
//                          fence, so the held queries do not meet a read-only source; kept by a
//                          database cut over: it stays pointed at the target)
//   3. targetGuard         the target's guard of a held cutover dropped (a cutover drops it before
//                          the pooler points at the target; here for a roll-back, cancel or failure)
//   4. windowCarry         the rows a fall-back that did not complete carried into the old
//                          source's tables of the window taken back (before the target's fence is
//                          lifted: the old source as before the fall-back when the new server
//                          takes writes again; a completed one keeps them)
//   5. targetFence         the target's writer fence of a fall-back that did not complete (a
//                          completed one keeps it: the old source is the primary again)
//   6. poolerPauseBack     the pooler paused at that fall-back resumed where it points, the new
//                          server (after the target's fence, as at the cutover)
//   7. sourceEventTrigger  the source's event trigger of schemaChangeCapture eventTrigger dropped
//                          (nothing reads its messages any more; after the fences, which the
//                          applications wait on)
//   8. targetFiring        the target's triggers and rules as on the source
//   9. targetForeignKeys   the target's foreign keys added back
//  10. targetRowSecurity   the target's row-level security enabled as on the source (after the
//                          cutover's verification, which reads the rows whole)
//  11. slotAndPublication  the slot and publication on the source
//  12. appliedPosition     the origin (or progress row) on the target
//  13. reverseStream       the fallback window's reverse slot and publication on the target
//  14. reversePosition     its origin (or progress row) on the old source (both kept by a cutover:
//                          the window is open; given back when it closes or at a fall-back,
//                          releaseFallback)
//  15. replicaIdentity     the replica identities, on the source and then on the target (last: a
//                          table keeps FULL on a server while any publication there publishes it;
//                          a cutover with a window sets the source back and the target at the
//                          window's end, after its reverse publication, releaseFallback)
// Every undo is idempotent and finds nothing to do for a database the migration never got that far
// with, so a release run twice, or after a runner killed in the middle of one, changes nothing more.
import { errorMessage } from '../core/errors';
import type { FiringCounts } from './targetFiring';
import type { PendingChange } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import type { FootprintContext, ReversibleChange, StreamContext } from './change';
import { appliedPosition } from './appliedPosition';
import { replicaIdentity } from './replicaIdentity';
import { reversePosition } from './reversePosition';
import { reverseStream } from './reverseStream';
import { slotAndPublication } from './slotAndPublication';
import { sourceEventTrigger } from './sourceEventTrigger';
import { targetFence } from './targetFence';
import { targetFiring } from './targetFiring';
import { targetForeignKeys } from './targetForeignKeys';
import { targetRowSecurity } from './targetRowSecurity';
import { writerFence } from './writerFence';
import { poolerPause } from './poolerPause';
import { targetGuard } from './targetGuard';
import { poolerPauseBack } from './poolerPauseBack';
import { windowCarry } from './windowCarry';

/** Every reversible change, in the order the release gives them back. */
export const FOOTPRINT: readonly ReversibleChange[] = [
  writerFence,
  poolerPause,
  targetGuard,
  windowCarry,
  targetFence,
  poolerPauseBack,
  sourceEventTrigger,
  targetFiring,
  targetForeignKeys,
  targetRowSecurity,
  slotAndPublication,
  appliedPosition,
  reverseStream,
  reversePosition,
  replicaIdentity,
];

/**
 * The fallback window's own changes, given back when it closes or falls back (the old source's fence
 * stays, as a cutover left it), then the replica identities the reverse publication kept FULL on
 * the target.
 */
const FALLBACK = [reverseStream, reversePosition, replicaIdentity] as const;

/** Closes one database's fallback window: its reverse slot, publication and position dropped, the target's identities set back. */
export async function releaseFallback(ctx: FootprintContext, database: string): Promise<void> {
  for (const change of FALLBACK) await change.undo(ctx, database);
}

/** The stream's own changes, dropped before a copy starts again and by `cleanupSource`. */
const STREAM = [slotAndPublication, appliedPosition] as const;

/**
 * What a step that fails does. 'throw': the first failure is thrown and the steps after it wait
 * (the cutover redoes the whole release; a cancel without runner is run again by the user).
 * 'warn': every step is tried and each failure is a warning that says what is left and where it
 * is recorded (a migration that is already ending on an error of its own).
 */
export type ReleasePolicy = 'throw' | 'warn';

/**
 * Releases one database; returns the triggers and rules set back (undefined when that step did not
 * run to its end). `cutOver`: the database was cut over, and what stays after a cutover (the
 * writer fence) stays on the source.
 */
export async function releaseDatabase(
  ctx: FootprintContext,
  database: string,
  policy: ReleasePolicy,
  options: { readonly cutOver?: boolean } = {},
): Promise<FiringCounts | undefined> {
  let firings: FiringCounts | undefined;
  for (const change of FOOTPRINT) {
    if (options.cutOver && change.staysAfterCutover) continue;
    const undone = await undoOne(ctx, change, database, policy);
    if (change === targetFiring) firings = undone as FiringCounts | undefined;
  }
  return firings;
}

async function undoOne(ctx: FootprintContext, change: ReversibleChange, database: string, policy: ReleasePolicy): Promise<unknown> {
  if (policy === 'throw') return change.undo(ctx, database);
  try {
    return await change.undo(ctx, database);
  } catch (error) {
    const { what, left } = change.failure(ctx, database);
    await ctx.warn(`${what}: ${errorMessage(error)}; ${left}`, database);
    return undefined;
  }
}

/**
 * What is still to give back in one database, per change (only those with something left), in
 * release order. `tolerant` (`show`): a change that cannot be read is listed with its error, and
 * the others are read still.
 */
export async function pendingFootprint(
  ctx: FootprintContext,
  database: string,
  options: { readonly tolerant?: boolean } = {},
): Promise<PendingChange[]> {
  const left: PendingChange[] = [];
  for (const change of FOOTPRINT) {
    try {
      const pending = await change.pending(ctx, database);
      if (pending.length > 0) left.push({ change: change.name, pending });
    } catch (error) {
      if (!options.tolerant) throw error;
      left.push({ change: change.name, pending: [], error: errorMessage(error) });
    }
  }
  return left;
}

/**
 * Releases one database's slot, publication and origin alone (before a copy starts again too: a
 * stream over a fresh copy must not start from an old origin's position).
 */
export async function releaseStream(spec: MigrationSpec, database: string, instance: string | undefined): Promise<void> {
  const ctx: StreamContext = { spec, instance };
  for (const change of STREAM) await change.undo(ctx, database);
}

/** Releases every database's slot, publication and origin; all are tried, the first failure is thrown after. */
export async function releaseStreams(
  spec: MigrationSpec,
  instance: string | undefined,
  databases: readonly string[] = spec.databases,
): Promise<void> {
  const failures: unknown[] = [];
  for (const database of databases) {
    await releaseStream(spec, database, instance).catch((error: unknown) => failures.push(error));
  }
  if (failures.length > 0) throw failures[0];
}
