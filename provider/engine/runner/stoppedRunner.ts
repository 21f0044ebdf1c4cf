// A migration in progress whose runner has stopped (killed, machine gone): nothing drives it until
// it is resumed. Canceling it must not wait for a runner that will never come, so the cancel is
// carried out here, under the runner's own lease so that no runner can start meanwhile; and its
// slots' retained WAL is read from the source directly, so a stopped stream shows before the
// source's disk fills.
import { withSession } from '../connect/session';
import { CatalogConnection } from '../control/connection';
import { restoreContextOf } from '../footprint/change';
import { errorMessage, PgferryError } from '../core/errors';
import type { MigrationSpec, ServerSpec } from '../input/migrationSpec';
import { checkPausedPoolerReachable, switchPooler, withRecordedPooler } from '../footprint/poolerPause';
import type { MigrationStatus, SourceSlotState } from '../core/model';
import { acquireLease } from './lease';
import { releaseDatabase } from '../footprint/release';
import { keepFence } from '../footprint/writerFence';
import { startCleanup } from '../flow/cleanup';
import { requestCancel } from '../control/migrationRequests';
import { get, markOpenDatabases, setState, updateDatabase } from '../control/store';
import { shownStatus } from '../footprint/shown';
import { displayIdent } from '../connect/quote';

/**
 * Cancels a migration whose runner has stopped: what an online one holds on both servers is
 * released here (`spec` gives the source's credentials; an offline one needs only the target). A
 * pooler paused at its cutover is resumed from what the ledger recorded of it when the spec names
 * none, `poolerPassword` its admin password.
 */
export async function cancelWithoutRunner(
  target: ServerSpec,
  name: string,
  spec: MigrationSpec | undefined,
  poolerPassword?: string,
): Promise<MigrationStatus> {
  const lease = await acquireLease(target, name);
  const store = new CatalogConnection(target);
  try {
    const status = await get(store, name);
    if (!status)
      throw new PgferryError('MIGRATION_NOT_FOUND', `migration "${name}" not found on the target`, { category: 'input', field: 'name' });
    const open = status.databases.filter((d) => d.state !== 'Succeeded');
    if (status.mode !== 'Online') await requestCancel(store, name);
    else {
      if (!spec) throw sourceNeeded(name);
      const dbs = open.map((d) => d.database);
      const pooled = await withRecordedPooler(restoreContextOf(spec, store), dbs, poolerPassword);
      const context = { ...restoreContextOf(pooled, store), instance: status.instance };
      // a pooler that would not answer refuses the cancel before anything is changed, the request included
      await checkPausedPoolerReachable(context, dbs);
      await requestCancel(store, name);
      await startCleanup(store, name, true, 'canceled by the user; its runner had stopped, so the cancel releases what it holds itself');
      for (const db of open) {
        await updateDatabase(store, name, db.database, { state: 'Canceling' });
        try {
          // past the point of no return the target holds every write: the source's fence stays (a
          // write there now would be lost to the target, where the application goes on), and the
          // pooler goes to the target, as the cutover would have sent it
          if (db.cutoverStep === 'released') {
            await keepFence(store, name, db.database);
            const pointed = await switchPooler(context, db.database);
            await context.warn(
              `${displayIdent(db.database)} had passed its cutover's point of no return (verified, the target holding every write): the old source stays fenced${pointed ? ', and the pooler was pointed at the target and resumed there, not back at the source' : ''}; the target is the primary`,
              db.database,
            );
          }
          await releaseDatabase(context, db.database, 'throw');
        } catch (error) {
          const n = db.names;
          throw new PgferryError(
            'CANCEL_RELEASE',
            `migration "${name}": could not release what it holds for database ${displayIdent(db.database)} (replication slot ${n?.slot ?? '?'} and publication ${n?.publication ?? '?'} on the source, its changes on the target): ${errorMessage(error)}`,
            {
              category: 'source',
              fix: `the cancel is recorded; run it again once both servers are reachable, or on the source: SELECT pg_drop_replication_slot('${n?.slot ?? ''}')`,
              cause: error,
            },
          );
        }
      }
    }
    const message =
      'canceled by the user; its runner had stopped, so the cancel released the replication slots, publications and origins itself';
    await setState(store, name, 'Canceled', 'Completed', message);
    await markOpenDatabases(store, name, 'Canceled', 'canceled by the user');
    // as `show` gives it: a fence kept past the point of no return is in the answer
    return (await shownStatus(store, name))!;
  } finally {
    await store.close();
    await lease.release();
  }
}

function sourceNeeded(name: string): PgferryError {
  return new PgferryError('RUNNER_STOPPED', `migration "${name}": its runner has stopped, and nothing would act on a cancel request`, {
    category: 'input',
    field: 'properties',
    fix: 'give the source credentials (--properties FILE, or a ~/.pgpass entry for the stored source) so the cancel can release what the migration holds on the source',
  });
}

/**
 * The status with each streaming database's slot as the source sees it now (active, retained WAL,
 * PostgreSQL 13+'s wal_status); a source that cannot be reached leaves the status as recorded.
 */
export async function withSourceSlots(spec: MigrationSpec, status: MigrationStatus): Promise<MigrationStatus> {
  if (status.mode !== 'Online') return status;
  const slots = status.databases.flatMap((d) => (d.names && d.state !== 'Succeeded' ? [d.names.slot] : []));
  if (slots.length === 0) return status;
  const read = await withSession(spec.source, { purpose: 'show', readOnly: true, connectTimeoutMs: 5_000 }, (client) =>
    client.query<{ slot: string; active: boolean; retained: string | null; wal_status: string | null }>(
      `SELECT slot_name::text AS slot, active,
              (pg_current_wal_lsn() - restart_lsn)::int8::text AS retained,
              to_jsonb(s) ->> 'wal_status' AS wal_status -- a column from PostgreSQL 13 on
         FROM pg_replication_slots s WHERE slot_name = ANY($1::text[])`,
      [slots],
    ),
  ).catch((error: unknown) => ({ error: errorMessage(error) }));
  const readAt = new Date().toISOString();
  return {
    ...status,
    databases: status.databases.map((d) => {
      if (!d.names || d.state === 'Succeeded') return d;
      let sourceSlot: SourceSlotState;
      if ('error' in read) sourceSlot = { readAt, error: read.error };
      else {
        const row = read.rows.find((r) => r.slot === d.names!.slot);
        sourceSlot = row
          ? {
              readAt,
              exists: true,
              active: row.active,
              retainedBytes: row.retained === null ? undefined : Number(row.retained),
              walStatus: row.wal_status ?? undefined,
            }
          : { readAt, exists: false };
      }
      return { ...d, sourceSlot };
    }),
  };
}
