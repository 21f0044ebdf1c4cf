// A session's last moments of opening, held at will: a fault proxy lets the server answer the
// client's final authentication message but keeps that answer (the session ready, its pid given)
// from the client until the test releases it. Meanwhile the server already lists the session as
// an idle client backend of pgferry's, which is what the writer fence reads (footprint/writerFence.ts).
import assert from 'node:assert/strict';
import { closeSession, openSession, sessionsOpenedHere } from '../../provider/engine/connect/session';
import { serverSpec, startCluster, type Cluster } from '../support';
import { FaultProxy } from '../support/faultProxy';
import { until } from '../support/wait';

describe('connect/session: a session in its last moments of opening', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let proxy: FaultProxy;
  before(async () => {
    cluster = await startCluster({ label: 'session-opening' });
    proxy = new FaultProxy('session-opening', cluster.port);
    await proxy.start();
  });
  after(async () => {
    await proxy?.close();
    await cluster?.stop();
  });

  /** Holds every answer of the server from the client's last SCRAM message on; returns the release. */
  function holdReadyAnswer(): () => void {
    let saslMessages = 0;
    proxy.onMessage = (_conn, message) => {
      // 'p' carries the client's SASL messages: the second is its proof, answered with the session ready
      if (message.type === 'p' && ++saslMessages === 2) proxy.cut('toClient', 60_000);
    };
    return () => {
      proxy.onMessage = undefined;
      proxy.cut('toClient', 0);
    };
  }

  /** The pid of the idle session named `application`, once the server lists it as a client backend. */
  async function listedPid(application: string): Promise<number> {
    return until(`the server listing "${application}" as ready`, async () => {
      const rows = await cluster.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND usesysid IS NOT NULL`,
        [application],
      );
      return rows[0]?.pid;
    });
  }

  it('ended by the server as it becomes ready: the opening fails with a connection error and the process runs on', async () => {
    const spec = serverSpec(cluster, { port: proxy.port, sslMode: 'disable' });
    const release = holdReadyAnswer();
    const opening = openSession(spec, { purpose: 'ended while opening' });
    const outcome = opening.then(
      (client) => closeSession(client).then(() => 'opened'),
      (error: Error) => error.message,
    );
    try {
      const pid = await listedPid('pgferry ended while opening');
      await cluster.query('SELECT pg_terminate_backend($1::int)', [pid]);
      await until('the ended session gone from the server', async () =>
        (await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1::int', [pid])).length === 0 ? true : undefined,
      );
    } finally {
      // the ready answer and the server's FATAL reach the client in one read
      release();
    }
    assert.match(await outcome, /terminat|connection error/i);
    const after = await openSession(spec, { purpose: 'after the ended one' });
    try {
      assert.equal((await after.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
    } finally {
      await closeSession(after);
    }
  });

  it("counts a session still opening among this process's own once it opens, with the pid the server lists", async () => {
    const spec = serverSpec(cluster, { port: proxy.port, sslMode: 'disable' });
    const release = holdReadyAnswer();
    const opening = openSession(spec, { purpose: 'counted while opening' });
    let counted: number[] | undefined;
    try {
      const pid = await listedPid('pgferry counted while opening');
      const asked = sessionsOpenedHere(spec).then((pids) => (counted = pids));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(counted, undefined, 'the answer waits for the session still opening');
      release();
      assert.deepEqual(await asked, [pid]);
    } finally {
      release();
      await closeSession(await opening);
    }
    assert.deepEqual(await sessionsOpenedHere(spec), []);
  });
});
