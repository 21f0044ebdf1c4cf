// Source catalog queries, each a named standalone statement runnable in psql. Variants by server
// version carry a suffix and are chosen in catalog/introspect.ts.

/** Objects that belong to an extension are created by CREATE EXTENSION, not copied (pg_class c). */
export const NOT_EXTENSION_MEMBER = `NOT EXISTS (
    SELECT 1 FROM pg_depend d
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** Schemas that hold user tables (pg_namespace n). */
export const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp'`;

/** The relations whose rows a copy moves (pg_class c, pg_namespace n): ordinary tables and partitions. */
const COPIED_TABLE = `c.relkind = 'r' AND ${USER_SCHEMA} AND ${NOT_EXTENSION_MEMBER}`;

/** The copied tables by OID and name only: what the copy locks before its snapshot. */
export const LIST_COPIED_TABLE_NAMES = `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE ${COPIED_TABLE}
 ORDER BY c.oid`;

/**
 * OID-alias types (regclass, regtype, regproc ...) and arrays of them. Their binary form is the
 * OID itself, which names another object (or none) on the target: they travel as text, printed
 * schema-qualified under the sessions' empty search_path. Domains over them are user types (text anyway).
 */
const OID_ALIAS_TYPES = `'regclass', 'regtype', 'regproc', 'regprocedure', 'regoper', 'regoperator', 'regconfig',
  'regdictionary', 'regnamespace', 'regrole', 'regcollation'`;
const OID_ALIAS_TYPE = (type: string): string =>
  `${type}.typname IN (${OID_ALIAS_TYPES}) OR EXISTS (SELECT 1 FROM pg_type el WHERE el.oid = ${type}.typelem AND ${type}.typcategory = 'A' AND el.typname IN (${OID_ALIAS_TYPES}))`;

/**
 * Built-in types without a binary send or receive function (aclitem, gtsvector) and arrays of them:
 * a binary COPY of such a column fails on the source, so they travel as text.
 */
const NO_BINARY_IO = (type: string): string =>
  `${type}.typsend::oid = 0 OR ${type}.typreceive::oid = 0 OR EXISTS (SELECT 1 FROM pg_type el WHERE el.oid = ${type}.typelem AND ${type}.typcategory = 'A' AND (el.typsend::oid = 0 OR el.typreceive::oid = 0))`;

/** The copyable columns of the table whose pg_class row is `c` (generated columns excluded), in order. */
const COPIED_COLUMNS = `ARRAY(SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
              ORDER BY a.attnum)`;

/** Whether every copyable column of the table `c` travels in binary COPY (see copy/copyItem.ts copyFormat). */
const BINARY_SAFE = `NOT EXISTS (SELECT 1 FROM pg_attribute a
                     JOIN pg_type ty ON ty.oid = a.atttypid
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                      AND (a.atttypid >= 16384 OR ${OID_ALIAS_TYPE('ty')} OR ${NO_BINARY_IO('ty')}))`;

/**
 * The copyable columns of the given tables ($1, OIDs) and whether they travel in binary, as the
 * transaction's snapshot has them (the copy at a pin reads its tables' shape in the pin's snapshot).
 */
export const TABLE_SHAPES = `SELECT c.oid::int8::text AS oid, ${COPIED_COLUMNS} AS columns, ${BINARY_SAFE} AS binary_safe
  FROM pg_class c WHERE c.oid = ANY($1::oid[])`;

/** PostgreSQL 11 has no generated columns (attgenerated). */
export const TABLE_SHAPES_PG11 = TABLE_SHAPES.replaceAll(" AND a.attgenerated = ''", '');

/**
 * The partitioned tables above the given tables ($1, OIDs), at any depth: the copy restores them as
 * the source has them, and a rename of one is followed by its OID (cdc/prepare/tableWatch.ts).
 */
export const LIST_PARTITIONED_ANCESTORS = `
WITH RECURSIVE up AS (
  SELECT i.inhparent AS oid FROM pg_inherits i WHERE i.inhrelid = ANY($1::oid[])
  UNION
  SELECT i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.oid
)
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name
  FROM up JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'p'`;

/**
 * Every table that holds rows (ordinary tables, partitions, inheritance children, unlogged), with
 * its copyable columns (generated columns excluded), its size with TOAST (what a copy moves),
 * whether every column has a built-in type that is not an OID alias and has binary I/O (binary COPY is safe), and an integer
 * single-column primary key usable for range splitting. $1: OIDs of tables not to list (a filter
 * leaves them out): pg_table_size would take a lock on each, and wait behind an exclusive one.
 */
export const LIST_TABLES = `
SELECT c.oid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relpersistence AS persistence,
       c.relispartition AS is_partition,
       pg_table_size(c.oid)::int8 AS bytes,
       pg_total_relation_size(c.oid)::int8 AS total_bytes,
       greatest(c.reltuples, 0)::float8 AS estimated_rows,
       c.relpages::int8 AS pages,
       ${COPIED_COLUMNS} AS columns,
       ${BINARY_SAFE} AS binary_safe,
       (SELECT a.attname::text FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1
           AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)) AS split_key
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE ${COPIED_TABLE} AND c.oid <> ALL($1::oid[])
 ORDER BY pg_table_size(c.oid) DESC, n.nspname, c.relname`;

/** PostgreSQL 11 has no generated columns (attgenerated). */
export const LIST_TABLES_PG11 = LIST_TABLES.replaceAll(" AND a.attgenerated = ''", '');

