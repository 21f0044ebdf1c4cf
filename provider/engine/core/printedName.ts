// How a name (a database, a role, a table's schema and name) is printed in a message, a progress
// line or an event: the one printing helper, beside the one quoting helper (connect/quote.ts `ident`,
// for SQL), whose quoting it mirrors. It lives in the kernel because the kernel's own messages name
// databases too (core/transitions.ts); connect/quote.ts exports it to the folders above.

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
  if (![...name].some(isControl)) return `"${name.replace(/"/g, '""')}"`;
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
