// Catalog queries the filters read, each runnable as-is in psql.
import { NOT_EXTENSION_MEMBER, USER_SCHEMA } from '../catalog/queries';

/**
 * Relations a filter judges: tables, partitioned tables, views, materialized views, foreign tables
 * and sequences, each with its partition root (a partition follows it) and, for a sequence owned by
 * a column (serial: 'a', identity: 'i'), the owning table (the sequence follows it).
 */
export const FILTER_RELATIONS = `
WITH RECURSIVE rel AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.relispartition
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${USER_SCHEMA} AND ${NOT_EXTENSION_MEMBER}
),
roots(oid, root) AS (
  SELECT oid, oid FROM rel WHERE NOT relispartition
  UNION ALL
  SELECT i.inhrelid, r.root
    FROM roots r
    JOIN pg_inherits i ON i.inhparent = r.oid
    JOIN pg_class k ON k.oid = i.inhrelid AND k.relispartition
)
SELECT r.oid::int8::text AS oid, r.schema, r.name, r.relkind::text AS kind,
       rn.nspname AS root_schema, rc.relname AS root_name,
       (SELECT d.refobjid::int8::text FROM pg_depend d
         WHERE r.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = r.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS owner_oid
  FROM rel r
  LEFT JOIN roots ro ON ro.oid = r.oid
  LEFT JOIN pg_class rc ON rc.oid = ro.root
  LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 ORDER BY r.schema, r.name`;

/** User schemas, and whether an extension lives in each (such a schema is created with its extension). */
export const FILTER_SCHEMAS = `
SELECT n.oid::int8::text AS oid, n.nspname AS name,
       EXISTS (SELECT 1 FROM pg_extension x WHERE x.extnamespace = n.oid) AS holds_extension
  FROM pg_namespace n
 WHERE ${USER_SCHEMA}
 ORDER BY n.nspname`;

/**
 * What moves and depends on what is left out ($1 relation OIDs, $2 schema OIDs): pg_depend's normal
 * dependencies on a left-out relation or on any member of a left-out schema, each dependent folded
 * into the relation it belongs to (a view's rule, a column default, a constraint, a trigger, a
 * policy, an index), minus what is left out itself. A foreign key names its table and the table it
 * references.
 */
export const FILTER_DEPENDENTS = `
WITH gone_schema AS (SELECT unnest($2::oid[]) AS oid),
gone(classid, objid) AS (
  SELECT 'pg_class'::regclass::oid, unnest($1::oid[])
  UNION
  SELECT d.classid, d.objid FROM pg_depend d JOIN gone_schema s ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = s.oid
),
dependent AS (
  SELECT DISTINCT d.classid, d.objid, d.refclassid, d.refobjid,
         CASE d.classid
           WHEN 'pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_rewrite WHERE oid = d.objid)
           WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_attrdef WHERE oid = d.objid)
           WHEN 'pg_constraint'::regclass THEN (SELECT nullif(conrelid, 0) FROM pg_constraint WHERE oid = d.objid)
           WHEN 'pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_trigger WHERE oid = d.objid)
           WHEN 'pg_policy'::regclass THEN (SELECT polrelid FROM pg_policy WHERE oid = d.objid)
           WHEN 'pg_class'::regclass THEN (SELECT coalesce(i.indrelid, d.objid) FROM (SELECT d.objid) x
                                             LEFT JOIN pg_index i ON i.indexrelid = d.objid)
         END AS relation
    FROM pg_depend d
    JOIN gone g ON g.classid = d.refclassid AND g.objid = d.refobjid
   WHERE d.deptype = 'n'
)
SELECT pg_describe_object(x.classid, x.objid, 0) AS dependent,
       pg_describe_object(x.refclassid, x.refobjid, 0) AS needs,
       (x.classid = 'pg_constraint'::regclass
        AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = x.objid AND k.contype = 'f')) AS foreign_key,
       x.relation::regclass::text AS relation
  FROM dependent x
 WHERE NOT EXISTS (SELECT 1 FROM gone g WHERE g.classid = x.classid AND g.objid = x.objid)
   AND (x.relation IS NULL OR NOT EXISTS (SELECT 1 FROM gone g WHERE g.classid = 'pg_class'::regclass AND g.objid = x.relation))
   AND NOT EXISTS (SELECT 1 FROM pg_depend m WHERE m.classid = x.classid AND m.objid = x.objid AND m.deptype = 'e')
 ORDER BY 1, 2`;

/** Foreign keys of moved tables that reference a data-only table ($1), whose keys are not restored; $2 left-out relations. */
export const FOREIGN_KEYS_INTO_DATA_ONLY = `
SELECT k.conname AS name, k.conrelid::regclass::text AS "table", k.confrelid::regclass::text AS referenced
  FROM pg_constraint k
 WHERE k.contype = 'f' AND k.confrelid = ANY($1::oid[]) AND k.conrelid <> ALL($1::oid[]) AND k.conrelid <> ALL($2::oid[])
 ORDER BY 2, 1`;
