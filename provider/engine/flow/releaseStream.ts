// Giving back what an online migration's stream holds on both servers once nothing will stream again
// (cancel, failure, destroy): the slot (which retains the source's WAL) and the publication on
// the source, the replication origin or progress row on the target. Idempotent; a database that
// is gone on either side has nothing left to release there.
import { withSession } from '../connect/session';
import { INVALID_CATALOG_NAME, sqlState } from '../connect/sqlstate';
import type { MigrationSpec } from '../input/migrationSpec';
import { streamNamesOf } from '../core/names';
import { dropAppliedPosition, dropOrigin } from '../cdc/apply/appliedPosition';
import { dropSlotAndPublication } from '../cdc/prepare/slot';

/** Runs a step on one database; a database that is gone (on either side) has nothing left there. */
export async function unlessDatabaseGone<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) throw error;
    return undefined;
  }
}

/**
 * Releases one database's slot, publication and origin (before a copy starts again too: a stream
 * over a fresh copy must not start from an old origin's position).
 */
export async function releaseStream(spec: MigrationSpec, database: string, instance: string | undefined): Promise<void> {
  const names = streamNamesOf(spec.migrationName, database, instance);
  await unlessDatabaseGone(() => dropSlotAndPublication(spec.source, database, names.slot, names.publication));
  // from the maintenance database: the origin outlives a dropped target database
  await withSession(spec.target, { purpose: 'cleanup', writable: true }, (client) => dropOrigin(client, names.origin));
  await unlessDatabaseGone(() =>
    withSession(spec.target, { database, purpose: 'cleanup', writable: true }, (client) =>
      dropAppliedPosition(client, { origin: names.origin, migration: spec.migrationName, database }),
    ),
  );
}

/** Releases every database's; all are tried, the first failure is thrown after. */
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
