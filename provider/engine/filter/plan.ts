// One database's filter plan: which relations and schemas a filtered migration leaves out, which
// tables move as definition only or rows only, and what that breaks. Read from the source (inside
// the copy's snapshot during a migration), shaped by a pure function.
import type pg from 'pg';
import { compileFilters, contradicts, schemaMoves, treatmentOf, unmatchedPatterns, type CompiledFilters } from './filters';
import type { TableFilters } from '../input/patterns';
import { displayName } from '../connect/quote';
import { CONTROL_SCHEMA, isPgferrysOwn, qualifiedKey } from '../core/names';
import {
  CONTROL_SCHEMA_OBJECTS,
  FILTER_DEPENDENTS,
  FILTER_EXTENSION_USERS,
  FILTER_EXTENSIONS,
  FILTER_RELATIONS,
  FILTER_SCHEMAS,
  FOREIGN_KEYS_INTO_DATA_ONLY,
  TABLES_WITH_OID_COLUMNS,
} from './queries';

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
}

interface FilterExtensionRow {
  readonly oid: string;
  readonly name: string;
  readonly schema_oid: string;
  readonly schema: string;
}

/** One use of an extension (FILTER_EXTENSION_USERS): by another extension, by a relation, or by an object in a schema. */
interface ExtensionUseRow {
  readonly ext: string;
  readonly by_extension: string | null;
  readonly relation: string | null;
  readonly schema: string | null;
}

/** What the plan is read from: the database's relations, schemas, extensions and their uses. */
interface FilterCatalog {
  readonly relations: readonly FilterRelationRow[];
  readonly schemas: readonly FilterSchemaRow[];
  readonly extensions: readonly FilterExtensionRow[];
  readonly extensionUses: readonly ExtensionUseRow[];
  /** Tables with a column of type oid (or a domain over it). */
  readonly oidColumnTables: readonly string[];
}

/** An object that moves but needs one that is left out (or a key a data-only table will not have). */
export interface BrokenDependency {
  readonly dependent: string;
  readonly needs: string;
  readonly foreignKey: boolean;
}

export interface FilterPlan {
  /** False when everything moves: no filter, and no control schema on the server (nothing else here needs reading). */
  readonly active: boolean;
  /** Source OIDs of relations left out (sequences owned by left-out tables included). */
  readonly leftOut: ReadonlySet<string>;
  /** qualifiedKey of the relations left out, to compare with another server's catalog. */
  readonly leftOutNames: ReadonlySet<string>;
  readonly schemaOnly: ReadonlySet<string>;
  readonly dataOnly: ReadonlySet<string>;
  /** Source OIDs of schemas left out whole (an extension's schema stays for its extension). */
  readonly leftOutSchemas: ReadonlySet<string>;
  /** Names of the schemas in leftOutSchemas. */
  readonly leftOutSchemaNames: ReadonlySet<string>;
  /** Source OIDs of the extensions nothing that moves needs, outside the schemas that move. */
  readonly leftOutExtensions: ReadonlySet<string>;
  /** Their names, for messages. */
  readonly leftOutExtensionNames: readonly string[];
  /** Whether the large objects move: always without filters; with them, when a table whose rows move has an oid column. */
  readonly largeObjectsMove: boolean;
  /** Schemas a filter leaves out that stay because an extension lives there. */
  readonly keptForExtension: readonly string[];
  /** Relations matched by both schemaOnlyTables and dataOnlyTables. */
  readonly contradictions: readonly string[];
  /** `key: pattern` of the patterns that match nothing in this database. */
  readonly unmatched: readonly string[];
  /**
   * Objects in the control schema that pgferry did not make and the filters do not leave out,
   * described: refused (refuseOthersInControlSchema), as the control schema is left out whole.
   */
  readonly othersInControlSchema: readonly string[];
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
  leftOutSchemaNames: new Set(),
  leftOutExtensions: new Set(),
  leftOutExtensionNames: [],
  largeObjectsMove: true,
  keptForExtension: [],
  contradictions: [],
  unmatched: [],
  othersInControlSchema: [],
  rowsMove: () => true,
};

