// Row-level security on the target: how pgferry gets past the policies there, and whether the
// target user can enable row-level security (and create the policies) at the end. pgferry leaves
// ENABLE ROW LEVEL SECURITY out of the restore and runs it once its own reads and writes are done
// (schema/rowSecurity.ts), so no policy filters the copy, the stream or the verification; both
// that statement and CREATE POLICY need the table's owner privileges, on the owner the restore gives.
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { MigrationSpec } from '../input/migrationSpec';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, warning } from './result';
import { listSome } from '../util/listSome';
import type { ServerInfo } from './readOnlySessions';
import { inheritFix, readOwnerAccess, targetOwnerRoute, type TargetOwnerContext } from '../schema/ownerAccess';

/** Source tables (and partitioned parents) that get ENABLE ROW LEVEL SECURITY or a policy on the target, with their owners. */
const ROW_SECURITY_OWNERS_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS name, r.rolname AS owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relkind IN ('r', 'p')
  AND (c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
ORDER BY 1`;

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
  const db = displayIdent(database);
  const routes = tables.map((t) => ({ ...t, ...targetOwnerRoute(t.owner, ctx) }));
  const blocked = routes.filter((r) => !r.ok);
  if (blocked.length > 0) {
    const reasons = [...new Set(blocked.map((r) => r.route))];
    return [
      failed(
        CODES.ROW_SECURITY_TARGET_NOT_OWNER,
        type,
        `the target user ${displayIdent(ctx.user)} could not create the policies of, nor enable row-level security on, ${blocked.length} table(s) in ${db}: ${listSome(blocked.map((r) => r.name))} (${reasons.join('; ')})`,
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
        `pgferry ${online ? 'copies, streams' : 'copies'} and verifies them before row-level security is enabled on the target, so no policy filters what ${displayIdent(ctx.user)} reads or writes (FORCE has no effect until then); ` +
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
  const ctx = await readOwnerAccess(
    target,
    { user: info.user, superuser: info.superuser, createRole: info.createrole, major: info.major },
    spec.migrateRoles,
    [...new Set(tables.map((t) => t.owner))],
  );
  return targetRowSecurityResults(tables, ctx, database, spec.mode === 'Online');
}
