// The event trigger of schemaChangeCapture: eventTrigger (cdc/prepare/eventTrigger.ts): a function
// and two event triggers in each source database, writing every DDL command into the stream so
// the apply follows it at its exact place among the rows. Recorded before it is made; dropped at
// release, with the control schema on the source when it was made for it.
import { withSession } from '../connect/session';
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { pendingEventTriggers } from '../control/sourceEventTriggers';
import { dropEventTrigger, dropEventTriggerStatements, eventTriggersPresent } from '../cdc/prepare/eventTrigger';
import type { ReversibleChange, RightsRefusal, RightsSessions } from './change';
import { unlessDatabaseGone } from './change';

/** CREATE EVENT TRIGGER needs a superuser (Amazon RDS lets its rds_superuser members create them); pgoutput streams logical messages from 14 on. */
const RIGHTS_SQL = `
SELECT r.rolsuper OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_superuser' AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')) AS may,
       pg_catalog.current_setting('server_version_num')::int / 10000 AS major
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`;

async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.source.query<{ may: boolean; major: number }>(RIGHTS_SQL);
  const user = ident(s.spec.source.user);
  const major = rows[0]?.major ?? 0;
  if (major < 14)
    return {
      message: `schemaChangeCapture eventTrigger needs a source of PostgreSQL 14 or later (pgoutput streams logical messages from 14 on); the source is ${major}`,
      fix: "set schemaChangeCapture: catalog (CLI --schema-change-capture catalog): the schema watch and the stream's Relation messages follow the changes",
    };
  if (rows[0]?.may) return undefined;
  return {
    message: `source user ${user} may not create an event trigger in ${ident(s.database)} (schemaChangeCapture eventTrigger): CREATE EVENT TRIGGER needs a superuser`,
    fix: `on the source: ALTER ROLE ${user} SUPERUSER (Amazon RDS: connect as its master user, a member of rds_superuser); where the provider gives neither (Azure Database for PostgreSQL), set schemaChangeCapture: catalog`,
  };
}

export const sourceEventTrigger = {
  name: 'sourceEventTrigger',
  server: 'source',
  describe: 'an event trigger in the source database (a function and two event triggers) writing each DDL into the stream, dropped',
  ledger: `${CONTROL_SCHEMA}.footprint (change sourceEventTrigger: undo.names, undo.schemaCreated)`,
  rights: {
    server: 'source',
    needs: 'superuser (CREATE EVENT TRIGGER; on Amazon RDS, rds_superuser), and a source of PostgreSQL 14 or later',
    refusal,
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.followSchemaChanges && spec.schemaChangeCapture === 'eventTrigger',
  pending: async (ctx, database) => {
    const [record] = await pendingEventTriggers(ctx.store, ctx.spec.migrationName, database);
    if (!record) return [];
    const there = await unlessDatabaseGone(() =>
      withSession(ctx.spec.source, { database, purpose: 'show', readOnly: true }, (client) => eventTriggersPresent(client, record.names)),
    );
    return there ? dropEventTriggerStatements(record.names, record.schemaCreated) : [];
  },
  undo: (ctx, database) => unlessDatabaseGone(() => dropEventTrigger(ctx, database)),
  failure: () => ({
    what: 'could not drop the event trigger on the source',
    left: `its names are in ${CONTROL_SCHEMA}.footprint on the target; a resume or a cancel drops it (or DROP EVENT TRIGGER by hand)`,
  }),
} satisfies ReversibleChange;
