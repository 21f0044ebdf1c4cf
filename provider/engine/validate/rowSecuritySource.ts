// Row-level security on the source: every copied table whose policies would filter what the
// source user reads. pgferry's sessions set row_security = off, so such a table would make the
// copy fail half-way; validation names it first, with the grant that lets the user read it all.
import { NOT_EXTENSION_MEMBER, USER_SCHEMA } from '../catalog/queries';
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';
import { listSome } from '../util/listSome';

/**
 * The copied tables (ordinary tables and partitions, read one by one with ONLY: a partitioned
 * parent's own policies never apply to the copy) with row-level security enabled or forced, and
 * whether the current user has its owner's privileges (pg_has_role USAGE: membership counted as
 * the server counts it for ownership, so a NOINHERIT membership does not count).
 */
const SOURCE_ROW_SECURITY_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS name,
       r.rolname AS owner,
       c.relrowsecurity AS enabled,
       c.relforcerowsecurity AS forced,
       pg_has_role(c.relowner, 'USAGE') AS owner_privileges
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relkind = 'r' AND (c.relrowsecurity OR c.relforcerowsecurity)
  AND ${USER_SCHEMA}
  AND ${NOT_EXTENSION_MEMBER}
ORDER BY 1`;

/** The current user's own attributes (never inherited) and whether the server is Azure's (azure_pg_admin exists). */
const SOURCE_READER_SQL = `
SELECT r.rolname AS user_name, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls,
       EXISTS (SELECT 1 FROM pg_roles a WHERE a.rolname = 'azure_pg_admin') AS azure
FROM pg_roles r WHERE r.rolname = current_user`;

export interface SourceRowSecurityTable {
  readonly name: string;
  readonly owner: string;
  readonly enabled: boolean;
  readonly forced: boolean;
  /** The source user has the owner's privileges (is the owner or an inheriting member). */
  readonly ownerPrivileges: boolean;
}

export interface SourceReader {
  readonly user: string;
  readonly superuser: boolean;
  readonly bypassRls: boolean;
  /** The source server is an Azure Database for PostgreSQL flexible server. */
  readonly azure: boolean;
  readonly major: number;
}

/**
 * The server's own rule (check_enable_rls): policies apply unless row-level security is off for
 * the table, or the user is a superuser or has BYPASSRLS, or has the owner's privileges and the
 * table is not forced.
 */
export function readsEveryRow(table: SourceRowSecurityTable, reader: SourceReader): boolean {
  if (!table.enabled || reader.superuser || reader.bypassRls) return true;
  return table.ownerPrivileges && !table.forced;
}

/** How the source user gets past the policies, for the Succeeded message. */
function bypassRoute(reader: SourceReader): string {
  if (reader.superuser) return 'a superuser';
  if (reader.bypassRls) return 'BYPASSRLS';
  return "the tables' owner (or a member of it), and none is forced";
}

/**
 * What Azure Database for PostgreSQL flexible server allows, as Microsoft states it (the
 * flexible-server concepts-security page, "Row level security", and
 * learn.microsoft.com/answers/questions/2006383): its server admin, a member of azure_pg_admin, is
 * no superuser; on PostgreSQL 16 and later it may create roles with BYPASSRLS; on 15 and earlier
 * it cannot give BYPASSRLS to other roles, but may itself do the administrative tasks that need it.
 */
function azureSourceFix(user: string, major: number): string {
  return major >= 16
    ? `on Azure Database for PostgreSQL flexible server, which has no superuser, the server admin (a member of azure_pg_admin) may give BYPASSRLS from PostgreSQL 16 on, to a role it created or administers: ALTER ROLE ${user} BYPASSRLS as the server admin`
    : `on Azure Database for PostgreSQL flexible server up to PostgreSQL 15, which has no superuser, the server admin (a member of azure_pg_admin) cannot give BYPASSRLS to another role but may itself do the tasks that need it: use the server admin as the source user`;
}

/** Results for one database (pure): a Failed naming every filtered table and the grant, or one Succeeded. */
export function sourceRowSecurityResults(
  tables: readonly SourceRowSecurityTable[],
  reader: SourceReader,
  database: string,
): ValidationResult[] {
  const type = CHECK_TYPES.privileges;
  const scope = { database, server: 'source' as const };
  const db = displayIdent(database);
  const user = displayIdent(reader.user);
  const enabled = tables.filter((t) => t.enabled);
  if (enabled.length === 0) {
    return [succeeded(CODES.ROW_SECURITY_SOURCE, type, `no table in ${db} has row-level security enabled`, scope)];
  }
  const filtered = enabled.filter((t) => !readsEveryRow(t, reader));
  if (filtered.length === 0) {
    return [
      succeeded(
        CODES.ROW_SECURITY_SOURCE,
        type,
        `source user ${user} reads every row of the ${enabled.length} table(s) with row-level security in ${db}: it is ${bypassRoute(reader)}`,
        scope,
      ),
    ];
  }
  const forced = filtered.filter((t) => t.forced);
  const unforced = filtered.filter((t) => !t.forced);
  const fixes = [reader.azure ? azureSourceFix(user, reader.major) : `on the source, as a superuser: ALTER ROLE ${user} BYPASSRLS`];
  if (unforced.length > 0) {
    const owners = [...new Set(unforced.map((t) => displayIdent(t.owner)))].sort();
    fixes.push(`for the tables that are not forced, membership in their owner is enough: GRANT ${owners.join(', ')} TO ${user}`);
  }
  const detail = forced.length ? ` (${forced.length} of them forced: FORCE ROW LEVEL SECURITY applies the policies to the owner too)` : '';
  return [
    failed(
      CODES.ROW_SECURITY_SOURCE_FILTERED,
      type,
      `row-level security policies would hide rows of ${filtered.length} table(s) in ${db} from source user ${user}${detail}: ${listSome(filtered.map((t) => t.name))}; pgferry refuses to copy fewer rows than a table holds`,
      fixes.join('; '),
      scope,
    ),
  ];
}

export async function checkSourceRowSecurity(client: pg.Client, database: string, major: number): Promise<ValidationResult[]> {
  const { rows } = await client.query<{ name: string; owner: string; enabled: boolean; forced: boolean; owner_privileges: boolean }>(
    SOURCE_ROW_SECURITY_SQL,
  );
  const me = (await client.query<{ user_name: string; superuser: boolean; bypass_rls: boolean; azure: boolean }>(SOURCE_READER_SQL))
    .rows[0]!;
  const tables = rows.map((r) => ({
    name: r.name,
    owner: r.owner,
    enabled: r.enabled,
    forced: r.forced,
    ownerPrivileges: r.owner_privileges,
  }));
  const reader = { user: me.user_name, superuser: me.superuser, bypassRls: me.bypass_rls, azure: me.azure, major };
  return sourceRowSecurityResults(tables, reader, database);
}
