// The one-line messages of filter problems, shared by validation and the copy's own guard.
import { PgferryError } from '../core/errors';
import type { BrokenDependency } from './plan';
import { listSome } from '../util/listSome';
import { CONTROL_SCHEMA } from '../core/names';
import { displayIdent } from '../connect/quote';

/** Validation result codes of the filters (stable; tests match on them). */
export const FILTER_CODES = {
  /** A moved table has a foreign key to a table the filters leave out. */
  FILTER_FOREIGN_KEY_LEFT_OUT: 'FILTER_FOREIGN_KEY_LEFT_OUT',
  /** A moved view, function, default ... needs a relation or schema the filters leave out. */
  FILTER_DEPENDENCY_LEFT_OUT: 'FILTER_DEPENDENCY_LEFT_OUT',
  /** A pattern matches nothing in any database migrated. */
  FILTER_MATCHES_NOTHING: 'FILTER_MATCHES_NOTHING',
  /** A table is in both schemaOnlyTables and dataOnlyTables. */
  FILTER_CONTRADICTION: 'FILTER_CONTRADICTION',
  /** A left-out schema stays because an extension lives in it (its relations are still left out). */
  FILTER_SCHEMA_KEPT_FOR_EXTENSION: 'FILTER_SCHEMA_KEPT_FOR_EXTENSION',
  /** An object of someone else's in the control schema, which no migration copies or compares. */
  CONTROL_SCHEMA_NOT_OURS: 'CONTROL_SCHEMA_NOT_OURS',
  /** What the filters select, when they pass. */
  FILTERS: 'FILTERS',
} as const;

export function describeBroken(b: BrokenDependency): string {
  return `${b.dependent} needs ${b.needs}`;
}

export const FOREIGN_KEY_FIX =
  'include the referenced table too (it must move for the key to hold), or leave the referencing table out as well (excludeTables)';
export const DEPENDENCY_FIX = 'include what it needs too, or leave the dependent view or table out as well (excludeTables)';

export function filterDependencyError(database: string, broken: readonly BrokenDependency[]): PgferryError {
  const keys = broken.filter((b) => b.foreignKey);
  const first = keys.length > 0 ? keys : broken;
  return new PgferryError(
    keys.length > 0 ? 'FILTER_FOREIGN_KEY_LEFT_OUT' : 'FILTER_DEPENDENCY_LEFT_OUT',
    `database ${displayIdent(database)}: ${listSome(first.map(describeBroken), 3)}, which the filters leave out`,
    { category: 'validation', field: 'excludeTables', fix: keys.length > 0 ? FOREIGN_KEY_FIX : DEPENDENCY_FIX },
  );
}

/**
 * What is wrong with the objects of someone else's in the control schema (FilterPlan.othersInControlSchema):
 * the schema's name is pgferry's own, so nothing in it is copied, streamed or compared.
 */
export function describeOthersInControlSchema(others: readonly string[]): string {
  return `schema ${CONTROL_SCHEMA} on the source holds ${listSome(others, 3)}, which pgferry did not make: the schema's name collides with pgferry's own control schema, which no migration copies, streams or compares`;
}

export const CONTROL_SCHEMA_FIX = `rename the schema on the source (ALTER SCHEMA ${CONTROL_SCHEMA} RENAME TO another name) or move its objects to another schema (ALTER ... SET SCHEMA); or leave it out with excludeSchemas: ${CONTROL_SCHEMA}, which validation accepts, and its objects stay on the source alone`;

export function controlSchemaError(database: string, others: readonly string[]): PgferryError {
  return new PgferryError('CONTROL_SCHEMA_NOT_OURS', `database ${displayIdent(database)}: ${describeOthersInControlSchema(others)}`, {
    category: 'validation',
    field: 'excludeSchemas',
    fix: CONTROL_SCHEMA_FIX,
  });
}
