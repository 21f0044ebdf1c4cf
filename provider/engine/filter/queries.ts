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

/** User schemas. */
export const FILTER_SCHEMAS = `
SELECT n.oid::int8::text AS oid, n.nspname AS name
  FROM pg_namespace n
 WHERE ${USER_SCHEMA}
 ORDER BY n.nspname`;

/** The extensions pg_dump dumps (not those initdb created, such as plpgsql) and the schema each lives in. */
export const FILTER_EXTENSIONS = `
SELECT x.oid::int8::text AS oid, x.extname AS name, x.extnamespace::int8::text AS schema_oid, n.nspname AS schema
  FROM pg_extension x
  JOIN pg_namespace n ON n.oid = x.extnamespace
 WHERE x.oid >= 16384
 ORDER BY x.extname`;

/**
 * What uses an extension: every pg_depend dependency on the extension or on one of its members,
 * from an object that is not itself a member of an extension. Each user is folded into the
 * relation it belongs to (a column's type, an index's operator class, a default, a constraint, a
 * trigger, a view's rule), else named by its schema; an extension that requires another is a user
 * of it (by_extension).
 */
export const FILTER_EXTENSION_USERS = `
WITH member AS (
  SELECT classid, objid, refobjid AS ext FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
),
uses AS (
  SELECT DISTINCT coalesce(m.ext, d.refobjid) AS ext, d.classid, d.objid
    FROM pg_depend d
    LEFT JOIN member m ON m.classid = d.refclassid AND m.objid = d.refobjid
   WHERE d.deptype IN ('n', 'a', 'x')
     AND (m.ext IS NOT NULL OR d.refclassid = 'pg_extension'::regclass)
),
folded AS (
  SELECT u.ext, u.classid, u.objid,
         CASE u.classid
           WHEN 'pg_class'::regclass THEN (SELECT coalesce(i.indrelid, u.objid) FROM (SELECT 1) x
                                             LEFT JOIN pg_index i ON i.indexrelid = u.objid)
           WHEN 'pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_rewrite WHERE oid = u.objid)
           WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_attrdef WHERE oid = u.objid)
           WHEN 'pg_constraint'::regclass THEN (SELECT nullif(conrelid, 0) FROM pg_constraint WHERE oid = u.objid)
           WHEN 'pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_trigger WHERE oid = u.objid)
           WHEN 'pg_policy'::regclass THEN (SELECT polrelid FROM pg_policy WHERE oid = u.objid)
         END AS relation,
         -- an operator or support function of an operator family belongs to the family
         CASE u.classid
           WHEN 'pg_amop'::regclass THEN (SELECT amopfamily FROM pg_amop WHERE oid = u.objid)
           WHEN 'pg_amproc'::regclass THEN (SELECT amprocfamily FROM pg_amproc WHERE oid = u.objid)
         END AS family,
         -- a domain's constraint belongs to the domain
         CASE WHEN u.classid = 'pg_constraint'::regclass THEN (SELECT nullif(contypid, 0) FROM pg_constraint WHERE oid = u.objid) END AS domain
    FROM uses u
)
SELECT f.ext::int8::text AS ext,
       CASE WHEN f.classid = 'pg_extension'::regclass THEN f.objid::int8::text END AS by_extension,
       f.relation::int8::text AS relation,
       CASE WHEN f.relation IS NOT NULL
            THEN (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = f.relation)
            WHEN f.family IS NOT NULL
            THEN (SELECT n.nspname FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace WHERE o.oid = f.family)
            ELSE (pg_identify_object(f.classid, f.objid, 0)).schema END AS schema
  FROM folded f
 -- what belongs to an extension (a member, a part of a member) uses it as part of that extension
 WHERE NOT EXISTS (SELECT 1 FROM member o WHERE o.classid = f.classid AND o.objid = f.objid)
   AND NOT EXISTS (SELECT 1 FROM member o WHERE o.classid = 'pg_class'::regclass AND o.objid = f.relation)
   AND NOT EXISTS (SELECT 1 FROM member o WHERE o.classid = 'pg_opfamily'::regclass AND o.objid = f.family)
   AND NOT EXISTS (SELECT 1 FROM member o WHERE o.classid = 'pg_type'::regclass AND o.objid = f.domain)`;

/**
 * Whether a table keeps large objects' OIDs: the user tables with a column of type oid, or of a
 * domain over it (the lo extension's lo is one).
 */
export const TABLES_WITH_OID_COLUMNS = `
SELECT DISTINCT c.oid::int8::text AS oid
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_SCHEMA}
   AND (t.oid = 'oid'::regtype OR (t.typtype = 'd' AND t.typbasetype = 'oid'::regtype))`;

/**
 * The roles something of this database names, each with the object: owners and ACL entries
 * (grantees and grantors) and policy roles as pg_shdepend records them, the database's own (owner,
 * ACL), owners of relations and schemas (pg_shdepend does not record the bootstrap superuser's),
 * and roles with a setting in this database (kind 'setting'). Each object folded into its relation,
 * else named by its schema, as in FILTER_EXTENSION_USERS.
 */
