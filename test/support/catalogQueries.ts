// Catalog queries of the fidelity check: each returns (key, props) rows where key is
// "<object type> <identity>" from pg_identify_object (names only, no OIDs: comparable between
// clusters) and props a jsonb object of what pg_dump | pg_restore would carry for that object.
// Run with search_path = pg_catalog and TimeZone = UTC, so printed names and times are stable.
// Columns that only some majors have are read through to_jsonb(row) -> 'column' (null elsewhere).

/** User objects: OIDs from FirstNormalObjectId up; initdb's own objects sit below. */
const USER = 'oid >= 16384';
const NOT_TOAST = `'pg_toast'::regnamespace`;

/** An aclitem[] or text[] as a sorted text[] (NULL stays NULL). */
const sorted = (expr: string): string => `(SELECT array_agg(x ORDER BY x) FROM unnest((${expr})::text[]) x)`;

const key = (classid: string, objid: string, subid = '0'): string =>
  `(SELECT o.type || ' ' || o.identity FROM pg_identify_object(${classid}, ${objid}, ${subid}) o)`;

/**
 * Every user object with its owner and ACL: an object one side lacks shows up here. A NULL ACL
 * reads as the defaults it stands for (acldefault), as pg_dump reads it: granting and revoking a
 * privilege leaves the same privileges spelled out (ownership restored on a managed target lends
 * a schema's CREATE that way, schema/ownership.ts).
 */
