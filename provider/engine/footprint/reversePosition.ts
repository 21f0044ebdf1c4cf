// The reverse stream's applied position on the old source (docs/fallback.md): a replication origin
// there, or a row of the progress table where origins are not permitted, committed with the rows
// it covers by the same apply engine as the forward stream (cdc/apply/positionCommit.ts). Named
// from the migration's instance; kept by a cutover's release, dropped when the window closes.
import { ident } from '../connect/quote';
import { PROGRESS_TABLE, reverseStreamNamesOf } from '../core/names';
import { positionUndo } from './appliedPosition';
import type { ReversibleChange, RightsRefusal, RightsSessions } from './change';

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
  ...positionUndo('source', reverseStreamNamesOf),
  failure: (ctx, database) => ({
    what: `could not drop origin ${reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance).origin} (old source)`,
    left: 'drop it by hand',
  }),
} satisfies ReversibleChange;
