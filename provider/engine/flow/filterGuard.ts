// A filtered copy refuses, before anything is restored, what validation refuses: an object that
// moves but needs one the filters leave out (a validation run with option Migrate is skipped, and
// the source may have changed since). Read in the copy's snapshot, so it judges what is copied.
import type { SnapshotSessions } from '../copy/copySnapshot';
import { PgferryError } from '../core/errors';
import { brokenDependencies, type FilterPlan } from '../filter/plan';
import { filterDependencyError } from '../filter/messages';

export async function refuseBrokenDependencies(database: string, snapshot: SnapshotSessions, plan: FilterPlan): Promise<void> {
  if (!plan.active) return;
  if (plan.contradictions.length > 0) {
    throw new PgferryError(
      'FILTER_CONTRADICTION',
      `database "${database}": ${plan.contradictions.join(', ')} matched by both schemaOnlyTables and dataOnlyTables`,
      {
        category: 'validation',
        field: 'schemaOnlyTables',
        fix: 'remove the table from one of the two lists',
      },
    );
  }
  const broken = await snapshot.use((source) => brokenDependencies(source, plan));
  if (broken.length > 0) throw filterDependencyError(database, broken);
}