const OBJECTS = `
WITH objects(classid, objid, owner, acl) AS (
  SELECT 'pg_namespace'::regclass::oid, oid, nspowner, coalesce(nspacl, acldefault('n', nspowner)) FROM pg_namespace
   WHERE nspname !~ '^pg_(toast|temp)' AND nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'pg_class'::regclass, oid, relowner, coalesce(relacl, acldefault(CASE relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", relowner)) FROM pg_class WHERE ${USER} AND relnamespace <> ${NOT_TOAST}
  UNION ALL SELECT 'pg_proc'::regclass, oid, proowner, coalesce(proacl, acldefault('f', proowner)) FROM pg_proc WHERE ${USER}
  UNION ALL SELECT 'pg_type'::regclass, oid, typowner, coalesce(typacl, acldefault('T', typowner)) FROM pg_type WHERE ${USER} AND typnamespace <> ${NOT_TOAST}
  UNION ALL SELECT 'pg_constraint'::regclass, oid, NULL, NULL FROM pg_constraint WHERE ${USER}
  UNION ALL SELECT 'pg_trigger'::regclass, oid, NULL, NULL FROM pg_trigger WHERE ${USER} AND NOT tgisinternal
  UNION ALL SELECT 'pg_policy'::regclass, oid, NULL, NULL FROM pg_policy
  UNION ALL SELECT 'pg_rewrite'::regclass, oid, NULL, NULL FROM pg_rewrite WHERE ${USER}
  UNION ALL SELECT 'pg_attrdef'::regclass, oid, NULL, NULL FROM pg_attrdef
  UNION ALL SELECT 'pg_extension'::regclass, oid, extowner, NULL FROM pg_extension
  UNION ALL SELECT 'pg_language'::regclass, oid, lanowner, coalesce(lanacl, acldefault('l', lanowner)) FROM pg_language WHERE lanispl
  UNION ALL SELECT 'pg_collation'::regclass, oid, collowner, NULL FROM pg_collation WHERE ${USER}
  UNION ALL SELECT 'pg_conversion'::regclass, oid, conowner, NULL FROM pg_conversion WHERE ${USER}
  UNION ALL SELECT 'pg_operator'::regclass, oid, oprowner, NULL FROM pg_operator WHERE ${USER}
  UNION ALL SELECT 'pg_opclass'::regclass, oid, opcowner, NULL FROM pg_opclass WHERE ${USER}
  UNION ALL SELECT 'pg_opfamily'::regclass, oid, opfowner, NULL FROM pg_opfamily WHERE ${USER}
  UNION ALL SELECT 'pg_cast'::regclass, oid, NULL, NULL FROM pg_cast WHERE ${USER}
  UNION ALL SELECT 'pg_ts_config'::regclass, oid, cfgowner, NULL FROM pg_ts_config WHERE ${USER}
  UNION ALL SELECT 'pg_ts_dict'::regclass, oid, dictowner, NULL FROM pg_ts_dict WHERE ${USER}
  UNION ALL SELECT 'pg_ts_parser'::regclass, oid, NULL, NULL FROM pg_ts_parser WHERE ${USER}
  UNION ALL SELECT 'pg_ts_template'::regclass, oid, NULL, NULL FROM pg_ts_template WHERE ${USER}
  UNION ALL SELECT 'pg_foreign_data_wrapper'::regclass, oid, fdwowner, coalesce(fdwacl, acldefault('F', fdwowner)) FROM pg_foreign_data_wrapper
  UNION ALL SELECT 'pg_foreign_server'::regclass, oid, srvowner, coalesce(srvacl, acldefault('S', srvowner)) FROM pg_foreign_server
  UNION ALL SELECT 'pg_user_mapping'::regclass, oid, NULL, NULL FROM pg_user_mapping
  UNION ALL SELECT 'pg_event_trigger'::regclass, oid, evtowner, NULL FROM pg_event_trigger
  UNION ALL SELECT 'pg_publication'::regclass, oid, pubowner, NULL FROM pg_publication
  UNION ALL SELECT 'pg_subscription'::regclass, oid, subowner, NULL FROM pg_subscription
   WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'pg_statistic_ext'::regclass, oid, stxowner, NULL FROM pg_statistic_ext
  UNION ALL SELECT 'pg_transform'::regclass, oid, NULL, NULL FROM pg_transform
  UNION ALL SELECT 'pg_default_acl'::regclass, oid, NULL, defaclacl FROM pg_default_acl
  UNION ALL SELECT 'pg_largeobject'::regclass, oid, lomowner, coalesce(lomacl, acldefault('L', lomowner)) FROM pg_largeobject_metadata
  UNION ALL SELECT 'pg_am'::regclass, oid, NULL, NULL FROM pg_am WHERE ${USER}
)
SELECT ${key('classid', 'objid')} AS key,
       jsonb_build_object(
         'owner', pg_get_userbyid(owner),
         'acl', ${sorted('acl')},
         -- what made it: an extension's script (its members belong to whoever ran it, the bootstrap
         -- superuser for a trusted extension), or initdb (plpgsql)
         'extension', (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                        WHERE d.classid = objects.classid AND d.objid = objects.objid
                          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'),
         'initdb', objid < 16384) AS props
  FROM objects`;

/** Comments on every object of the database, built-in ones included (COMMENT ON SCHEMA public). */
const COMMENTS = `
SELECT ${key('classoid', 'objoid', 'objsubid')} AS key, jsonb_build_object('comment', description) AS props
  FROM pg_description`;

const SECURITY_LABELS = `
SELECT ${key('classoid', 'objoid', 'objsubid')} AS key, jsonb_build_object('label ' || provider, label) AS props
  FROM pg_seclabel`;

const RELATIONS = `
SELECT ${key(`'pg_class'::regclass`, 'c.oid')} AS key,
       jsonb_build_object(
         'persistence', c.relpersistence,
         'replicaIdentity', c.relreplident,
         'options', ${sorted('c.reloptions')},
         'toastOptions', ${sorted('t.reloptions')},
         'accessMethod', am.amname,
         'tablespace', ts.spcname,
         'partitionKey', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
         'partitionBound', pg_get_expr(c.relpartbound, c.oid),
         'parents', ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid ORDER BY i.inhseqno),
         'rowSecurity', c.relrowsecurity,
         'forceRowSecurity', c.relforcerowsecurity,
         'populated', c.relispopulated,
         'ofType', CASE WHEN c.reloftype <> 0 THEN c.reloftype::regtype::text END,
         'definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END) AS props
  FROM pg_class c
  LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
  LEFT JOIN pg_am am ON am.oid = c.relam
  LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
 WHERE c.${USER} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S') AND c.relnamespace <> ${NOT_TOAST}`;

