// Grants restored one statement at a time after pg_restore refused an entry. pg_restore runs each
// archive entry as one statement list, in one implicit transaction: when one grant of an object's
// ACL entry fails (a role the target lacks, with migrateRoles false; a grant a managed target
// refuses), the grants of that entry to roles the target has are rolled back with it, and the
// target's catalog quietly differs from the source's. Such an entry is run again statement by
// statement, so that only the grants that really fail are left out, each with its own warning.
import pg from 'pg';
import { errorMessage } from '../errors';

/**
 * The statements of a pg_dump ACL entry, split at semicolons outside quoted identifiers and
 * literals (an identifier may hold `;` or a line break); undefined when the text holds anything
 * an ACL entry does not (dollar quoting, comments), so it is never split wrongly.
 */
export function splitStatements(sql: string): string[] | undefined {
  if (/\$|--|\/\*/.test(sql.replace(/"(?:[^"]|"")*"|'(?:[^']|'')*'/g, ''))) return undefined;
  const statements: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  for (const ch of sql) {
    if (quote) {
      // a doubled quote closes and reopens at once, which leaves the state right
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === ';') {
      if (current.trim()) statements.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (quote) return undefined;
  if (current.trim()) statements.push(current.trim());
  return statements;
}

/** The statements to run again one by one: only a list of grants and revokes, never a single one. */
export function grantStatements(command: string): string[] | undefined {
  const statements = splitStatements(command);
  if (!statements || statements.length < 2) return undefined;
  return statements.every((s) => /^(GRANT|REVOKE)\s/i.test(s)) ? statements : undefined;
}

/** Runs each statement alone; returns one line for each one that fails (the rest are kept). */
export async function runEachGrant(target: pg.Client, statements: readonly string[]): Promise<string[]> {
  const failed: string[] = [];
  for (const statement of statements) {
    try {
      await target.query(statement);
    } catch (error) {
      // the statement was refused; a session that broke (08, 57: the server went away) is not
      // a refusal and fails the restore step, which is tried again
      if (!(error instanceof pg.DatabaseError) || /^(08|57|53)/.test(error.code ?? '')) throw error;
      failed.push(`${errorMessage(error)} (statement: ${statement.length > 160 ? `${statement.slice(0, 160)}…` : statement})`);
    }
  }
  return failed;
}
