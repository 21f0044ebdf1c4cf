// What a filtered migration moves, decided per relation from the spec's pattern lists (pure).
// A relation moves when its schema moves (includeSchemas empty or one matches, no excludeSchemas
// matches) and its own name passes (includeTables empty or one matches, no excludeTables
// matches). A partition is judged by its root's name, so a partitioned table moves whole.
import {
  matchesSchema,
  matchesTable,
  schemaPattern,
  tablePattern,
  type NamePattern,
  FILTER_KEYS,
  type TableFilters,
} from '../input/patterns';

const SCHEMA_FILTER_KEYS: ReadonlySet<keyof TableFilters> = new Set(['includeSchemas', 'excludeSchemas']);

/** What happens to one relation. */
export type Treatment = 'moves' | 'schema-only' | 'data-only' | 'left-out';

export interface CompiledFilters {
  readonly active: boolean;
  readonly lists: { readonly [K in keyof TableFilters]: readonly NamePattern[] };
}

/** Compiles every pattern; throws the first malformed one's one-line message. */
export function compileFilters(filters: TableFilters): CompiledFilters {
  const compile = (key: keyof TableFilters) => filters[key].map((p) => (SCHEMA_FILTER_KEYS.has(key) ? schemaPattern(p) : tablePattern(p)));
  const lists = {
    includeSchemas: compile('includeSchemas'),
    excludeSchemas: compile('excludeSchemas'),
    includeTables: compile('includeTables'),
    excludeTables: compile('excludeTables'),
    schemaOnlyTables: compile('schemaOnlyTables'),
    dataOnlyTables: compile('dataOnlyTables'),
  };
  return { active: FILTER_KEYS.some((key) => filters[key].length > 0), lists };
}

export function schemaMoves(filters: CompiledFilters, schema: string): boolean {
  const { includeSchemas, excludeSchemas } = filters.lists;
  if (includeSchemas.length > 0 && !includeSchemas.some((p) => matchesSchema(p, schema))) return false;
  return !excludeSchemas.some((p) => matchesSchema(p, schema));
}

const anyMatch = (patterns: readonly NamePattern[], schema: string, name: string) => patterns.some((p) => matchesTable(p, schema, name));

/** The treatment of a relation named schema.name (for a partition: its root's name). */
export function treatmentOf(filters: CompiledFilters, schema: string, name: string): Treatment {
  const { includeTables, excludeTables, schemaOnlyTables, dataOnlyTables } = filters.lists;
  if (!schemaMoves(filters, schema)) return 'left-out';
  if (includeTables.length > 0 && !anyMatch(includeTables, schema, name)) return 'left-out';
  if (anyMatch(excludeTables, schema, name)) return 'left-out';
  if (anyMatch(schemaOnlyTables, schema, name)) return 'schema-only';
  if (anyMatch(dataOnlyTables, schema, name)) return 'data-only';
  return 'moves';
}

/**
 * Whether the filters leave out a relation by its own name, on either server: a table made on the
 * source since a filter plan was read, or one someone made on the target under such a name, which
 * is theirs. (A partition is judged by its root's name: not by this.)
 */
export function leftOutByName(filters: CompiledFilters, schema: string, name: string): boolean {
  return filters.active && treatmentOf(filters, schema, name) === 'left-out';
}

/** The kinds of schema object that are relations themselves (verify/schema/catalog.ts), judged by their own name. */
const RELATION_KINDS: ReadonlySet<string> = new Set(['table', 'view', 'materialized view', 'sequence', 'foreign table']);

/**
 * Whether the filters leave out a schema object by name, given its key (core/names.ts's
 * schemaObjectKey: kind, schema, relation, name, arguments): a relation by its own name, a part of
 * one by its relation's, any other object by its schema. An extension and what belongs to no schema
 * (an event trigger) are not judged by a name here.
 */
export function keyLeftOutByName(filters: CompiledFilters, key: string): boolean {
  if (!filters.active) return false;
  const [kind = '', schema = '', relation = '', name = ''] = JSON.parse(key) as string[];
  if (kind === 'schema') return !schemaMoves(filters, name);
  if (kind === 'extension' || schema === '') return false;
  if (relation !== '') return leftOutByName(filters, schema, relation);
  if (RELATION_KINDS.has(kind)) return leftOutByName(filters, schema, name);
  return !schemaMoves(filters, schema);
}

/** A relation matched by both schemaOnlyTables and dataOnlyTables: the two contradict. */
export function contradicts(filters: CompiledFilters, schema: string, name: string): boolean {
  return anyMatch(filters.lists.schemaOnlyTables, schema, name) && anyMatch(filters.lists.dataOnlyTables, schema, name);
}

/** Patterns that match none of the given schemas/relations, as `key: pattern`. */
export function unmatchedPatterns(
  filters: CompiledFilters,
  schemas: readonly string[],
  relations: readonly { readonly schema: string; readonly name: string }[],
): string[] {
  const unmatched: string[] = [];
  for (const key of FILTER_KEYS) {
    for (const pattern of filters.lists[key]) {
      const hit = SCHEMA_FILTER_KEYS.has(key)
        ? schemas.some((s) => matchesSchema(pattern, s))
        : relations.some((r) => matchesTable(pattern, r.schema, r.name));
      if (!hit) unmatched.push(`${key}: ${pattern.text}`);
    }
  }
  return unmatched;
}
