// "Never twice": a runner that loses its lease stops writing. Here the lease is lost without a word:
// the target goes silent behind a fault proxy that black-holes every byte (no reset, as a network
// that drops packets, a peer that vanished), so TCP on the runner's side believes the connection
// alive. The runner must notice on its own, long before the network comes back (its lease probe,
// runner/lease.ts, docs/safety.md): its log says the lease connection did not answer and that it
// cut itself off, read while the target is still silent. Once the network is back its successor
// takes the lease and finishes the migration: the cutover Succeeded, the rows read back equal.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { runnerLogPath } from '../../provider/engine/runner/spawn';
import { endIfRunning, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { FaultProxy } from '../support/faultProxy';
import { rowsOf } from '../cdc/harness';

const DB = 'silentcut';
/** How long the target stays silent: far past the bound the runner notices within (5 s), short of any test's patience. */
const SILENT_MS = 30_000;
/** When the runner's log must say its lease was lost, from the start of the silence: the bound, with room for a loaded machine. */
const NOTICED_WITHIN_MS = 15_000;

describe('safety: a lease connection gone silent', function () {
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

  it('a runner whose target is black-holed says its lease is lost and cuts itself off while the target is still silent; its successor finishes the migration, rows equal', async () => {
    const proxy = new FaultProxy('target', pair.target.port);
    await proxy.start();
    const spec = pairSpec(pair, 'silent-cut', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
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
      const oldRunner = streaming.runner!.pid;
      const log = runnerLogPath(held.migrationName, held.target);
      const from = (await fs.stat(log)).size;
      const since = async () => (await fs.readFile(log, 'utf8')).slice(from);

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
      await pair.source.query(`INSERT INTO t SELECT g, 'after ' || g FROM generate_series(1001, 1500) g`, [], DB);
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
      const end = await waitForStatus(store, held.migrationName, (s) => isFinalState(s.state), 180_000);
      assert.equal(end.state, 'Succeeded', end.message);
      assert.deepEqual(await rowsOf(pair.target, DB, 't'), await rowsOf(pair.source, DB, 't'));
    } finally {
      await endIfRunning(held, Promise.resolve());
      await store.close();
      await proxy.close();
    }
  });
});
