// Target databases: created (or dropped and re-created when overwrite is allowed) with the
// source's encoding and locale; database-level properties (comment, labels, grants, connection limit,
// ALTER DATABASE/ROLE ... SET) are applied only after the data is in, so no setting can change
// what is copied (default_transaction_read_only, session_replication_role, search_path ...).
import type pg from 'pg';
import type { DatabaseProperties } from '../catalog/introspect';
import type { TargetDatabaseAction } from '../core/model';
import { displayIdent, ident, literal } from '../connect/quote';
import { isStatementRefusal } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import { runEachGrant } from './grantReplay';
import { settingStatement } from './settings';

/** OID of a database on the target, or undefined when there is none by that name. */
export async function targetDatabaseOid(target: pg.Client, database: string): Promise<number | undefined> {
  const { rows } = await target.query<{ oid: string }>(`SELECT oid::int8::text AS oid FROM pg_database WHERE datname = $1`, [database]);
  return rows[0] ? Number(rows[0].oid) : undefined;
}

/** What the migration recorded about a target database (control catalog). */
export interface OwnedDatabase {
  readonly action: TargetDatabaseAction;
  readonly oid?: number;
}

export type TargetDatabasePlan = 'create' | 'recreate-own' | 'overwrite' | 'refuse';

/**
 * What to do with a target database before the copy (pure). Only a database this migration
 * created (its OID recorded, or its creation under way when the runner died) is dropped on its own
 * authority; any other existing database is dropped only when the user asked for overwrite, and a
 * resume never widens that.
 */
export function targetDatabasePlan(
  existingOid: number | undefined,
  owned: OwnedDatabase | undefined,
  overwrite: boolean,
): TargetDatabasePlan {
  if (existingOid === undefined) return 'create';
  if (owned && (owned.oid === existingOid || owned.action === 'creating' || owned.action === 'overwriting')) return 'recreate-own';
  return overwrite ? 'overwrite' : 'refuse';
}

export function targetDatabaseExistsError(database: string): PgferryError {
  return new PgferryError(
    'TARGET_DATABASE_EXISTS',
    `database ${displayIdent(database)} already exists on the target and was not created by this migration`,
    {
      category: 'validation',
      field: 'overwriteDbsInTarget',
      fix: 'set overwriteDbsInTarget (OverwriteDBsInTarget) to true to replace it, or drop it on the target yourself',
    },
  );
}

/** Drops a database, ending its sessions (FORCE, PostgreSQL 13+), which would block DROP. */
export async function dropDatabase(target: pg.Client, database: string, targetMajor: number): Promise<void> {
  await target.query(`DROP DATABASE ${ident(database)}${targetMajor >= 13 ? ' WITH (FORCE)' : ''}`);
}

/**
 * Creates the target database, dropping an existing one first only as targetDatabasePlan allows,
 * and records each step through `record` before it is taken (the runner may die at any point).
 */
export async function createTargetDatabase(
  target: pg.Client,
  props: DatabaseProperties,
  options: {
    overwrite: boolean;
    targetMajor: number;
    owned: OwnedDatabase | undefined;
    record: (action: TargetDatabaseAction | null, oid: number | null) => Promise<void>;
  },
): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  const name = ident(props.name);
  const plan = targetDatabasePlan(await targetDatabaseOid(target, props.name), options.owned, options.overwrite);
  if (plan === 'refuse') throw targetDatabaseExistsError(props.name);
  const replaced = plan === 'overwrite' || options.owned?.action === 'overwriting' || options.owned?.action === 'overwritten';
  if (plan === 'overwrite') await options.record('overwriting', null);
  if (plan === 'overwrite' || plan === 'recreate-own') await dropDatabase(target, props.name, options.targetMajor);
  await options.record(replaced ? 'overwriting' : 'creating', null);
  const base = `CREATE DATABASE ${name} TEMPLATE template0 ENCODING ${literal(props.encoding)}`;
  try {
    await target.query(`${base} LC_COLLATE ${literal(props.collate)} LC_CTYPE ${literal(props.ctype)}`);
  } catch (error) {
    // nothing was created: nothing of that name is ours
    if (!replaced) await options.record(null, null).catch(() => undefined);
    throw new PgferryError(
      'TARGET_DATABASE_CREATE',
      `cannot create database "${props.name}" on the target with encoding ${props.encoding} and locale ${props.collate}/${props.ctype}: ${(error as Error).message}`,
      {
        category: 'target',
        field: `database "${props.name}"`,
        fix: 'install the locale on the target, or recreate the source database with a locale the target has',
        cause: error,
      },
    );
  }
  await options.record(replaced ? 'overwritten' : 'created', (await targetDatabaseOid(target, props.name)) ?? null);
  try {
    await target.query(`ALTER DATABASE ${name} OWNER TO ${ident(props.owner)}`);
  } catch (error) {
    warnings.push(`database ${displayIdent(props.name)}: owner ${props.owner} not set (${(error as Error).message})`);
  }
  return { warnings };
}

/** One aclitem: grantee ('' for PUBLIC), privilege letters with their '*' grant options, grantor. */
export interface AclItem {
  readonly grantee: string;
  readonly privileges: string;
  readonly grantor: string;
}

