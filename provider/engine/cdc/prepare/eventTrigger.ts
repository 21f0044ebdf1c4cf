// The event trigger of schemaChangeCapture: eventTrigger, in each migrated source database: one
// function (in the control schema's name on the source, which no comparison reads) and two event
// triggers calling it, on ddl_command_end and sql_drop. For each command the function writes a
// transactional logical message into the stream (pg_logical_emit_message), so the change reaches
// the apply exactly where it happened among the rows: before every row its transaction writes
// after it, after every row written before it (cdc/apply/ddlFollow.ts follows it there). A command
// on a table, an index or a table constraint carries the table's indexes and constraints as the
// server's own deparsers print them at that moment (tablePartsSql); a drop carries the object's
// identity. The function never makes the user's DDL fail: every error is caught and said as a
// warning, the schema watch then finds the change at its next look; it runs with an empty-safe
// search_path (pg_catalog, pg_temp) and names everything schema-qualified.
import type pg from 'pg';
import { ident, literal, qualified } from '../../connect/quote';
import { withSession } from '../../connect/session';
import { DEPENDENT_OBJECTS_STILL_EXIST, sqlState } from '../../connect/sqlstate';
import { CONTROL_SCHEMA, eventTriggerNamesOf, type EventTriggerNames } from '../../core/names';
import { clearEventTrigger, pendingEventTriggers, recordEventTrigger } from '../../control/sourceEventTriggers';
import type { RestoreContext } from './identityFull';

/** What installing and dropping the event trigger needs: the migration's context and the instance its names derive from. */
export type EventTriggerContext = RestoreContext & { readonly instance: string | undefined };

/** DDL on the source waits this long for a lock at most (creating a function and an event trigger locks no table). */
const SETTINGS = { lock_timeout: '2s' };

/**
 * A table's indexes and constraints now, as one jsonb: `{schema, name, oid, parts: [{kind,
 * name, oid, definition, foreign key}]}` (NULL: not a table). `rel` is the SQL of the table's OID. The same
 * text is read on the source (inside the event trigger's function) and on the target (by the
 * apply), so both sides are compared alike: what a partition inherits from its parent (an index
 * attached to the parent's, a constraint cloned from it or inherited) comes with the parent and is
 * left out on both.
 */
export function tablePartsSql(rel: string): string {
  return `SELECT pg_catalog.jsonb_build_object('schema', n.nspname, 'name', c.relname, 'oid', c.oid::pg_catalog.text, 'parts', coalesce((
    SELECT pg_catalog.jsonb_agg(p.part ORDER BY p.part->>'kind', p.part->>'name') FROM (
      SELECT pg_catalog.jsonb_build_object('kind', 'index', 'name', i.relname, 'oid', i.oid::pg_catalog.text, 'definition', pg_catalog.pg_get_indexdef(i.oid)) AS part
        FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
       WHERE x.indrelid = c.oid AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.oid)
      UNION ALL
      SELECT pg_catalog.jsonb_build_object('kind', 'constraint', 'name', k.conname, 'oid', k.oid::pg_catalog.text, 'definition', pg_catalog.pg_get_constraintdef(k.oid),
                                           'foreign key', k.contype = 'f')
        FROM pg_catalog.pg_constraint k
       WHERE k.conrelid = c.oid AND k.contype IN ('c', 'f', 'p', 'u', 'x') AND k.conparentid = 0 AND k.conislocal) p), '[]'::pg_catalog.jsonb))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = ${rel} AND c.relkind IN ('r', 'p')`;
}

/** Objects of these schemas are never told: pgferry's own, the system's, temporary ones. */
const SKIPPED_SCHEMA = (column: string) =>
  `${column} IS NOT NULL AND (${column} IN (${literal(CONTROL_SCHEMA)}, 'pg_catalog', 'information_schema') OR ${column} LIKE 'pg\\_temp%' OR ${column} LIKE 'pg\\_toast%')`;

