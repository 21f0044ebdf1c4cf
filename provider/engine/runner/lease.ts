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
 * How often the lease connection is checked, and how long an answer may take before the lease is
 * asked after on a new session: a runner whose lease session's peer went silent notices it within
 * their sum and the new session's own bound (docs/safety.md). A probe is one SELECT 1 on an idle
 * session, but a loaded target (a checkpoint's fsync) or a starved runner can take longer than the
 * deadline to answer it; a false loss costs a successor's takeover, never a write twice.
 */
const PROBE_EVERY_MS = 1_000;
const PROBE_TIMEOUT_MS = 4_000;
/** How long the new session that asks after an unanswered probe may take to connect and answer. */
const CHECK_TIMEOUT_MS = 4_000;

/** What the lease probe needs to ask after the lease on a session of its own. */
interface LeaseProbe {
  readonly client: pg.Client;
  readonly target: ServerSpec;
  readonly migration: string;
  /** The lease session's backend on the target. */
  readonly sessionPid: number;
  readonly onLost: (error: Error) => void;
  /** Told of a probe that was slow while the lease was still held (a runner's log). */
  readonly onSlow: (note: string) => void;
}

/**
 * Whether the lease session `sessionPid` still holds the migration's lease, asked on a new session
 * within CHECK_TIMEOUT_MS; an error when the target does not answer in time. A successor can take
 * the lease only once the server has ended that session, so a yes read here means none has.
 */
async function leaseHeldOnServer(probe: LeaseProbe): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const opening = openSession(probe.target, { purpose: 'lease check', connectTimeoutMs: CHECK_TIMEOUT_MS });
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no new session answered within ${CHECK_TIMEOUT_MS / 1000} s either`)), CHECK_TIMEOUT_MS);
  });
  try {
    const asked = opening.then(async (client) => {
      const { rows } = await client.query<{ held: boolean }>(
        `SELECT EXISTS (SELECT FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid = $1
            AND classid::text::bigint = (($2::bigint >> 32) & 4294967295) AND objid::text::bigint = ($2::bigint & 4294967295)) AS held`,
        [probe.sessionPid, leaseKey(probe.migration)],
      );
      return rows[0]?.held === true;
    });
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
    // a session that opens after the deadline is ended as soon as it does
    void opening.then(closeSession, () => undefined);
  }
}

/**
 * A connection cut off without a word (a network blip that drops the server's goodbye, a peer
 * that vanished) would look alive to this side for minutes of TCP retransmissions and keepalives
 * while the server may have freed the lock and a successor taken it. So a probe that does not
 * answer in time sends the runner to ask on a new session whether its lease session still holds
 * the lock: held, the probe was only slow and the runner goes on (asking again at each deadline
 * while the answer is still out); not held, or no answer there either, the lease counts as lost.
 */
function probeLease(probe: LeaseProbe): () => void {
  let probing = false;
  let stopped = false;
  let deadline: NodeJS.Timeout | undefined;
  const arm = () => {
    deadline = setTimeout(() => void overdue(), PROBE_TIMEOUT_MS);
    deadline.unref();
  };
  const overdue = async () => {
    const held = await leaseHeldOnServer(probe).catch((error: Error) => error);
    if (!probing || stopped) return; // answered meanwhile, or the lease released
    if (held === true) {
      probe.onSlow(
        `the lease session did not answer within ${PROBE_TIMEOUT_MS / 1000} s; a new session reads its lease still held: going on`,
      );
      arm();
      return;
    }
    const why = held === false ? 'a new session reads its lease released' : held.message;
    probe.onLost(new Error(`lease connection did not answer within ${PROBE_TIMEOUT_MS / 1000} s, and ${why}`));
  };
  const timer = setInterval(() => {
    if (probing) return; // the deadline of the outstanding probe decides
    probing = true;
    arm();
    probe.client.query('SELECT 1').then(
      () => {
        probing = false;
        clearTimeout(deadline);
      },
      (error: Error) => {
        clearTimeout(deadline);
        probe.onLost(error);
      },
    );
  }, PROBE_EVERY_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    clearTimeout(deadline);
  };
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

/** `onSlow`: told of a probe that was slow while the lease was still held (the runner logs it). */
export async function acquireLease(target: ServerSpec, migration: string, onSlow: (note: string) => void = () => {}): Promise<Lease> {
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
  const sessionPid = session[0]!.pid;
  const stopProbe = probeLease({ client, target, migration, sessionPid, onLost, onSlow });
  return {
    sessionPid,
    lost,
    async release() {
      if (released) return;
      released = true;
      stopProbe();
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [leaseKey(migration)]).catch(() => undefined);
      await closeSession(client);
    },
  };
}
