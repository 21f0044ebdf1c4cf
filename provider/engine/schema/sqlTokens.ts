// A small lexer for the statements pg_dump writes (ownership, grants, default privileges): enough
// to find names and keywords without ever reading inside a quoted identifier or a literal.

export interface SqlToken {
  readonly text: string;
  /** A double-quoted identifier. */
  readonly quoted: boolean;
  /** Whitespace between tokens, kept so that a statement can be rebuilt as it was. */
  readonly space: boolean;
}

const TOKEN = /\s+|"(?:[^"]|"")*"|'(?:[^']|'')*'|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|[0-9]+|[^\s"']/y;

/** The tokens of one statement; undefined for an unterminated quote (never guessed at). */
export function sqlTokens(sql: string): SqlToken[] | undefined {
  const tokens: SqlToken[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < sql.length) {
    const m = TOKEN.exec(sql);
    if (!m) return undefined;
    const text = m[0];
    if (text === '"' || text === "'") return undefined;
    tokens.push({ text, quoted: text.startsWith('"'), space: /^\s/.test(text) });
  }
  return tokens;
}

/** The tokens that are not whitespace. */
export function words(tokens: readonly SqlToken[]): SqlToken[] {
  return tokens.filter((t) => !t.space);
}

/** Whether a token is a name (quoted, or unquoted and not punctuation). */
export function isName(token: SqlToken | undefined): token is SqlToken {
  return token !== undefined && (token.quoted || /^[A-Za-z_\u0080-\uffff]/.test(token.text));
}

/** The name a token stands for: a quoted identifier unquoted, an unquoted one folded to lower case. */
export function nameOf(token: SqlToken): string {
  // PostgreSQL folds only ASCII letters of an unquoted name (pg_dump quotes every other name)
  return token.quoted ? token.text.slice(1, -1).replace(/""/g, '"') : token.text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** An unquoted keyword, compared case-insensitively. */
export function isKeyword(token: SqlToken | undefined, keyword: string): boolean {
  return token !== undefined && !token.quoted && token.text.toUpperCase() === keyword;
}
