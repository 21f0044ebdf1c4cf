// Ownership a managed target's admin could not give during pg_restore, given afterwards. `ALTER
// ... OWNER TO r` by a non-superuser needs membership in r (the admin is made a member of every
// role it creates) and r's CREATE on the object's schema (on the database, for a schema), which
// the source never needed to keep: a superuser moved the object there. The admin can give that
// CREATE for the moment of the change (it owns the schema, or is a member of its owner, or owns
// the database and so is pg_database_owner), so each refused owner change is run again with the
// missing CREATE granted and revoked around it, all in one transaction: a crash anywhere leaves no
// grant the source does not have. Only what was missing is granted, and only that is revoked.
//
// A role the admin can never become (a superuser on the target, such as a source's postgres on a
// server whose own superuser bears that name) keeps its objects with the admin; its default
// privileges then become the admin's too, so that what the admin creates in its place gets the
// grants the source gave.
import pg from 'pg';
import { ident } from '../connect/quote';
import { errorMessage } from '../core/errors';
import { runEachGrant, splitStatements } from './grantReplay';
import { isKeyword, isName, nameOf, sqlTokens, words, type SqlToken } from './sqlTokens';
import { inTransaction } from '../connect/transaction';

/** An `ALTER ... OWNER TO` statement of pg_dump's, read (pure). */
export interface OwnerChange {
  readonly statement: string;
  /** The new owner. */
  readonly owner: string;
  /** Where the new owner must have CREATE: the object's schema, or the database (for a schema). */
  readonly needs?: { readonly schema: string } | 'database';
}

/** Object kinds pg_dump always writes schema-qualified, longest first ("OPERATOR CLASS" before "OPERATOR"). */
const IN_SCHEMA = [
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'MATERIALIZED VIEW',
  'OPERATOR FAMILY',
  'OPERATOR CLASS',
  'FOREIGN TABLE',
  'STATISTICS',
  'CONVERSION',
  'COLLATION',
  'PROCEDURE',
  'AGGREGATE',
  'FUNCTION',
  'OPERATOR',
  'SEQUENCE',
  'ROUTINE',
  'DOMAIN',
  'TABLE',
  'VIEW',
  'TYPE',
];

/** What a statement of the form `ALTER <kind> <name> OWNER TO <role>` changes; undefined for anything else. */
export function ownerChange(statement: string): OwnerChange | undefined {
  const text = statement.trim().replace(/;$/, '');
  const tokens = sqlTokens(text);
  if (!tokens) return undefined;
  const all = words(tokens);
  const n = all.length;
  if (n < 5 || !isKeyword(all[0], 'ALTER') || !isKeyword(all[n - 3], 'OWNER') || !isKeyword(all[n - 2], 'TO') || !isName(all[n - 1]))
    return undefined;
  const owner = nameOf(all[n - 1]!);
  const head = all.map((t) => (t.quoted ? '"' : t.text.toUpperCase())).join(' ');
  if (head.startsWith('ALTER SCHEMA ')) return { statement: text, owner, needs: 'database' };
  const kind = IN_SCHEMA.find((k) => head.startsWith(`ALTER ${k} `));
  if (!kind) return { statement: text, owner };
  // the name follows the kind's words: schema "." name
  const name = all[1 + kind.split(' ').length];
  const dot = all[2 + kind.split(' ').length];
  if (!isName(name) || dot?.text !== '.') return { statement: text, owner };
  return { statement: text, owner, needs: { schema: nameOf(name) } };
}

/** A refused statement and pg_restore's reason. */
export interface Refused {
  readonly statement: string;
  readonly message: string;
}

/** Session failures are not refusals: the server went away, and the step is tried again. */
function isSessionFailure(error: unknown): boolean {
  return !(error instanceof pg.DatabaseError) || /^(08|57|53)/.test(error.code ?? '');
}

function line(statement: string, message: string): string {
  const one = statement.replace(/\s*\n\s*/g, ' ');
  return `${message} (statement: ${one.length > 160 ? `${one.slice(0, 160)}…` : one})`;
}

interface Grant {
  readonly on: string;
  readonly to: string;
}

