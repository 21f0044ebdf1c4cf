// One database's schema read from its catalog, object by object, by name: never by OID, so the
// source's and the target's read alike. Each object is a kind, its schema, the relation it belongs
// to (columns, constraints, indexes, triggers, rules, policies) and its name, with the properties
// pg_dump --schema-only would print for it, taken from the server's own deparsers (pg_get_*def,
// format_type, pg_get_expr). Sessions pin search_path to pg_catalog alone, so every deparsed name
// carries its schema on both servers.
import type pg from 'pg';
import { INTERNAL_ERROR, UNDEFINED_OBJECT, sqlState } from '../../connect/sqlstate';
import { schemaObjectKey, type FenceNames, type GuardNames } from '../../core/names';
import { qualified } from '../../connect/quote';
import { grantsFromRows, type GrantRow } from './grants';

/** A property's value as read: text, a flag, or absent (NULL). */
export type PropertyValue = string | boolean | null;

export interface SchemaObject {
  /** `table`, `column`, `constraint`, `index`, `function`, `trigger`, `comment` ... */
  readonly kind: string;
  readonly schema: string;
  /** The relation (or domain) a part belongs to; null for objects of their own. */
  readonly relation: string | null;
  readonly name: string;
  /** A function's identity arguments; part of its identity, not compared as a property. */
  readonly args: string | null;
  /** pg_depend's classid and objid on this server: only to leave out what a left-out object carries. */
  readonly classId: string;
  readonly objectId: string;
  /** The relation's own OID for a part of a relation (its comment, constraint ...), else objectId. */
  readonly ownerObjectId: string;
  readonly props: Readonly<Record<string, PropertyValue>>;
  /** A column's attnum on its server: how a rename is told from a drop and an add (compare.ts); never compared. */
  readonly attnum?: number;
  /** A serial's sequence: the column that owns it (schema, table, column), read by pg_depend; how ownedSequences.ts pairs it; never compared. */
  readonly ownedBy?: readonly [string, string, string];
  /** A sequence: how an expression prints a reference to it (its regclass constant); never compared. */
  readonly reference?: string;
  /** A column: each sequence its default depends on (pg_depend of its pg_attrdef row), by OID; never compared. */
  readonly drawsFrom?: readonly SequenceReference[];
  /**
   * Properties compared in the other server's spelling (ownedSequences.ts: a default naming a paired
   * sequence), each as this server prints it: what a difference shows; never compared.
   */
  readonly asPrinted?: Readonly<Record<string, PropertyValue>>;
  /**
   * The source's properties that name a paired sequence, spelled with the target's name for it
   * (ownedSequences.ts): what a fix run on the target writes there; never compared.
   */
  readonly asOnTarget?: Readonly<Record<string, PropertyValue>>;
}

/** A sequence a default depends on: its OID on that server, and its regclass constant as the default prints it. */
interface SequenceReference {
  readonly objectId: string;
  readonly reference: string;
}

/** An object's identity, the same on both servers: kind, schema, relation, name and arguments (OIDs differ). */
export function objectKey(o: SchemaObject): string {
  return schemaObjectKey(o.kind, o.schema, o.relation, o.name, o.args);
}

/** Schemas no migration moves: the system's and pgferry's own control schema (the caller passes it). */
const nsFilter = (ns: string) =>
  `${ns}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${ns}.nspname NOT LIKE 'pg\\_toast%' AND ${ns}.nspname NOT LIKE 'pg\\_temp\\_%' AND ${ns}.nspname <> $1 AND ${ns}.nspname <> ALL($3::text[]) AND $2::oid[] IS NOT NULL`;

/**
 * Relations the filters leave out ($2) are never read: a session may hold ACCESS EXCLUSIVE on one
 * (they are not the migration's), and deparsing what belongs to it would wait for that lock.
 */
const notLeftOut = (relation: string) => `NOT (${relation} = ANY($2::oid[]))`;

