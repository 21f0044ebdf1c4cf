// Target databases: created (or dropped and re-created when overwrite is allowed) with the
// source's encoding and locale; database-level properties (comment, labels, grants, connection limit,
// ALTER DATABASE/ROLE ... SET) are applied only after the data is in, so no setting can change
// what is copied (default_transaction_read_only, session_replication_role, search_path ...).
import type pg from 'pg';
import type { DatabaseProperties } from '../catalog';
import { ident, literal } from '../connect/quote';
import { PgferryError } from '../errors';
import { settingStatement } from './settings';

export async function targetDatabaseExists(target: pg.Client, database: string): Promise<boolean> {
  const { rows } = await target.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database]);
  return rows.length > 0;
}

/** Creates the target database; drops an existing one first only when `overwrite`. */
export async function createTargetDatabase(
  target: pg.Client,
  props: DatabaseProperties,
  options: { overwrite: boolean; targetMajor: number },
): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  const name = ident(props.name);
  if (await targetDatabaseExists(target, props.name)) {
    if (!options.overwrite) {
      throw new PgferryError('TARGET_DATABASE_EXISTS', `database "${props.name}" already exists on the target`, {
        category: 'validation',
        field: 'overwriteDbsInTarget',
        fix: 'set overwriteDbsInTarget (OverwriteDBsInTarget) to true, or drop the database on the target',
      });
    }
    // Sessions on the database would block DROP; FORCE (PG13+) ends them.
    await target.query(`DROP DATABASE ${name}${options.targetMajor >= 13 ? ' WITH (FORCE)' : ''}`);
  }
  const base = `CREATE DATABASE ${name} TEMPLATE template0 ENCODING ${literal(props.encoding)}`;
  try {
    await target.query(`${base} LC_COLLATE ${literal(props.collate)} LC_CTYPE ${literal(props.ctype)}`);
  } catch (error) {
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
