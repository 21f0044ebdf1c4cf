// One database's filter plan: which relations and schemas a filtered migration leaves out, which
// tables move as definition only or rows only, and what that breaks. Read from the source (inside
// the copy's snapshot during a migration), shaped by a pure function.
import type pg from 'pg';
import { compileFilters, contradicts, schemaMoves, treatmentOf, unmatchedPatterns, type TableFilters } from './filters';
import { FILTER_DEPENDENTS, FILTER_RELATIONS, FILTER_SCHEMAS, FOREIGN_KEYS_INTO_DATA_ONLY } from './queries';

interface FilterRelationRow {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** pg_class.relkind. */
  readonly kind: string;
  readonly root_schema: string | null;
  readonly root_name: string | null;
  readonly owner_oid: string | null;
}

interface FilterSchemaRow {
  readonly oid: string;
  readonly name: string;
  readonly holds_extension: boolean;
}

/** An object that moves but needs one that is left out (or a key a data-only table will not have). */
export interface BrokenDependency {
  readonly dependent: string;
  readonly needs: string;
  readonly foreignKey: boolean;
}

export interface FilterPlan {
  /** False without any filter: everything moves, and nothing else here needs reading. */
  readonly active: boolean;
  /** Source OIDs of relations left out (sequences owned by left-out tables included). */
  readonly leftOut: ReadonlySet<string>;
  /** nameKey of the relations left out, to compare with another server's catalog. */
  readonly leftOutNames: ReadonlySet<string>;
  readonly schemaOnly: ReadonlySet<string>;
  readonly dataOnly: ReadonlySet<string>;
  /** Source OIDs of schemas left out whole (an extension's schema stays for its extension). */
  readonly leftOutSchemas: ReadonlySet<string>;
  /** Schemas a filter leaves out that stay because an extension lives there. */
  readonly keptForExtension: readonly string[];
  /** Relations matched by both schemaOnlyTables and dataOnlyTables. */
  readonly contradictions: readonly string[];
  /** `key: pattern` of the patterns that match nothing in this database. */
  readonly unmatched: readonly string[];
  /** Moved relations that are neither left out nor schema-only: what the copy, CDC and verify read. */
  rowsMove(oid: string): boolean;
}

export const UNFILTERED: FilterPlan = {
  active: false,
  leftOut: new Set(),
  leftOutNames: new Set(),
  schemaOnly: new Set(),
  dataOnly: new Set(),
  leftOutSchemas: new Set(),
  keptForExtension: [],
  contradictions: [],
  unmatched: [],
  rowsMove: () => true,
};

/** A relation name as a key: NUL cannot occur in a name, so two names never share a key. */
export const nameKey = (schema: string, name: string): string => `${schema}\0${name}`;

/** The names of the relations the plan leaves out, as {schema, name}. */
export function leftOutRelations(plan: FilterPlan): { schema: string; name: string }[] {
  return [...plan.leftOutNames].map((key) => {
    const [schema, name] = key.split('\0') as [string, string];
    return { schema, name };
  });
}

/** Pure: the plan for a database's relations and schemas. */
function planFilter(filters: TableFilters, relations: readonly FilterRelationRow[], schemas: readonly FilterSchemaRow[]): FilterPlan {
  const compiled = compileFilters(filters);
  if (!compiled.active) return UNFILTERED;
  const leftOut = new Set<string>();
  const schemaOnly = new Set<string>();
  const dataOnly = new Set<string>();
  const contradictions: string[] = [];
  const tables = relations.filter((r) => r.kind !== 'S');
  for (const r of tables) {
    const schema = r.root_schema ?? r.schema;
    const name = r.root_name ?? r.name;
    const treatment = treatmentOf(compiled, schema, name);
    if (treatment === 'left-out') leftOut.add(r.oid);
    // definitions only for what holds rows: a view or materialized view simply moves
    else if (treatment === 'schema-only' && ['r', 'p', 'f'].includes(r.kind)) schemaOnly.add(r.oid);
    else if (treatment === 'data-only' && ['r', 'p', 'f'].includes(r.kind)) dataOnly.add(r.oid);
    if (contradicts(compiled, schema, name)) contradictions.push(`${r.schema}.${r.name}`);
  }
  // A sequence owned by a column follows its table; any other follows its schema.
  for (const s of relations.filter((r) => r.kind === 'S')) {
    if (s.owner_oid !== null ? leftOut.has(s.owner_oid) : !schemaMoves(compiled, s.schema)) leftOut.add(s.oid);
  }
  const leftOutSchemas = new Set<string>();
  const keptForExtension: string[] = [];
  for (const s of schemas) {
    if (schemaMoves(compiled, s.name)) continue;
    if (s.holds_extension) keptForExtension.push(s.name);
    else leftOutSchemas.add(s.oid);
  }
  const leftOutNames = new Set(relations.filter((r) => leftOut.has(r.oid)).map((r) => nameKey(r.schema, r.name)));
  return {
    active: true,
    leftOut,
    leftOutNames,
    schemaOnly,
    dataOnly,
    leftOutSchemas,
    keptForExtension,
    contradictions,
    unmatched: unmatchedPatterns(
      compiled,
      schemas.map((s) => s.name),
      tables.map((r) => ({ schema: r.schema, name: r.name })),
    ),
    rowsMove: (oid) => !leftOut.has(oid) && !schemaOnly.has(oid),
  };
}

/** The plan of the connected database (inside the caller's snapshot when it holds one). */
export async function readFilterPlan(client: pg.Client, filters: TableFilters): Promise<FilterPlan> {
  if (!compileFilters(filters).active) return UNFILTERED;
  const relations = (await client.query<FilterRelationRow>(FILTER_RELATIONS)).rows;
  const schemas = (await client.query<FilterSchemaRow>(FILTER_SCHEMAS)).rows;
  return planFilter(filters, relations, schemas);
}

/** What moves and needs what the plan leaves out, or a key of a data-only table. */
export async function brokenDependencies(client: pg.Client, plan: FilterPlan): Promise<BrokenDependency[]> {
  if (!plan.active) return [];
  const leftOut = [...plan.leftOut];
  const broken: BrokenDependency[] = [];
  if (leftOut.length > 0 || plan.leftOutSchemas.size > 0) {
    const { rows } = await client.query<{ dependent: string; needs: string; foreign_key: boolean }>(FILTER_DEPENDENTS, [
      leftOut,
      [...plan.leftOutSchemas],
    ]);
    broken.push(...rows.map((r) => ({ dependent: r.dependent, needs: r.needs, foreignKey: r.foreign_key })));
  }
  if (plan.dataOnly.size > 0) {
    const { rows } = await client.query<{ name: string; table: string; referenced: string }>(FOREIGN_KEYS_INTO_DATA_ONLY, [
      [...plan.dataOnly],
      leftOut,
    ]);
    broken.push(
      ...rows.map((r) => ({
        dependent: `constraint ${r.name} on table ${r.table}`,
        needs: `the keys of data-only table ${r.referenced}`,
        foreignKey: true,
      })),
    );
  }
  return broken;
}