/** The names of the relations the plan leaves out, as {schema, name}. */
export function leftOutRelations(plan: FilterPlan): { schema: string; name: string }[] {
  return [...plan.leftOutNames].map((key) => {
    const [schema, name] = key.split('\0') as [string, string];
    return { schema, name };
  });
}

/**
 * Pure: the extensions that move. One moves when its schema moves (as the patterns judge the
 * schema's name, pg_catalog included), when something that moves uses it (a relation that is not
 * left out, an object in a schema that moves, a database-wide object), or when an extension that
 * moves requires it. An object in a left-out schema does not move, even where that schema stays
 * for an extension: so an extension used only by what a filter leaves out stays behind with it.
 */
function movingExtensions(
  compiled: CompiledFilters,
  leftOut: ReadonlySet<string>,
  extensions: readonly FilterExtensionRow[],
  uses: readonly ExtensionUseRow[],
): Set<string> {
  const moving = new Set(extensions.filter((x) => schemaMoves(compiled, x.schema)).map((x) => x.oid));
  for (const u of uses) {
    if (u.by_extension !== null) continue;
    const moves =
      u.relation !== null
        ? !leftOut.has(u.relation) && (u.schema === null || schemaMoves(compiled, u.schema))
        : u.schema === null || schemaMoves(compiled, u.schema);
    if (moves) moving.add(u.ext);
  }
  const requires = uses.filter((u) => u.by_extension !== null);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of requires) {
      if (moving.has(r.by_extension!) && !moving.has(r.ext)) {
        moving.add(r.ext);
        grew = true;
      }
    }
  }
  return moving;
}

/** Pure: the plan for a database's relations, schemas and extensions. */
function planFilter(filters: TableFilters, catalog: FilterCatalog): FilterPlan {
  const { relations, schemas } = catalog;
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
    if (contradicts(compiled, schema, name)) contradictions.push(displayName(r.schema, r.name));
  }
  // A sequence owned by a column follows its table; any other follows its schema.
  for (const s of relations.filter((r) => r.kind === 'S')) {
    if (s.owner_oid !== null ? leftOut.has(s.owner_oid) : !schemaMoves(compiled, s.schema)) leftOut.add(s.oid);
  }
  const moving = movingExtensions(compiled, leftOut, catalog.extensions, catalog.extensionUses);
  const holdsMovingExtension = new Set(catalog.extensions.filter((x) => moving.has(x.oid)).map((x) => x.schema_oid));
  const leftOutSchemas = new Set<string>();
  const leftOutSchemaNames = new Set<string>();
  const keptForExtension: string[] = [];
  for (const s of schemas) {
    if (schemaMoves(compiled, s.name)) continue;
    if (holdsMovingExtension.has(s.oid)) keptForExtension.push(s.name);
    else {
      leftOutSchemas.add(s.oid);
      leftOutSchemaNames.add(s.name);
    }
  }
  const rowsMove = (oid: string) => !leftOut.has(oid) && !schemaOnly.has(oid);
  const leftOutExtensions = catalog.extensions.filter((x) => !moving.has(x.oid));
  const leftOutNames = new Set(relations.filter((r) => leftOut.has(r.oid)).map((r) => qualifiedKey(r.schema, r.name)));
  return {
    active: true,
    leftOut,
    leftOutNames,
    schemaOnly,
    dataOnly,
    leftOutSchemas,
    leftOutSchemaNames,
    leftOutExtensions: new Set(leftOutExtensions.map((x) => x.oid)),
    leftOutExtensionNames: leftOutExtensions.map((x) => x.name),
    largeObjectsMove: catalog.oidColumnTables.some(rowsMove),
    keptForExtension,
    contradictions,
    othersInControlSchema: [],
    unmatched: unmatchedPatterns(
      compiled,
      schemas.map((s) => s.name),
      tables.map((r) => ({ schema: r.schema, name: r.name })),
    ),
    rowsMove,
  };
}

