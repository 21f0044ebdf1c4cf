// Target databases: created (or dropped and re-created when overwrite is allowed) with the
// source's encoding and locale; database-level properties (comment, labels, grants, connection limit,
// ALTER DATABASE/ROLE ... SET) are applied only after the data is in, so no setting can change
// what is copied (default_transaction_read_only, session_replication_role, search_path ...).
import type pg from 'pg';
import type { DatabaseProperties } from '../catalog';
import type { TargetDatabaseAction } from '../model';
import { ident, literal } from '../connect/quote';
import { PgferryError } from '../errors';
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
    `database "${database}" already exists on the target and was not created by this migration`,
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
    warnings.push(`database "${props.name}": owner ${props.owner} not set (${(error as Error).message})`);
  }
  return { warnings };
}

/** Parses one aclitem text ("grantee=CTc/grantor"; empty grantee = PUBLIC) into GRANT statements (pure). */
export function databaseGrantStatements(database: string, acl: readonly string[]): string[] {
  const privileges: Record<string, string> = { C: 'CREATE', T: 'TEMPORARY', c: 'CONNECT' };
  const statements: string[] = [];
  for (const item of acl) {
    const m = /^(.*)=([A-Za-z*]*)\/(.*)$/.exec(item);
    if (!m) continue;
    const granteeRaw = m[1]!;
    const grantee = granteeRaw === '' ? 'PUBLIC' : ident(granteeRaw.replace(/^"(.*)"$/, '$1').replace(/""/g, '"'));
    const letters = m[2]!;
    for (const [letter, privilege] of Object.entries(privileges)) {
      const at = letters.indexOf(letter);
      if (at < 0) continue;
      const withGrant = letters[at + 1] === '*' ? ' WITH GRANT OPTION' : '';
      statements.push(`GRANT ${privilege} ON DATABASE ${ident(database)} TO ${grantee}${withGrant}`);
    }
  }
  return statements;
}

/** Comment, security labels, grants, connection limit and settings; failures are returned as warnings. */
export async function applyDatabaseProperties(target: pg.Client, props: DatabaseProperties): Promise<string[]> {
  const warnings: string[] = [];
  const name = ident(props.name);
  const statements: string[] = [];
  if (props.comment !== null) statements.push(`COMMENT ON DATABASE ${name} IS ${literal(props.comment)}`);
  for (const [provider, label] of props.labels)
    statements.push(`SECURITY LABEL FOR ${ident(provider)} ON DATABASE ${name} IS ${literal(label)}`);
  if (props.connectionLimit >= 0) statements.push(`ALTER DATABASE ${name} CONNECTION LIMIT ${Math.trunc(props.connectionLimit)}`);
  if (props.acl) {
    // An explicit ACL replaces the defaults (PUBLIC's CONNECT/TEMPORARY) exactly as on the source.
    statements.push(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
    statements.push(...databaseGrantStatements(props.name, props.acl));
  }
  for (const s of props.settings) {
    const prefix = s.role ? `ALTER ROLE ${ident(s.role)} IN DATABASE ${name}` : `ALTER DATABASE ${name}`;
    statements.push(settingStatement(prefix, s.setting));
  }
  for (const sql of statements) {
    try {
      await target.query(sql);
    } catch (error) {
      warnings.push(`database "${props.name}": ${sql.split(' TO ')[0]} failed: ${(error as Error).message}`);
    }
  }
  return warnings;
}