export const ROLE_USES = `
WITH here AS (SELECT oid FROM pg_database WHERE datname = current_database()),
named AS (
  SELECT s.classid, s.objid, s.refobjid AS role
    FROM pg_shdepend s, here
   WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype IN ('o', 'a', 'r')
     AND (s.dbid = here.oid OR (s.dbid = 0 AND s.classid = 'pg_database'::regclass AND s.objid = here.oid))
  UNION
  SELECT 'pg_class'::regclass, c.oid, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  UNION
  SELECT 'pg_namespace'::regclass, n.oid, n.nspowner FROM pg_namespace n WHERE ${USER_SCHEMA}
  UNION
  SELECT 'pg_database'::regclass, d.oid, d.datdba FROM pg_database d, here WHERE d.oid = here.oid
),
folded AS (
  SELECT x.role, x.classid, x.objid,
         CASE x.classid
           WHEN 'pg_class'::regclass THEN x.objid
           WHEN 'pg_policy'::regclass THEN (SELECT polrelid FROM pg_policy WHERE oid = x.objid)
         END AS relation
    FROM named x
)
SELECT r.rolname AS role, f.classid::regclass::text AS catalog, f.objid::int8::text AS object,
       f.relation::int8::text AS relation,
       CASE WHEN f.relation IS NOT NULL
              THEN (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = f.relation)
            WHEN f.classid = 'pg_namespace'::regclass THEN (SELECT nspname FROM pg_namespace WHERE oid = f.objid)
            WHEN f.classid = 'pg_default_acl'::regclass
              THEN (SELECT n.nspname FROM pg_default_acl a JOIN pg_namespace n ON n.oid = a.defaclnamespace WHERE a.oid = f.objid)
            WHEN f.classid IN ('pg_database'::regclass, 'pg_largeobject'::regclass, 'pg_extension'::regclass) THEN NULL
            ELSE (pg_identify_object(f.classid, f.objid, 0)).schema
       END AS schema
  FROM folded f
  JOIN pg_roles r ON r.oid = f.role
UNION ALL
SELECT r.rolname, 'setting', NULL, NULL, NULL
  FROM pg_db_role_setting s
  JOIN pg_roles r ON r.oid = s.setrole
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`;

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
         END AS relation,
         CASE d.classid
           WHEN 'pg_amop'::regclass THEN (SELECT amopfamily FROM pg_amop WHERE oid = d.objid)
           WHEN 'pg_amproc'::regclass THEN (SELECT amprocfamily FROM pg_amproc WHERE oid = d.objid)
         END AS family,
         CASE WHEN d.classid = 'pg_constraint'::regclass THEN (SELECT nullif(contypid, 0) FROM pg_constraint WHERE oid = d.objid) END AS domain
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
   -- an operator family's operators and functions, a domain's constraints go with the family or domain
   AND NOT EXISTS (SELECT 1 FROM pg_depend m WHERE m.classid = 'pg_opfamily'::regclass AND m.objid = x.family AND m.deptype = 'e')
   AND NOT EXISTS (SELECT 1 FROM pg_depend m WHERE m.classid = 'pg_type'::regclass AND m.objid = x.domain AND m.deptype = 'e')
 ORDER BY 1, 2`;

/** Foreign keys of moved tables that reference a data-only table ($1), whose keys are not restored; $2 left-out relations. */
export const FOREIGN_KEYS_INTO_DATA_ONLY = `
SELECT k.conname AS name, k.conrelid::regclass::text AS "table", k.confrelid::regclass::text AS referenced
  FROM pg_constraint k
 WHERE k.contype = 'f' AND k.confrelid = ANY($1::oid[]) AND k.conrelid <> ALL($1::oid[]) AND k.conrelid <> ALL($2::oid[])
 ORDER BY 2, 1`;

/**
 * The control schema ($1) of the connected database and what is in it, one row per object (a row
 * with a null oid when the schema is empty; none when there is no such schema): the objects a
 * schema holds are those that depend on it as their namespace. A relation and a function carry
 * their own name, by which pgferry's own are told (core/names.ts isPgferrysOwn).
 */
export const CONTROL_SCHEMA_OBJECTS = `
SELECT n.oid::int8::text AS schema_oid, d.objid::int8::text AS oid,
       CASE d.classid WHEN 'pg_class'::regclass THEN 'relation' WHEN 'pg_proc'::regclass THEN 'function' ELSE 'other' END AS kind,
       coalesce(c.relname, p.proname) AS name,
       pg_describe_object(d.classid, d.objid, 0) AS description
  FROM pg_namespace n
  LEFT JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid AND d.deptype = 'n'
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
 WHERE n.nspname = $1
 ORDER BY 5`;
