// A resumed runner takes over from the runner before it. It holds the lease, so any session still
// doing this migration's streaming work belongs to a runner that lost the lease: stopped, cut off,
// or about to find out and exit. The per-database fence already keeps that runner from committing
// beside this one on the same database, but once it wakes it may still commit a transaction it had
// in flight while this runner applies another database, and its walsender keeps the slot busy until
// wal_sender_timeout. So before streaming, the new runner ends those sessions: on the target the
// holders of this migration's apply fences, on the source the walsenders of its slots. A session
// ended mid-transaction is rolled back with its applied position (they commit together), so
// nothing is lost or applied twice.
import type pg from 'pg';
import { withSession } from '../../connect/session';
import { errorMessage } from '../../core/errors';
import type { MigrationRun } from '../../run/migrationRun';
import { applyLockKey, streamNamesOf } from '../../core/names';

/** Sessions other than this one holding one of the given (database, advisory key) fences. */
const FENCE_HOLDERS_SQL = `
SELECT DISTINCT l.pid
  FROM pg_locks l
  JOIN pg_database d ON d.oid = l.database
  JOIN unnest($1::text[], $2::int8[]) AS f(datname, key)
    ON f.datname = d.datname AND f.key = ((l.classid::int8 << 32) | l.objid::int8)
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid <> pg_backend_pid()`;

const SLOT_SENDERS_SQL = `
SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = ANY($1::text[]) AND active_pid IS NOT NULL`;

const STILL_THERE_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])`;

/** How long the ended sessions may take to go (their backends roll back and exit). */
const GONE_WITHIN_MS = 15_000;

/** Ends these backends and waits until they are gone; returns how many there were. */
async function endBackends(client: pg.Client, pids: readonly number[]): Promise<number> {
  if (pids.length === 0) return 0;
  await client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  const deadline = Date.now() + GONE_WITHIN_MS;
  while (Date.now() < deadline) {
    const { rows } = await client.query<{ n: number }>(STILL_THERE_SQL, [pids]);
    if (rows[0]!.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return pids.length;
}

/**
 * Where each side's sessions are ended: a session the caller has open on that server, lent for it
 * (a resume's, opened beside the steps before data: flow/resumeAhead.ts), or else a session of its own.
 */
export interface TakeoverSessions {
  /** A source session in its maintenance database, left open. */
  readonly source?: pg.Client;
  /** Runs `fn` on a target session in its maintenance database (the control catalog's, in turn with its other callers). */
  readonly target?: <T>(fn: (c: pg.Client) => Promise<T>) => Promise<T>;
}

type TakeoverRun = Pick<MigrationRun, 'spec' | 'instance' | 'warn'>;

async function endSide(
  run: TakeoverRun,
  side: 'source' | 'target',
  find: (c: pg.Client) => Promise<number[]>,
  sessions: TakeoverSessions,
): Promise<void> {
  const server = side === 'source' ? run.spec.source : run.spec.target;
  const end = async (c: pg.Client) => endBackends(c, await find(c));
  const lent = side === 'source' ? sessions.source : undefined;
  try {
    const ended = lent
      ? await end(lent)
      : side === 'target' && sessions.target
        ? await sessions.target(end)
        : await withSession(server, { purpose: 'takeover' }, end);
    if (ended > 0) await run.warn(`ended ${ended} session(s) of the runner before this one on the ${side} (it had lost its lease)`);
  } catch (error) {
    // Not permitted to end them (another role's sessions): the fence and the slot's own
    // exclusivity still keep the two runners apart; this runner waits for them instead.
    await run.warn(`could not end the previous runner's sessions on the ${side}: ${errorMessage(error)}`);
  }
}

/** Ends every session of a previous runner of this migration, on both servers; never rejects (a failure is warned). */
export async function endPreviousRunnerSessions(run: TakeoverRun, sessions: TakeoverSessions = {}): Promise<void> {
  const databases = run.spec.databases;
  // the two servers side by side: a resume waits for both before its first change
  await Promise.all([
    endSide(
      run,
      'target',
      async (c) => {
        const keys = databases.map((d) => applyLockKey(run.spec.migrationName, d));
        const { rows } = await c.query<{ pid: number }>(FENCE_HOLDERS_SQL, [databases, keys]);
        return rows.map((r) => r.pid);
      },
      sessions,
    ),
    endSide(
      run,
      'source',
      async (c) => {
        const slots = databases.map((d) => streamNamesOf(run.spec.migrationName, d, run.instance).slot);
        const { rows } = await c.query<{ pid: number }>(SLOT_SENDERS_SQL, [slots]);
        return rows.map((r) => r.pid);
      },
      sessions,
    ),
  ]);
}
