// The replication slot (which holds the source's WAL until the target has applied it) and the
// publication listing the streamed tables, one each per source database (cdc/prepare/slot.ts,
// publication.ts). Their names derive from the migration's instance, recorded when it is
// registered, so nothing of another migration is touched. Dropped at release.
import { ident, literal } from '../connect/quote';
import { withSession } from '../connect/session';
import { streamNamesOf } from '../core/names';
import type { ServerSpec } from '../input/migrationSpec';
import { dropSlotAndPublication } from '../cdc/prepare/slot';
import type { ReversibleChange, RightsRefusal, RightsSessions, StreamContext } from './change';
import { unlessDatabaseGone } from './change';

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
    lacks.push(`may not create a publication (no CREATE on ${ident(s.database)})`);
    grants.push(`GRANT CREATE ON DATABASE ${ident(s.database)} TO ${user}`);
  }
  if (lacks.length === 0) return undefined;
  return { message: `source user ${user} ${lacks.join(' and ')}`, fix: `on the source: ${grants.join('; ')}` };
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
