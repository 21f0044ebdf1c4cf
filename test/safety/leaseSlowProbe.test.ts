// "Never twice" without a needless takeover: a target that is slow but there keeps its runner. On a
// loaded machine one query can take longer than the lease probe's deadline (runner/lease.ts: a probe
// every second, four seconds to answer). Here a fault proxy holds each of the lease session's probes
// for longer than that deadline, for a while, and lets every other session through: the runner asks
// on a new session whether its lease session still holds the lock, reads it held and goes on. Its
// log says so and never that the lease was lost, `show` names the same runner throughout, and that
// runner cuts the migration over with the rows read back equal. A real cut is still noticed within
// its bound: test/safety/leaseSilentCut.test.ts.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { runnerLogPath } from '../../provider/engine/runner/spawn';
import { endIfRunning, pairSpec, serverSpec, startPair, waitForStatus, type ServerPair } from '../support';
import { FaultProxy } from '../support/faultProxy';
import { rowsOf } from '../cdc/harness';

const DB = 'slowprobe';
/** How long each probe of the lease session is held: past the probe's deadline (4 s). */
const HELD_MS = 7_000;
/** How long the lease session's probes are held, one after another. */
const SLOW_FOR_MS = 20_000;

describe('safety: a lease session slow to answer', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g`,
      [],
      DB,
    );
  });
  after(async () => {
    await pair?.stop();
  });

  it('a runner whose lease probes are each answered late, its lease still held on the server, keeps its lease: its log says it went on and never that the lease was lost; the same runner cuts over, rows equal', async () => {
    const proxy = new FaultProxy('target', pair.target.port);
    await proxy.start();
    const spec = pairSpec(pair, 'slow-probe', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const held = { ...spec, target: { ...spec.target, port: proxy.port } };
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await startMigration(held);
      const streaming = await waitForStatus(
        store,
        held.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);
      const runner = streaming.runner!.pid;
      const log = runnerLogPath(held.migrationName, held.target);
      const from = (await fs.stat(log)).size;
      const since = async () => (await fs.readFile(log, 'utf8')).slice(from);

      // every probe of the lease session is held past its deadline; no other session is slowed
      const slowUntil = Date.now() + SLOW_FOR_MS;
      let probesHeld = 0;
      proxy.onMessage = (conn, message) => {
        const lease = conn.startup?.application_name?.startsWith('pgferry runner lease ') === true;
        if (!lease || message.type !== 'Q' || message.sql !== 'SELECT 1' || Date.now() > slowUntil) return false;
        probesHeld += 1;
        setTimeout(() => proxy.release(conn), HELD_MS);
        return true;
      };
      await new Promise((resolve) => setTimeout(resolve, SLOW_FOR_MS + HELD_MS));
      proxy.onMessage = undefined;
      assert.ok(probesHeld >= 2, `the lease session's probes were held (${probesHeld})`);

      const text = await since();
      assert.match(text, /the lease session did not answer within 4 s; a new session reads its lease still held: going on/);
      assert.doesNotMatch(text, /lease connection lost/, 'the runner did not take its lease for lost');
      const now = await get(store, held.migrationName);
      assert.deepEqual([now?.runner?.pid, now?.runner?.alive], [runner, true], 'show names the same runner, alive');

      await pair.source.query(`INSERT INTO t SELECT g, 'after ' || g FROM generate_series(1001, 1500) g`, [], DB);
      await requestCutover(held.target, held.migrationName);
      const end = await waitForStatus(store, held.migrationName, (s) => isFinalState(s.state), 180_000);
      assert.equal(end.state, 'Succeeded', end.message);
      assert.equal(end.runner?.pid, runner, 'the runner that was slow to answer cut over');
      assert.deepEqual(await rowsOf(pair.target, DB, 't'), await rowsOf(pair.source, DB, 't'));
      assert.doesNotMatch(await since(), /lease connection lost/);
    } finally {
      proxy.onMessage = undefined;
      await endIfRunning(held, Promise.resolve());
      await store.close();
      await proxy.close();
    }
  });
});
