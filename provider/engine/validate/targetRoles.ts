// The target user's own powers: CREATEDB and CREATEROLE (unless superuser), and membership in
// azure_pg_admin where that role exists (Azure's administrator role).
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import type { ServerInfo } from './readOnlySessions';

const AZURE_PG_ADMIN_SQL = `
SELECT pg_has_role(current_user, r.oid, 'MEMBER') AS member
FROM pg_roles r WHERE r.rolname = 'azure_pg_admin'`;

export async function checkTargetPrivileges(client: pg.Client, info: ServerInfo, spec: MigrationSpec): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.privileges;
  const scope = { server: 'target' as const };
  const user = displayIdent(info.user);
  if (info.superuser) return [succeeded(CODES.TARGET_PRIVILEGES, type, `target user ${user} is a superuser`, scope)];
  const results: ValidationResult[] = [];
  if (!info.createdb) {
    results.push(
      failed(
        CODES.TARGET_NO_CREATEDB,
        type,
        `target user ${user} lacks CREATEDB and cannot create the migrated databases`,
        `on the target, as an administrator: ALTER ROLE ${user} CREATEDB`,
        scope,
      ),
    );
  }
  if (!info.createrole) {
    const message = `target user ${user} lacks CREATEROLE and cannot create the source's roles`;
    const fix = `on the target, as an administrator: ALTER ROLE ${user} CREATEROLE`;
    results.push(
      spec.migrateRoles
        ? failed(CODES.TARGET_NO_CREATEROLE, type, message, `${fix}, or set migrateRoles to false and create the roles yourself`, scope)
        : warning(
            CODES.TARGET_NO_CREATEROLE,
            type,
            message,
            `${fix} if the roles owning the migrated objects do not exist on the target`,
            scope,
          ),
    );
  }
  const { rows } = await client.query<{ member: boolean }>(AZURE_PG_ADMIN_SQL);
  if (rows.length > 0 && !rows[0]!.member) {
    results.push(
      warning(
        CODES.TARGET_NOT_AZURE_PG_ADMIN,
        type,
        `target user ${user} is not a member of azure_pg_admin and may not be allowed to create extensions or own objects of other roles`,
        `on the target, as the server administrator: GRANT azure_pg_admin TO ${user}`,
        scope,
      ),
    );
  }
  if (results.length === 0) {
    results.push(
      succeeded(
        CODES.TARGET_PRIVILEGES,
        type,
        `target user ${user} has CREATEDB and CREATEROLE${rows.length ? ' and is a member of azure_pg_admin' : ''}`,
        scope,
      ),
    );
  }
  return results;
}
