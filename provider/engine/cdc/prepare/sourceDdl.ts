// DDL pgferry runs on a server the application is using (ALTER TABLE ... REPLICA IDENTITY, CREATE
// and ALTER PUBLICATION): it never waits long for a lock. A lock request that waits is queued, and
// every later request that conflicts with it queues behind it: an ALTER TABLE (ACCESS EXCLUSIVE)
// stuck behind one long transaction would stall every query on the table, and an application
// whose statement_timeout is shorter than the wait would get errors. So each attempt waits for its
// locks at most a short lock_timeout, starting almost at NOWAIT and growing to
// SOURCE_DDL_LOCK_TIMEOUT_MS; between attempts pgferry lets go and backs off; after the caller's
// patience it gives up with an error naming the session that holds the table.
import type pg from 'pg';
import { DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE, sqlState } from '../../connect/sqlstate';
import { inTransaction, type TransactionOptions } from '../../connect/transaction';
import { PgferryError } from '../../core/errors';
import { endHoldersWords, holderWords, type LockHolder } from '../../connect/lockHolders';

/** The longest an application's statement can queue behind a lock request of pgferry's. */
export const SOURCE_DDL_LOCK_TIMEOUT_MS = 2000;

/** A transaction of DDL that waits for a lock no longer than SOURCE_DDL_LOCK_TIMEOUT_MS (the writer fence's, the target guard's). */
export const SHORT_LOCK_WAIT: TransactionOptions = { lockTimeoutMs: SOURCE_DDL_LOCK_TIMEOUT_MS };

/** lock_timeout of successive attempts: a busy table still has short gaps between transactions. */
const LOCK_WAITS_MS = [10, 100, 500, 1000, SOURCE_DDL_LOCK_TIMEOUT_MS];
const BACKOFF_MS = { first: 200, max: 5000 };

/** Lock modes held by another session that make a request of `mode` wait (the server's conflict table). */
const CONFLICTS: Record<SourceDdl['lock'], readonly string[]> = {
  AccessExclusiveLock: [
    'AccessShareLock',
    'RowShareLock',
    'RowExclusiveLock',
    'ShareUpdateExclusiveLock',
    'ShareLock',
    'ShareRowExclusiveLock',
    'ExclusiveLock',
    'AccessExclusiveLock',
  ],
  ShareUpdateExclusiveLock: ['ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
};

export interface SourceDdl {
  /** What it does, for the error: e.g. `set REPLICA IDENTITY FULL on public.logs`. */
  readonly what: string;
  /** OIDs of the tables it locks, to name whoever holds them. */
  readonly tables: readonly string[];
  /** The strongest lock it takes on them. */
  readonly lock: 'AccessExclusiveLock' | 'ShareUpdateExclusiveLock';
  /** Run in one transaction. */
  readonly statements: readonly string[];
}

export interface DdlPatience {
  /** Give up after this many seconds of trying (lockTimeoutSeconds). */
  readonly seconds: number;
  readonly signal?: AbortSignal;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `ddl` in one transaction on `client` (outside any transaction), retrying while its locks are taken. */
export async function runSourceDdl(client: pg.Client, ddl: SourceDdl, patience: DdlPatience): Promise<void> {
  const deadline = Date.now() + patience.seconds * 1000;
  let backoff = BACKOFF_MS.first;
  for (let attempt = 0; ; attempt++) {
    const waitMs = LOCK_WAITS_MS[Math.min(attempt, LOCK_WAITS_MS.length - 1)]!;
    try {
      await inTransaction(
        client,
        async () => {
          for (const statement of ddl.statements) await client.query(statement);
        },
        { lockTimeoutMs: waitMs },
      );
      return;
    } catch (error) {
      const state = sqlState(error);
      if (state !== LOCK_NOT_AVAILABLE && state !== DEADLOCK_DETECTED) throw error;
      if (patience.signal?.aborted) throw error;
      if (Date.now() + backoff > deadline) throw await blockedError(client, ddl, patience.seconds, error);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MS.max);
    }
  }
}

/** The oldest session holding a lock on the tables that conflicts with `ddl`'s, as an error naming it. */
async function blockedError(client: pg.Client, ddl: SourceDdl, seconds: number, cause: unknown): Promise<PgferryError> {
  const found = await client
    .query<LockHolder & { rel: string }>(
      `SELECT l.relation::regclass::text AS rel, a.pid, a.datname::text AS database, a.usename::text AS usename,
              coalesce(a.application_name, '') AS app, a.state, extract(epoch FROM now() - a.xact_start)::int AS open, NULL::int AS waited
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.relation = ANY($1::oid[]) AND l.mode = ANY($2::text[])
        ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 1`,
      [ddl.tables, CONFLICTS[ddl.lock]],
    )
    .catch(() => undefined);
  const h = found?.rows[0];
  const who = h ? `table ${h.rel} is held by ${holderWords(h)}` : 'its tables were locked by other sessions (they have let go since)';
  return new PgferryError('SOURCE_DDL_BLOCKED', `could not ${ddl.what} within ${seconds} s: ${who}`, {
    category: 'source',
    field: 'lockTimeoutSeconds',
    fix: `let that transaction finish (or end it: ${h ? endHoldersWords([h]) : 'SELECT pg_terminate_backend(pid)'}), then try again, or raise lockTimeoutSeconds; pgferry waits at most ${SOURCE_DDL_LOCK_TIMEOUT_MS / 1000} s at a time for a lock on the source so that the application's queries never queue behind it longer`,
    cause,
  });
}