/** The function's definition (CREATE OR REPLACE: running it again changes nothing). */
function functionSql(n: EventTriggerNames): string {
  return `CREATE OR REPLACE FUNCTION ${qualified(CONTROL_SCHEMA, n.function)}() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgferry$
DECLARE
  r record;
  rel oid;
BEGIN
  IF TG_EVENT = 'ddl_command_end' THEN
    FOR r IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
      CONTINUE WHEN r.in_extension OR (${SKIPPED_SCHEMA('r.schema_name')});
      rel := CASE r.object_type
               WHEN 'table' THEN r.objid
               WHEN 'index' THEN (SELECT x.indrelid FROM pg_catalog.pg_index x WHERE x.indexrelid = r.objid)
               WHEN 'table constraint' THEN (SELECT k.conrelid FROM pg_catalog.pg_constraint k WHERE k.oid = r.objid)
             END;
      PERFORM pg_catalog.pg_logical_emit_message(true, ${literal(n.prefix)}, pg_catalog.jsonb_build_object(
        'event', 'end', 'tag', r.command_tag, 'type', r.object_type, 'identity', r.object_identity,
        'table', CASE WHEN rel IS NOT NULL AND rel <> 0 THEN (${tablePartsSql('rel')}) END)::text);
    END LOOP;
  ELSE
    FOR r IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects() WHERE original LOOP
      CONTINUE WHEN r.is_temporary OR (${SKIPPED_SCHEMA('r.schema_name')});
      PERFORM pg_catalog.pg_logical_emit_message(true, ${literal(n.prefix)}, pg_catalog.jsonb_build_object(
        'event', 'drop', 'type', r.object_type, 'identity', r.object_identity, 'schema', r.schema_name, 'name', r.object_name, 'oid', r.objid::pg_catalog.text,
        'names', pg_catalog.to_jsonb(r.address_names))::text);
    END LOOP;
  END IF;
EXCEPTION WHEN OTHERS THEN
  -- never the user's DDL's failure: the schema watch finds the change at its next look
  RAISE WARNING 'pgferry could not write this schema change into its migration''s stream: %', SQLERRM;
END
$pgferry$`;
}

/**
 * Records, then creates, the event trigger in one source database (after its copy, when its stream
 * starts: made before, pg_dump would copy it). A resumed runner finds it there and changes nothing.
 */
export async function installEventTrigger(ctx: EventTriggerContext, database: string): Promise<EventTriggerNames> {
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
export async function dropEventTrigger(ctx: EventTriggerContext, database: string): Promise<void> {
  const [record] = await pendingEventTriggers(ctx.store, ctx.spec.migrationName, database);
  if (!record) return;
  await withSession(ctx.spec.source, { database, purpose: 'event trigger', writable: true, settings: SETTINGS }, async (client) => {
    for (const statement of dropEventTriggerStatements(record.names, record.schemaCreated)) {
      try {
        await client.query(statement);
      } catch (error) {
        if (sqlState(error) !== DEPENDENT_OBJECTS_STILL_EXIST) throw error; // the schema holds something else: it stays
      }
    }
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
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(CONTROL_SCHEMA)}`);
  await client.query(functionSql(n));
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
export function dropEventTriggerStatements(n: EventTriggerNames, schema: boolean): string[] {
  return [
    `DROP EVENT TRIGGER IF EXISTS ${ident(n.ddlEnd)}`,
    `DROP EVENT TRIGGER IF EXISTS ${ident(n.sqlDrop)}`,
    `DROP FUNCTION IF EXISTS ${qualified(CONTROL_SCHEMA, n.function)}()`,
    ...(schema ? [`DROP SCHEMA IF EXISTS ${ident(CONTROL_SCHEMA)}`] : []),
  ];
}

/** Whether the event triggers are there (what a release has left to drop). */
export async function eventTriggersPresent(client: pg.Client, n: EventTriggerNames): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1)
     UNION ALL SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = $2 AND p.proname = $3`,
    [[n.ddlEnd, n.sqlDrop], CONTROL_SCHEMA, n.function],
  );
  return rows.length > 0;
}