/** The temporary CREATE a change needs, unless its owner has it already (through PUBLIC or membership too). */
async function missingCreate(client: pg.Client, change: OwnerChange): Promise<Grant | undefined> {
  if (!change.needs) return undefined;
  const { rows } =
    change.needs === 'database'
      ? await client.query<{ has: boolean; on: string }>(
          `SELECT has_database_privilege(r.oid, d.oid, 'CREATE') AS has, d.datname AS on
             FROM pg_roles r, pg_database d WHERE r.rolname = $1 AND d.datname = current_database()`,
          [change.owner],
        )
      : await client.query<{ has: boolean; on: string }>(
          `SELECT has_schema_privilege(r.oid, n.oid, 'CREATE') AS has, n.nspname AS on
             FROM pg_roles r, pg_namespace n WHERE r.rolname = $1 AND n.nspname = $2`,
          [change.owner, change.needs.schema],
        );
  const row = rows[0];
  if (!row || row.has) return undefined;
  return { on: change.needs === 'database' ? `DATABASE ${ident(row.on)}` : `SCHEMA ${ident(row.on)}`, to: change.owner };
}

/** Runs `sql` under a savepoint; returns the error that rolled it back, if any. */
async function attempt(client: pg.Client, sql: string): Promise<unknown> {
  await client.query('SAVEPOINT pgferry_owner');
  try {
    await client.query(sql);
    await client.query('RELEASE SAVEPOINT pgferry_owner');
    return undefined;
  } catch (error) {
    if (isSessionFailure(error)) throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_owner');
    return error;
  }
}

/**
 * Owner changes per transaction: each takes an ACCESS EXCLUSIVE lock on its object (and a table's
 * on its indexes, TOAST table and sequences) until COMMIT, and the server's lock table holds
 * max_locks_per_transaction (64) times max_connections (100) by default.
 */
const CHANGES_PER_TRANSACTION = 256;

interface Pending {
  readonly change: OwnerChange;
  readonly message: string;
}

/**
 * One transaction: the CREATE the batch's new owners lack granted, each change under its own
 * savepoint, the grants revoked, COMMIT. Returns the changes still refused, with their reasons.
 */
async function changeOwners(client: pg.Client, batch: readonly Pending[]): Promise<Pending[]> {
  return inTransaction(client, async () => {
    const granted: Grant[] = [];
    for (const { change } of batch) {
      const grant = await missingCreate(client, change);
      if (!grant || granted.some((g) => g.on === grant.on && g.to === grant.to)) continue;
      // the admin may not be able to give it either: then the change fails again, and says why
      if (!(await attempt(client, `GRANT CREATE ON ${grant.on} TO ${ident(grant.to)}`))) granted.push(grant);
    }
    const refused: Pending[] = [];
    for (const item of batch) {
      const error = await attempt(client, item.change.statement);
      if (error) refused.push({ change: item.change, message: errorMessage(error) });
    }
    for (const grant of granted) await client.query(`REVOKE CREATE ON ${grant.on} FROM ${ident(grant.to)}`);
    return refused;
  });
}

/**
 * Runs refused owner changes again, each new owner given CREATE on the schema (or database) it
 * lacked for the length of one transaction. Returns one line per change that still fails, the
 * large objects' together in one (largeObjectsKept). Changes to a role the session is not a member
 * of are not tried again.
 */
export async function restoreOwners(client: pg.Client, refused: readonly Refused[]): Promise<string[]> {
  let pending: Pending[] = [];
  const owners = [...new Set(refused.flatMap((r) => ownerChange(r.statement)?.owner ?? []))];
  const { rows } = await client.query<{ name: string }>(
    `SELECT rolname AS name FROM pg_roles WHERE rolname = ANY($1::text[]) AND pg_has_role(current_user, oid, 'MEMBER')`,
    [owners],
  );
  const reachable = new Set(rows.map((r) => r.name));
  const unreachable: Refused[] = [];
  for (const r of refused) {
    const change = ownerChange(r.statement);
    if (change && reachable.has(change.owner)) pending.push({ change, message: r.message });
    else unreachable.push(r);
  }
  // Passes until one changes nothing: an owned sequence follows its table, and is refused alone
  // while its table has not moved.
  while (pending.length > 0) {
    const next: Pending[] = [];
    for (let at = 0; at < pending.length; at += CHANGES_PER_TRANSACTION) {
      next.push(...(await changeOwners(client, pending.slice(at, at + CHANGES_PER_TRANSACTION))));
    }
    const progress = next.length < pending.length;
    pending = next;
    if (!progress) break;
  }
  const [large, others]: [Refused[], string[]] = [[], []];
  for (const r of [...unreachable, ...pending.map((p) => ({ statement: p.change.statement, message: p.message }))]) {
    if (LARGE_OBJECT_OWNER.test(r.statement)) large.push(r);
    else others.push(line(r.statement, r.message));
  }
  if (large.length === 0) return others;
  const me = (await client.query<{ me: string }>('SELECT current_user AS me')).rows[0]!.me;
  return [...others, largeObjectsKept(large, me)];
}