/**
 * Column options without pg_attver: the machine's PostgreSQL 15 build stamps every column with a
 * server-assigned pg_attver option whose value differs from cluster to cluster; pg_dump does not
 * carry it (no tool can), so it says nothing about a migration.
 */
const columnOptions = `(SELECT array_agg(x ORDER BY x) FROM unnest(a.attoptions) x WHERE x !~ '^pg_attver=')`;

const COLUMNS = `
SELECT ${key(`'pg_class'::regclass`, 'a.attrelid', 'a.attnum')} AS key,
       jsonb_build_object(
         'relation', ${key(`'pg_class'::regclass`, 'a.attrelid')},
         'position', row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
         'type', format_type(a.atttypid, a.atttypmod),
         'notNull', a.attnotnull,
         'default', pg_get_expr(d.adbin, d.adrelid),
         'generated', to_jsonb(a) -> 'attgenerated',
         'identity', a.attidentity,
         'collation', CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END,
         'statisticsTarget', a.attstattarget,
         'options', ${columnOptions},
         'fdwOptions', ${sorted('a.attfdwoptions')},
         'storage', a.attstorage,
         'compression', to_jsonb(a) -> 'attcompression',
         'local', a.attislocal,
         'inheritCount', a.attinhcount,
         'acl', ${sorted('a.attacl')}) AS props
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.${USER} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND c.relnamespace <> ${NOT_TOAST}
   AND a.attnum > 0 AND NOT a.attisdropped`;

const INDEXES = `
SELECT ${key(`'pg_class'::regclass`, 'i.indexrelid')} AS key,
       jsonb_build_object(
         'definition', pg_get_indexdef(i.indexrelid),
         'clustered', i.indisclustered,
         'replicaIdentity', i.indisreplident,
         'valid', i.indisvalid,
         'primary', i.indisprimary,
         'options', ${sorted('c.reloptions')},
         'tablespace', ts.spcname,
         'columnStatistics', ARRAY(SELECT a.attnum || '=' || a.attstattarget FROM pg_attribute a
                                    WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum),
         'parent', (SELECT p.inhparent::regclass::text FROM pg_inherits p WHERE p.inhrelid = i.indexrelid)) AS props
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
 WHERE c.${USER} AND c.relnamespace <> ${NOT_TOAST}`;

const CONSTRAINTS = `
SELECT ${key(`'pg_constraint'::regclass`, 'con.oid')} AS key,
       jsonb_build_object(
         'type', con.contype,
         'definition', pg_get_constraintdef(con.oid),
         'validated', con.convalidated,
         'deferrable', con.condeferrable,
         'deferred', con.condeferred,
         'local', con.conislocal,
         'inheritCount', con.coninhcount,
         'noInherit', con.connoinherit,
         'index', CASE WHEN con.conindid <> 0 THEN con.conindid::regclass::text END,
         'parent', (SELECT p.conname FROM pg_constraint p WHERE p.oid = con.conparentid)) AS props
  FROM pg_constraint con
 WHERE con.${USER}`;

const TRIGGERS = `
SELECT ${key(`'pg_trigger'::regclass`, 'oid')} AS key,
       jsonb_build_object('definition', pg_get_triggerdef(oid), 'enabled', tgenabled) AS props
  FROM pg_trigger
 WHERE ${USER} AND NOT tgisinternal`;

const POLICIES = `
SELECT ${key(`'pg_policy'::regclass`, 'p.oid')} AS key,
       jsonb_build_object(
         'command', p.polcmd,
         'permissive', p.polpermissive,
         'roles', ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) r ORDER BY 1),
         'using', pg_get_expr(p.polqual, p.polrelid),
         'check', pg_get_expr(p.polwithcheck, p.polrelid)) AS props
  FROM pg_policy p`;

