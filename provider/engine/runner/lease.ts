// The runner's lease: a session advisory lock on the target's maintenance database, held for the
// runner's life, so there is never more than one runner per migration. `show` reads pg_locks to
// tell a live runner from a stale one.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import { PgferryError } from '../core/errors';
import { leaseKey, leasePurpose } from '../core/names';
import os from 'node:os';
import type { ServerSpec } from '../input/migrationSpec';

export interface Lease {
  /** The target backend of the lease session (cdc/apply/leaseGuard.ts checks it still holds the lock). */
  readonly sessionPid: number;
  /** Resolves when the lease connection is lost (the lock is then released by the server); never after release(). */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

/**
 * How often the lease connection is checked, and how long an answer may take before the lease
 * counts as lost: a runner whose lease session's peer went silent notices it within their sum
 * (docs/safety.md). A probe is one SELECT 1 on an idle session, answered at once by a server that
 * is there, however busy; a false loss costs a successor's takeover, never a write twice.
 */
const PROBE_EVERY_MS = 1_000;
const PROBE_TIMEOUT_MS = 4_000;

/**
 * A connection cut off without a word (a network blip that drops the server's goodbye, a peer
 * that vanished) would look alive to this side for minutes of TCP retransmissions and keepalives
 * while the server may have freed the lock and a successor taken it: a probe that does not answer
 * in time counts as a lost lease.
 */
function probeLease(client: pg.Client, onLost: (error: Error) => void): NodeJS.Timeout {
  let probing = false;
  const timer = setInterval(() => {
    if (probing) return; // the deadline of the outstanding probe decides
    probing = true;
    const deadline = setTimeout(
      () => onLost(new Error(`lease connection did not answer within ${PROBE_TIMEOUT_MS / 1000} s`)),
      PROBE_TIMEOUT_MS,
    );
    deadline.unref();
    client.query('SELECT 1').then(
      () => {
        probing = false;
        clearTimeout(deadline);
      },
      (error: Error) => {
        clearTimeout(deadline);
        onLost(error);
      },
    );
  }, PROBE_EVERY_MS);
  timer.unref();
  return timer;
}

/**
 * The refusal of a second runner while one holds the lease: what taking the lease, a resume and a
 * spawn that lost the lease to another runner all say, naming the live runner when it is known.
 */
export function leaseHeld(migration: string, runner?: { pid: number; host: string }): PgferryError {
  const who = runner ? ` (pid ${runner.pid} on ${runner.host})` : '';
  return new PgferryError('RUNNER_ALREADY_RUNNING', `migration "${migration}" already has a live runner${who}`, {
    category: 'input',
    field: 'name',
    fix: 'it runs the migration: follow it with `pgferry show`; only a migration whose runner stopped is resumed',
  });
}

export async function acquireLease(target: ServerSpec, migration: string): Promise<Lease> {
  const client: pg.Client = await openSession(target, { purpose: leasePurpose({ pid: process.pid, host: os.hostname() }) });
  let released = false;
  let onLost: (error: Error) => void = () => {};
  const lost = new Promise<Error>((resolve) => {
    onLost = (error) => {
      if (!released) resolve(error);
    };
  });
  client.on('error', (error) => onLost(error));
  client.on('end', () => onLost(new Error('lease connection closed')));
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [leaseKey(migration)]);
  if (!rows[0]?.ok) {
    await closeSession(client);
    throw leaseHeld(migration);
  }
  const { rows: session } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const probe = probeLease(client, onLost);
  return {
    sessionPid: session[0]!.pid,
    lost,
    async release() {
      if (released) return;
      released = true;
      clearInterval(probe);
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [leaseKey(migration)]).catch(() => undefined);
      await closeSession(client);
    },
  };
}
