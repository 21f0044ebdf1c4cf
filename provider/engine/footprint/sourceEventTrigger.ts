// The event trigger of schemaChangeCapture: eventTrigger: a function and two event triggers in each
// source database, writing every DDL command into the stream so the apply follows it at its exact
// place among the rows (what the function writes: cdc/prepare/eventTrigger.ts). This module owns
// the change: its ledger rows (the footprint ledger, change sourceEventTrigger, object '' for the
// source database itself: the names made, and whether the control schema was created for them on
// the source), written before anything is created; the install; and the drop at release, with the
// control schema when it was made for it, so a release drops exactly what was made, after a crash too.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { displayIdent, ident, qualified } from '../connect/quote';
import { CONTROL_SCHEMA, MAKE_CONTROL_SCHEMA_SQL, eventTriggerNamesOf, type EventTriggerNames } from '../core/names';
import type { CatalogConnection } from '../control/connection';
import { eventTriggerFunctionSql } from '../cdc/prepare/eventTrigger';
import type { FootprintContext, ReversibleChange, RightsRefusal, RightsSessions } from './change';
import { unlessDatabaseGone } from './change';
import { markUndone, pendingChanges, recordChange } from './ledger';
import { dropControlSchemaIfMade } from './controlSchema';

const CHANGE = 'sourceEventTrigger';
/** The event trigger belongs to the database itself. */
const DATABASE = '';

/** What a release drops: the names made, and whether the schema they live in was made for them. */
interface EventTriggerRecord {
  readonly names: EventTriggerNames;
  /** The control schema did not exist in the source database before: dropped with them when empty. */
  readonly schemaCreated: boolean;
}

/**
 * Records the event trigger about to be created. A record still pending keeps what it says: it was
 * read before an earlier attempt created the schema, which may be there now. Returns the record in force.
 */
async function recordEventTrigger(
  store: CatalogConnection,
  migration: string,
  database: string,
  record: EventTriggerRecord,
): Promise<EventTriggerRecord> {
  return (await recordChange<EventTriggerRecord>(store, migration, database, CHANGE, DATABASE, record)).undo;
}

/** The event triggers still to drop in a database (none, or the one record). */
async function pendingEventTriggers(store: CatalogConnection, migration: string, database: string): Promise<EventTriggerRecord[]> {
  return (await pendingChanges<EventTriggerRecord>(store, migration, database, CHANGE)).map((e) => e.undo);
}

/** Dropped on the source: nothing is left to undo. */
async function clearEventTrigger(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await markUndone(store, migration, database, CHANGE, DATABASE);
}

/** DDL on the source waits this long for a lock at most (creating a function and an event trigger locks no table). */
const SETTINGS = { lock_timeout: '2s' };

/**
 * Records, then creates, the event trigger in one source database (after its copy, when its stream
 * starts: made before, pg_dump would copy it). A resumed runner finds it there and changes nothing.
 */
export async function installEventTrigger(ctx: FootprintContext, database: string): Promise<EventTriggerNames> {
  const names = eventTriggerNamesOf(ctx.spec.migrationName, database, ctx.instance);
  await withSession(ctx.spec.source, { database, purpose: 'event trigger', writable: true, settings: SETTINGS }, async (client) => {
    const schemaCreated = !(await controlSchemaExists(client));
    await recordEventTrigger(ctx.store, ctx.spec.migrationName, database, { names, schemaCreated });
    await createEventTrigger(client, names);
  });
  return names;
}

/**
 * Drops what installEventTrigger made in one database, as recorded; the control schema only when it
 * was made for it and nothing else is in it (another migration's event trigger may be). Idempotent.
 */
async function dropEventTrigger(ctx: FootprintContext, database: string): Promise<void> {
  const [record] = await pendingEventTriggers(ctx.store, ctx.spec.migrationName, database);
  if (!record) return;
  await withSession(ctx.spec.source, { database, purpose: 'event trigger', writable: true, settings: SETTINGS }, async (client) => {
    for (const statement of dropEventTriggerStatements(record.names, false)) await client.query(statement);
    // the schema when pgferry made it and nothing else is in it (another migration's event trigger may be)
    await dropControlSchemaIfMade(client, record.schemaCreated);
  });
  await clearEventTrigger(ctx.store, ctx.spec.migrationName, database);
}

/** Whether the control schema exists in the source database (created by the first install, dropped by its release). */
async function controlSchemaExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [CONTROL_SCHEMA]);
  return rows.length > 0;
}

/** Creates the function and the two event triggers (each only where missing); idempotent. */
async function createEventTrigger(client: pg.Client, n: EventTriggerNames): Promise<void> {
  await client.query(MAKE_CONTROL_SCHEMA_SQL);
  await client.query(eventTriggerFunctionSql(n));
  // only pgferry's own session may call it directly: an event trigger calls it whoever runs the DDL
  await client.query(`REVOKE ALL ON FUNCTION ${qualified(CONTROL_SCHEMA, n.function)}() FROM PUBLIC`);
  const { rows } = await client.query<{ evtname: string }>('SELECT evtname FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1)', [
    [n.ddlEnd, n.sqlDrop],
  ]);
  const have = new Set(rows.map((r) => r.evtname));
  const fn = qualified(CONTROL_SCHEMA, n.function);
  if (!have.has(n.ddlEnd)) await client.query(`CREATE EVENT TRIGGER ${ident(n.ddlEnd)} ON ddl_command_end EXECUTE FUNCTION ${fn}()`);
  if (!have.has(n.sqlDrop)) await client.query(`CREATE EVENT TRIGGER ${ident(n.sqlDrop)} ON sql_drop EXECUTE FUNCTION ${fn}()`);
}

/** The statements that drop what createEventTrigger made (the schema too when `schema`: it was made for it). */
function dropEventTriggerStatements(n: EventTriggerNames, schema: boolean): string[] {
  return [
    `DROP EVENT TRIGGER IF EXISTS ${ident(n.ddlEnd)}`,
    `DROP EVENT TRIGGER IF EXISTS ${ident(n.sqlDrop)}`,
    `DROP FUNCTION IF EXISTS ${qualified(CONTROL_SCHEMA, n.function)}()`,
    ...(schema ? [`DROP SCHEMA IF EXISTS ${ident(CONTROL_SCHEMA)}`] : []),
  ];
}

/** Whether the event triggers are there (what a release has left to drop). */
async function eventTriggersPresent(client: pg.Client, n: EventTriggerNames): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1)
     UNION ALL SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = $2 AND p.proname = $3`,
    [[n.ddlEnd, n.sqlDrop], CONTROL_SCHEMA, n.function],
  );
  return rows.length > 0;
}

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
    message: `source user ${displayIdent(s.spec.source.user)} may not create an event trigger in ${displayIdent(s.database)} (schemaChangeCapture eventTrigger): CREATE EVENT TRIGGER needs a superuser`,
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
