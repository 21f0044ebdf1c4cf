// The sessions holding a lock that pgferry waits for (a stream's apply, a drain to the cutover or
// fall-back point) or needs (a drop of the target's guard), read by one query and named in one
// wording with the statement that ends each: so a user reads the same words for the same session
// whichever step found it, on whichever server.
import type pg from 'pg';
import { APPLICATION_NAME_PREFIX } from './session';

/** A session holding a lock, as pg_stat_activity shows it. */
export interface LockHolder {
  readonly pid: number;
  /** The database of the session that waits for it (a table's holders: the session's own). */
  readonly database: string;
  readonly usename: string | null;
  readonly app: string;
  readonly state: string | null;
  /** Seconds its transaction has been open; null when pg_stat_activity does not show it. */
  readonly open: number | null;
  /** Seconds the longest waiter behind it has waited; null for a table's holders. */
  readonly waited: number | null;
}

/**
 * Whose locks: those that sessions of pgferry wait for (`waiters`, an application_name its sessions
 * take, `%` matching any; in `databases`; waiting longer than `waitedSeconds`), or those held on a
 * table of the session's database (`table`, a qualified name). `othersOnly` leaves pgferry's own
 * sessions out: a warning asks the user to end what is theirs alone.
 */
export type LockHeld =
  | {
      readonly waiters: string;
      readonly databases: readonly string[];
      readonly waitedSeconds?: number;
      readonly othersOnly?: boolean;
    }
  | { readonly table: string; readonly othersOnly?: boolean };

/**
 * One query for both kinds: the waiters' blockers by pg_blocking_pids (a row lock is waited for on
 * a transaction, not a table, so only the server's own answer finds its holder), a table's holders
 * by its granted locks; pg_stat_activity is the server's, read from any session on it. The session
 * reading is never named.
 */
const LOCK_HOLDERS_SQL = `
WITH held AS (
  SELECT k.pid, w.datname::text AS database, max(extract(epoch FROM now() - w.query_start))::int AS waited
    FROM pg_catalog.pg_stat_activity w
   CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS k(pid)
   WHERE $1::text IS NOT NULL AND w.application_name LIKE $1 AND w.datname = ANY ($2::text[])
     AND w.wait_event_type = 'Lock' AND w.query_start <= now() - make_interval(secs => $3)
   GROUP BY 1, 2
  UNION ALL
  SELECT DISTINCT l.pid, pg_catalog.current_database()::text, NULL::int
    FROM pg_catalog.pg_locks l
   WHERE $4::text IS NOT NULL AND l.locktype = 'relation' AND l.granted AND l.relation = pg_catalog.to_regclass($4)
)
SELECT h.database, h.pid, b.usename::text AS usename, coalesce(b.application_name, '') AS app, b.state,
       extract(epoch FROM now() - b.xact_start)::int AS open, h.waited
  FROM held h JOIN pg_catalog.pg_stat_activity b ON b.pid = h.pid
 WHERE b.pid <> pg_catalog.pg_backend_pid() AND NOT ($5 AND b.application_name LIKE $6)
 ORDER BY 1, 2`;

/** The sessions holding what `held` says, on the server `client` is connected to, by database and pid. */
export async function lockHolders(client: Pick<pg.Client, 'query'>, held: LockHeld): Promise<LockHolder[]> {
  const waiting = 'waiters' in held ? held : undefined;
  const { rows } = await client.query<LockHolder>(LOCK_HOLDERS_SQL, [
    waiting?.waiters ?? null,
    waiting?.databases ?? [],
    waiting?.waitedSeconds ?? 0,
    'table' in held ? held.table : null,
    held.othersOnly ?? false,
    `${APPLICATION_NAME_PREFIX}%`,
  ]);
  return rows;
}

/** `session pid N (user U, application "A", its state, transaction open for N s)`. */
export function holderWords(h: LockHolder): string {
  const facts = [
    `user ${h.usename ?? '?'}`,
    `application "${h.app}"`,
    ...(h.state ? [h.state] : []),
    ...(h.open !== null ? [`transaction open for ${h.open} s`] : []),
  ];
  return `session pid ${h.pid} (${facts.join(', ')})`;
}

/** The statements that end those sessions, for a fix: `SELECT pg_terminate_backend(N)`, one each. */
export function endHoldersWords(holders: readonly LockHolder[]): string {
  return holders.map((h) => `SELECT pg_terminate_backend(${h.pid})`).join('; ');
}
