// The databases to migrate: present and connectable on the source; absent on the target unless
// overwriting is allowed (and then droppable by the target user, and not live unless named).
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { liveOverwriteFix, liveTargetDatabases } from './liveDatabases';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import type { ServerSession } from './readOnlySessions';

const DATABASES_SQL = `
SELECT d.datname AS name,
       d.datallowconn AS allow_conn,
       has_database_privilege(d.datname, 'CONNECT') AS can_connect,
       pg_has_role(d.datdba, 'MEMBER') AS owned
FROM pg_database d
WHERE d.datname = ANY($1::text[])`;

interface DatabaseRow {
  name: string;
  allow_conn: boolean;
  can_connect: boolean;
  owned: boolean;
}

async function readDatabases(client: pg.Client, names: readonly string[]): Promise<Map<string, DatabaseRow>> {
  const { rows } = await client.query<DatabaseRow>(DATABASES_SQL, [names]);
  return new Map(rows.map((r) => [r.name, r]));
}

/** Returns the results and the databases whose per-database checks can run. */
export async function checkSourceDatabases(
  source: ServerSession,
  databases: readonly string[],
): Promise<{ results: ValidationResult[]; present: string[] }> {
  const type = CHECK_TYPES.databases;
  const found = await readDatabases(source.client, databases);
  const results: ValidationResult[] = [];
  const present: string[] = [];
  for (const name of databases) {
    const row = found.get(name);
    const scope = { database: name, server: 'source' as const };
    if (!row) {
      results.push(
        failed(
          CODES.SOURCE_DATABASE_MISSING,
          type,
          `database ${displayIdent(name)} does not exist on the source`,
          `remove ${displayIdent(name)} from databases, or correct its name (names are case-sensitive)`,
          scope,
        ),
      );
    } else if (!row.allow_conn || !row.can_connect) {
      results.push(
        failed(
          CODES.SOURCE_DATABASE_NOT_CONNECTABLE,
          type,
          `database ${displayIdent(name)} on the source does not accept connections from ${displayIdent(source.info.user)}`,
          row.allow_conn
            ? `on the source: GRANT CONNECT ON DATABASE ${displayIdent(name)} TO ${displayIdent(source.info.user)}`
            : `on the source: ALTER DATABASE ${displayIdent(name)} WITH ALLOW_CONNECTIONS true`,
          scope,
        ),
      );
    } else {
      present.push(name);
      results.push(succeeded(CODES.SOURCE_DATABASE, type, `database ${displayIdent(name)} exists on the source`, scope));
    }
  }
  return { results, present };
}

export async function checkTargetDatabases(target: ServerSession, spec: MigrationSpec): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.databases;
  const found = await readDatabases(target.client, spec.databases);
  // only a database overwriteDbsInTarget would drop is asked whether it is live
  const overwritten = spec.overwriteDbsInTarget ? spec.databases.filter((d) => found.has(d)) : [];
  const live = await liveTargetDatabases(target.client, spec, overwritten);
  return spec.databases.map((name) => {
    const row = found.get(name);
    const scope = { database: name, server: 'target' as const };
    if (!row) return succeeded(CODES.TARGET_DATABASE, type, `database ${displayIdent(name)} does not exist on the target yet`, scope);
    if (!spec.overwriteDbsInTarget && spec.waitForOverwriteConfirmation) {
      return warning(
        CODES.TARGET_DATABASE_EXISTS,
        type,
        `database ${displayIdent(name)} already exists on the target: the migration waits for the overwrite to be allowed (WaitingForTargetDBOverwriteConfirmation)`,
        `allow it with \`pgferry update --overwrite-dbs-in-target\` (Pulumi: overwriteDbsInTarget: true), or drop it on the target first (DROP DATABASE ${displayIdent(name)})`,
        scope,
      );
    }
    if (!spec.overwriteDbsInTarget) {
      return failed(
        CODES.TARGET_DATABASE_EXISTS,
        type,
        `database ${displayIdent(name)} already exists on the target`,
        `set overwriteDbsInTarget to true to drop and recreate it, or drop it on the target first (DROP DATABASE ${displayIdent(name)})`,
        scope,
      );
    }
    if (!row.owned && !target.info.superuser) {
      return failed(
        CODES.TARGET_DATABASE_NOT_DROPPABLE,
        type,
        `database ${displayIdent(name)} exists on the target and ${displayIdent(target.info.user)} cannot drop it (not its owner)`,
        `on the target: ALTER DATABASE ${displayIdent(name)} OWNER TO ${displayIdent(target.info.user)}, or drop it as its owner`,
        scope,
      );
    }
    const why = live.get(name);
    if (why !== undefined && !spec.overwriteLiveDbsInTarget.includes(name)) {
      return failed(
        CODES.TARGET_DATABASE_LIVE,
        type,
        `database ${displayIdent(name)} on the target is live (${why}): overwriteDbsInTarget would drop it`,
        liveOverwriteFix(name),
        scope,
      );
    }
    if (why !== undefined) {
      return warning(
        CODES.TARGET_DATABASE_OVERWRITE,
        type,
        `database ${displayIdent(name)} on the target is live (${why}) and will be dropped and recreated, as overwriteLiveDbsInTarget names it`,
        `remove ${displayIdent(name)} from overwriteLiveDbsInTarget to keep it; the migration then refuses to start`,
        scope,
      );
    }
    return warning(
      CODES.TARGET_DATABASE_OVERWRITE,
      type,
      `database ${displayIdent(name)} exists on the target and will be dropped and recreated (overwriteDbsInTarget)`,
      `set overwriteDbsInTarget to false to keep it; the migration then refuses to start`,
      scope,
    );
  });
}
