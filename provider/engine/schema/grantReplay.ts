// Grants restored one statement at a time after pg_restore refused an entry. pg_restore runs each
// archive entry as one statement list, in one implicit transaction: when one grant of an object's
// ACL entry fails (a role the target lacks, with migrateRoles false; a grant a managed target
// refuses), the grants of that entry to roles the target has are rolled back with it, and the
// target's catalog quietly differs from the source's. Such an entry is run again statement by
// statement, so that only the grants that really fail are left out, each with its own warning.
// A grant whose grantor is not the owner comes between SET SESSION AUTHORIZATION <grantor> and
// RESET SESSION AUTHORIZATION, which only a superuser may run: it is run after SET ROLE <grantor>
// instead (the admin is a member of every role it created), so the grant is recorded as the
// grantor's, as on the source.
import type pg from 'pg';
import { ident } from '../connect/quote';
import { inSavepoint } from '../connect/savepoint';
import { isStatementRefusal } from '../connect/sqlstate';
import { errorMessage } from '../core/errors';
import { isKeyword, isName, nameOf, sqlTokens, words } from './sqlTokens';

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

/** The grantor of `SET SESSION AUTHORIZATION <grantor>` (pure); undefined for any other statement. */
export function sessionAuthorization(statement: string): string | undefined {
  const all = words(sqlTokens(statement) ?? []);
  const [set, session, authorization, name] = all;
  if (all.length !== 4 || !isKeyword(set, 'SET') || !isKeyword(session, 'SESSION') || !isKeyword(authorization, 'AUTHORIZATION'))
    return undefined;
  return isName(name) ? nameOf(name) : undefined;
}

const isReset = (statement: string): boolean => /^RESET\s+SESSION\s+AUTHORIZATION$/i.test(statement);

/**
 * The statements to run again one by one: only a list of grants and revokes, some of them
 * between SET SESSION AUTHORIZATION and RESET SESSION AUTHORIZATION; never a single statement.
 */
export function grantStatements(command: string): string[] | undefined {
  const statements = splitStatements(command);
  if (!statements || statements.length < 2) return undefined;
  return statements.every((s) => /^(GRANT|REVOKE)\s/i.test(s) || sessionAuthorization(s) !== undefined || isReset(s))
    ? statements
    : undefined;
}

function refusal(statement: string, message: string): string {
  return `${message} (statement: ${statement.length > 160 ? `${statement.slice(0, 160)}…` : statement})`;
}

/**
 * Runs each statement alone; returns one line for each one that fails (the rest are kept). A
 * session authorization becomes SET ROLE; when that is refused, the grants it covers are not run
 * (as the admin they would be recorded with the wrong grantor) and are reported. With
 * `transaction`, all of them commit together (each refusal rolled back to its savepoint): nothing
 * is half applied when the session dies.
 */
export async function runEachGrant(
  target: pg.Client,
  statements: readonly string[],
  options: { transaction?: boolean } = {},
): Promise<string[]> {
  const failed: string[] = [];
  let refusedRole: string | undefined;
  const run = async (sql: string): Promise<void> => {
    if (!options.transaction) return void (await target.query(sql));
    await inSavepoint(target, 'pgferry_grant', () => target.query(sql));
  };
  if (options.transaction) await target.query('BEGIN');
  try {
    for (const statement of statements) {
      const grantor = sessionAuthorization(statement);
      const sql = grantor !== undefined ? `SET ROLE ${ident(grantor)}` : isReset(statement) ? 'RESET ROLE' : statement;
      if (refusedRole !== undefined && grantor === undefined && !isReset(statement)) {
        failed.push(refusal(statement, `not run: SET ROLE to its grantor "${refusedRole}" was refused`));
        continue;
      }
      refusedRole = undefined;
      try {
        await run(sql);
      } catch (error) {
        // the statement was refused; a session that broke (the server went away) is not a
        // refusal and fails the restore step, which is tried again
        if (!isStatementRefusal(error)) throw error;
        if (grantor !== undefined) refusedRole = grantor;
        failed.push(refusal(sql, errorMessage(error)));
      }
    }
    // never leave the session acting as another role
    await target.query('RESET ROLE');
    if (options.transaction) await target.query('COMMIT');
  } catch (error) {
    if (options.transaction) await target.query('ROLLBACK').catch(() => undefined);
    await target.query('RESET ROLE').catch(() => undefined);
    throw error;
  }
  return failed;
}
