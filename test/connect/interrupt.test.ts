import assert from 'node:assert/strict';
import type pg from 'pg';
import { stopOnAbort } from '../../provider/engine/connect/interrupt';
import { closeSession, openSession } from '../../provider/engine/connect/session';
import { PgferryError } from '../../provider/engine/core/errors';
import { serverSpec, startCluster, until, type Cluster } from '../support';
import { FaultProxy } from '../support/faultProxy';

const isCanceled = (e: unknown) => e instanceof PgferryError && e.category === 'canceled';

describe('connect/interrupt: work stopped on the server when it is canceled', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'interrupt' });
  });
  after(async () => cluster?.stop());

  /** Whether a statement like `pattern` still runs on the server. */
  async function running(pattern: string): Promise<boolean> {
    const rows = await cluster.query(
      `SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
      [pattern],
    );
    return rows.length > 0;
  }

  it('cancels the running statement on the server and ends with the cancel, the session still usable', async () => {
    const client = await openSession(serverSpec(cluster), { purpose: 'interrupt test' });
    try {
      const stop = new AbortController();
      const work = stopOnAbort(client, stop.signal, () => client.query('SELECT pg_sleep(120) AS slept_on_purpose'));
      await until('the statement to run on the server', async () => ((await running('%slept_on_purpose%')) ? true : undefined));
      stop.abort();
      await assert.rejects(work, isCanceled);
      // the server sends the cancel's error a moment before it shows the session idle; a statement
      // left running would sleep on for minutes, far past this wait
      await until('the statement to end on the server', async () => ((await running('%slept_on_purpose%')) ? undefined : true), 30_000);
      // canceled on the server, not cut off: the session answers the next statement
      assert.deepEqual((await client.query('SELECT 1 AS n')).rows, [{ n: 1 }]);
    } finally {
      await closeSession(client);
    }
  });

  it('ends with the abort reason (another job failed), and does not start work already canceled', async () => {
    const client = await openSession(serverSpec(cluster), { purpose: 'interrupt test' });
    try {
      const stop = new AbortController();
      const work = stopOnAbort(client, stop.signal, () => client.query('SELECT pg_sleep(120) AS failed_elsewhere'));
      await until('the statement to run on the server', async () => ((await running('%failed_elsewhere%')) ? true : undefined));
      stop.abort(new Error('the other job failed'));
      await assert.rejects(work, /the other job failed/);
      let started = false;
      await assert.rejects(
        stopOnAbort(client, stop.signal, async () => {
          started = true;
          return client.query('SELECT 1');
        }),
        /the other job failed/,
      );
      assert.equal(started, false);
      // a failure of the work itself, without a cancel, is that failure
      await assert.rejects(
        stopOnAbort(client, new AbortController().signal, () => client.query('SELECT 1/0')),
        /division by zero/,
      );
    } finally {
      await closeSession(client);
    }
  });

  it('closes the connection of a server that no longer answers once the grace is over', async () => {
    const proxy = new FaultProxy('interrupt', cluster.port);
    await proxy.start();
    let client: pg.Client | undefined;
    try {
      client = await openSession(serverSpec(cluster, { port: proxy.port }), { purpose: 'interrupt test' });
      proxy.blackhole(60_000); // nothing passes: neither the statement, its cancel, nor an answer
      const stop = new AbortController();
      const c = client;
      const work = stopOnAbort(c, stop.signal, () => c.query('SELECT 1'), 500);
      const started = Date.now();
      stop.abort();
      await assert.rejects(work, isCanceled);
      const took = Date.now() - started;
      assert.ok(took < 10_000, `the wait was not bounded: ${took} ms`);
      await assert.rejects(c.query('SELECT 1'), /not queryable|Connection terminated|ended/i);
    } finally {
      await closeSession(client);
      await proxy.close();
    }
  });
});
