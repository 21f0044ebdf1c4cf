// Whose owner privileges the target user will have on a table once the schema restore gave it its
// owner (schema/ownership.ts, schema/roles.ts), read before anything is restored: validation asks
// it for row-level security (validate/rowSecurityTarget.ts) and for the target changes of the
// footprint that need the tables' owner (engine/footprint/: triggers and rules, foreign keys).
import type pg from 'pg';
import { displayIdent, ident } from '../connect/quote';
import { readSourceRelations } from '../catalog/identityVerdict';
import { RESERVED_ROLE } from './roles';

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

/** What decides who owns an object on the target (the part of TargetOwnerContext the rule reads). */
export type OwnerRule = Pick<TargetOwnerContext, 'user' | 'superuser' | 'migrateRoles' | 'existing'>;

/**
 * The owner an object of the source's `owner` has on the target among the roles the target has
 * (pure): the rule the restore follows (pg_restore, then schema/ownership.ts `restoreOwners`) and
 * the schema follow with it, which the schema check expects. `ALTER ... OWNER TO` by a target user
 * that is no superuser works only where it may SET ROLE to the new owner; otherwise the object
 * stays with the target user, who made it. `why` says why the owner is not the source's.
 */
export function restoredOwner(owner: string, ctx: OwnerRule): { readonly owner: string; readonly why?: string } {
  if (owner === ctx.user) return { owner };
  if (!ctx.migrateRoles) return { owner: ctx.user, why: 'restored without owners (migrateRoles is false)' };
  const existing = ctx.existing.get(owner);
  if (!existing) return { owner: ctx.user, why: 'a role the target does not have' };
  if (ctx.superuser || existing.canSet) return { owner };
  return { owner: ctx.user, why: 'a role the target user may not SET ROLE to (no member of it, or a superuser there)' };
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
  const user = displayIdent(ctx.user);
  const role = displayIdent(owner);
  if (ctx.superuser) return { ok: true, route: `${user} is a superuser` };
  if (!ctx.migrateRoles) return { ok: true, route: `${user} owns them (migrateRoles is false: restored without owners)` };
  if (owner === ctx.user) return { ok: true, route: `${user} owns them` };
  const existing = ctx.existing.get(owner);
  if (existing) {
    if (restoredOwner(owner, ctx).owner === ctx.user)
      return { ok: true, route: `the restore cannot give them to ${role}, so ${user} keeps them` };
    if (existing.usage) return { ok: true, route: `owned by ${role}, whose privileges ${user} has` };
    return { ok: false, route: `owned by ${role}, whose privileges ${user} does not inherit` };
  }
  if (RESERVED_ROLE.test(owner) || !ctx.createRole)
    return { ok: true, route: `${role} is not created on the target, so ${user} keeps them` };
  if (ctx.major >= 16 || ctx.inherit)
    return { ok: true, route: `owned by ${role}, which pgferry creates with ${user} as an inheriting member` };
  return { ok: false, route: `owned by ${role}, which pgferry creates with ${user} as a member, but ${user} is NOINHERIT` };
}

/** The target user as the owner check needs it. */
export interface TargetUser {
  readonly user: string;
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly major: number;
}

/** Reads, on a target session, what the target user may do as each of these (source) owners. */
export async function readOwnerAccess(
  target: pg.Client,
  who: TargetUser,
  migrateRoles: boolean,
  owners: readonly string[],
): Promise<TargetOwnerContext> {
  const sql = who.major >= 16 ? TARGET_OWNER_ROLES_SQL_PG16 : TARGET_OWNER_ROLES_SQL;
  const found = (await target.query<{ name: string; can_set: boolean; usage: boolean }>(sql, [owners])).rows;
  const inherit = (await target.query<{ inherit: boolean }>(TARGET_USER_INHERIT_SQL)).rows[0]?.inherit ?? true;
  return {
    ...who,
    inherit,
    migrateRoles,
    existing: new Map(found.map((r) => [r.name, { canSet: r.can_set, usage: r.usage }])),
  };
}

/** The fix for tables whose owner privileges the target user will lack. */
export function inheritFix(ctx: TargetOwnerContext, owners: readonly string[]): string {
  const user = ident(ctx.user);
  const grant = ctx.major >= 16 ? `GRANT ${owners.map(ident).join(', ')} TO ${user} WITH INHERIT TRUE` : `ALTER ROLE ${user} INHERIT`;
  return `on the target, as an administrator: ${grant}; or set migrateRoles: false so that ${displayIdent(ctx.user)} owns the tables`;
}

/** The target user as a target session says it is. */
const TARGET_USER_SQL = `
SELECT current_user AS user, rolsuper AS superuser, rolcreaterole AS create_role, current_setting('server_version_num')::int / 10000 AS major
  FROM pg_roles WHERE rolname = current_user`;

/**
 * Why the target user will not have the owner privileges of some tables of a source database once
 * they are restored on the target (`what`: the statements that need them); undefined when it will.
 */
export async function ownerRightsRefusal(
  source: pg.Client,
  target: pg.Client,
  database: string,
  migrateRoles: boolean,
  what: string,
): Promise<{ message: string; fix: string } | undefined> {
  const tables = await readSourceRelations(source);
  if (tables.length === 0) return undefined;
  const { rows } = await target.query<{ user: string; superuser: boolean; create_role: boolean; major: number }>(TARGET_USER_SQL);
  const me = rows[0]!;
  const owners = [...new Set(tables.map((t) => t.owner))].sort();
  const ctx = await readOwnerAccess(
    target,
    { user: me.user, superuser: me.superuser, createRole: me.create_role, major: me.major },
    migrateRoles,
    owners,
  );
  const blocked = owners.map((owner) => ({ owner, ...targetOwnerRoute(owner, ctx) })).filter((r) => !r.ok);
  if (blocked.length === 0) return undefined;
  return {
    message: `the target user ${displayIdent(me.user)} will not have the owner privileges ${what} needs on the tables of ${displayIdent(database)} ${blocked.map((b) => b.route).join('; ')}`,
    fix: inheritFix(
      ctx,
      blocked.map((b) => b.owner),
    ),
  };
}
