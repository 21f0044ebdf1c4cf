// What a copied target database needs before changes stream into it, where its user may not
// apply with session_replication_role = replica (a managed target's admin): its triggers and rules
// switched to fire as for a replica-role session (footprint/targetFiring.ts), and its foreign keys
// dropped, recorded to be added back (footprint/targetForeignKeys.ts). A superuser target needs
// neither: its apply session takes the role. Both are set back at cutover, cancel and failure.
import { withSession } from '../connect/session';
import { displayName } from '../connect/quote';
import type { MigrationRun } from '../run/migrationRun';
import { CONTROL_SCHEMA } from '../core/names';
import { describeFirings, fireAsReplica, replicaRolePermitted } from '../footprint/targetFiring';
import { setAsideForeignKeys } from '../footprint/targetForeignKeys';

/** What readying the target needs of a run: a running migration's, or a fall-back's that streams forward again. */
type StreamingTargetContext = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'onProgress'>;

/**
 * Readies one copied database's target for apply without replica role; nothing where the role is
 * permitted. Runs after the copy and before the database is recorded as streaming, so a runner
 * killed during it copies the database again into a new target database. `add`: the forward stream
 * made again after a fall-back, done again by a resumed runner (targetForeignKeys.ts).
 */
export async function prepareTargetForStreaming(
  run: StreamingTargetContext,
  database: string,
  mode: 'replace' | 'add' = 'replace',
): Promise<void> {
  await withSession(run.spec.target, { database, purpose: 'online', writable: true }, async (client) => {
    if (await replicaRolePermitted(client)) return;
    const why = 'session_replication_role = replica is not permitted on the target';
    const silenced = describeFirings(await fireAsReplica(client, { store: run.store, migration: run.spec.migrationName, database }));
    if (silenced) {
      await run.warn(
        `${silenced} disabled on the target while changes stream (${why}, and the source's triggers and rules already produced their effects); set back as on the source at cutover, cancel or failure`,
        database,
      );
    }
    const dropped = await setAsideForeignKeys(run, client, database, mode);
    if (dropped > 0) {
      await run.warn(
        `${dropped} foreign key(s) dropped on the target while changes stream (${why}: the source checked its rows, and rows it holds that violate a key, such as those left by deletes under replica role, would stop the stream); added back at cutover, cancel or failure, NOT VALID where rows violate them; their definitions are kept in ${displayName(CONTROL_SCHEMA, 'footprint')}`,
        database,
      );
    }
  });
}