/** Not created by an extension's script: those come with the extension (compared by its version). */
const notMember = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = '${catalog}'::pg_catalog.regclass AND x.objid = ${oid} AND x.deptype = 'e')`;

/**
 * The privileges on an object, one [owner | public | role, name, `PRIV,PRIV*`] row per grantee
 * (`*` after a grantable one), as aclexplode reads them: the owner marked so that an owner the
 * target maps compares alike, the role's name by its OID, never cut out of aclitem's text; the
 * default privileges spelled out where the catalog holds NULL. Printed as the property's text by
 * grants.ts (readInto). `kind` is acldefault's letter, as SQL.
 */
const privileges = (acl: string, owner: string, kind: string) => `(
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(p.who, p.name, p.privileges)), '[]'::jsonb)
    FROM (SELECT CASE WHEN e.grantee = ${owner} THEN 'owner' WHEN e.grantee = 0 THEN 'public' ELSE 'role' END AS who,
                 CASE WHEN e.grantee <> ${owner} AND e.grantee <> 0 THEN pg_catalog.pg_get_userbyid(e.grantee) END AS name,
                 pg_catalog.string_agg(e.privilege_type || CASE WHEN e.is_grantable THEN '*' ELSE '' END, ','
                                       ORDER BY e.privilege_type COLLATE "C") AS privileges
            FROM pg_catalog.aclexplode(coalesce(${acl}, pg_catalog.acldefault(${kind}, ${owner}))) e
           GROUP BY e.grantee) p)`;

const qualifiedName = (ns: string, rel: string) => `pg_catalog.format('%I.%I', ${ns}.nspname, ${rel})`;

/**
 * A relation's regclass constant as pg_get_expr prints it in a default (`'public.seq'::regclass`):
 * the server's own regclass text under the session's search_path, quoted as a literal is with
 * standard_conforming_strings on (connect/session.ts pins it). What a default names is found from
 * the OIDs it depends on, and this is its spelling there: the default's text is never parsed.
 */
const regclassConstant = (oid: string) => `'''' || pg_catalog.replace(${oid}::pg_catalog.regclass::text, '''', '''''') || '''::regclass'`;

/** The column that owns sequence `c` (a serial's, pg_depend 'a'), `what` selected from its schema dn, table dc and column da. */
const sequenceOwner = (what: string) => `(SELECT ${what} FROM pg_catalog.pg_depend d
                        JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
                        JOIN pg_catalog.pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
                       WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
                         AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a')`;

