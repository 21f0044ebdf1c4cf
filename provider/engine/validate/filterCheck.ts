// The filters against each source database: what moves needs nothing left out, no table is both
// schema-only and data-only, and every pattern matches something somewhere; and, filters or not,
// nothing of someone else's in the control schema, which no migration copies or compares.
import type pg from 'pg';
import type { ValidationResult } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { brokenDependencies, readFilterPlan } from '../filter/plan';
import {
  CONTROL_SCHEMA_FIX,
  DEPENDENCY_FIX,
  describeBroken,
  describeOthersInControlSchema,
  FILTER_CODES,
  FOREIGN_KEY_FIX,
} from '../filter/messages';
import { compileFilters } from '../filter/filters';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { listSome } from '../util/listSome';

export async function checkFilters(dbClients: ReadonlyMap<string, pg.Client>, spec: MigrationSpec): Promise<ValidationResult[]> {
  const results: ValidationResult[] = [];
  /** Patterns unmatched in every database so far (undefined: no database read yet). */
  let unmatched: Set<string> | undefined;
  const filtered = compileFilters(spec).active;
  for (const [database, client] of dbClients) {
    const plan = await readFilterPlan(client, spec);
    const scope = { database, server: 'source' as const };
    if (plan.othersInControlSchema.length > 0) {
      const what = describeOthersInControlSchema(plan.othersInControlSchema);
      results.push(failed(FILTER_CODES.CONTROL_SCHEMA_NOT_OURS, CHECK_TYPES.filters, what, CONTROL_SCHEMA_FIX, scope));
    }
    if (!filtered) continue;
    unmatched = new Set([...plan.unmatched].filter((p) => unmatched?.has(p) ?? true));
    if (plan.contradictions.length > 0) {
      results.push(
        failed(
          FILTER_CODES.FILTER_CONTRADICTION,
          CHECK_TYPES.filters,
          `${listSome(plan.contradictions)} matched by both schemaOnlyTables and dataOnlyTables`,
          'remove each from one of the two lists',
          scope,
        ),
      );
    }
    const broken = await brokenDependencies(client, plan);
    for (const b of broken) {
      results.push(
        failed(
          b.foreignKey ? FILTER_CODES.FILTER_FOREIGN_KEY_LEFT_OUT : FILTER_CODES.FILTER_DEPENDENCY_LEFT_OUT,
          CHECK_TYPES.filters,
          `${describeBroken(b)}, which the filters leave out`,
          b.foreignKey ? FOREIGN_KEY_FIX : DEPENDENCY_FIX,
          scope,
        ),
      );
    }
    for (const schema of plan.keptForExtension) {
      results.push(
        warning(
          FILTER_CODES.FILTER_SCHEMA_KEPT_FOR_EXTENSION,
          CHECK_TYPES.filters,
          `schema ${schema} is left out by the filters but holds an extension: the schema and its functions and types move, its tables and views do not`,
          'nothing to do if that is what you want; otherwise move the extension to another schema on the source',
          scope,
        ),
      );
    }
    results.push(
      succeeded(
        FILTER_CODES.FILTERS,
        CHECK_TYPES.filters,
        `filters: ${plan.leftOut.size} relation(s) left out, ${plan.schemaOnly.size} schema-only, ${plan.dataOnly.size} data-only, ${plan.leftOutSchemas.size} schema(s) left out` +
          (plan.leftOutExtensionNames.length > 0 ? `, extension(s) left out: ${listSome(plan.leftOutExtensionNames)}` : '') +
          (plan.largeObjectsMove ? '' : ', large objects left out (no moved table has an oid column)'),
        scope,
      ),
    );
  }
  for (const pattern of filtered ? (unmatched ?? []) : []) {
    results.push(
      warning(
        FILTER_CODES.FILTER_MATCHES_NOTHING,
        CHECK_TYPES.filters,
        `filter ${pattern} matches nothing in ${listSome([...dbClients.keys()])}`,
        'check the spelling: patterns are pg_dump patterns (unquoted letters fold to lower case; "Quoted" keeps case)',
      ),
    );
  }
  return results;
}
