// The reverse stream of a fallback window (docs/fallback.md), one reversible change on the target:
// its slot and publication, made at a cutover with a window, recorded first in
// pgferry.fallback_window, named from the migration's instance. A cutover's release keeps them (the
// window is open); closing the window, and any release after it, drops them, so the target's WAL is
// held no longer than the window.
//
// Its start: once the forward stream has applied everything up to the cutover point, a publication
// on the target database listing the tables the forward publication streamed, and a pgoutput slot
// whose consistent point is that cutover point. Nothing has written to the target's tables since the
// forward drain (the applications are fenced on the old source and not yet moved), so the slot sees
// every write the applications make on the target and none the forward stream applied. Each step is
// idempotent, so a cutover resumed after a crash makes them again without harm.
import type pg from 'pg';
import { readSourceRelations, type SourceRelation } from '../catalog/identityVerdict';
import { displayIdent, ident } from '../connect/quote';
import { withSession } from '../connect/session';
import type { ServerSpec } from '../input/migrationSpec';
import { createPublication, publishesViaRoot, publishTables } from '../cdc/prepare/publication';
import { rootOf } from '../cdc/prepare/publicationPlan';
import { CONTROL_SCHEMA, qualifiedKey, reverseStreamNamesOf, type StreamNames } from '../core/names';
import { setTargetIdentityFull } from './replicaIdentity';
import {
  AZURE_ADMIN_MEMBER_SQL,
  findOrMakeSlot,
  MAY_REPLICATE_SQL,
  noReplication,
  replicationGrant,
  slotAndPublicationUndo,
} from './slotAndPublication';
import type { ReversibleChange, RightsRefusal, RightsSessions } from './change';

/**
 * A publication's tables as `schema\0name` keys, as its server lists them (a partitioned table
 * under its root when published via the root): the forward publication's on the source, the
 * reverse one's on the target.
 */
export async function publishedTables(client: pg.Client, publication: string): Promise<Set<string>> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    'SELECT schemaname::text AS schema, tablename::text AS name FROM pg_catalog.pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  return new Set(rows.map((r) => `${r.schema}\0${r.name}`));
}

/**
 * Pure: what the reverse publication lists on the target: the tables the forward publication
 * streamed, by name, and the partitioned root of each streamed partition (where a root can be
 * listed). Listed by name alone, a partition the new server's DBA creates or attaches in the window
 * (pg_partman's maintenance, a table swapped in under an old partition's name) would be published
 * by nobody, and its rows would never reach the old source; under its listed root, its changes
 * stream under its own name, and the reverse apply either writes them or stops naming it.
 */
export function reverseTables(onTarget: readonly SourceRelation[], streamed: ReadonlySet<string>, viaRoot: boolean): SourceRelation[] {
  const byOid = new Map(onTarget.map((r) => [r.oid, r]));
  const listed = onTarget.filter((r) => streamed.has(`${r.schema}\0${r.name}`));
  if (!viaRoot) return listed;
  const roots = new Map<string, SourceRelation>();
  for (const r of listed) {
    if (r.parent === undefined) continue;
    const root = rootOf(r, byOid);
    if (root.partitioned && !root.unlogged && root.identity.kind === 'primary-key') roots.set(root.oid, root);
  }
  return [...listed, ...[...roots.values()].filter((root) => !listed.includes(root))];
}

/**
 * Creates (or finds) the reverse publication and slot of one database on the target; returns the
 * slot's consistent point as text (where the reverse stream starts, the old source's applied
 * position being behind it). `forwardPublication` must still exist on the source. `madeFull`: the
 * tables pgferry gave REPLICA IDENTITY FULL on the source (`schema\0name` keys, replicaIdentity.ts):
 * a copy of one the target holds without a usable identity (a table followed while streaming, made
 * on the target before its FULL) is given FULL there before it is published, or the application's
 * UPDATE and DELETE of it on the new server would fail; that ledger row sets it back.
 */
export async function openReverseStream(
  source: ServerSpec,
  target: ServerSpec,
  database: string,
  forwardPublication: string,
  names: StreamNames,
  madeFull: ReadonlySet<string>,
): Promise<string> {
  const tables = await withSession(source, { database, purpose: 'cutover', readOnly: true }, (client) =>
    publishedTables(client, forwardPublication),
  );
  return withSession(target, { database, purpose: 'cutover', writable: true }, async (client) => {
    await createPublication(client, names.publication);
    const relations = reverseTables(await readSourceRelations(client, names.publication), tables, await publishesViaRoot(client));
    await setTargetIdentityFull(
      client,
      relations.filter((r) => r.identity.kind === 'none' && madeFull.has(qualifiedKey(r.schema, r.name))),
    );
    await publishTables(client, names.publication, relations, { seconds: 30 });
    return findOrMakeSlot(client, names.slot);
  });
}

/** What creating the reverse slot and publication asks of the target user, read on the target's maintenance database. */
const RIGHTS_SQL = `
SELECT ${MAY_REPLICATE_SQL} AS replicates, ${AZURE_ADMIN_MEMBER_SQL} AS azure_admin,
       NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)
         OR has_database_privilege(current_user, $1, 'CREATE') AS creates
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`;

/**
 * The target user must replicate and create a publication in the target database (which it
 * creates itself when it does not exist yet, and so may create in).
 */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.target.query<{ replicates: boolean; azure_admin: boolean; creates: boolean }>(RIGHTS_SQL, [s.database]);
  const user = ident(s.spec.target.user);
  const lacks: string[] = [];
  const grants: string[] = [];
  if (!rows[0]?.replicates) {
    lacks.push(`may not create the reverse replication slot (${noReplication(rows[0]?.azure_admin === true)})`);
    grants.push(replicationGrant(s.spec.target.user));
  }
  if (!rows[0]?.creates) {
    lacks.push(`may not create the reverse publication (no CREATE on ${displayIdent(s.database)})`);
    grants.push(`GRANT CREATE ON DATABASE ${ident(s.database)} TO ${user}`);
  }
  if (lacks.length === 0) return undefined;
  return {
    message: `target user ${displayIdent(s.spec.target.user)} ${lacks.join(' and ')} (fallbackWindow)`,
    fix: `on the target: ${grants.join('; ')}`,
  };
}

export const reverseStream = {
  name: 'reverseStream',
  server: 'target',
  describe: 'reverse replication slot and publication on the target database (fallback window), dropped when the window closes',
  ledger: `${CONTROL_SCHEMA}.fallback_window; their names derive from migration.instance`,
  rights: {
    server: 'target',
    needs: 'REPLICATION (or superuser; membership in azure_pg_admin does not give it), and CREATE on the database for the publication',
    refusal,
  },
  // a window asked only with the cutover request is checked when the cutover opens it
  madeFor: (spec) => spec.mode === 'Online' && spec.fallbackWindow !== undefined,
  staysAfterCutover: true,
  ...slotAndPublicationUndo('target', reverseStreamNamesOf),
  failure: (ctx, database) => {
    const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    return { what: `could not drop reverse slot ${n.slot} / publication ${n.publication} (target)`, left: 'drop them by hand' };
  },
} satisfies ReversibleChange;
