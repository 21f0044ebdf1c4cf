// ACCESS SHARE locks on the tables a copy reads, and the error that names who kept one from being
// granted. Used by the copy snapshot (copySnapshot.ts): see there for why the copy holds them.
import type pg from 'pg';
import { LIST_COPIED_TABLE_NAMES } from '../catalog/queries';
import { withSession } from '../connect/session';
import { displayIdent, qualified } from '../connect/quote';
import { inSavepoint } from '../connect/savepoint';
import { sqlState, UNDEFINED_TABLE } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import type { ServerSpec } from '../input/migrationSpec';

export interface TableName {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
}

/** LOCK statements name at most this many tables (a 20k-table database takes 20 round trips). */
const LOCK_BATCH = 1000;

/** The tables a copy reads, as the session's snapshot (or, outside one, the catalog now) shows them. */
export async function listCopiedTables(client: pg.Client): Promise<TableName[]> {
  return (await client.query<TableName>(LIST_COPIED_TABLE_NAMES)).rows;
}

/** Relations this session holds ACCESS SHARE on, by OID. */
export async function heldRelations(client: pg.Client): Promise<Set<string>> {
  const { rows } = await client.query<{ oid: string }>(
    `SELECT relation::int8::text AS oid FROM pg_locks
      WHERE pid = pg_backend_pid() AND locktype = 'relation' AND mode = 'AccessShareLock' AND granted`,
  );
  return new Set(rows.map((r) => r.oid));
}

/**
 * ACCESS SHARE on `tables`, inside the session's open transaction, waiting at most the session's
 * lock_timeout (or not at all with `nowait`). A table dropped or renamed since it was listed is
 * skipped: nothing will read it under that name.
 */
export async function lockTables(client: pg.Client, tables: readonly TableName[], options: { nowait?: boolean } = {}): Promise<void> {
  const suffix = options.nowait ? ' NOWAIT' : '';
  for (let i = 0; i < tables.length; i += LOCK_BATCH) {
    const batch = tables.slice(i, i + LOCK_BATCH);
    try {
      const sql = `LOCK TABLE ${batch.map((t) => `ONLY ${qualified(t.schema, t.name)}`).join(', ')} IN ACCESS SHARE MODE${suffix}`;
      await inSavepoint(client, 'lock_batch', () => client.query(sql));
    } catch (error) {
      if (sqlState(error) !== UNDEFINED_TABLE) throw error;
      for (const t of batch) await lockOne(client, t, suffix);
    }
  }
}

async function lockOne(client: pg.Client, table: TableName, suffix: string): Promise<void> {
  await client.query('SAVEPOINT lock_one');
  try {
    await client.query(`LOCK TABLE ONLY ${qualified(table.schema, table.name)} IN ACCESS SHARE MODE${suffix}`);
    await client.query('RELEASE SAVEPOINT lock_one');
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT lock_one');
    if (sqlState(error) !== UNDEFINED_TABLE) throw error;
  }
}

/** Names the session whose exclusive lock (held or requested) kept the copy from its lock. */
export async function tableLockedError(
  source: ServerSpec,
  database: string,
  tables: readonly TableName[],
  lockTimeoutSeconds: number,
  cause: unknown,
): Promise<PgferryError> {
  const found = await withSession(source, { database, purpose: 'table locks' }, (client) =>
    client.query<{ rel: string; pid: number; usename: string | null; app: string | null; granted: boolean; secs: number | null }>(
      `SELECT l.relation::regclass::text AS rel, a.pid, a.usename::text AS usename, a.application_name AS app, l.granted,
              extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int AS secs
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.relation = ANY($1::oid[])
        ORDER BY l.granted DESC, a.xact_start LIMIT 1`,
      [tables.map((t) => t.oid)],
    ),
  ).catch(() => undefined);
  const b = found?.rows[0];
  const who = b
    ? `table ${b.rel} is ${b.granted ? 'locked' : 'waiting to be locked'} by session pid ${b.pid} (user ${b.usename ?? '?'}, application "${b.app ?? ''}", transaction open for ${b.secs ?? '?'} s)`
    : 'a table was locked by another session (it has ended since)';
  return new PgferryError(
    'SOURCE_TABLE_LOCKED',
    `database ${displayIdent(database)}: ${who}; the copy could not take its ACCESS SHARE lock within ${lockTimeoutSeconds} s`,
    {
      category: 'source',
      field: 'lockTimeoutSeconds',
      fix: 'let that session finish its TRUNCATE, ALTER TABLE, VACUUM FULL or CLUSTER, then start again, or raise lockTimeoutSeconds',
      cause,
    },
  );
}
