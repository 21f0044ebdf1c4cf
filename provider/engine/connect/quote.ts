// The one quoting helper: every identifier from user data or the catalogs that reaches SQL goes
// through `ident`/`qualified`; values travel as $n parameters, and `literal` is only for the few
// statements that take no parameters (SET TRANSACTION SNAPSHOT, replication commands, CREATE ROLE
// ... PASSWORD).

/** Quotes an identifier for PostgreSQL: always double-quoted, embedded quotes doubled. */
export function ident(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

/** schema.name, each part quoted. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/**
 * An identifier as a message, a progress line or an event prints it: bare when it is a plain
 * lower-case word (as users most often write it), else double-quoted as `ident` quotes it, so a
 * dot, a quote or a space inside a name cannot be read as the boundary of another. A control
 * character (a newline, a tab) is written in PostgreSQL's Unicode escape form, U&"a\000Ab", so the
 * name stays on one line of output and a log parser's line is never cut, and still reads as SQL.
 * Distinct names always print distinctly, so a printed name is also a sound key.
 */
export function displayIdent(name: string): string {
  if (PLAIN_WORD.test(name)) return name;
  if (![...name].some(isControl)) return ident(name);
  const escaped = [...name]
    .map((c) => {
      if (c === '"') return '""';
      if (c === '\\') return '\\\\';
      if (!isControl(c)) return c;
      return `\\${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    })
    .join('');
  return `U&"${escaped}"`;
}

/** schema.name as a message prints it, each part as displayIdent prints it. */
export function displayName(schema: string, name: string): string {
  return `${displayIdent(schema)}.${displayIdent(name)}`;
}

const PLAIN_WORD = /^[a-z_][a-z0-9_$]*$/;
/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each can break a line. */
function isControl(c: string): boolean {
  const code = c.codePointAt(0)!;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** A comma-separated list of quoted identifiers. */
export function identList(names: readonly string[]): string {
  return names.map(ident).join(', ');
}

/** Quotes a string literal (standard_conforming_strings on, which every supported server has). */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * A libpq conninfo `dbname='...'` fragment: client tools treat a --dbname value containing `=` or
 * a URI prefix as a connection string, so a database name is always passed in this quoted form.
 */
export function conninfoDbname(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * An operator name as CREATE OPERATOR allows it: operator characters, and never `--` or `/*`,
 * which would start a comment. It cannot be quoted, so nothing else may reach SQL.
 */
const OPERATOR_NAME = /^(?!.*(--|\/\*))[+\-*/<>=~!@#%^&|`?]{1,63}$/;

/**
 * `OPERATOR("schema".=)`: a schema-qualified operator, found whatever the search_path. The schema
 * is an identifier (quoted); the name is not an identifier and cannot be quoted, so it is refused
 * unless it is an operator name.
 */
export function operator(schema: string, name: string): string {
  if (!OPERATOR_NAME.test(name)) throw new Error(`not an operator name: ${JSON.stringify(name)}`);
  return `OPERATOR(${ident(schema)}.${name})`;
}