/** One object of the control schema (CONTROL_SCHEMA_OBJECTS). */
interface ControlSchemaRow {
  readonly schema_oid: string;
  /** Null for the row of an empty schema. */
  readonly oid: string | null;
  readonly kind: 'relation' | 'function' | 'other';
  readonly name: string | null;
  readonly description: string | null;
}

/**
 * Pure: the plan with the control schema left out whole. pgferry's own tables there (the applied
 * position a fallback window leaves on the old source, the copy's ledger ...) are never a user's
 * data: copied, they would land beside the target's own and be compared. Anything else there is
 * listed for the refusal: the schema check never reads that schema on either server, so a user's
 * table in it could not be shown identical, and on the target pgferry makes its own tables there.
 */
function leavingOutControlSchema(plan: FilterPlan, compiled: CompiledFilters, rows: readonly ControlSchemaRow[]): FilterPlan {
  const objects = rows.filter((r) => r.oid !== null);
  const own = (r: ControlSchemaRow) => r.kind !== 'other' && isPgferrysOwn(r.kind, CONTROL_SCHEMA, r.name ?? '');
  const ownRelations = objects.filter((r) => r.kind === 'relation' && own(r));
  const moves = (r: ControlSchemaRow) =>
    r.kind === 'relation' ? treatmentOf(compiled, CONTROL_SCHEMA, r.name ?? '') !== 'left-out' : schemaMoves(compiled, CONTROL_SCHEMA);
  const leftOut = new Set([...plan.leftOut, ...ownRelations.map((r) => r.oid!)]);
  return {
    ...plan,
    active: true,
    leftOut,
    leftOutNames: new Set([...plan.leftOutNames, ...ownRelations.map((r) => qualifiedKey(CONTROL_SCHEMA, r.name!))]),
    leftOutSchemas: new Set([...plan.leftOutSchemas, rows[0]!.schema_oid]),
    leftOutSchemaNames: new Set([...plan.leftOutSchemaNames, CONTROL_SCHEMA]),
    othersInControlSchema: objects.filter((r) => !own(r) && !plan.leftOut.has(r.oid!) && moves(r)).map((r) => r.description!),
    rowsMove: (oid) => !leftOut.has(oid) && !plan.schemaOnly.has(oid),
  };
}

/**
 * The plan of the connected database (inside the caller's snapshot when it holds one): the filters,
 * and the control schema left out whatever the filters say.
 */
export async function readFilterPlan(client: pg.Client, filters: TableFilters): Promise<FilterPlan> {
  const compiled = compileFilters(filters);
  const rows = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await client.query<R>(sql, params)).rows;
  const control = await rows<ControlSchemaRow>(CONTROL_SCHEMA_OBJECTS, [CONTROL_SCHEMA]);
  const plan = !compiled.active
    ? UNFILTERED
    : planFilter(filters, {
        relations: await rows<FilterRelationRow>(FILTER_RELATIONS),
        schemas: await rows<FilterSchemaRow>(FILTER_SCHEMAS),
        extensions: await rows<FilterExtensionRow>(FILTER_EXTENSIONS),
        extensionUses: await rows<ExtensionUseRow>(FILTER_EXTENSION_USERS),
        oidColumnTables: (await rows<{ oid: string }>(TABLES_WITH_OID_COLUMNS)).map((r) => r.oid),
      });
  return control.length === 0 ? plan : leavingOutControlSchema(plan, compiled, control);
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

/**
 * The relations whose rows the filters move (all of them without filters). A table the filters
 * leave out, or move as definition only, is not streamed, published or reported: it is not part
 * of the migration.
 */
export async function whoseRowsMove<T extends { readonly oid: string }>(
  client: pg.Client,
  relations: readonly T[],
  filters?: TableFilters,
): Promise<T[]> {
  const plan = filters ? await readFilterPlan(client, filters) : UNFILTERED;
  return relations.filter((r) => plan.rowsMove(r.oid));
}