const RULES = `
SELECT ${key(`'pg_rewrite'::regclass`, 'oid')} AS key,
       jsonb_build_object('definition', pg_get_ruledef(oid), 'enabled', ev_enabled) AS props
  FROM pg_rewrite
 WHERE ${USER}`;

/** Parameters and owning column; the current value is read per sequence (it is not in a catalog). */
export const SEQUENCES = `
SELECT ${key(`'pg_class'::regclass`, 's.seqrelid')} AS key,
       n.nspname AS schema, c.relname AS name,
       jsonb_build_object(
         'type', s.seqtypid::regtype::text,
         'start', s.seqstart::text, 'increment', s.seqincrement::text,
         'min', s.seqmin::text, 'max', s.seqmax::text, 'cache', s.seqcache::text, 'cycle', s.seqcycle,
         'ownedBy', (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname) || ' (' || d.deptype::text || ')'
                       FROM pg_depend d
                       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))) AS props
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE s.seqrelid >= 16384`;

const FUNCTIONS = `
SELECT ${key(`'pg_proc'::regclass`, 'p.oid')} AS key,
       CASE WHEN p.prokind = 'a' THEN jsonb_build_object(
              'kind', p.prokind,
              'aggregate', jsonb_build_object(
                'kind', a.aggkind, 'transition', a.aggtransfn::text, 'final', a.aggfinalfn::text,
                'combine', a.aggcombinefn::text, 'state', format_type(a.aggtranstype, NULL),
                'initial', a.agginitval, 'sortOperator', a.aggsortop::regoperator::text))
            ELSE jsonb_build_object(
              'kind', p.prokind,
              'definition', pg_get_functiondef(p.oid),
              -- a range or multirange type's constructor: PostgreSQL makes the bootstrap superuser
              -- its owner, whoever creates the type
              'constructs', (SELECT d.refobjid::regtype::text FROM pg_depend d
                              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                AND d.refclassid = 'pg_type'::regclass AND d.deptype = 'i')) END AS props
  FROM pg_proc p
  LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
 WHERE p.${USER}`;

const TYPES = `
SELECT ${key(`'pg_type'::regclass`, 't.oid')} AS key,
       jsonb_build_object(
         'type', t.typtype,
         'labels', CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END,
         'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
         'notNull', t.typnotnull,
         'default', t.typdefault,
         'collation', CASE WHEN t.typcollation <> 0 THEN t.typcollation::regcollation::text END,
         'range', (SELECT jsonb_build_object('subtype', r.rngsubtype::regtype::text, 'collation', r.rngcollation::regcollation::text,
                                             'canonical', r.rngcanonical::text, 'diff', r.rngsubdiff::text)
                     FROM pg_range r WHERE r.rngtypid = t.oid)) AS props
  FROM pg_type t
 WHERE t.${USER} AND t.typtype IN ('b', 'd', 'e', 'r', 'm') AND t.typnamespace <> ${NOT_TOAST}`;

const EXTENSIONS = `
SELECT ${key(`'pg_extension'::regclass`, 'e.oid')} AS key,
       jsonb_build_object(
         'version', e.extversion,
         'schema', e.extnamespace::regnamespace::text,
         'relocatable', e.extrelocatable,
         'configuration', e.extconfig::regclass[]::text[],
         'conditions', e.extcondition) AS props
  FROM pg_extension e`;

const STATISTICS_OBJECTS = `
SELECT ${key(`'pg_statistic_ext'::regclass`, 's.oid')} AS key,
       jsonb_build_object('definition', pg_get_statisticsobjdef(s.oid), 'target', to_jsonb(s) -> 'stxstattarget') AS props
  FROM pg_statistic_ext s`;

