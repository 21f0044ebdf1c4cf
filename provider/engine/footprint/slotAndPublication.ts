// The replication slot (which holds the source's WAL until the target has applied it) and the
// publication listing the streamed tables, one each per source database: the change and its SQL
// whole here, the slot made (with an exported snapshot at a first start, at the fall-back point
// when the forward stream is made again), found, and dropped with the publication. The
// publication's table list is the stage's (cdc/prepare/publication.ts): it grows while changes
// stream. Their names derive from the migration's instance, recorded when it is registered, so
// nothing of another migration is touched. Dropped at release; a fallback window's reverse stream
// (reverseStream.ts) is the same change on the target.
import type pg from 'pg';
import { displayIdent, ident, literal } from '../connect/quote';
import { closeSession, openSession, serverMajor, withSession } from '../connect/session';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { isRetryable, OBJECT_IN_USE, sqlState } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import { parseLsn } from '../core/lsn';
import { streamNamesOf } from '../core/names';
import { failpoint } from '../util/failpoints';
import type { ServerSpec } from '../input/migrationSpec';
import type { ReversibleChange, RightsRefusal, RightsSessions, StreamContext } from './change';
import { unlessDatabaseGone } from './change';

export interface ExportedSlot {
  readonly slot: string;
  /** For `SET TRANSACTION SNAPSHOT` in every copy worker. */
  readonly snapshotName: string;
  /** The stream starts here: exactly the changes committed after the snapshot. */
  readonly consistentLsn: bigint;
  /** Ends the exporting connection; the snapshot can no longer be imported afterwards. */
  release(): Promise<void>;
}

/**
 * Creates the slot on a replication connection with an exported snapshot; fails if it exists (a
 * half-done earlier start must drop it first: its snapshot is gone). The exporting connection
 * must stay open (and idle) until every copy worker has imported the snapshot; release() closes it.
 */
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
 * The state of each of `slots`, read in one statement on an open source session (any database of
 * the server: slots are the cluster's), for a resume that streams several databases.
 */
export async function slotStatesOn(client: pg.Client, slots: readonly string[]): Promise<Map<string, SlotState>> {
  const { rows } = await client.query<{ slot_name: string; wal_status: string | null }>(
    `SELECT slot_name, to_jsonb(s) ->> 'wal_status' AS wal_status FROM pg_replication_slots s WHERE slot_name = ANY ($1::text[])`,
    [slots],
  );
  const found = new Map(rows.map((r) => [r.slot_name, r.wal_status === 'lost' ? ('lost' as const) : ('usable' as const)]));
  return new Map(slots.map((slot) => [slot, found.get(slot) ?? 'missing']));
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
  return withSession(source, { database, purpose: 'cutover', writable: true }, (client) =>
    // the slot exists on the old source, its point not recorded yet: a resume finds it (tests)
    findOrMakeSlot(client, slot, () => failpoint(`fallback-forward-slot:${database}`)),
  );
}

/**
 * A pgoutput slot without a snapshot on `client`'s database, found when it is there already (a
 * step made again after a kill), else made; `made` runs once it is made. Returns its consistent
 * point as text. The forward slot made again at a fall-back and a window's reverse slot are these.
 */
export async function findOrMakeSlot(client: pg.Client, slot: string, made?: () => void): Promise<string> {
  const found = await client.query<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  if (found.rows[0]?.lsn) return found.rows[0].lsn;
  const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [
    slot,
  ]);
  made?.();
  return rows[0]!.lsn;
}

/**
 * Whether the current user may make a replication slot, as the server decides it: PostgreSQL asks
 * for the REPLICATION attribute or superuser, and no attribute is inherited through membership.
 * Amazon RDS lets the members of its own rds_replication and rds_superuser roles replicate too;
 * membership in Azure's azure_pg_admin gives no such right (docs/limits.md), so it counts for
 * nothing here. A column of a query over pg_roles r, the current user's row.
 */
export const MAY_REPLICATE_SQL = `(r.rolsuper OR r.rolreplication
   OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname IN ('rds_replication', 'rds_superuser')
                 AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')))`;

