// Row-level security on the target: how pgferry gets past the policies there, and whether the
// target user can enable row-level security (and create the policies) at the end. pgferry leaves
// ENABLE ROW LEVEL SECURITY out of the restore and runs it once its own reads and writes are done
// (schema/rowSecurity.ts), so no policy filters the copy, the stream or the verification; both
// that statement and CREATE POLICY need the table's owner privileges, on the owner the restore gives.
import type pg from 'pg';
import { ident } from '../connect/quote';
import type { MigrationSpec } from '../input/migrationSpec';
import type { ValidationResult } from '../core/model';
import { RESERVED_ROLE } from '../schema/roles';
import { CODES } from './codes';
import { CHECK_TYPES, failed, warning } from './result';
import { listSome } from '../util/listSome';
import type { ServerInfo } from './readOnlySessions';

/** Source tables (and partitioned parents) that get ENABLE ROW LEVEL SECURITY or a policy on the target, with their owners. */
const ROW_SECURITY_OWNERS_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS name, r.rolname AS owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relkind IN ('r', 'p')
  AND (c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
ORDER BY 1`;

/** What the target user may do as each named role: SET ROLE (so ALTER ... OWNER TO it works) and use its privileges. */
const TARGET_OWNER_ROLES_SQL_PG16 = `
SELECT r.rolname AS name, pg_has_role(r.oid, 'SET') AS can_set, pg_has_role(r.oid, 'USAGE') AS usage
FROM pg_roles r WHERE r.rolname = ANY($1::text[])`;

/** Before PostgreSQL 16 any membership allows SET ROLE. */
const TARGET_OWNER_ROLES_SQL = `
SELECT r.rolname AS name, pg_has_role(r.oid, 'MEMBER') AS can_set, pg_has_role(r.oid, 'USAGE') AS usage
FROM pg_roles r WHERE r.rolname = ANY($1::text[])`;

const TARGET_USER_INHERIT_SQL = `SELECT rolinherit AS inherit FROM pg_roles WHERE rolname = current_user`;

interface TargetRoleAccess {
  readonly canSet: boolean;
  readonly usage: boolean;
}

export interface TargetOwnerContext {
  readonly user: string;
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly inherit: boolean;
  readonly major: number;
  /** migrateRoles false: pg_restore --no-owner, the target user owns every table. */
  readonly migrateRoles: boolean;
  /** The source owners that already exist on the target, by name. */
  readonly existing: ReadonlyMap<string, TargetRoleAccess>;
}

export interface OwnerRoute {
  /** The target user will have the table's owner privileges when it enables row-level security. */
  readonly ok: boolean;
  /** How, or why not, in a few words. */
  readonly route: string;
}

/**
 * Who owns a table on the target after the restore, and whether the target user has its
 * privileges then (pure). The restore's ALTER ... OWNER TO succeeds only where the target user
 * can SET ROLE to the owner; otherwise the table stays with the target user (a tolerated failure).
 * Roles pgferry creates (schema/roles.ts) make the target user a member: from PostgreSQL 16 with
 * SET and INHERIT (createrole_self_grant), before that by GRANT, inheriting only if the target
 * user has INHERIT.
 */
export function targetOwnerRoute(owner: string, ctx: TargetOwnerContext): OwnerRoute {
  const user = ident(ctx.user);
  const role = ident(owner);
  if (ctx.superuser) return { ok: true, route: `${user} is a superuser` };
  if (!ctx.migrateRoles) return { ok: true, route: `${user} owns them (migrateRoles is false: restored without owners)` };
  if (owner === ctx.user) return { ok: true, route: `${user} owns them` };
  const existing = ctx.existing.get(owner);
  if (existing) {
    if (!existing.canSet) return { ok: true, route: `the restore cannot give them to ${role}, so ${user} keeps them` };
    if (existing.usage) return { ok: true, route: `owned by ${role}, whose privileges ${user} has` };
    return { ok: false, route: `owned by ${role}, whose privileges ${user} does not inherit` };
  }
  if (RESERVED_ROLE.test(owner) || !ctx.createRole)
    return { ok: true, route: `${role} is not created on the target, so ${user} keeps them` };
  if (ctx.major >= 16 || ctx.inherit)
    return { ok: true, route: `owned by ${role}, which pgferry creates with ${user} as an inheriting member` };
  return { ok: false, route: `owned by ${role}, which pgferry creates with ${user} as a member, but ${user} is NOINHERIT` };
}

/** The fix for a table whose owner privileges the target user will lack. */
function inheritFix(ctx: TargetOwnerContext, owners: readonly string[]): string {
  const user = ident(ctx.user);
  const grant = ctx.major >= 16 ? `GRANT ${owners.map(ident).join(', ')} TO ${user} WITH INHERIT TRUE` : `ALTER ROLE ${user} INHERIT`;
  return `on the target, as an administrator: ${grant}; or set migrateRoles: false so that ${user} owns the tables`;
}

/** Results for one database (pure): a Warning saying how pgferry gets past the policies, or a Failed per unreachable owner. */
export function targetRowSecurityResults(
  tables: readonly { name: string; owner: string }[],
  ctx: TargetOwnerContext,
  database: string,
  online: boolean,
): ValidationResult[] {
  if (tables.length === 0) return [];
  const type = CHECK_TYPES.privileges;
  const scope = { database, server: 'target' as const };
  const db = ident(database);
  const routes = tables.map((t) => ({ ...t, ...targetOwnerRoute(t.owner, ctx) }));
  const blocked = routes.filter((r) => !r.ok);
  if (blocked.length > 0) {
    const reasons = [...new Set(blocked.map((r) => r.route))];
    return [
      failed(
        CODES.ROW_SECURITY_TARGET_NOT_OWNER,
        type,
        `the target user ${ident(ctx.user)} could not create the policies of, nor enable row-level security on, ${blocked.length} table(s) in ${db}: ${listSome(blocked.map((r) => r.name))} (${reasons.join('; ')})`,
        inheritFix(ctx, [...new Set(blocked.map((r) => r.owner))].sort()),
        scope,
      ),
    ];
  }
  const when = online ? 'at the cutover, after its verification' : 'after the verification';
  const how = [...new Set(routes.map((r) => r.route))].join('; ');
  return [
    warning(
      CODES.ROW_SECURITY_TARGET,
      type,
      `${tables.length} table(s) in ${db} have row-level security or policies: ${listSome(tables.map((t) => t.name))}. ` +
        `pgferry ${online ? 'copies, streams' : 'copies'} and verifies them before row-level security is enabled on the target, so no policy filters what ${ident(ctx.user)} reads or writes (FORCE has no effect until then); ` +
        `it enables row-level security as on the source ${when} (${how})`,
      `none needed; until then the policies do not protect these tables on the target: keep application users off it until the migration ${online ? 'has cut over' : 'has completed'}`,
      scope,
    ),
  ];
}

export async function checkTargetRowSecurity(
  sourceDb: pg.Client,
  target: pg.Client,
  info: ServerInfo,
  spec: MigrationSpec,
  database: string,
): Promise<ValidationResult[]> {
  const tables = (await sourceDb.query<{ name: string; owner: string }>(ROW_SECURITY_OWNERS_SQL)).rows;
  if (tables.length === 0) return [];
  const owners = [...new Set(tables.map((t) => t.owner))];
  const sql = info.major >= 16 ? TARGET_OWNER_ROLES_SQL_PG16 : TARGET_OWNER_ROLES_SQL;
  const found = (await target.query<{ name: string; can_set: boolean; usage: boolean }>(sql, [owners])).rows;
  const inherit = (await target.query<{ inherit: boolean }>(TARGET_USER_INHERIT_SQL)).rows[0]?.inherit ?? true;
  const ctx: TargetOwnerContext = {
    user: info.user,
    superuser: info.superuser,
    createRole: info.createrole,
    inherit,
    major: info.major,
    migrateRoles: spec.migrateRoles,
    existing: new Map(found.map((r) => [r.name, { canSet: r.can_set, usage: r.usage }])),
  };
  return targetRowSecurityResults(tables, ctx, database, spec.mode === 'Online');
}
