// The reverse stream's applied position on the old source (docs/fallback.md): a replication origin
// there, or a row of the progress table where origins are not permitted, committed with the rows
// it covers by the same apply engine as the forward stream (cdc/apply/positionCommit.ts). Named
// from the migration's instance; kept by a cutover's release, dropped when the window closes.
import { displayIdent, ident } from '../connect/quote';
import { PROGRESS_TABLE, reverseStreamNamesOf } from '../core/names';
import { positionUndo } from './appliedPosition';
import type { ReversibleChange, RightsRefusal, RightsSessions } from './change';

/**
 * Where origins are not permitted (a user that is not superuser) the position is a row of a table
 * in the pgferry schema of the source database, which the source user must be able to create: in
 * that schema when it is there already (whoever made it), else the schema itself in the database.
 */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.source.query<{ superuser: boolean; schema_owner: string | null; in_schema: boolean; in_database: boolean }>(
    `SELECT r.rolsuper AS superuser, o.rolname AS schema_owner,
            n.oid IS NOT NULL AND has_schema_privilege(current_user, n.oid, 'USAGE') AND has_schema_privilege(current_user, n.oid, 'CREATE') AS in_schema,
            has_database_privilege(current_user, current_database(), 'CREATE') AS in_database
       FROM pg_catalog.pg_roles r
       LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = $1
       LEFT JOIN pg_catalog.pg_roles o ON o.oid = n.nspowner
      WHERE r.rolname = current_user`,
    [PROGRESS_TABLE.schema],
  );
  const row = rows[0];
  if (!row || row.superuser) return undefined;
  const user = ident(s.spec.source.user);
  const schema = ident(PROGRESS_TABLE.schema);
  if (row.schema_owner !== null) {
    if (row.in_schema) return undefined;
    return {
      message: `source user ${displayIdent(s.spec.source.user)} may not record the reverse stream's position in ${displayIdent(s.database)} (not superuser, no USAGE and CREATE on its schema ${displayIdent(PROGRESS_TABLE.schema)}, which belongs to ${displayIdent(row.schema_owner)}) (fallbackWindow)`,
      fix: `on the source, in ${displayIdent(s.database)}, as ${displayIdent(row.schema_owner)}: GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${user}`,
    };
  }
  if (row.in_database) return undefined;
  return {
    message: `source user ${displayIdent(s.spec.source.user)} may not record the reverse stream's position in ${displayIdent(s.database)} (not superuser, no CREATE on the database for its schema ${displayIdent(PROGRESS_TABLE.schema)}) (fallbackWindow)`,
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
    needs:
      'replication origins (superuser); else a table in the pgferry schema of the source database: USAGE and CREATE on that schema where it exists, else CREATE on the database',
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
