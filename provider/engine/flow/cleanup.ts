// CleaningUp: the state a migration shows while pgferry drops what it created (slots, publications,
// origins, and gives back triggers, foreign keys and replica identities) before its final state,
// at a cancel, a failure or the end of a cutover. A runner killed while cleaning up leaves the
// state recorded, and the next runner (a resume) finishes the cleanup instead of migrating again.
import { restoreContextOf } from '../footprint/change';
import type { CatalogConnection } from '../control/connection';
import type { MigrationStatus } from '../core/model';
import { cleanupSubState, isDatabaseDone } from '../core/transitions';
import type { MigrationSpec } from '../input/migrationSpec';
import { failpoint } from '../util/failpoints';
import type { FootprintContext } from '../footprint/change';
import { releaseDatabase, type ReleasePolicy } from '../footprint/release';
import { get, markOpenDatabases, setState, updateDatabase } from '../control/store';

/**
 * Records CleaningUp with the message the end will keep; false when the catalog cannot be written
 * (then nothing is released: a resume streams on from the slots).
 */
export async function startCleanup(store: CatalogConnection, name: string, canceled: boolean, message: string): Promise<boolean> {
  return setState(store, name, 'CleaningUp', cleanupSubState(canceled), message).then(
    () => true,
    () => false,
  );
}

/** Releases every database not cut over or canceled yet; canceled ones show Canceling meanwhile. */
export async function releaseOpenDatabases(
  ctx: FootprintContext,
  status: MigrationStatus | undefined,
  canceled: boolean,
  policy: ReleasePolicy,
): Promise<void> {
  const name = ctx.spec.migrationName;
  const open = (status?.databases ?? ctx.spec.databases.map((database) => ({ database, state: 'Queued' as const }))).filter(
    (d) => !isDatabaseDone(d.state),
  );
  for (const { database } of open) {
    if (canceled) await updateDatabase(ctx.store, name, database, { state: 'Canceling' }).catch(() => undefined);
    failpoint(`cleanup-release:${database}`);
    await releaseDatabase(ctx, database, policy);
  }
}

/**
 * A runner resumed a migration another left in CleaningUp (not in a cutover: runOnline resumes
 * those from their cutover steps): releases what is left, then ends it Canceled when a cancel was
 * asked for, else Failed with the message recorded when the cleanup began.
 */
export async function finishCleanup(spec: MigrationSpec, store: CatalogConnection, status: MigrationStatus): Promise<MigrationStatus> {
  const name = spec.migrationName;
  const canceled = status.cancelRequested === true || status.subState === cleanupSubState(true);
  if (spec.mode === 'Online') {
    await releaseOpenDatabases({ ...restoreContextOf(spec, store), instance: status.instance }, status, canceled, 'warn');
  }
  const message = status.message ?? (canceled ? 'canceled by the user' : 'failed');
  // the databases first: whoever reads the migration's final state reads its databases' too
  await markOpenDatabases(store, name, canceled ? 'Canceled' : 'Failed', message);
  await setState(store, name, canceled ? 'Canceled' : 'Failed', 'Completed', message);
  return (await get(store, name))!;
}

/** Whether a migration found in CleaningUp was in a cutover (its databases record cutover steps). */
export function cleaningUpAfterCutover(status: MigrationStatus): boolean {
  return status.databases.some((d) => d.cutoverStep !== undefined);
}
