// Roles: the source's roles re-created on the target as pg_dumpall --roles-only would (attributes,
// password, settings, comment, security labels), but without the attributes a managed target
// refuses (SUPERUSER, REPLICATION, BYPASSRLS) when the target user is not a superuser; then
// their memberships and privileges on parameters. What cannot be created is reported, not fatal.
import { serverMajor } from '../connect/session';
import type pg from 'pg';
import { ident, literal } from '../connect/quote';
import { settingStatement } from './settings';

export interface SourceRole {
  name: string;
  canLogin: boolean;
  inherit: boolean;
  createRole: boolean;
  createDb: boolean;
  connectionLimit: number;
  validUntil: string | null;
  /** SCRAM/MD5 hash, when the source user may read pg_authid. Never logged. */
  passwordHash: string | null;
  superuser: boolean;
  replication: boolean;
  bypassRls: boolean;
  settings: string[] | null;
  comment: string | null;
  /** Security labels as [provider, label] pairs. */
  labels: [string, string][] | null;
}

/** Roles a managed source or target owns itself: never copied. */
export const RESERVED_ROLE = /^(pg_|azure_|rds|cloudsql|alloydb|google_|aiven)/i;

const LIST_ROLES = `
SELECT r.rolname AS name, r.rolcanlogin AS can_login, r.rolinherit AS inherit, r.rolcreaterole AS create_role,
       r.rolcreatedb AS create_db, r.rolconnlimit AS connection_limit, r.rolvaliduntil::text AS valid_until,
       r.rolsuper AS superuser, r.rolreplication AS replication, r.rolbypassrls AS bypass_rls,
       (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS settings,
       shobj_description(r.oid, 'pg_authid') AS comment,
       (SELECT array_agg(ARRAY[l.provider, l.label] ORDER BY l.provider) FROM pg_shseclabel l
         WHERE l.classoid = 'pg_authid'::regclass AND l.objoid = r.oid) AS labels
  FROM pg_roles r
 WHERE r.rolname !~ '^pg_'
 ORDER BY r.rolname`;

/** Readable only by superusers; a managed source lets nobody read it. */
const LIST_PASSWORD_HASHES = `SELECT rolname AS name, rolpassword AS hash FROM pg_authid WHERE rolpassword IS NOT NULL`;

/** Memberships of ordinary roles, in ordinary and predefined (pg_monitor ...) roles. */
const LIST_MEMBERSHIPS = `
SELECT r.rolname AS role, m.rolname AS member, am.admin_option AS admin
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
  JOIN pg_roles m ON m.oid = am.member
 WHERE m.rolname !~ '^pg_'`;

/** Predefined roles exist on every server, so memberships in them can be granted. */
const PREDEFINED_ROLE = /^pg_/;

/** GRANT SET / ALTER SYSTEM ON PARAMETER (PostgreSQL 15 and later). */
const LIST_PARAMETER_ACLS = `SELECT parname AS name, paracl::text[] AS acl FROM pg_parameter_acl WHERE paracl IS NOT NULL`;

export interface RolesOutcome {
  readonly created: readonly string[];
  readonly existing: readonly string[];
  /** Attributes left out, e.g. `role "admin": SUPERUSER dropped`. */
  readonly stripped: readonly string[];
  /** Roles or grants that failed, one line each. */
  readonly failures: readonly string[];
}

/** LIST_ROLES's rows, as the driver gives them. */
interface RoleRow {
  name: string;
  can_login: boolean;
  inherit: boolean;
  create_role: boolean;
  create_db: boolean;
  connection_limit: number;
  valid_until: string | null;
  superuser: boolean;
  replication: boolean;
  bypass_rls: boolean;
  settings: string[] | null;
  comment: string | null;
  labels: [string, string][] | null;
}

async function readRoles(source: pg.Client): Promise<SourceRole[]> {
  const { rows } = await source.query<RoleRow>(LIST_ROLES);
  const hashes = new Map<string, string>();
  try {
    const result = await source.query<{ name: string; hash: string }>(LIST_PASSWORD_HASHES);
    for (const r of result.rows) hashes.set(r.name, r.hash);
  } catch {
    // not superuser on the source: roles are created without passwords (reported)
  }
  return rows.map((r) => ({
    name: r.name,
    canLogin: r.can_login,
    inherit: r.inherit,
    createRole: r.create_role,
    createDb: r.create_db,
    connectionLimit: r.connection_limit,
    validUntil: r.valid_until,
    passwordHash: hashes.get(r.name) ?? null,
    superuser: r.superuser,
    replication: r.replication,
    bypassRls: r.bypass_rls,
    settings: r.settings,
    comment: r.comment,
    labels: r.labels,
  }));
}

/** What the target user may give a new role. */
export interface GrantableAttributes {
  /** SUPERUSER, REPLICATION and BYPASSRLS: only a superuser target user may give them. */
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly createDb: boolean;
}

