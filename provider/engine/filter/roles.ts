// The roles a filtered migration needs in one database: the owners and ACL entries (grantees and
// grantors) of what moves, its policies' roles, the database's own owner and ACL, and the roles
// with a setting in the database (they are its users). The roles that are members of these are
// added by the roles step (schema/roles.ts), which sees every database's answer.
import type pg from 'pg';
import { withSession } from '../connect/session';
import type { MigrationSpec } from '../input/migrationSpec';
import { compileFilters } from './filters';
import { readFilterPlan, type FilterPlan } from './plan';
import { ROLE_USES } from './queries';

interface RoleUseRow {
  readonly role: string;
  /** The catalog of the object (pg_class, pg_namespace, pg_proc ...), or 'setting'. */
  readonly catalog: string;
  readonly object: string | null;
  readonly relation: string | null;
  readonly schema: string | null;
}

/** Pure: whether the object a role is named on moves under the plan. */
function objectMoves(plan: FilterPlan, use: RoleUseRow): boolean {
  if (use.catalog === 'setting' || use.catalog === 'pg_database') return true;
  if (use.catalog === 'pg_largeobject') return plan.largeObjectsMove;
  if (use.catalog === 'pg_extension') return use.object === null || !plan.leftOutExtensions.has(use.object);
  if (use.catalog === 'pg_namespace') return use.object === null || !plan.leftOutSchemas.has(use.object);
  if (use.relation !== null && plan.leftOut.has(use.relation)) return false;
  // an object in a schema kept for an extension moves with it; one in a schema left out does not
  if (use.schema !== null) return !plan.leftOutSchemaNames.has(use.schema);
  // database-wide objects (event triggers, foreign servers, casts, languages ...) move whole
  return true;
}

/** The roles what moves in the connected database names (its plan read by the caller). */
async function rolesNeeded(client: pg.Client, plan: FilterPlan): Promise<Set<string>> {
  const { rows } = await client.query<RoleUseRow>(ROLE_USES);
  return new Set(rows.filter((r) => objectMoves(plan, r)).map((r) => r.role));
}

/**
 * The roles a filtered migration needs over all its databases (those missing on the source are
 * left to the step that reports them); undefined without filters: every role moves.
 */
export async function rolesNeededBySpec(spec: MigrationSpec): Promise<Set<string> | undefined> {
  if (!compileFilters(spec).active) return undefined;
  const present = await withSession(spec.source, { purpose: 'roles' }, async (c) => {
    const { rows } = await c.query<{ name: string }>(`SELECT datname AS name FROM pg_database WHERE datname = ANY($1::text[])`, [
      [...spec.databases],
    ]);
    return new Set(rows.map((r) => r.name));
  });
  const needed = new Set<string>();
  for (const database of spec.databases.filter((d) => present.has(d))) {
    const roles = await withSession(spec.source, { database, purpose: 'roles' }, async (c) =>
      rolesNeeded(c, await readFilterPlan(c, spec)),
    );
    for (const role of roles) needed.add(role);
  }
  return needed;
}
