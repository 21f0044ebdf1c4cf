// The source side of CDC besides the publication's tables (publication.ts): a pgoutput slot created
// on a replication connection with an exported snapshot, its state, and its removal with the
// publication's. The exporting connection must stay open (and idle) until every copy
// job has imported the snapshot; release() closes it.
import type pg from 'pg';
import { closeSession, openSession, serverMajor, withSession } from '../../connect/session';
import { displayIdent, ident } from '../../connect/quote';
import { retrying, RETRY_POLICIES } from '../../connect/retry';
import { isRetryable, OBJECT_IN_USE, sqlState } from '../../connect/sqlstate';
import { PgferryError } from '../../core/errors';
import { failpoint } from '../../util/failpoints';
import type { ServerSpec } from '../../input/migrationSpec';
import { parseLsn } from '../../core/lsn';

export interface ExportedSlot {
  readonly slot: string;
  /** For `SET TRANSACTION SNAPSHOT` in every copy worker. */
  readonly snapshotName: string;
  /** The stream starts here: exactly the changes committed after the snapshot. */
  readonly consistentLsn: bigint;
  /** Ends the exporting connection; the snapshot can no longer be imported afterwards. */
  release(): Promise<void>;
}

/** Creates the slot; fails if it exists (a half-done earlier start must drop it first: its snapshot is gone). */
export async function createSlotWithSnapshot(source: ServerSpec, database: string, slot: string): Promise<ExportedSlot> {
  const client = await openSession(source, { database, replication: true, purpose: 'snapshot' });
  try {
    const major = await serverMajor(client);
    // PG15 introduced the option list; EXPORT_SNAPSHOT is the older spelling (removed in none yet).
    const sql =
      major >= 15
        ? `CREATE_REPLICATION_SLOT ${ident(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${ident(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`;
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(sql);
    const row = rows[0]!;
    // the slot exists on the source now: a reply lost here must not leave it behind (tests)
    failpoint(`slot-created:${database}`);
    return {
      slot,
      snapshotName: row.snapshot_name,
      consistentLsn: parseLsn(row.consistent_point),
      release: () => closeSession(client),
    };
  } catch (error) {
    await closeSession(client);
    throw new PgferryError(
      'SLOT_CREATE',
      `cannot create replication slot "${slot}" in source database ${displayIdent(database)}: ${(error as Error).message}`,
      {
        category: 'source',
        fix: 'the source needs wal_level = logical, a free slot (max_replication_slots) and a free WAL sender (max_wal_senders), and the user needs the REPLICATION attribute',
        cause: error,
        // a connection reset or a restarting source: the database's copy is tried again, and it
        // first drops a slot the server may have created before the reply was lost (releaseStream)
        transient: isRetryable(error),
      },
    );
  }
}

/**
 * Drops slot and publication if present; a slot still held by a stream is freed first. A slot
 * left behind holds the source's WAL for good, so a restarting or unreachable source is waited
 * out (RETRY_POLICIES.statement, about a minute) rather than leaving it: the fault campaign saw a failed migration leave
 * both when the source restarted as it cleaned up.
 */
export async function dropSlotAndPublication(source: ServerSpec, database: string, slot: string, publication: string): Promise<void> {
  await retrying(RETRY_POLICIES.statement, () =>
    withSession(source, { database, purpose: 'cleanup', writable: true }, async (client) => {
      await dropSlotWith(client, slot);
      await client.query(`DROP PUBLICATION IF EXISTS ${ident(publication)}`);
    }),
  );
}

/** Drops a slot if present (one whose snapshot came too early to use). */
export async function dropSlot(source: ServerSpec, database: string, slot: string): Promise<void> {
  await withSession(source, { database, purpose: 'cleanup', writable: true }, (client) => dropSlotWith(client, slot));
}

/** The slot's walsender is still running: it was told to end, the drop is tried again. */
class SlotStillActive extends Error {}

async function dropSlotWith(client: pg.Client, slot: string): Promise<void> {
  await retrying(
    RETRY_POLICIES.quick,
    async () => {
      const { rows } = await client.query<{ pid: number | null }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (rows.length === 0) return;
      if (rows[0]!.pid !== null) {
        await client.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        throw new SlotStillActive(`replication slot ${slot} is still active`);
      }
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    },
    // the walsender has not exited yet
    { retryOn: (error) => error instanceof SlotStillActive || sqlState(error) === OBJECT_IN_USE },
  );
}

export type SlotState = 'usable' | 'missing' | 'lost';

/** Whether a slot can stream: it exists and (PostgreSQL 13+) has not been invalidated for lost WAL. */
export async function slotState(source: ServerSpec, database: string, slot: string): Promise<SlotState> {
  return retrying(RETRY_POLICIES.statement, () =>
    withSession(source, { database, purpose: 'cdc' }, async (client) => {
      const { rows } = await client.query<{ wal_status: string | null }>(
        `SELECT to_jsonb(s) ->> 'wal_status' AS wal_status FROM pg_replication_slots s WHERE slot_name = $1`,
        [slot],
      );
      if (rows.length === 0) return 'missing';
      return rows[0]!.wal_status === 'lost' ? 'lost' : 'usable';
    }),
  );
}

/**
 * The forward slot made again on the old source at a fall-back asked with --resume-forward
 * (docs/fallback.md "The forward stream again"): made while the old source is still fenced and the
 * reverse stream has drained, its consistent point follows every row the reverse stream applied
 * there (the target holds them all) and precedes every write the applications make once the fence
 * is lifted. No snapshot: nothing is copied. Found instead of made when a killed runner made it
 * already, so a resumed fall-back makes it exactly once. Returns its consistent point as text.
 */
export async function openForwardSlot(source: ServerSpec, database: string, slot: string): Promise<string> {
  return withSession(source, { database, purpose: 'cutover', writable: true }, async (client) => {
    const found = await client.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (found.rows[0]?.lsn) return found.rows[0].lsn;
    const made = await client.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [
      slot,
    ]);
    // the slot exists on the old source, its point not recorded yet: a resume finds it (tests)
    failpoint(`fallback-forward-slot:${database}`);
    return made.rows[0]!.lsn;
  });
}
