// Name patterns for filters, pg_dump's syntax (psql's "Patterns" section): `*` matches any run of
// characters, `?` one character, `.` separates a schema from a table, unquoted letters are folded
// to lower case, and double quotes keep case and make `*`, `?` and `.` literal ("" is one quote).
// Unlike pg_dump, every other character (regular-expression ones included) matches itself: a
// filter is a list of names with wildcards, not a regular expression. Pure: no PostgreSQL needed.
// The spec's filter fields are lists of these; the spec checks each pattern as it is parsed, and
// filter/ decides with them what moves.

/** A compiled pattern: `schema` unset matches a table of that name in any schema. */
export interface NamePattern {
  readonly text: string;
  readonly schema?: RegExp;
  readonly name: RegExp;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.|+()[\]{}*?]/g, '\\$&');
}

/**
 * Splits a pattern into its dot-separated parts, each compiled to an anchored regular expression.
 * Throws a one-line message (what is wrong and what is allowed) for a malformed pattern.
 */
function compileParts(text: string): RegExp[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        current += escapeRegExp('"');
        i++;
      } else quoted = !quoted;
    } else if (quoted) current += escapeRegExp(ch);
    else if (ch === '.') {
      parts.push(current);
      current = '';
    } else if (ch === '*') current += '.*';
    else if (ch === '?') current += '.';
    else current += escapeRegExp(ch.toLowerCase());
  }
  if (quoted) throw new Error(`pattern ${JSON.stringify(text)} has an unclosed double quote`);
  parts.push(current);
  if (parts.some((p) => p === ''))
    throw new Error(`pattern ${JSON.stringify(text)} has an empty part; write schema.table, table or schema`);
  return parts.map((p) => new RegExp(`^(?:${p})$`, 's'));
}

/** A table pattern: `table` (any schema) or `schema.table`. */
export function tablePattern(text: string): NamePattern {
  const parts = compileParts(text);
  if (parts.length > 2)
    throw new Error(
      `pattern ${JSON.stringify(text)} has more than one unquoted dot; write schema.table (quote a dot that is part of a name)`,
    );
  return parts.length === 2 ? { text, schema: parts[0]!, name: parts[1]! } : { text, name: parts[0]! };
}

/** A schema pattern: one name, no unquoted dot. */
export function schemaPattern(text: string): NamePattern {
  const parts = compileParts(text);
  if (parts.length > 1) throw new Error(`schema pattern ${JSON.stringify(text)} has an unquoted dot; quote a dot that is part of a name`);
  return { text, name: parts[0]! };
}

export function matchesSchema(pattern: NamePattern, schema: string): boolean {
  return pattern.name.test(schema);
}

export function matchesTable(pattern: NamePattern, schema: string, name: string): boolean {
  return (pattern.schema?.test(schema) ?? true) && pattern.name.test(name);
}

/** The filter fields of a migration spec, each a list of pg_dump-style patterns (below). */
export interface TableFilters {
  readonly includeSchemas: readonly string[];
  readonly excludeSchemas: readonly string[];
  readonly includeTables: readonly string[];
  readonly excludeTables: readonly string[];
  /** The table's definition moves, its rows do not (nor its changes, online). */
  readonly schemaOnlyTables: readonly string[];
  /** The table's rows move into its bare definition; its indexes, keys, triggers, rules and policies do not. */
  readonly dataOnlyTables: readonly string[];
}

export const FILTER_KEYS = [
  'includeSchemas',
  'excludeSchemas',
  'includeTables',
  'excludeTables',
  'schemaOnlyTables',
  'dataOnlyTables',
] as const satisfies readonly (keyof TableFilters)[];