/** Whether the current user is a member of Azure's azure_pg_admin, which users mistake for the right to replicate. */
export const AZURE_ADMIN_MEMBER_SQL = `EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = 'azure_pg_admin'
   AND pg_catalog.pg_has_role(current_user, a.oid, 'MEMBER'))`;

/** Why a user may not make a slot, said so that a member of azure_pg_admin learns the membership is not the right. */
export function noReplication(azureAdminMember: boolean): string {
  return azureAdminMember ? 'no REPLICATION; membership in azure_pg_admin does not give it' : 'no REPLICATION';
}

/** The statement that lets `user` make slots, with the spelling of the managed servers that differ. */
export function replicationGrant(user: string): string {
  const role = ident(user);
  return `ALTER ROLE ${role} WITH REPLICATION (Azure: run by the server admin; Amazon RDS: GRANT rds_replication TO ${role})`;
}

/** One stream's slot and publication on `server` that are still there, as statements that drop them. */
async function pendingSlotAndPublication(server: ServerSpec, database: string, slot: string, publication: string): Promise<string[]> {
  const found = await unlessDatabaseGone(() =>
    withSession(server, { database, purpose: 'show', readOnly: true }, async (client) => {
      const slots = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      const publications = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
      return [
        ...(slots.rows.length > 0 ? [`SELECT pg_drop_replication_slot(${literal(slot)})`] : []),
        ...(publications.rows.length > 0 ? [`DROP PUBLICATION ${ident(publication)}`] : []),
      ];
    }),
  );
  return found ?? [];
}

/**
 * What is left of one stream's slot and publication and their undo, for the change that records
 * them: they live on the spec's `server`, named by `namesOf`. Both directions are these: the
 * forward stream's on the source, a fallback window's reverse stream's on the target
 * (reverseStream.ts).
 */
export function slotAndPublicationUndo(server: 'source' | 'target', namesOf: typeof streamNamesOf) {
  return {
    pending: (ctx: StreamContext, database: string): Promise<string[]> => {
      const n = namesOf(ctx.spec.migrationName, database, ctx.instance);
      return pendingSlotAndPublication(ctx.spec[server], database, n.slot, n.publication);
    },
    undo: async (ctx: StreamContext, database: string): Promise<void> => {
      const n = namesOf(ctx.spec.migrationName, database, ctx.instance);
      await unlessDatabaseGone(() => dropSlotAndPublication(ctx.spec[server], database, n.slot, n.publication));
    },
  };
}

/** What creating the slot and the publication asks of the source user, read in the source database. */
const RIGHTS_SQL = `
SELECT ${MAY_REPLICATE_SQL} AS replicates, ${AZURE_ADMIN_MEMBER_SQL} AS azure_admin,
       has_database_privilege(current_user, current_database(), 'CREATE') AS creates
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`;

async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.source.query<{ replicates: boolean; azure_admin: boolean; creates: boolean }>(RIGHTS_SQL);
  const user = ident(s.spec.source.user);
  const lacks: string[] = [];
  const grants: string[] = [];
  if (!rows[0]?.replicates) {
    lacks.push(`may not create a replication slot (${noReplication(rows[0]?.azure_admin === true)})`);
    grants.push(replicationGrant(s.spec.source.user));
  }
  if (!rows[0]?.creates) {
    lacks.push(`may not create a publication (no CREATE on ${displayIdent(s.database)})`);
    grants.push(`GRANT CREATE ON DATABASE ${ident(s.database)} TO ${user}`);
  }
  if (lacks.length === 0) return undefined;
  return { message: `source user ${displayIdent(s.spec.source.user)} ${lacks.join(' and ')}`, fix: `on the source: ${grants.join('; ')}` };
}

export const slotAndPublication = {
  name: 'slotAndPublication',
  server: 'source',
  describe: 'replication slot and publication on the source database, dropped',
  ledger: 'their names, derived from migration.instance (recorded when the migration is registered)',
  rights: { server: 'source', needs: 'REPLICATION (or superuser), and CREATE on the database for the publication', refusal },
  madeFor: (spec) => spec.mode === 'Online',
  ...slotAndPublicationUndo('source', streamNamesOf),
  failure: (ctx, database) => {
    const n = streamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    return { what: `could not release slot ${n.slot} / publication ${n.publication} (source)`, left: 'drop them by hand' };
  },
} satisfies ReversibleChange;
