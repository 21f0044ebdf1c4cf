// Objects a non-superuser target user cannot create (event triggers, untrusted languages, C
// functions outside extensions) and everything that depends on them, found through pg_depend,
// each with a definition an administrator can run to recreate it.
import type pg from 'pg';

/** Why the target user cannot create an object itself; the validation code of the same name. */
type UnsupportedReason = 'EVENT_TRIGGER' | 'UNTRUSTED_LANGUAGE' | 'C_FUNCTION';

export interface UnsupportedObject {
  /** pg_depend's classid and objid: the TOC entry of the object carries the same pair. */
  readonly catalogOid: string;
  readonly objectOid: string;
  /** pg_identify_object's type: `event trigger`, `function`, `trigger`, `view` ... */
  readonly kind: string;
  /** pg_describe_object with the schema always named: `trigger t_perl on table public.t`. */
  readonly description: string;
  /** Set for the objects the target user cannot create; unset for those that depend on one. */
  readonly reason?: UnsupportedReason;
  /** The object of the first kind this one is left out for (itself for those). */
  readonly needs: string;
  /** The extension's name, when the object is an extension. */
  readonly extension?: string;
  /** A table: its rows and definition cannot be left behind. */
  readonly holdsData: boolean;
  /** SQL that recreates it, from the catalog's own deparsers; absent where there is none. */
  readonly definition?: string;
}

/** An object left behind, as the schema copy lists it: TOC entries that went with it (ACL, COMMENT ...). */
export interface LeftBehindObject extends UnsupportedObject {
  readonly attached?: readonly string[];
}

/**
 * Roots: event triggers, untrusted languages (the extension that creates one, when one does) and
 * C functions, none of them created by an extension. Closure: whatever depends on a root through
 * pg_depend, with parts folded into what pg_dump dumps them with (a view's rule into the view, a
 * column default or CHECK into its table, a row or array type into its relation or element type).
 * Extension members are left out with their extension, so they are not listed.
 */