/** The database itself: what CREATE DATABASE and pg_dump --create carry. $1 = its name. */
export const DATABASE = `
SELECT 'database ' || quote_ident(d.datname) AS key,
       jsonb_build_object(
         'encoding', pg_encoding_to_char(d.encoding),
         'collate', d.datcollate,
         'ctype', d.datctype,
         'localeProvider', to_jsonb(d) -> 'datlocprovider',
         'icuLocale', coalesce(to_jsonb(d) -> 'daticulocale', to_jsonb(d) -> 'datlocale'),
         'owner', pg_get_userbyid(d.datdba),
         'connectionLimit', d.datconnlimit,
         'template', d.datistemplate,
         'allowConnections', d.datallowconn,
         'tablespace', ts.spcname,
         'acl', ${sorted(`coalesce(d.datacl, acldefault('d', d.datdba))`)},
         'comment', shobj_description(d.oid, 'pg_database'),
         'labels', (SELECT jsonb_object_agg(l.provider, l.label) FROM pg_shseclabel l
                     WHERE l.classoid = 'pg_database'::regclass AND l.objoid = d.oid),
         'settings', (SELECT ${sorted('s.setconfig')} FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0)) AS props
  FROM pg_database d
  JOIN pg_tablespace ts ON ts.oid = d.dattablespace
 WHERE d.datname = $1`;

/** ALTER ROLE ... IN DATABASE ... SET entries of the database. $1 = its name. */
export const ROLE_DATABASE_SETTINGS = `
SELECT 'role setting ' || quote_ident(pg_get_userbyid(s.setrole)) || ' in database ' || quote_ident(d.datname) AS key,
       jsonb_build_object('settings', ${sorted('s.setconfig')}) AS props
  FROM pg_db_role_setting s
  JOIN pg_database d ON d.oid = s.setdatabase
 WHERE d.datname = $1 AND s.setrole <> 0`;

/**
 * Roles, as pg_dumpall --roles-only carries them; the bootstrap superuser (OID 10) exists on
 * every server and is left out, as are predefined pg_* roles. Needs superuser (pg_authid).
 */
export const ROLES = `
SELECT 'role ' || quote_ident(r.rolname) AS key,
       jsonb_build_object(
         'superuser', r.rolsuper, 'inherit', r.rolinherit, 'createRole', r.rolcreaterole, 'createDb', r.rolcreatedb,
         'login', r.rolcanlogin, 'replication', r.rolreplication, 'bypassRls', r.rolbypassrls,
         'connectionLimit', r.rolconnlimit, 'validUntil', r.rolvaliduntil::text, 'password', r.rolpassword,
         'comment', shobj_description(r.oid, 'pg_authid'),
         'labels', (SELECT jsonb_object_agg(l.provider, l.label) FROM pg_shseclabel l
                     WHERE l.classoid = 'pg_authid'::regclass AND l.objoid = r.oid),
         'settings', (SELECT ${sorted('s.setconfig')} FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0)) AS props
  FROM pg_authid r
 WHERE r.oid <> 10 AND r.rolname !~ '^pg_'`;

export const MEMBERSHIPS = `
SELECT 'membership of ' || quote_ident(pg_get_userbyid(m.member)) || ' in ' || quote_ident(pg_get_userbyid(m.roleid)) AS key,
       jsonb_build_object(
         'admin', m.admin_option,
         'grantor', pg_get_userbyid(m.grantor),
         'inherit', to_jsonb(m) -> 'inherit_option',
         'set', to_jsonb(m) -> 'set_option') AS props
  FROM pg_auth_members m`;

/** GRANT SET / ALTER SYSTEM ON PARAMETER (PostgreSQL 15 and later). */
export const PARAMETER_ACLS = `
SELECT 'parameter ' || parname AS key, jsonb_build_object('acl', ${sorted('paracl')}) AS props
  FROM pg_parameter_acl`;

/** Queries over the migrated database, in the order they are merged. */
export const DATABASE_QUERIES = [
  OBJECTS,
  RELATIONS,
  COLUMNS,
  INDEXES,
  CONSTRAINTS,
  TRIGGERS,
  POLICIES,
  RULES,
  FUNCTIONS,
  TYPES,
  EXTENSIONS,
  STATISTICS_OBJECTS,
  COMMENTS,
  SECURITY_LABELS,
] as const;