const RELATIONS_SQL = `
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' ELSE 'foreign table' END AS kind,
       n.nspname AS schema, NULL AS relation, c.relname AS name, NULL AS args,
       'pg_class'::regclass::oid::text AS class_id, c.oid::text AS object_id, c.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'owner', pg_catalog.pg_get_userbyid(c.relowner),
         'privileges', ${privileges('c.relacl', 'c.relowner', `(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char"`)},
         'partitioned', c.relkind = 'p',
         'unlogged', c.relpersistence = 'u',
         -- its toast table's too, as pg_dump prints them beside the table's: toast.name=value
         'storage parameters', coalesce(pg_catalog.array_to_string(ARRAY(
                                 SELECT o FROM pg_catalog.unnest(c.reloptions) o
                                 UNION ALL
                                 SELECT 'toast.' || o FROM pg_catalog.pg_class tc CROSS JOIN LATERAL pg_catalog.unnest(tc.reloptions) o
                                  WHERE tc.oid = c.reltoastrelid AND c.reltoastrelid <> 0
                                 ORDER BY 1), ', '), ''),
         -- as pg_dump prints it (none for DEFAULT); USING INDEX whose index is gone behaves as NOTHING
         'replica identity', CASE WHEN c.relkind IN ('r', 'p') THEN
                               CASE c.relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
                                 WHEN 'i' THEN coalesce((SELECT 'USING INDEX ' || pg_catalog.quote_ident(ic.relname)
                                                           FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
                                                          WHERE x.indrelid = c.oid AND x.indisreplident), 'NOTHING') END END,
         'row security', c.relrowsecurity,
         'forced row security', c.relforcerowsecurity,
         'partition key', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
         'partition of', (SELECT ${qualifiedName('pn', 'pc.relname')} FROM pg_catalog.pg_inherits i
                            JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
                           WHERE i.inhrelid = c.oid AND c.relispartition),
         'partition bound', CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
         'inherits', (SELECT pg_catalog.string_agg(${qualifiedName('pn', 'pc.relname')}, ', ' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i
                        JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
                       WHERE i.inhrelid = c.oid AND NOT c.relispartition),
         'definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
         'sequence', (SELECT pg_catalog.format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',
                                               pg_catalog.format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
                                               CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
                        FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid),
         'owned by', ${sequenceOwner("pg_catalog.format('%I.%I.%I', dn.nspname, dc.relname, da.attname)")}
       ) AS props,
       ${sequenceOwner('pg_catalog.jsonb_build_array(dn.nspname, dc.relname, da.attname)')} AS owned_by,
       CASE WHEN c.relkind = 'S' THEN ${regclassConstant('c.oid')} END AS reference
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${nsFilter('n')} AND ${notMember('pg_class', 'c.oid')} AND ${notLeftOut('c.oid')}
   -- an identity column's sequence is part of its column
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')`;

const columnsSql = (major: number) => `
SELECT 'column' AS kind, n.nspname AS schema, c.relname AS relation, a.attname AS name, NULL AS args,
       'pg_class'::regclass::oid::text AS class_id, c.oid::text AS object_id, c.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
         'collation', CASE WHEN a.attcollation <> t.typcollation
                           THEN (SELECT ${qualifiedName('cn', 'co.collname')} FROM pg_catalog.pg_collation co
                                   JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
         'default', ${major >= 12 ? "CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END" : 'pg_catalog.pg_get_expr(d.adbin, d.adrelid)'},
         'generated', ${major >= 12 ? "CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END" : 'NULL'},
         'not null', a.attnotnull,
         'identity', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END,
         'privileges', CASE WHEN a.attacl IS NOT NULL THEN ${privileges('a.attacl', 'c.relowner', `'c'`)} END
       ) AS props, a.attnum::int AS attnum,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('objectId', s.oid::text, 'reference', ${regclassConstant('s.oid')}) ORDER BY s.oid)
          FROM pg_catalog.pg_depend x JOIN pg_catalog.pg_class s ON s.oid = x.refobjid AND s.relkind = 'S'
         WHERE x.classid = 'pg_attrdef'::regclass AND x.objid = d.oid AND x.refclassid = 'pg_class'::regclass) AS draws_from
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
   AND ${nsFilter('n')} AND ${notMember('pg_class', 'c.oid')} AND ${notLeftOut('c.oid')}`;

const CONSTRAINTS_SQL = `
SELECT 'constraint' AS kind, n.nspname AS schema, coalesce(c.relname, ty.typname) AS relation, co.conname AS name, NULL AS args,
       'pg_constraint'::regclass::oid::text AS class_id, co.oid::text AS object_id, coalesce(c.oid, ty.oid)::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'definition', pg_catalog.pg_get_constraintdef(co.oid),
         'on', CASE WHEN co.contypid <> 0 THEN 'domain' ELSE 'table' END,
         'foreign key', co.contype = 'f'
       ) AS props
  FROM pg_catalog.pg_constraint co
  JOIN pg_catalog.pg_namespace n ON n.oid = co.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
  LEFT JOIN pg_catalog.pg_type ty ON ty.oid = co.contypid
 WHERE co.contype <> 'n' AND (co.conrelid <> 0 OR co.contypid <> 0) AND ${nsFilter('n')}
   -- a partition's copy of its table's constraint, and the clones a reference to a partitioned table makes, come with their parent
   AND co.conparentid = 0
   AND ${notMember('pg_class', 'co.conrelid')} AND ${notMember('pg_type', 'co.contypid')} AND ${notLeftOut('co.conrelid')}`;

const INDEXES_SQL = `
SELECT 'index' AS kind, n.nspname AS schema, t.relname AS relation, i.relname AS name, NULL AS args,
       'pg_class'::regclass::oid::text AS class_id, i.oid::text AS object_id, t.oid::text AS owner_object_id,
       -- the table's CLUSTER ON mark is its index's flag: pg_dump prints it beside the index
       pg_catalog.jsonb_build_object('definition', pg_catalog.pg_get_indexdef(i.oid), 'clustered', x.indisclustered) AS props
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
 WHERE ${nsFilter('n')} AND ${notMember('pg_class', 't.oid')} AND ${notLeftOut('t.oid')}`;

const functionsSql = (major: number) => {
  const kind = major >= 11 ? 'p.prokind' : "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END";
  return `
SELECT CASE ${kind} WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
       -- from 14 a procedure's arguments read (IN n integer): the same identity as 13's (n integer)
       n.nspname AS schema, NULL AS relation, p.proname AS name,
       pg_catalog.regexp_replace(pg_catalog.pg_get_function_identity_arguments(p.oid), '(^|, )IN ', '\\1', 'g') AS args,
       'pg_proc'::regclass::oid::text AS class_id, p.oid::text AS object_id, p.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'owner', pg_catalog.pg_get_userbyid(p.proowner),
         'privileges', ${privileges('p.proacl', 'p.proowner', `'f'`)},
         'definition', CASE WHEN ${kind} <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END,
         'aggregate', (SELECT pg_catalog.format('SFUNC %s STYPE %s FINALFUNC %s INITCOND %s', a.aggtransfn, pg_catalog.format_type(a.aggtranstype, NULL),
                                                a.aggfinalfn, a.agginitval)
                         FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid)
       ) AS props
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${nsFilter('n')} AND ${notMember('pg_proc', 'p.oid')}
   -- a range type's constructors (and from 14 its multirange's) come with the type
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')`;
};

const TYPES_SQL = `
SELECT CASE t.typtype WHEN 'e' THEN 'enum type' WHEN 'c' THEN 'composite type' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'base type' END AS kind,
       n.nspname AS schema, NULL AS relation, t.typname AS name, NULL AS args,
       'pg_type'::regclass::oid::text AS class_id, t.oid::text AS object_id, t.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'owner', pg_catalog.pg_get_userbyid(t.typowner),
         'privileges', ${privileges('t.typacl', 't.typowner', `'T'`)},
         'labels', (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
         'attributes', (SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
         'base type', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
         'not null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
         'default', t.typdefault,
         'subtype', (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)
       ) AS props
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND ${nsFilter('n')} AND ${notMember('pg_type', 't.oid')}
   -- a table's row type and an array type come with what they belong to
   AND (t.typrelid = 0 OR (SELECT cc.relkind FROM pg_catalog.pg_class cc WHERE cc.oid = t.typrelid) = 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)`;

const triggersSql = (major: number) => `
SELECT 'trigger' AS kind, n.nspname AS schema, c.relname AS relation, tg.tgname AS name, NULL AS args,
       'pg_trigger'::regclass::oid::text AS class_id, tg.oid::text AS object_id, c.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object('definition', pg_catalog.pg_get_triggerdef(tg.oid), 'enabled', tg.tgenabled::text) AS props
  FROM pg_catalog.pg_trigger tg
  JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT tg.tgisinternal ${major >= 13 ? 'AND tg.tgparentid = 0' : ''} AND ${nsFilter('n')} AND ${notMember('pg_class', 'c.oid')} AND ${notLeftOut('c.oid')}
   -- pgferry's writer fence, told by its identity (footprint/fenceTriggers.ts): a trigger of the
   -- fence's name calling the fence's own function; a DBA's trigger calling a function of theirs in
   -- a schema named like the control schema is theirs, and compared
   AND NOT (tg.tgname = $4 AND tg.tgfoid = coalesce(pg_catalog.to_regprocedure(NULLIF($5::text, ''))::pg_catalog.oid, 0))
   -- and the target's guard of a held cutover (footprint/targetGuard.ts), told the same way: its
   -- statement and row triggers calling the guard's own function
   AND NOT (tg.tgname IN ($6, $7) AND tg.tgfoid = coalesce(pg_catalog.to_regprocedure(NULLIF($8::text, ''))::pg_catalog.oid, 0))`;

const RULES_SQL = `
SELECT 'rule' AS kind, n.nspname AS schema, c.relname AS relation, r.rulename AS name, NULL AS args,
       'pg_rewrite'::regclass::oid::text AS class_id, r.oid::text AS object_id, c.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object('definition', pg_catalog.pg_get_ruledef(r.oid), 'enabled', r.ev_enabled::text) AS props
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN' AND ${nsFilter('n')} AND ${notMember('pg_class', 'c.oid')} AND ${notLeftOut('c.oid')}`;

const POLICIES_SQL = `
SELECT 'policy' AS kind, n.nspname AS schema, c.relname AS relation, p.polname AS name, NULL AS args,
       'pg_policy'::regclass::oid::text AS class_id, p.oid::text AS object_id, c.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object(
         'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
         'permissive', p.polpermissive,
         'roles', (SELECT pg_catalog.string_agg(g, ', ' ORDER BY g)
                     FROM (SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END AS g
                             FROM pg_catalog.unnest(p.polroles) r) roles),
         'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
         'with check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
       ) AS props
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${nsFilter('n')} AND ${notLeftOut('c.oid')}`;

const SCHEMAS_SQL = `
SELECT 'schema' AS kind, n.nspname AS schema, NULL AS relation, n.nspname AS name, NULL AS args,
       'pg_namespace'::regclass::oid::text AS class_id, n.oid::text AS object_id, n.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(n.nspowner), 'privileges', ${privileges('n.nspacl', 'n.nspowner', `'n'`)}) AS props
  FROM pg_catalog.pg_namespace n
 WHERE ${nsFilter('n')} AND ${notMember('pg_namespace', 'n.oid')}`;

const EXTENSIONS_SQL = `
SELECT 'extension' AS kind, n.nspname AS schema, NULL AS relation, e.extname AS name, NULL AS args,
       'pg_extension'::regclass::oid::text AS class_id, e.oid::text AS object_id, e.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object('version', e.extversion) AS props
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE n.nspname <> $1 AND n.nspname <> ALL($3::text[]) AND $2::oid[] IS NOT NULL`;

const EVENT_TRIGGERS_SQL = `
SELECT 'event trigger' AS kind, '' AS schema, NULL AS relation, e.evtname AS name, NULL AS args,
       'pg_event_trigger'::regclass::oid::text AS class_id, e.oid::text AS object_id, e.oid::text AS owner_object_id,
       pg_catalog.jsonb_build_object('event', e.evtevent, 'function', e.evtfoid::pg_catalog.regprocedure::text, 'enabled', e.evtenabled::text,
                                     'tags', pg_catalog.array_to_string(e.evttags, ', ')) AS props
  FROM pg_catalog.pg_event_trigger e
 WHERE $1::text IS NOT NULL AND $2::oid[] IS NOT NULL AND $3::text[] IS NOT NULL AND ${notMember('pg_event_trigger', 'e.oid')}
   -- pgferry's own (schemaChangeCapture eventTrigger: its function lives in the control schema on the source)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace
                    WHERE p.oid = e.evtfoid AND s.nspname = $1)`;

/**
 * Comments on the database's own objects (OIDs from FirstNormalObjectId on: the system's are
 * the same on both sides, and reading their identities costs more than the rest together).
 * A column's comment belongs to its table (objoid), so one left out leaves out the other.
 */
const COMMENTS_SQL = `
SELECT 'comment' AS kind, coalesce(o.schema, '') AS schema, NULL AS relation, o.type || ' ' || o.identity AS name, NULL AS args,
       d.classoid::text AS class_id, d.objoid::text AS object_id,
       coalesce((SELECT co.conrelid FROM pg_catalog.pg_constraint co WHERE d.classoid = 'pg_constraint'::regclass AND co.oid = d.objoid AND co.conrelid <> 0),
                (SELECT tg.tgrelid FROM pg_catalog.pg_trigger tg WHERE d.classoid = 'pg_trigger'::regclass AND tg.oid = d.objoid),
                (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE d.classoid = 'pg_rewrite'::regclass AND r.oid = d.objoid),
                (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE d.classoid = 'pg_policy'::regclass AND p.oid = d.objoid),
                (SELECT x.indrelid FROM pg_catalog.pg_index x WHERE d.classoid = 'pg_class'::regclass AND x.indexrelid = d.objoid),
                d.objoid)::text AS owner_object_id,
       pg_catalog.jsonb_build_object('text', d.description, 'type', o.type, 'identity', o.identity,
         'on foreign key', d.classoid = 'pg_constraint'::regclass
                           AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.oid = d.objoid AND co.contype = 'f')) AS props
  FROM pg_catalog.pg_description d
 CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o
 WHERE d.objoid >= 16384 AND (o.schema IS NULL OR (o.schema NOT IN ('pg_catalog', 'information_schema') AND o.schema <> $1))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = d.classoid AND x.objid = d.objoid AND x.deptype = 'e')
   AND NOT (d.classoid = 'pg_namespace'::regclass AND o.identity = $1)
   AND NOT (o.schema = ANY($3::text[])) AND ${notLeftOut('d.objoid')}
   -- a database's comment is the server's; an extension's comes from its control file
   AND d.classoid NOT IN ('pg_database'::regclass, 'pg_extension'::regclass)`;

interface Row {
  kind: string;
  schema: string;
  relation: string | null;
  name: string;
  args: string | null;
  class_id: string;
  object_id: string;
  owner_object_id: string;
  /** `privileges` as the catalog query returns it (grants.ts GrantRow), printed as text by readInto. */
  props: Record<string, PropertyValue | readonly GrantRow[]>;
  attnum?: number;
  /** A sequence's (RELATIONS_SQL) and a column's (columnsSql): NULL where there is none. */
  owned_by?: [string, string, string] | null;
  reference?: string | null;
  draws_from?: SequenceReference[] | null;
}

/**
 * Reads every object of the connected database that a migration moves, the schema `controlSchema`,
 * what the filters leave out (`leftOut`: relation OIDs, schema names) and the triggers of the
 * migration's writer fence and target guard in this database (`fence`, fenceNamesOf; `guard`,
 * guardNamesOf) aside. One statement per
 * kind of object, all in one read-only transaction of its own on the caller's session (which must
 * not be in one): one snapshot.
 */
export async function readSchemaObjects(
  client: pg.Client,
  major: number,
  controlSchema: string,
  leftOut: { readonly relations: readonly string[]; readonly schemas: readonly string[] } = { relations: [], schemas: [] },
  fence?: FenceNames,
  guard?: GuardNames,
): Promise<SchemaObject[]> {
  const triggers = triggersSql(major);
  const fenceIdentity = fence ? [fence.trigger, `${qualified(controlSchema, fence.function)}()`] : ['', ''];
  const guardIdentity = guard ? [guard.trigger, guard.rowTrigger, `${qualified(controlSchema, guard.function)}()`] : ['', '', ''];
  const statements = [
    RELATIONS_SQL,
    columnsSql(major),
    CONSTRAINTS_SQL,
    INDEXES_SQL,
    functionsSql(major),
    TYPES_SQL,
    triggers,
    RULES_SQL,
    POLICIES_SQL,
    SCHEMAS_SQL,
    EXTENSIONS_SQL,
    EVENT_TRIGGERS_SQL,
    COMMENTS_SQL,
  ];
  for (let read = 1; ; read++) {
    const objects: SchemaObject[] = [];
    // one snapshot for every statement: read one by one, a table dropped between two of them would
    // show on one side of its parts and not the other (its constraint still there, its index gone),
    // and a follow would act on that half (seen: DROP INDEX of a constraint's index, refused)
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      for (const sql of statements) {
        const params = [controlSchema, leftOut.relations, leftOut.schemas];
        await readInto(objects, client, sql, sql === triggers ? [...params, ...fenceIdentity, ...guardIdentity] : params);
      }
    } catch (error) {
      if (sqlState(error) === INTERNAL_ERROR && read < CONSISTENT_READS) continue;
      throw error;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
    // The pg_get_*def functions read the catalog as it is now, not as the snapshot saw it: an
    // object dropped while the statements ran is still in the snapshot's rows with no definition
    // (seen: a table's index whose definition the follow then tried to make "none"), or fails to
    // be described ("cache lookup failed"). Read again, after the drop; past a few reads, such
    // objects are left out as the drop leaves them.
    const gone = objects.filter(droppedWhileRead);
    if (gone.length === 0) return objects;
    if (read >= CONSISTENT_READS) return objects.filter((o) => !droppedWhileRead(o));
  }
}

/** How many times readSchemaObjects reads while objects are dropped under it. */
const CONSISTENT_READS = 3;

/** Kinds whose definition the server always prints while the object exists. */
const DEFINED_KINDS = new Set(['index', 'constraint', 'trigger', 'rule', 'view', 'materialized view', 'function', 'procedure']);

/** An object the snapshot's rows show but whose definition the catalog no longer has (readSchemaObjects says why). */
function droppedWhileRead(o: SchemaObject): boolean {
  return DEFINED_KINDS.has(o.kind) && o.props.definition === null;
}

/** One statement's objects, added to `objects`. */
async function readInto(objects: SchemaObject[], client: pg.Client, sql: string, params: unknown[]): Promise<void> {
  const { rows } = await client.query<Row>(sql, params);
  for (const r of rows) {
    objects.push({
      kind: r.kind,
      schema: r.schema,
      relation: r.relation,
      name: r.name,
      args: r.args,
      classId: r.class_id,
      objectId: r.object_id,
      ownerObjectId: r.owner_object_id,
      props: withGrantsPrinted(r.props),
      ...(r.attnum !== undefined ? { attnum: r.attnum } : {}),
      ...(r.owned_by ? { ownedBy: r.owned_by } : {}),
      ...(r.reference ? { reference: r.reference } : {}),
      ...(r.draws_from ? { drawsFrom: r.draws_from } : {}),
    });
  }
}

/** A row's properties, its privileges (GrantRow[]) printed as the property's text (grants.ts). */
function withGrantsPrinted(props: Row['props']): Record<string, PropertyValue> {
  const out: Record<string, PropertyValue> = {};
  for (const [k, v] of Object.entries(props))
    out[k] = k === 'privileges' && Array.isArray(v) ? grantsFromRows(v as readonly GrantRow[]) : (v as PropertyValue);
  return out;
}

/** An object as one server's catalog holds it at a look: its catalog, its OID, and its name there. */
export interface SeenObject {
  readonly classId: string;
  readonly objectId: string;
  /** As pg_identify_object_as_address names it: schema, the relation for a part that is not a relation itself, name. */
  readonly schema: string;
  readonly name: string;
}

export function seenObject(o: SchemaObject): SeenObject {
  return { classId: o.classId, objectId: o.objectId, schema: o.schema, name: o.name };
}

/**
 * Whether the object a look saw is still there under its name: the same OID, named as it was. Not
 * so once it was dropped (whatever was made under its name since is another object), or renamed
 * (its name may now hold someone else's). A server before 14 fails to describe a dropped object
 * instead of answering nothing: that is "gone" too.
 */
export async function stillSeen(client: pg.Client, seen: SeenObject): Promise<boolean> {
  const rows = await client.query<{ same: boolean | null }>(STILL_SEEN_SQL, [seen.classId, seen.objectId, seen.schema, seen.name]).then(
    (r) => r.rows,
    (error: unknown) => {
      if (sqlState(error) === INTERNAL_ERROR || sqlState(error) === UNDEFINED_OBJECT) return [];
      throw error;
    },
  );
  return rows[0]?.same === true;
}

/**
 * Whether object $2 of catalog $1 is named $3.$4: its address names schema, relation (for a part)
 * and name; a type's is one name, qualified as format_type prints it; a domain's constraint's is
 * its domain's, qualified, with the constraint's name as its argument; a schema's (whose schema is
 * itself) its bare name, so that an owner or a grant changed on a schema is followed too.
 */
const STILL_SEEN_SQL = `
SELECT CASE WHEN t = 'domain constraint' THEN (pg_catalog.parse_ident(n[1]))[1] = $3 AND g[1] = $4
            WHEN pg_catalog.array_length(n, 1) = 1 THEN n[1] IN (pg_catalog.format('%I.%I', $3::text, $4::text), $4::text)
            ELSE n[1] = $3 AND n[pg_catalog.array_length(n, 1)] = $4 END AS same
  FROM (SELECT i.type AS t, i.object_names AS n, i.object_args AS g
          FROM pg_catalog.pg_identify_object_as_address($1::oid, $2::oid, 0) i) a`;
