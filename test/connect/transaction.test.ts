import assert from 'node:assert/strict';
import { closeSession, openSession } from '../../provider/engine/connect/session';
import { inTransaction } from '../../provider/engine/connect/transaction';
import { serverSpec, startCluster, type Cluster } from '../support';

describe('connect/transaction: one transaction on a session, committed or rolled back whole', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'transaction' });
    await cluster.query('CREATE TABLE public.written (n int PRIMARY KEY)');
  });
  after(async () => cluster?.stop());

  /** The rows of `written` as another session reads them. */
  async function rows(): Promise<number[]> {
    return (await cluster.query<{ n: number }>('SELECT n FROM public.written ORDER BY n')).map((r) => r.n);
  }

  it('commits every statement of the work, which another session then reads, and returns its value', async () => {
    const client = await openSession(serverSpec(cluster), { purpose: 'transaction test', writable: true });
    try {
      const value = await inTransaction(client, async () => {
        await client.query('INSERT INTO public.written VALUES (1), (2)');
        return 'done';
      });
      assert.equal(value, 'done');
      assert.deepEqual(await rows(), [1, 2]);
    } finally {
      await closeSession(client);
    }
  });

  it('rolls back every statement of work that throws, throws its error, and leaves the session outside any transaction', async () => {
    const client = await openSession(serverSpec(cluster), { purpose: 'transaction test', writable: true });
    try {
      await assert.rejects(
        inTransaction(client, async () => {
          await client.query('INSERT INTO public.written VALUES (3)');
          await client.query('INSERT INTO public.written VALUES (1)');
        }),
        /duplicate key/,
      );
      assert.deepEqual(await rows(), [1, 2]);
      // the session is left idle, in no transaction, as the server sees it
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const [state] = await cluster.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
      assert.equal(state!.state, 'idle');
    } finally {
      await closeSession(client);
    }
  });

  it('gives up on a lock held elsewhere after its own lock timeout, and the timeout ends with the transaction', async () => {
    const holder = await openSession(serverSpec(cluster), { purpose: 'transaction test', writable: true });
    const client = await openSession(serverSpec(cluster), { purpose: 'transaction test', writable: true });
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.written IN ACCESS EXCLUSIVE MODE');
      await assert.rejects(
        inTransaction(client, () => client.query('ALTER TABLE public.written ADD COLUMN m int'), { lockTimeoutMs: 50 }),
        (error: unknown) => (error as { code?: string }).code === '55P03',
      );
      await holder.query('ROLLBACK');
      const { rows: timeout } = await client.query<{ lock_timeout: string }>('SHOW lock_timeout');
      assert.notEqual(timeout[0]!.lock_timeout, '50ms');
      const { rows: columns } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_attribute WHERE attrelid = 'public.written'::regclass AND attname = 'm'`,
      );
      assert.equal(columns[0]!.n, '0');
    } finally {
      await closeSession(holder);
      await closeSession(client);
    }
  });
});
