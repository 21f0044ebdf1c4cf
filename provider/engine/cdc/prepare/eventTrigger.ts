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
import { literal, qualified } from '../../connect/quote';
import { CONTROL_SCHEMA, type EventTriggerNames } from '../../core/names';

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
export function eventTriggerFunctionSql(n: EventTriggerNames): string {
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
