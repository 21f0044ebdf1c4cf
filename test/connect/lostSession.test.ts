// A session a DBA ends (pg_terminate_backend) while pgferry holds it: the error withSession lets
// through names the server and database it was lost on, as the stops of a cutover word it
// (flow/hold.ts), and an error of one statement on a live session names none.
import assert from 'node:assert/strict';
import { lostSessionWords, withSession } from '../../provider/engine/connect/session';
import { serverSpec, startCluster, type Cluster } from '../support';
import { until } from '../support/wait';

describe('connect/session: a session lost while held names its server', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'lost-session' });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('ended by pg_terminate_backend: the words name the source by host:port and database, and no password', async () => {
    const source = serverSpec(cluster, { sslMode: 'disable' });
    const target = { host: source.host, port: source.port + 1 };
    const failed = await withSession(source, { purpose: 'lost session test' }, async (client) => {
      const pid = (await client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
      await cluster.query('SELECT pg_terminate_backend($1::int)', [pid]);
      await until('the ended session gone from the server', async () =>
        (await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1::int', [pid])).length === 0 ? true : undefined,
      );
      await client.query('SELECT 1');
    }).then(
      () => assert.fail('a query on an ended session succeeded'),
      (error: unknown) => error,
    );
    const words = lostSessionWords(failed, { source, target });
    assert.ok(words, String(failed));
    assert.ok(words.startsWith(`pgferry's session on the source ${source.host}:${source.port}, database postgres was ended (`), words);
    assert.ok(source.password && !words.includes(source.password), words);
  });

  it('ended by pg_terminate_backend while a statement runs: the words name the source and its database', async () => {
    const source = serverSpec(cluster, { sslMode: 'disable' });
    const target = { host: source.host, port: source.port + 1 };
    let terminating: Promise<void> = Promise.resolve();
    const failed = await withSession(source, { purpose: 'lost session test' }, async (client) => {
      const pid = (await client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
      // the statement's own error is awaited at once: the server's FATAL message can reach it before the socket's end does
      terminating = (async () => {
        await until('the statement running', async () =>
          (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND state = 'active'", [pid])).length === 1
            ? true
            : undefined,
        );
        await cluster.query('SELECT pg_terminate_backend($1::int)', [pid]);
      })();
      await client.query('SELECT pg_catalog.pg_sleep(60)');
    }).then(
      () => assert.fail('a statement on an ended session succeeded'),
      (error: unknown) => error,
    );
    await terminating;
    const words = lostSessionWords(failed, { source, target });
    assert.ok(words, String(failed));
    assert.ok(words.startsWith(`pgferry's session on the source ${source.host}:${source.port}, database postgres was ended (`), words);
  });

  it('a statement refused on a live session: no server is named', async () => {
    const source = serverSpec(cluster, { sslMode: 'disable' });
    const failed = await withSession(source, { purpose: 'lost session test' }, (client) => client.query('SELECT 1 / 0')).then(
      () => assert.fail('a division by zero succeeded'),
      (error: unknown) => error,
    );
    assert.equal(lostSessionWords(failed, { source, target: source }), undefined);
  });
});
