// The reverse stream's applied position on the old source (docs/fallback.md): a replication origin
// there, or a row of the progress table where origins are not permitted, committed with the rows
// it covers by the same apply engine as the forward stream (cdc/apply/appliedPosition.ts). Named
// from the migration's instance; kept by a cutover's release, dropped when the window closes.
import { ident, literal } from '../connect/quote';
import { withSession } from '../connect/session';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import { PROGRESS_TABLE, reverseStreamNamesOf } from '../core/names';
import { dropAppliedPosition, dropOrigin, openAppliedPosition } from '../cdc/apply/appliedPosition';
import type { ReversibleChange, RightsRefusal, RightsSessions, StreamContext } from './change';
import { unlessDatabaseGone } from './change';

/** The reverse origin and progress row on the old source that are still there. */
async function pending(ctx: StreamContext, database: string): Promise<string[]> {
  const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
  const origin = await withSession(ctx.spec.source, { purpose: 'show', readOnly: true }, async (client) => {
    try {
      const { rows } = await client.query<{ oid: number | null }>('SELECT pg_replication_origin_oid($1) AS oid', [n.origin]);
      return rows[0]?.oid !== null && rows[0]?.oid !== undefined;
    } catch (error) {
      if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) throw error;
      return false;
    }
  });
  const table = `${ident(PROGRESS_TABLE.schema)}.${ident(PROGRESS_TABLE.table)}`;
  const row = await unlessDatabaseGone(() =>
    withSession(ctx.spec.source, { database, purpose: 'show', readOnly: true }, async (client) => {
      const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table]);
      if (!rows[0]?.ok) return false;
      const found = await client.query(`SELECT 1 FROM ${table} WHERE migration = $1 AND database = $2`, [ctx.spec.migrationName, database]);
      return found.rows.length > 0;
    }),
  );
  return [
    ...(origin ? [`SELECT pg_replication_origin_drop(${literal(n.origin)})`] : []),
    ...(row ? [`DELETE FROM ${table} WHERE migration = ${literal(ctx.spec.migrationName)} AND database = ${literal(database)}`] : []),
  ];
}

/**
 * Where origins are not permitted (a user that is not superuser) the position is a row of a table
 * in the pgferry schema of the source database, which the source user must be able to create.
 */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.source.query<{ ok: boolean }>(
    `SELECT r.rolsuper OR has_database_privilege(current_user, current_database(), 'CREATE')
            OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1 AND has_schema_privilege(current_user, oid, 'CREATE')) AS ok
       FROM pg_roles r WHERE r.rolname = current_user`,
    [PROGRESS_TABLE.schema],
  );
  if (rows[0]?.ok) return undefined;
  const user = ident(s.spec.source.user);
  return {
    message: `source user ${user} may not record the reverse stream's position in ${ident(s.database)} (not superuser, no CREATE on the database) (fallbackWindow)`,
    fix: `on the source: GRANT CREATE ON DATABASE ${ident(s.database)} TO ${user}`,
  };
}

export const reversePosition = {
  name: 'reversePosition',
  server: 'source',
  describe: 'replication origin (or progress row) on the old source recording the applied target position (fallback window), dropped',
  ledger: 'its name, derived from migration.instance; the progress row is keyed by migration and database',
  rights: {
    server: 'source',
    needs: 'replication origins (superuser); else CREATE on the source database for a table in its pgferry schema',
    refusal,
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.fallbackWindow !== undefined,
  staysAfterCutover: true,
  record: (ctx: StreamContext, database: string) => reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance).origin,
  apply: openAppliedPosition,
  pending,
  undo: async (ctx: StreamContext, database: string) => {
    const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    await withSession(ctx.spec.source, { purpose: 'cleanup', writable: true }, (client) => dropOrigin(client, n.origin));
    await unlessDatabaseGone(() =>
      withSession(ctx.spec.source, { database, purpose: 'cleanup', writable: true }, (client) =>
        dropAppliedPosition(client, { origin: n.origin, migration: ctx.spec.migrationName, database }),
      ),
    );
  },
  failure: (ctx, database) => ({
    what: `could not drop origin ${reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance).origin} (old source)`,
    left: 'drop it by hand',
  }),
} satisfies ReversibleChange;
