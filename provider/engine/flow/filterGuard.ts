// A filtered migration refuses what validation refuses: an object that moves but needs one the
// filters leave out, or a table both schema-only and data-only; and any migration refuses an
// object of someone else's in the control schema, which is left out whole. With option Migrate validation is
// skipped, so the same check runs before anything on the target changes (refuseBeforeChanges:
// before the roles step and the target databases), and again in the copy's snapshot (the source
// may have changed since), so it judges exactly what is copied.
import type pg from 'pg';
import type { SnapshotSessions } from '../connect/snapshotSessions';
import { withSession } from '../connect/session';
import { PgferryError } from '../core/errors';
import { brokenDependencies, readFilterPlan, type FilterPlan } from '../filter/plan';
import { controlSchemaError, filterDependencyError } from '../filter/messages';
import type { MigrationSpec } from '../input/migrationSpec';
import { displayIdent } from '../connect/quote';

async function refuse(database: string, client: pg.Client, plan: FilterPlan): Promise<void> {
  if (!plan.active) return;
  if (plan.othersInControlSchema.length > 0) throw controlSchemaError(database, plan.othersInControlSchema);
  if (plan.contradictions.length > 0) {
    throw new PgferryError(
      'FILTER_CONTRADICTION',
      `database ${displayIdent(database)}: ${plan.contradictions.join(', ')} matched by both schemaOnlyTables and dataOnlyTables`,
      {
        category: 'validation',
        field: 'schemaOnlyTables',
        fix: 'remove the table from one of the two lists',
      },
    );
  }
  const broken = await brokenDependencies(client, plan);
  if (broken.length > 0) throw filterDependencyError(database, broken);
}

/** In the copy's snapshot, before anything of the database is restored. */
export async function refuseBrokenDependencies(database: string, snapshot: SnapshotSessions, plan: FilterPlan): Promise<void> {
  if (!plan.active) return;
  await snapshot.use((source) => refuse(database, source, plan));
}

/**
 * Every database of the spec, read from the source as it is now, before the first change to the
 * target. A database missing on the source is left to the step that reports it (readSourceProperties).
 */
export async function refuseBeforeChanges(spec: MigrationSpec): Promise<void> {
  const present = await withSession(spec.source, { purpose: 'filters' }, async (c) => {
    const { rows } = await c.query<{ name: string }>(`SELECT datname AS name FROM pg_database WHERE datname = ANY($1::text[])`, [
      [...spec.databases],
    ]);
    return new Set(rows.map((r) => r.name));
  });
  for (const database of spec.databases.filter((d) => present.has(d))) {
    await withSession(spec.source, { database, purpose: 'filters' }, async (c) => refuse(database, c, await readFilterPlan(c, spec)));
  }
}