/** A role name as aclitem prints it, from `at`: quoted ("" doubled) when it needs quotes. */
function aclName(text: string, at: number): [name: string, next: number] {
  if (text[at] !== '"') {
    const end = text.slice(at).search(/[=/]/);
    return end < 0 ? [text.slice(at), text.length] : [text.slice(at, at + end), at + end];
  }
  let name = '';
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] !== '"') name += text[i];
    else if (text[i + 1] === '"') name += text[++i];
    else return [name, i + 1];
  }
  return [name, text.length];
}

/** Parses aclitem text, `grantee=privileges/grantor` (pure); undefined for anything else. */
export function parseAclItem(text: string): AclItem | undefined {
  const [grantee, afterGrantee] = aclName(text, 0);
  const m = /^=([A-Za-z*]*)\//.exec(text.slice(afterGrantee));
  if (!m) return undefined;
  const [grantor, end] = aclName(text, afterGrantee + m[0].length);
  return end === text.length ? { grantee, privileges: m[1]!, grantor } : undefined;
}

const DATABASE_PRIVILEGES: Record<string, string> = { C: 'CREATE', T: 'TEMPORARY', c: 'CONNECT' };

/**
 * The statements that give a database the source's ACL (pure), in pg_dump's form: every default
 * revoked, from PUBLIC and the owner, then each item granted. The source owner's entries (as
 * grantee or grantor) go to the target's owner, which is the admin when it could not give the
 * database to the source's owner: the admin stands in for it, and no other role gains what only
 * the owner had. A grant of another grantor's is made between SET SESSION AUTHORIZATION and RESET
 * (runEachGrant runs it as SET ROLE), so it is recorded as the source recorded it.
 */
export function databaseGrantStatements(database: string, acl: readonly string[], owners: { source: string; target: string }): string[] {
  const name = ident(database);
  const asTarget = (role: string): string => (role === owners.source ? owners.target : role);
  const items = acl
    .flatMap((text) => parseAclItem(text) ?? [])
    .map((i) => ({ ...i, grantee: asTarget(i.grantee), grantor: asTarget(i.grantor) }));
  const statements = [`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`];
  // An admin standing in for a source owner (a superuser there, whom no ACL limits) keeps what an
  // owner has by default: it must still connect to verify what it migrated.
  if (owners.source === owners.target) statements.push(`REVOKE ALL ON DATABASE ${name} FROM ${ident(owners.target)}`);
  // the owner's grants first: another grantor may hold its grant option from one of them
  const ordered = [...items.filter((i) => i.grantor === owners.target), ...items.filter((i) => i.grantor !== owners.target)];
  for (const item of ordered) {
    const grants = Object.entries(DATABASE_PRIVILEGES).flatMap(([letter, privilege]) => {
      const at = item.privileges.indexOf(letter);
      if (at < 0) return [];
      const withGrant = item.privileges[at + 1] === '*' ? ' WITH GRANT OPTION' : '';
      return [`GRANT ${privilege} ON DATABASE ${name} TO ${item.grantee === '' ? 'PUBLIC' : ident(item.grantee)}${withGrant}`];
    });
    if (item.grantor === owners.target) statements.push(...grants);
    else statements.push(`SET SESSION AUTHORIZATION ${ident(item.grantor)}`, ...grants, 'RESET SESSION AUTHORIZATION');
  }
  return statements;
}

/**
 * Comment, security labels, grants, connection limit and settings. A statement the target refuses
 * (a managed server refusing a setting, a role it lacks) is returned as a warning, as nothing the
 * migration does can change the answer; a session lost on the way (the target restarted, the
 * backend terminated) is thrown, so the step stops the run naming the server rather than passing
 * with properties missing.
 */
export async function applyDatabaseProperties(target: pg.Client, props: DatabaseProperties): Promise<string[]> {
  const warnings: string[] = [];
  const name = ident(props.name);
  const run = async (statements: readonly string[]): Promise<void> => {
    for (const sql of statements) {
      try {
        await target.query(sql);
      } catch (error) {
        if (!isStatementRefusal(error)) throw error;
        warnings.push(`database "${props.name}": ${sql.split(' TO ')[0]} failed: ${(error as Error).message}`);
      }
    }
  };
  const properties: string[] = [];
  if (props.comment !== null) properties.push(`COMMENT ON DATABASE ${name} IS ${literal(props.comment)}`);
  for (const [provider, label] of props.labels)
    properties.push(`SECURITY LABEL FOR ${ident(provider)} ON DATABASE ${name} IS ${literal(label)}`);
  if (props.connectionLimit >= 0) properties.push(`ALTER DATABASE ${name} CONNECTION LIMIT ${Math.trunc(props.connectionLimit)}`);
  await run(properties);
  if (props.acl) {
    // An explicit ACL replaces the defaults exactly as on the source, in one transaction: a crash
    // half way would leave the owner without CONNECT.
    const { rows } = await target.query<{ owner: string }>(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [
      props.name,
    ]);
    const owners = { source: props.owner, target: rows[0]!.owner };
    const refused = await runEachGrant(target, databaseGrantStatements(props.name, props.acl, owners), { transaction: true });
    warnings.push(...refused.map((r) => `database "${props.name}": ${r}`));
  }
  await run(
    props.settings.map((s) =>
      settingStatement(s.role ? `ALTER ROLE ${ident(s.role)} IN DATABASE ${name}` : `ALTER DATABASE ${name}`, s.setting),
    ),
  );
  return warnings;
}