/** Min and max of an integer split key, read inside the copy snapshot. Identifiers are quoted by the caller. */
export const splitKeyBounds = (qualifiedTable: string, quotedKey: string): string =>
  `SELECT min(${quotedKey})::int8::text AS lo, max(${quotedKey})::int8::text AS hi FROM ONLY ${qualifiedTable}`;

/** Sequences not owned by an extension. */
export const LIST_SEQUENCES = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'S' AND ${USER_SCHEMA} AND ${NOT_EXTENSION_MEMBER}
 ORDER BY 1, 2`;

/**
 * The column that owns sequence `c`, if any, as `o`: a serial's (pg_depend deptype 'a') or an
 * identity's ('i'), its table's OID, schema and name and its own name. Two servers' sequences are
 * paired by it (catalog/introspect.ts sequencePairKeys), so every reader of sequences joins the same.
 */
export const SEQUENCE_OWNER = `LEFT JOIN LATERAL (
    SELECT t.oid::text AS table_oid, tn.nspname AS table_schema, t.relname AS table_name, a.attname AS column_name
      FROM pg_depend d
      JOIN pg_class t ON t.oid = d.refobjid
      JOIN pg_namespace tn ON tn.oid = t.relnamespace
      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
       AND d.deptype IN ('a', 'i')
     ORDER BY d.deptype DESC
     LIMIT 1) o ON true`;

/**
 * Sequences not owned by an extension, each with the column that owns it, if any: a serial's
 * (pg_depend deptype 'a') or an identity's ('i'). Two servers' sequences are paired by that column
 * (its table's name and its own), never by the sequence's name, which each server may give anew.
 */
export const LIST_SEQUENCE_OWNERS = `
SELECT n.nspname AS schema, c.relname AS name, c.oid::text AS oid,
       o.table_oid, o.table_schema, o.table_name, o.column_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  ${SEQUENCE_OWNER}
 WHERE c.relkind = 'S' AND ${USER_SCHEMA} AND ${NOT_EXTENSION_MEMBER}
 ORDER BY 1, 2`;

/**
 * Indexes and index-backed constraints (primary key, unique, exclusion) pgferry builds itself,
 * in parallel per table: those of plain tables and partitions that are not attached to an index
 * of a partitioned parent (pg_restore's post-data builds those, with their ATTACH entries).
 * With them, what pg_dump writes into the same TOC entry: the clustered and replica-identity
 * marks and the statistics targets of index columns. $1: OIDs of tables to skip (left out by a
 * filter): pg_get_indexdef and pg_get_constraintdef lock the table, and would wait behind an exclusive lock.
 * A table's largest indexes (by the source's relpages) come first: built first, the longest build
 * does not start last and run alone at the end of the copy.
 */
export const LIST_TABLE_INDEXES = `
SELECT i.indexrelid::int8 AS index_oid,
       t.oid::int8 AS table_oid,
       n.nspname AS schema,
       t.relname AS table_name,
       ic.relname AS index_name,
       pg_get_indexdef(i.indexrelid) AS index_def,
       con.oid::int8 AS constraint_oid,
       con.conname AS constraint_name,
       CASE WHEN con.oid IS NULL THEN NULL ELSE pg_get_constraintdef(con.oid) END AS constraint_def,
       con.condeferrable AS deferrable,
       con.condeferred AS deferred,
       -- a key whose index can be built first and attached after (indexes.ts attachStatement): USING
       -- INDEX takes a btree with plain columns in their default order, whole, in the default tablespace
       CASE WHEN con.contype IN ('p', 'u') AND ic.reltablespace = 0 AND i.indexprs IS NULL AND i.indpred IS NULL
                 AND ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree') AND 0 = ALL (i.indoption::int2[])
            THEN CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END END AS attach_kind,
       i.indisclustered AS clustered,
       i.indisreplident AS replica_identity,
       (SELECT json_agg(json_build_object('column', a.attnum, 'target', a.attstattarget) ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) AS column_statistics
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')
 WHERE t.relkind = 'r' AND ${USER_SCHEMA} AND t.oid <> ALL($1::oid[])
   AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY t.oid, ic.relpages DESC, i.indexrelid`;

/** Large objects: oid and size (size read inside the snapshot). */
export const LIST_LARGE_OBJECTS = `SELECT oid::int8 AS oid FROM pg_largeobject_metadata ORDER BY oid`;

/** Properties of one database: encoding, collation, owner, comment, ACL, security labels. */
export const DATABASE_PROPERTIES = `
SELECT d.datname AS name,
       pg_encoding_to_char(d.encoding) AS encoding,
       d.datcollate AS collate,
       d.datctype AS ctype,
       pg_get_userbyid(d.datdba) AS owner,
       d.datconnlimit AS connection_limit,
       shobj_description(d.oid, 'pg_database') AS comment,
       d.datacl::text[] AS acl,
       (SELECT array_agg(ARRAY[l.provider, l.label] ORDER BY l.provider) FROM pg_shseclabel l
         WHERE l.classoid = 'pg_database'::regclass AND l.objoid = d.oid) AS labels
  FROM pg_database d WHERE d.datname = $1`;

/** ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ... SET entries of one database. */
export const DATABASE_SETTINGS = `
SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role,
       unnest(s.setconfig) AS setting
  FROM pg_db_role_setting s
  JOIN pg_database d ON d.oid = s.setdatabase
 WHERE d.datname = $1`;
