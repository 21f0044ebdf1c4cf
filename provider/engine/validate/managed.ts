// Managed-target blockers in a source database: things only a superuser can create on the
// target, found before anything is copied, and objects superusers own. A superuser target user
// gets one Succeeded instead.
import type pg from 'pg';
import { readUnsupportedObjects, type UnsupportedObject } from '../catalog/unsupported';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { leftBehindResults, unsupportedBlockers } from './leftBehindResults';
import { CHECK_TYPES, succeeded, warning } from './result';
import { listSome } from '../util/listSome';

/**
 * User objects owned by a superuser role: relations, schemas (but public, whose owner the
 * target sets itself), functions and standalone types; extension members excluded.
 */
const SUPERUSER_OWNED_SQL = `
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
  /** skipUnsupportedObjects: what the target user cannot create is left behind, not a failure. */
  readonly skipUnsupported: boolean;
}

/**
 * `unsupported`: the database's objects the target user cannot create and their dependents
 * (readUnsupportedObjects), when the caller has read them already.
 */
export async function checkManagedBlockers(
  client: pg.Client,
  database: string,
  ctx: ManagedContext,
  unsupported?: readonly UnsupportedObject[],
): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.schema;
  const scope = { database };
  const db = displayIdent(database);
  if (ctx.targetIsSuperuser) {
    return [
      succeeded(
        CODES.MANAGED_TARGET,
        type,
        `the target user ${displayIdent(ctx.targetUser)} is a superuser: no managed-target restrictions apply to ${db}`,
        scope,
      ),
    ];
  }
  const found = unsupported ?? (await readUnsupportedObjects(client));
  const owned = await client.query<{ owner: string; kind: string; name: string }>(SUPERUSER_OWNED_SQL);
  const withDefaults = new Set(
    (await client.query<{ role: string }>(`SELECT DISTINCT pg_get_userbyid(defaclrole) AS role FROM pg_default_acl`)).rows.map(
      (r) => r.role,
    ),
  );
  const results: ValidationResult[] = ctx.skipUnsupported
    ? leftBehindResults(found, database, ctx.targetUser)
    : unsupportedBlockers(found, database, ctx.targetUser);
  const byOwner = new Map<string, string[]>();
  // Objects the target user itself will own are fine.
  for (const o of owned.rows.filter((r) => r.owner !== ctx.targetUser))
    byOwner.set(o.owner, [...(byOwner.get(o.owner) ?? []), `${o.kind} ${o.name}`]);
  for (const [owner, objects] of byOwner) {
    // The source stays as it is (it is the fallback): ownership is fixed on the target.
    const reassign = `after the migration, on the target in ${db}, give them the owner they need (e.g. ALTER TABLE … OWNER TO app_owner for each)`;
    if (ctx.targetSuperusers.has(owner)) {
      // The restore cannot hand them to a superuser, so they stay with the target user, as with
      // Azure's own migration service: a warning, not a blocker (every default source has them).
      results.push(
        warning(
          CODES.SUPERUSER_OWNED_OBJECT,
          type,
          `${objects.length} object(s) in ${db} are owned by ${displayIdent(owner)}, a superuser on the target, and will be owned by ${displayIdent(ctx.targetUser)} there${withDefaults.has(owner) ? `, as will ${displayIdent(owner)}'s default privileges` : ''}: ${listSome(objects)}`,
          `none needed if ${displayIdent(ctx.targetUser)} may own them; otherwise ${reassign}`,
          scope,
        ),
      );
    } else {
      results.push(
        warning(
          CODES.SUPERUSER_OWNED_OBJECT,
          type,
          `${objects.length} object(s) in ${db} are owned by superuser ${displayIdent(owner)}; on the target that role is created without SUPERUSER: ${listSome(objects)}`,
          `none needed if ${displayIdent(owner)} needs no superuser powers on the target; otherwise ${reassign}`,
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
