// The runner's lease: a session advisory lock on the target's maintenance database, held for the
// runner's life, so there is never more than one runner per migration. `show` reads pg_locks to
// tell a live runner from a stale one.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import { PgferryError } from '../errors';
import { leaseKey } from '../names';
import type { ServerSpec } from '../input/migrationSpec';

export interface Lease {
  /** Resolves when the lease connection is lost (the lock is then released by the server). */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

export async function acquireLease(target: ServerSpec, migration: string): Promise<Lease> {
  const client: pg.Client = await openSession(target, { purpose: 'runner lease' });
  let onLost: (error: Error) => void = () => {};
  const lost = new Promise<Error>((resolve) => (onLost = resolve));
  client.on('error', (error) => onLost(error));
  client.on('end', () => onLost(new Error('lease connection closed')));
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [leaseKey(migration)]);
  if (!rows[0]?.ok) {
    await closeSession(client);
    throw new PgferryError('RUNNER_ALREADY_RUNNING', `migration "${migration}" already has a live runner`, {
      category: 'input',
      field: 'name',
      fix: 'check it with `pgferry show`; only a stale runner can be resumed',
    });
  }
  let released = false;
  return {
    lost,
    async release() {
      if (released) return;
      released = true;
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [leaseKey(migration)]).catch(() => undefined);
      await closeSession(client);
    },
  };
}