/**
 * CREATE ROLE text for one role, with what was stripped (pure). A superuser the target cannot
 * re-create gets CREATEROLE and CREATEDB instead, the closest a managed target allows.
 */
export function createRoleStatement(
  role: SourceRole,
  grantable: GrantableAttributes,
): {
  sql: string;
  stripped: string[];
} {
  const stripped: string[] = [];
  const options = [role.canLogin ? 'LOGIN' : 'NOLOGIN', role.inherit ? 'INHERIT' : 'NOINHERIT'];
  for (const [has, attribute] of [
    [role.superuser, 'SUPERUSER'],
    [role.replication, 'REPLICATION'],
    [role.bypassRls, 'BYPASSRLS'],
  ] as const) {
    if (has && grantable.superuser) options.push(attribute);
    else if (has) stripped.push(attribute);
  }
  const standIn = role.superuser && !grantable.superuser;
  if (role.createRole || standIn) {
    if (grantable.createRole) options.push('CREATEROLE');
    else stripped.push('CREATEROLE');
  }
  if (role.createDb || standIn) {
    if (grantable.createDb) options.push('CREATEDB');
    else stripped.push('CREATEDB');
  }
  if (role.connectionLimit >= 0) options.push(`CONNECTION LIMIT ${Math.trunc(role.connectionLimit)}`);
  if (role.validUntil) options.push(`VALID UNTIL ${literal(role.validUntil)}`);
  if (role.passwordHash) options.push(`PASSWORD ${literal(role.passwordHash)}`);
  return { sql: `CREATE ROLE ${ident(role.name)} WITH ${options.join(' ')}`, stripped };
}

/** What pg_dumpall writes after CREATE ROLE: settings, comment, security labels (pure). */
export function rolePropertyStatements(role: SourceRole): { sql: string; what: string }[] {
  const name = ident(role.name);
  const statements = (role.settings ?? []).map((setting) => ({
    sql: settingStatement(`ALTER ROLE ${name}`, setting),
    // the name only: a setting's value may be private
    what: `setting ${setting.split('=')[0]}`,
  }));
  if (role.comment !== null) statements.push({ sql: `COMMENT ON ROLE ${name} IS ${literal(role.comment)}`, what: 'comment' });
  for (const [provider, label] of role.labels ?? []) {
    statements.push({
      sql: `SECURITY LABEL FOR ${ident(provider)} ON ROLE ${name} IS ${literal(label)}`,
      what: `security label (${provider})`,
    });
  }
  return statements;
}

/**
 * The roles a filtered migration moves (pure): those it needs (filter/roles.ts) and every role
 * that is a member of one of them, directly or through others, since it acts through it.
 */
function withMembers(needed: ReadonlySet<string>, memberships: readonly { role: string; member: string }[]): Set<string> {
  const moved = new Set(needed);
  for (let grew = true; grew;) {
    grew = false;
    for (const m of memberships) {
      if (moved.has(m.role) && !moved.has(m.member)) {
        moved.add(m.member);
        grew = true;
      }
    }
  }
  return moved;
}

/**
 * The source's roles on the target; with `only` (a filtered migration: the roles it needs), only
 * those and the roles that are members of them, and only the memberships among these (and in
 * predefined roles).
 */
export async function migrateRoles(source: pg.Client, target: pg.Client, only?: ReadonlySet<string>): Promise<RolesOutcome> {
  const { rows: memberships } = await source.query<Membership>(LIST_MEMBERSHIPS);
  const moved = only ? withMembers(only, memberships) : undefined;
  const roles = (await readRoles(source)).filter((r) => !RESERVED_ROLE.test(r.name) && (!moved || moved.has(r.name)));
  const { rows: me } = await target.query<{ super: boolean; createrole: boolean; createdb: boolean }>(
    `SELECT rolsuper AS super, rolcreaterole AS createrole, rolcreatedb AS createdb FROM pg_roles WHERE rolname = current_user`,
  );
  const grantable = { superuser: me[0]!.super, createRole: me[0]!.super || me[0]!.createrole, createDb: me[0]!.super || me[0]!.createdb };
  const managed = !me[0]!.super;
  const targetMajor = await serverMajor(target);
  if (managed && targetMajor >= 16) {
    // A non-superuser may give objects only to roles it can SET ROLE to. From PostgreSQL 16 the
    // creator of a role gets ADMIN on it but not SET: ask for SET and INHERIT too, so pg_restore's
    // ALTER ... OWNER TO restores ownership as on the source.
    await target.query(`SET createrole_self_grant = 'set, inherit'`);
  }
  const { rows: existingRows } = await target.query<{ name: string }>(`SELECT rolname AS name FROM pg_roles`);
  const existingNames = new Set(existingRows.map((r) => r.name));

  const created: string[] = [];
  const existing: string[] = [];
  const stripped: string[] = [];
  const failures: string[] = [];
  for (const role of roles) {
    if (existingNames.has(role.name)) {
      existing.push(role.name);
      continue;
    }
    const statement = createRoleStatement(role, grantable);
    try {
      await target.query(statement.sql);
      created.push(role.name);
      if (managed && targetMajor < 16) {
        // Up to PostgreSQL 15 a CREATEROLE user may grant itself membership: needed to own as that role.
        await target.query(`GRANT ${ident(role.name)} TO CURRENT_USER`).catch(() => undefined);
      }
      if (statement.stripped.length > 0) stripped.push(`role "${role.name}": ${statement.stripped.join(', ')} not granted on the target`);
      if (role.canLogin && !role.passwordHash)
        stripped.push(`role "${role.name}": created without a password (source password hashes are not readable)`);
      for (const statement of rolePropertyStatements(role)) {
        try {
          await target.query(statement.sql);
        } catch (error) {
          failures.push(`role "${role.name}" ${statement.what}: ${(error as Error).message}`);
        }
      }
    } catch (error) {
      failures.push(`role "${role.name}": ${(error as Error).message}`);
    }
  }

  failures.push(...(await grantMemberships(target, memberships, created, moved)));
  failures.push(...(await grantParameterPrivileges(source, target, created)));
  if (managed && created.length > 0) {
    stripped.push(`target user is a member of the ${created.length} migrated role(s) so that ownership could be restored as on the source`);
  }
  return { created, existing, stripped, failures };
}