/** pg_dump's owner change of a large object: `ALTER LARGE OBJECT <oid> OWNER TO <role>`. */
const LARGE_OBJECT_OWNER = /^\s*ALTER\s+LARGE\s+OBJECT\s+\d+\s+OWNER\s+TO\s/i;

/**
 * One line for every large object whose owner change is still refused, however many: a database
 * may hold millions, and a line each would bury every other warning. It says how many keep the
 * target user as their owner instead of which role, why (the server's own words, once), and the
 * one GRANT that lets them be given their owner.
 */
export function largeObjectsKept(refused: readonly Refused[], me: string): string {
  const byOwner = new Map<string, Refused[]>();
  for (const r of refused) {
    const owner = ownerChange(r.statement)?.owner ?? '?';
    const same = byOwner.get(owner);
    if (same) same.push(r);
    else byOwner.set(owner, [r]);
  }
  const kept = [...byOwner].map(([owner, rs]) => `${rs.length} instead of "${owner}" (${rs[0]!.message})`).join(', ');
  const grant = `GRANT ${[...byOwner.keys()].map(ident).join(', ')} TO ${ident(me)}`;
  return `${refused.length} large object(s) keep the owner "${me}" the restore gave them, ${kept}: the target user may not become that role; fix: ${grant}, then run again (or ALTER LARGE OBJECT ... OWNER TO by hand)`;
}

/**
 * An `ALTER DEFAULT PRIVILEGES FOR ROLE r` statement with r replaced by `admin` when r is in
 * `standIn`, and r as grantee too (its own privileges on what it creates) (pure); undefined when
 * it is not for such a role, or not such a statement.
 */
export function standInDefaultPrivileges(statement: string, standIn: ReadonlySet<string>, admin: string): string | undefined {
  const tokens = sqlTokens(statement.trim());
  if (!tokens) return undefined;
  const all = words(tokens);
  if (!['ALTER', 'DEFAULT', 'PRIVILEGES', 'FOR'].every((k, i) => isKeyword(all[i], k))) return undefined;
  if (!isKeyword(all[4], 'ROLE') && !isKeyword(all[4], 'USER')) return undefined;
  const replace = new Set<SqlToken>();
  // FOR ROLE a, b ...
  for (let i = 5; i < all.length && isName(all[i]); i += 2) {
    if (standIn.has(nameOf(all[i]!))) replace.add(all[i]!);
    if (all[i + 1]?.text !== ',') break;
  }
  // the role's own privileges on what it creates: TO|FROM a, b [WITH GRANT OPTION] [CASCADE|RESTRICT],
  // the grantees after the last TO or FROM
  if (replace.size === 0) return undefined;
  const last = all.map((t, i) => (isKeyword(t, 'TO') || isKeyword(t, 'FROM') ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  for (let i = last + 1; last > 0 && i < all.length && isName(all[i]); i += 2) {
    if (!isKeyword(all[i], 'PUBLIC') && !isKeyword(all[i], 'GROUP') && standIn.has(nameOf(all[i]!))) replace.add(all[i]!);
    if (all[i + 1]?.text !== ',') break;
  }
  return tokens
    .map((t) => (replace.has(t) ? ident(admin) : t.text))
    .join('')
    .replace(/;$/, '');
}

/**
 * Runs again a refused default-privileges entry of pg_dump's (one statement per grant or revoke):
 * when the target user is not a superuser, the roles that are superusers on the target become the
 * target user in it, whose objects theirs have become. Returns the lines to report: the stand-in
 * itself, and each statement still refused.
 */
export async function restoreDefaultPrivileges(client: pg.Client, command: string, message: string): Promise<string[]> {
  const statements = splitStatements(command);
  if (!statements) return [line(command, message)];
  const { rows } = await client.query<{ me: string; superuser: boolean; superusers: string[] }>(
    `SELECT current_user AS me, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            ARRAY(SELECT rolname::text FROM pg_roles WHERE rolsuper) AS superusers`,
  );
  const { me, superuser, superusers } = rows[0]!;
  const standIn = new Set(superuser ? [] : superusers);
  const rewritten = statements.map((s) => standInDefaultPrivileges(s, standIn, me) ?? s);
  const replaced = [...standIn].filter((r) => statements.some((s) => standInDefaultPrivileges(s, new Set([r]), me) !== undefined));
  const lines = replaced.map(
    (r) =>
      `default privileges of "${r}" restored as "${me}"'s: "${r}" is a superuser on the target, so its objects stay "${me}"'s (refused: ${message})`,
  );
  return [...lines, ...(await runEachGrant(client, rewritten))];
}
