// Managed-target blockers in a source database: things only a superuser can create on the
// target, found before anything is copied. A superuser target user gets one Succeeded instead.
import type pg from 'pg';
import { ident, qualified } from '../connect/quote';
import type { ValidationResult } from '../model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, listSome, succeeded, warning } from './result';

export const EVENT_TRIGGERS_SQL = `
SELECT e.evtname AS name, e.evtevent AS event, e.evtfoid::regproc::text AS function
FROM pg_event_trigger e
WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype IN ('e', 'i'))
ORDER BY 1`;

/** Procedural languages that are not trusted (plperlu, plpython3u, …), with their extension if any. */
export const UNTRUSTED_LANGUAGES_SQL = `
SELECT l.lanname AS name,
       (SELECT x.extname FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
        WHERE d.classid = 'pg_language'::regclass AND d.objid = l.oid
          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension
FROM pg_language l
WHERE l.lanispl AND NOT l.lanpltrusted
ORDER BY 1`;

/** C functions outside pg_catalog that no extension owns: their shared library must be on the target. */
export const C_FUNCTIONS_SQL = `
SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
       p.probin AS library
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
ORDER BY 1, 2`;

/**
 * User objects owned by a superuser role: relations, schemas (but public, whose owner the
 * target sets itself), functions and standalone types; extension members excluded.
 */
export const SUPERUSER_OWNED_SQL = `
WITH owned AS (
  SELECT 'pg_class'::regclass AS classid, c.oid AS objid, c.relowner AS owner,
         CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
         format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  UNION ALL
  SELECT 'pg_namespace'::regclass, n.oid, n.nspowner, 'schema', format('%I', n.nspname)
  FROM pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, p.proowner, 'function',
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, t.typowner, 'type', format('%I.%I', n.nspname, t.typname)
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype IN ('d', 'e', 'r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
)
SELECT r.rolname AS owner, o.kind, o.name
FROM owned o
JOIN pg_roles r ON r.oid = o.owner
WHERE r.rolsuper
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype IN ('e', 'i'))
ORDER BY 1, 2, 3`;

export const TARGET_SUPERUSER_ROLES_SQL = `SELECT rolname AS name FROM pg_roles WHERE rolsuper`;

export interface ManagedContext {
  /** The target user is a superuser: nothing here blocks. */
  readonly targetIsSuperuser: boolean;
  readonly targetUser: string;
  /** Superuser role names on the target (a non-superuser cannot give objects to them). */
  readonly targetSuperusers: ReadonlySet<string>;
}

const OR_SUPERUSER = 'or migrate with a superuser target user';

export async function checkManagedBlockers(client: pg.Client, database: string, ctx: ManagedContext): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.schema;
  const scope = { database };
  const db = ident(database);
  if (ctx.targetIsSuperuser) {
    return [
      succeeded(
        CODES.MANAGED_TARGET,
        type,
        `the target user "${ctx.targetUser}" is a superuser: no managed-target restrictions apply to ${db}`,
        scope,
      ),
    ];
  }
  const results: ValidationResult[] = [];
  const triggers = await client.query<{ name: string; event: string; function: string }>(EVENT_TRIGGERS_SQL);
  const languages = await client.query<{ name: string; extension: string | null }>(UNTRUSTED_LANGUAGES_SQL);
  const cFunctions = await client.query<{ schema: string; name: string; args: string; library: string }>(C_FUNCTIONS_SQL);
  const owned = await client.query<{ owner: string; kind: string; name: string }>(SUPERUSER_OWNED_SQL);
  for (const t of triggers.rows) {
    results.push(
      failed(
        CODES.EVENT_TRIGGER,
        type,
        `event trigger ${ident(t.name)} (${t.event}, function ${t.function}) in ${db} needs a superuser to create, and the target user "${ctx.targetUser}" is not one`,
        `on the source, in ${db}: DROP EVENT TRIGGER ${ident(t.name)} before migrating and have the target's administrator recreate it, ${OR_SUPERUSER}`,
        scope,
      ),
    );
  }
  for (const l of languages.rows) {
    const drop = l.extension ? `DROP EXTENSION ${ident(l.extension)} CASCADE` : `DROP LANGUAGE ${ident(l.name)} CASCADE`;
    results.push(
      failed(
        CODES.UNTRUSTED_LANGUAGE,
        type,
        `untrusted procedural language ${ident(l.name)} in ${db} can only be created by a superuser, and the target user "${ctx.targetUser}" is not one`,
        `rewrite its functions in a trusted language (plpgsql, plperl, …) and on the source, in ${db}: ${drop}, ${OR_SUPERUSER}`,
        scope,
      ),
    );
  }
  for (const f of cFunctions.rows) {
    const name = `${qualified(f.schema, f.name)}(${f.args})`;
    results.push(
      failed(
        CODES.C_FUNCTION,
        type,
        `C-language function ${name} (library ${f.library}) in ${db} belongs to no extension: only a superuser can create it on the target`,
        `package it as an extension installed on the target, or on the source, in ${db}: DROP FUNCTION ${name}, ${OR_SUPERUSER}`,
        scope,
      ),
    );
  }
  const byOwner = new Map<string, string[]>();
  // Objects the target user itself will own are fine.
  for (const o of owned.rows.filter((r) => r.owner !== ctx.targetUser))
    byOwner.set(o.owner, [...(byOwner.get(o.owner) ?? []), `${o.kind} ${o.name}`]);
  for (const [owner, objects] of byOwner) {
    const reassign = `on the source, in ${db}, give them a non-superuser owner (e.g. ALTER TABLE … OWNER TO app_owner for each)`;
    if (ctx.targetSuperusers.has(owner)) {
      // The restore cannot hand them to a superuser, so they stay with the target user, as with
      // Azure's own migration service: a warning, not a blocker (every default source has them).
      results.push(
        warning(
          CODES.SUPERUSER_OWNED_OBJECT,
          type,
          `${objects.length} object(s) in ${db} are owned by ${ident(owner)}, a superuser on the target, and will be owned by "${ctx.targetUser}" there: ${listSome(objects)}`,
          `none needed if "${ctx.targetUser}" may own them; otherwise ${reassign} before migrating`,
          scope,
        ),
      );
    } else {
      results.push(
        warning(
          CODES.SUPERUSER_OWNED_OBJECT,
          type,
          `${objects.length} object(s) in ${db} are owned by superuser ${ident(owner)}; on the target that role is created without SUPERUSER: ${listSome(objects)}`,
          `none needed if ${ident(owner)} needs no superuser powers on the target; otherwise ${reassign}`,
          scope,
        ),
      );
    }
  }
  if (results.length === 0) {
    results.push(
      succeeded(
        CODES.MANAGED_TARGET,
        type,
        `${db} has no event triggers, untrusted languages, loose C functions or superuser-owned objects`,
        scope,
      ),
    );
  }
  return results;
}
