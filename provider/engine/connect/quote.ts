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

// How a name is printed in a message (displayIdent, displayName) is core/printedName.ts's, below every
// folder (the kernel prints database names too); exported here beside the quoting it mirrors.
export { displayIdent, displayName } from '../core/printedName';

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
