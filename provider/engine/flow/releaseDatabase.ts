// Everything an online migration changed for one database, given back once nothing will stream
// into it again: at the cutover, when the migration is canceled or fails in its runner, and when
// a cancel is carried out for a runner that has stopped. In order: the source's writer fence
// lifted (fenceWriters; kept only by a database that was cut over), the target's triggers and rules
// as on the source, the target's foreign keys added back, the slot and publication on the source
// and the origin (or progress row) on the target, then the source's replica identities (last: a
// table keeps FULL while any publication publishes it). Every step is idempotent and finds nothing
// to do for a database the migration never got that far with.
import { restoreFiring, type FiringCounts } from '../cdc/prepare/targetFiring';
import { restoreForeignKeys } from '../cdc/prepare/targetForeignKeys';
import { restoreReplicaIdentity, type RestoreContext } from '../cdc/prepare/identityFull';
import { releaseStream, unlessDatabaseGone } from './releaseStream';
import { errorMessage } from '../core/errors';
import { CONTROL_SCHEMA, streamNamesOf } from '../core/names';
import { liftWriterFence } from '../cutover/writerFence';

/**
 * What a step that fails does. 'throw': the first failure is thrown and the steps after it wait
 * (the cutover redoes the whole release; a cancel without runner is run again by the user).
 * 'warn': every step is tried and each failure is a warning that says what is left and where it
 * is recorded (a migration that is already ending on an error of its own).
 */
export type ReleasePolicy = 'throw' | 'warn';

/** A running migration, or a cancel for a stopped runner (restoreContextOf): plus the instance its names derive from. */
export type ReleaseContext = RestoreContext & { readonly instance: string | undefined };

/**
 * Releases one database; returns the triggers and rules set back (undefined when that step did not
 * run to its end). `keepWriterFence`: the database was cut over, and a writer fence stays on the source.
 */
export async function releaseDatabase(
  ctx: ReleaseContext,
  database: string,
  policy: ReleasePolicy,
  options: { readonly keepWriterFence?: boolean } = {},
): Promise<FiringCounts | undefined> {
  const step = async <T>(run: () => Promise<T>, what: string, left: string): Promise<T | undefined> => {
    if (policy === 'throw') return run();
    try {
      return await run();
    } catch (error) {
      await ctx.warn(`${what}: ${errorMessage(error)}; ${left}`, database);
      return undefined;
    }
  };
  const n = streamNamesOf(ctx.spec.migrationName, database, ctx.instance);
  // first: while the source is fenced, its applications cannot write
  if (!options.keepWriterFence) {
    await step(
      () => liftWriterFence(ctx, database),
      'could not lift the writer fence on the source',
      `the database is still read-only for new transactions; its earlier value is in ${CONTROL_SCHEMA}.writer_fence on the target, and a resume or a cancel lifts it`,
    );
  }
  const firings = await step(
    () => unlessDatabaseGone(() => restoreFiring(ctx, database)),
    "could not set the target's triggers and rules back as on the source",
    'they are as while streaming; a resume sets them back',
  );
  await step(
    () => restoreForeignKeys(ctx, database),
    "could not add the target's foreign keys back",
    `the ones still to add are in ${CONTROL_SCHEMA}.target_foreign_key on the target`,
  );
  await step(
    () => releaseStream(ctx.spec, database, ctx.instance),
    `could not release slot ${n.slot} / publication ${n.publication} (source) or origin ${n.origin} (target)`,
    'drop them by hand',
  );
  await step(
    () => restoreReplicaIdentity(ctx, database),
    'could not set replica identities back',
    `the tables still to set back are in ${CONTROL_SCHEMA}.source_table on the target`,
  );
  return firings;
}
