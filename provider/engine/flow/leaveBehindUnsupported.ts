// skipUnsupportedObjects during the schema copy of one database: finds, in the copy's snapshot,
// what a non-superuser target user cannot create, plans which dump entries stay behind, and
// records each object with its definition in the migration's validation results.
import { readUnsupportedObjects } from '../catalog/unsupported';
import { withSession } from '../connect/session';
import type { SnapshotSessions } from '../connect/snapshotSessions';
import { PgferryError } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';
import type { TocEntry } from '../schema/dumpRestore';
import { planLeftBehind, type SchemaLeftBehind } from '../schema/leftBehindPlan';
import { LEFT_BEHIND_CODES, leftBehindResults } from '../validate/leftBehindResults';
import { listSome } from '../util/listSome';
import { get, setValidation } from '../control/store';
import { displayIdent } from '../connect/quote';

const TARGET_USER_SQL = `SELECT current_user AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`;

/**
 * skipUnsupportedObjects with a non-superuser target user: what the schema copy leaves behind,
 * recorded as Warnings with definitions in place of validation's (the dump's scripts are exact).
 * A table that depends on such an object stops the migration before anything is restored.
 */
export async function leaveBehindUnsupported(
  run: MigrationRun,
  database: string,
  snapshot: SnapshotSessions,
  file: string,
  toc: readonly TocEntry[],
): Promise<SchemaLeftBehind | undefined> {
  const { spec, store } = run;
  if (!spec.skipUnsupportedObjects) return undefined;
  const user = await withSession(
    spec.target,
    { purpose: 'catalog' },
    async (c) => (await c.query<{ name: string; superuser: boolean }>(TARGET_USER_SQL)).rows[0]!,
  );
  if (user.superuser) return undefined;
  const unsupported = await snapshot.use(readUnsupportedObjects);
  if (unsupported.length === 0) return undefined;
  const plan = await planLeftBehind(await run.tools(), file, toc, unsupported);
  const tables = plan.objects.filter((o) => o.holdsData);
  if (tables.length > 0) {
    throw new PgferryError(
      'TABLE_NEEDS_UNSUPPORTED_OBJECT',
      `database ${displayIdent(database)}: ${listSome(tables.map((t) => `${t.description} depends on ${t.needs}`))}, which the target user "${user.name}" cannot create: a table cannot be left behind`,
      {
        category: 'validation',
        field: 'skipUnsupportedObjects',
        fix: "have the target's administrator run the migration with a superuser target user",
      },
    );
  }
  const results = leftBehindResults(plan.objects, database, user.name);
  const validation = (await get(store, spec.migrationName))?.validation ?? [];
  const kept = validation.filter((r) => !(r.database === database && r.status === 'Warning' && LEFT_BEHIND_CODES.has(r.code)));
  await setValidation(store, spec.migrationName, [...kept, ...results]);
  await run.warn(
    `${plan.objects.length} object(s) left behind, which the target user cannot create (definitions in the validation results): ${listSome(plan.objects.map((o) => o.description))}`,
    database,
  );
  return plan;
}