interface Membership {
  readonly role: string;
  readonly member: string;
  readonly admin: boolean;
}

/** Memberships where the role or the member was created here (both among `moved`, when given); returns the failures. */
async function grantMemberships(
  target: pg.Client,
  memberships: readonly Membership[],
  created: readonly string[],
  moved: ReadonlySet<string> | undefined,
): Promise<string[]> {
  const failures: string[] = [];
  for (const m of memberships) {
    if (RESERVED_ROLE.test(m.member) || (RESERVED_ROLE.test(m.role) && !PREDEFINED_ROLE.test(m.role))) continue;
    if (moved && (!moved.has(m.member) || (!moved.has(m.role) && !PREDEFINED_ROLE.test(m.role)))) continue;
    if (!created.includes(m.role) && !created.includes(m.member)) continue; // untouched pair
    try {
      await target.query(`GRANT ${ident(m.role)} TO ${ident(m.member)}${m.admin ? ' WITH ADMIN OPTION' : ''}`);
    } catch (error) {
      failures.push(`membership of "${m.member}" in "${m.role}": ${(error as Error).message}`);
    }
  }
  return failures;
}

/**
 * GRANT statements for one parameter's ACL items ("grantee=sA/grantor", empty grantee = PUBLIC),
 * for PUBLIC and the given grantees only (pure).
 */
export function parameterGrantStatements(parameter: string, acl: readonly string[], grantees: ReadonlySet<string>): string[] {
  const privileges: Record<string, string> = { s: 'SET', A: 'ALTER SYSTEM' };
  const statements: string[] = [];
  for (const item of acl) {
    const m = /^(.*)=([A-Za-z*]*)\/(.*)$/.exec(item);
    if (!m) continue;
    const grantee = m[1]!.replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
    if (grantee !== '' && !grantees.has(grantee)) continue;
    for (const [letter, privilege] of Object.entries(privileges)) {
      const at = m[2]!.indexOf(letter);
      if (at < 0) continue;
      const withGrant = m[2]![at + 1] === '*' ? ' WITH GRANT OPTION' : '';
      statements.push(`GRANT ${privilege} ON PARAMETER ${ident(parameter)} TO ${grantee === '' ? 'PUBLIC' : ident(grantee)}${withGrant}`);
    }
  }
  return statements;
}

/** Parameter privileges of created roles (and PUBLIC), as pg_dumpall --roles-only gives them; returns the failures. */
async function grantParameterPrivileges(source: pg.Client, target: pg.Client, created: readonly string[]): Promise<string[]> {
  const version = async (c: pg.Client) =>
    Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  if ((await version(source)) < 150000) return [];
  const { rows } = await source.query<{ name: string; acl: string[] }>(LIST_PARAMETER_ACLS);
  const statements = rows.flatMap((r) => parameterGrantStatements(r.name, r.acl, new Set(created)));
  if (statements.length > 0 && (await version(target)) < 150000) {
    return [`${statements.length} parameter privilege(s) (GRANT SET ON PARAMETER) not granted: the target is older than PostgreSQL 15`];
  }
  const failures: string[] = [];
  for (const sql of statements) {
    try {
      await target.query(sql);
    } catch (error) {
      failures.push(`${sql.split(' TO ')[0]}: ${(error as Error).message}`);
    }
  }
  return failures;
}
