// "Never twice", and no needless takeover: the lease session is probed (runner/lease.ts: a probe
// every second with four seconds to answer, then a new session asked whether the lease session
// still holds the lock; docs/safety.md). Both cases put the target behind a fault proxy.
//  - Silent: the proxy black-holes every byte (no reset, as a network that drops packets), so TCP on
//    the runner's side believes the connection alive. The runner notices on its own and cuts itself
//    off while the target is still silent (read from its log); once the network is back its
//    successor takes the lease and cuts over, rows read back equal.
//  - Slow: the proxy holds each of the lease session's probes past the deadline for a while and lets
//    every other session through, as a loaded target might. The runner reads its lease still held
//    and goes on: never "lost" in its log, `show` names the same runner throughout, and that runner
//    cuts over with the rows read back equal.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, requestCutover, startMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { runnerLogPath } from '../../provider/engine/runner/spawn';
import { endIfRunning, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { FaultProxy } from '../support/faultProxy';
import { rowsOf } from '../cdc/harness';

/** How long the target stays silent: far past the bound the runner notices within, short of any test's patience. */
const SILENT_MS = 30_000;
/** When the runner's log must say its lease was lost, from the start of the silence: the bound, with room for a loaded machine. */
const NOTICED_WITHIN_MS = 15_000;
/** How long each probe of the lease session is held: past the probe's deadline. */
const HELD_MS = 7_000;
/** How long the lease session's probes are held, one after another. */
const SLOW_FOR_MS = 20_000;

/** A migration streaming with its target behind a fault proxy, and its runner's log from here on. */
interface BehindProxy {
  readonly proxy: FaultProxy;
  readonly held: MigrationSpec;
  readonly store: CatalogConnection;
  readonly runner: number;
  readonly since: () => Promise<string>;
  readonly end: () => Promise<void>;
}

describe('safety: the lease session silent or slow to answer', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    for (const db of ['silentcut', 'slowprobe']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g`,
        [],
        db,
      );
    }
  });
  after(async () => {
    await pair?.stop();
  });

  async function streamBehindProxy(name: string, db: string): Promise<BehindProxy> {
    const proxy = new FaultProxy('target', pair.target.port);
    await proxy.start();
    const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const held = { ...spec, target: { ...spec.target, port: proxy.port } };
    const store = new CatalogConnection(serverSpec(pair.target));
    const end = async () => {
      proxy.onMessage = undefined;
      await endIfRunning(held, Promise.resolve());
      await store.close();
      await proxy.close();
    };
    try {
      await startMigration(held);
      const streaming = await waitForStatus(
        store,
        held.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);
      const log = runnerLogPath(held.migrationName, held.target);
      const from = (await fs.stat(log)).size;
      const since = async () => (await fs.readFile(log, 'utf8')).slice(from);
      return { proxy, held, store, runner: streaming.runner!.pid, since, end };
    } catch (error) {
      await end();
      throw error;
    }
  }

  it('black-holed: the runner says its lease is lost and cuts itself off while the target is still silent; its successor finishes the migration, rows equal', async () => {
    const db = 'silentcut';
    const { proxy, held, store, runner: oldRunner, since, end } = await streamBehindProxy('silent-cut', db);
    try {
      proxy.blackhole(SILENT_MS);
      const silentUntil = Date.now() + SILENT_MS;
      const said = await until(
        'the runner to say its lease is lost while the target is silent',
        async () => {
          const text = await since();
          return /lease connection lost \(lease connection did not answer within \d+ s, and no new session answered within \d+ s either\): cut off from every server/.test(
            text,
          )
            ? text
            : undefined;
        },
        NOTICED_WITHIN_MS,
        250,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}\nthe runner's log since the silence began:\n${await since()}`);
      });
      assert.ok(Date.now() < silentUntil, 'read while the target is still silent');
      assert.doesNotMatch(said, /lease connection lost \((?!lease connection did not answer)/, 'lost by the probe, not by a reset');

      // written on the source while the runner is gone: the successor streams them
      await pair.source.query(`INSERT INTO t SELECT g, 'after ' || g FROM generate_series(1001, 1500) g`, [], db);
      await until(
        'the successor to hold the lease once the target is back',
        async () => {
          const s = await get(store, held.migrationName);
          return s?.runner?.alive && s.runner.pid !== oldRunner ? true : undefined;
        },
        180_000,
        500,
      );
      // the successor resumes the stream (the status it reads first may still be its predecessor's)
      await until(
        'the successor to stream again and take the cutover request',
        () =>
          requestCutover(held.target, held.migrationName).then(
            () => true,
            (error: Error) => {
              if (/cutover is allowed only in WaitingForCutoverTrigger/.test(error.message)) return undefined;
              throw error;
            },
          ),
        180_000,
        500,
      );
      const done = await waitForStatus(store, held.migrationName, (s) => isFinalState(s.state), 180_000);
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(await rowsOf(pair.target, db, 't'), await rowsOf(pair.source, db, 't'));
    } finally {
      await end();
    }
  });

  it('each lease probe answered late, the lease still held on the server: the runner keeps its lease, its log says it went on and never that the lease was lost; the same runner cuts over, rows equal', async () => {
    const db = 'slowprobe';
    const { proxy, held, store, runner, since, end } = await streamBehindProxy('slow-probe', db);
    try {
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

      await pair.source.query(`INSERT INTO t SELECT g, 'after ' || g FROM generate_series(1001, 1500) g`, [], db);
      await requestCutover(held.target, held.migrationName);
      const done = await waitForStatus(store, held.migrationName, (s) => isFinalState(s.state), 180_000);
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.runner?.pid, runner, 'the runner that was slow to answer cut over');
      assert.deepEqual(await rowsOf(pair.target, db, 't'), await rowsOf(pair.source, db, 't'));
      assert.doesNotMatch(await since(), /lease connection lost/);
    } finally {
      await end();
    }
  });
});