const UNSUPPORTED_OBJECTS_SQL = `
WITH RECURSIVE
roots AS (
  SELECT 'pg_event_trigger'::regclass::oid AS classid, e.oid AS objid, 'EVENT_TRIGGER' AS reason
    FROM pg_event_trigger e
   WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype IN ('e', 'i'))
  UNION ALL
  SELECT coalesce(x.refclassid, 'pg_language'::regclass::oid), coalesce(x.refobjid, l.oid), 'UNTRUSTED_LANGUAGE'
    FROM pg_language l
    LEFT JOIN pg_depend x ON x.classid = 'pg_language'::regclass AND x.objid = l.oid
                         AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e'
   WHERE l.lanispl AND NOT l.lanpltrusted
  UNION ALL
  SELECT 'pg_proc'::regclass::oid, p.oid, 'C_FUNCTION'
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
),
closure(classid, objid, root_classid, root_objid) AS (
  SELECT classid, objid, classid, objid FROM roots
  UNION
  SELECT o.classid, o.objid, c.root_classid, c.root_objid
    FROM closure c
    JOIN pg_depend d ON d.refclassid = c.classid AND d.refobjid = c.objid AND d.deptype IN ('n', 'a', 'i', 'e', 'x')
    CROSS JOIN LATERAL (
      SELECT w.classid, w.objid FROM (
        SELECT 1 AS pick, 'pg_class'::regclass::oid AS classid, r.ev_class AS objid
          FROM pg_rewrite r WHERE d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid AND r.rulename = '_RETURN'
        UNION ALL
        SELECT 1, 'pg_class'::regclass::oid, a.adrelid
          FROM pg_attrdef a WHERE d.classid = 'pg_attrdef'::regclass AND a.oid = d.objid
        UNION ALL
        SELECT 1, CASE WHEN k.conrelid <> 0 THEN 'pg_class'::regclass::oid ELSE 'pg_type'::regclass::oid END,
               CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END
          FROM pg_constraint k WHERE d.classid = 'pg_constraint'::regclass AND k.oid = d.objid AND k.contype = 'c'
        UNION ALL
        SELECT 1, 'pg_class'::regclass::oid, t.typrelid
          FROM pg_type t JOIN pg_class k ON k.oid = t.typrelid
         WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid AND k.relkind <> 'c'
        UNION ALL
        SELECT 1, 'pg_type'::regclass::oid, k.reltype
          FROM pg_class k WHERE d.classid = 'pg_class'::regclass AND k.oid = d.objid AND k.relkind = 'c'
        UNION ALL
        SELECT 1, 'pg_type'::regclass::oid, e.oid
          FROM pg_type e WHERE d.classid = 'pg_type'::regclass AND e.typarray = d.objid
        UNION ALL
        SELECT 2, d.classid, d.objid
      ) w ORDER BY w.pick LIMIT 1
    ) o
),
objects AS (
  SELECT DISTINCT ON (c.classid, c.objid) c.classid, c.objid, c.root_classid, c.root_objid, r.reason
    FROM closure c
    LEFT JOIN roots r ON r.classid = c.classid AND r.objid = c.objid
   ORDER BY c.classid, c.objid, r.reason IS NULL, c.root_classid, c.root_objid
)
SELECT o.classid::text AS catalog_oid, o.objid::text AS object_oid, o.reason,
       i.type AS kind,
       pg_describe_object(o.classid, o.objid, 0) AS description,
       pg_describe_object(o.root_classid, o.root_objid, 0) AS needs,
       (SELECT x.extname FROM pg_extension x WHERE o.classid = 'pg_extension'::regclass AND x.oid = o.objid) AS extension,
       (o.classid = 'pg_class'::regclass
        AND EXISTS (SELECT 1 FROM pg_class k WHERE k.oid = o.objid AND k.relkind IN ('r', 'p', 'f'))) AS holds_data,
       CASE o.classid
         WHEN 'pg_proc'::regclass THEN
           (SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.oid = o.objid AND p.prokind <> 'a')
         WHEN 'pg_trigger'::regclass THEN pg_get_triggerdef(o.objid) || ';'
         WHEN 'pg_rewrite'::regclass THEN pg_get_ruledef(o.objid)
         WHEN 'pg_event_trigger'::regclass THEN
           (SELECT format('CREATE EVENT TRIGGER %I ON %s%s EXECUTE FUNCTION %I.%I();%s', e.evtname, e.evtevent,
                          CASE WHEN e.evttags IS NULL THEN ''
                               ELSE format(' WHEN TAG IN (%s)',
                                           (SELECT string_agg(quote_literal(t), ', ') FROM unnest(e.evttags) t)) END,
                          fn.nspname, f.proname,
                          CASE e.evtenabled WHEN 'D' THEN format(E'\\nALTER EVENT TRIGGER %I DISABLE;', e.evtname)
                                            WHEN 'R' THEN format(E'\\nALTER EVENT TRIGGER %I ENABLE REPLICA;', e.evtname)
                                            WHEN 'A' THEN format(E'\\nALTER EVENT TRIGGER %I ENABLE ALWAYS;', e.evtname)
                                            ELSE '' END)
              FROM pg_event_trigger e
              JOIN pg_proc f ON f.oid = e.evtfoid
              JOIN pg_namespace fn ON fn.oid = f.pronamespace
             WHERE e.oid = o.objid)
         WHEN 'pg_extension'::regclass THEN
           (SELECT format('CREATE EXTENSION %I WITH SCHEMA %I;', x.extname, n.nspname)
              FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.oid = o.objid)
         WHEN 'pg_language'::regclass THEN
           (SELECT format('CREATE %sLANGUAGE %I HANDLER %s%s%s;', CASE WHEN l.lanpltrusted THEN 'TRUSTED ' ELSE '' END,
                          l.lanname, l.lanplcallfoid::regproc,
                          CASE WHEN l.laninline <> 0 THEN ' INLINE ' || l.laninline::regproc ELSE '' END,
                          CASE WHEN l.lanvalidator <> 0 THEN ' VALIDATOR ' || l.lanvalidator::regproc ELSE '' END)
              FROM pg_language l WHERE l.oid = o.objid)
         WHEN 'pg_class'::regclass THEN
           (SELECT CASE k.relkind
                     WHEN 'v' THEN format(E'CREATE VIEW %s AS\\n%s', k.oid::regclass, pg_get_viewdef(k.oid))
                     WHEN 'm' THEN format(E'CREATE MATERIALIZED VIEW %s AS\\n%s', k.oid::regclass, pg_get_viewdef(k.oid))
                     WHEN 'i' THEN pg_get_indexdef(k.oid) || ';'
                   END
              FROM pg_class k WHERE k.oid = o.objid)
         WHEN 'pg_constraint'::regclass THEN
           (SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
              FROM pg_constraint k WHERE k.oid = o.objid AND k.conrelid <> 0)
       END AS definition
  FROM objects o
  CROSS JOIN LATERAL pg_identify_object(o.classid, o.objid, 0) i
 WHERE o.reason IS NOT NULL
    OR NOT EXISTS (SELECT 1 FROM pg_depend m WHERE m.classid = o.classid AND m.objid = o.objid AND m.deptype = 'e')
 ORDER BY o.reason IS NULL, i.type, 5`;

interface UnsupportedRow {
  catalog_oid: string;
  object_oid: string;
  reason: UnsupportedReason | null;
  kind: string;
  description: string;
  needs: string;
  extension: string | null;
  holds_data: boolean;
  definition: string | null;
}

/**
 * Reads the unsupported objects of the connected database (inside the caller's snapshot when it
 * holds one). Sessions pin search_path to pg_catalog only, so every deparsed name carries its schema.
 */
export async function readUnsupportedObjects(client: pg.Client): Promise<UnsupportedObject[]> {
  const { rows } = await client.query<UnsupportedRow>(UNSUPPORTED_OBJECTS_SQL);
  return rows.map((r) => ({
    catalogOid: r.catalog_oid,
    objectOid: r.object_oid,
    kind: r.kind,
    description: r.description,
    ...(r.reason === null ? {} : { reason: r.reason }),
    needs: r.needs,
    ...(r.extension === null ? {} : { extension: r.extension }),
    holdsData: r.holds_data,
    ...(r.definition === null ? {} : { definition: r.definition.trimEnd() }),
  }));
}
