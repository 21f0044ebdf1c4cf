import assert from 'node:assert/strict';
import { cancelMigration, resumeMigration, showMigration, startMigration, waitForMigration } from '../../provider/engine';
import { FINAL_STATES } from '../../provider/engine/model';
import { pairSpec, startPair, type ServerPair } from '../support';

describe('detached runner (offline)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(
      `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 50000) g;`,
      [],
      'shop',
    );
  });
  after(async () => pair?.stop());

  const spec = (name: string, extra: Record<string, unknown> = {}) =>
    pairSpec(pair, name, ['shop'], { overwriteDbsInTarget: true, ...extra });

  it('runs the migration in a detached process that holds the lease, and refuses a second runner', async () => {
    const s = spec('runner-ok');
    await startMigration(s);
    await assert.rejects(
      resumeMigration(s),
      (e: { code?: string }) => e.code === 'RUNNER_ALREADY_RUNNING' || e.code === 'MIGRATION_FINISHED',
    );
    const done = await waitForMigration(s.target, 'runner-ok', (st) => FINAL_STATES.has(st.state), { intervalMs: 200, timeoutMs: 120_000 });
    assert.equal(done.state, 'Succeeded', done.message);
    assert.ok(done.runner && done.runner.pid > 0);
    assert.deepEqual(await pair.target.query('SELECT count(*)::int AS n FROM items', [], 'shop'), [{ n: 50000 }]);
    await assert.rejects(startMigration(s), (e: { code?: string }) => e.code === 'MIGRATION_NAME_TAKEN');
  });

  it('cancel stops the work and leaves the target as it is', async () => {
    await pair.source.query(
      `CREATE TABLE slow (id int PRIMARY KEY, v text); INSERT INTO slow SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 400000) g;`,
      [],
      'shop',
    );
    const s = spec('runner-cancel', { tableJobs: 1, option: 'Migrate' });
    await startMigration(s);
    await waitForMigration(s.target, 'runner-cancel', (st) => st.subState === 'MigratingData' || FINAL_STATES.has(st.state), {
      intervalMs: 50,
    });
    await cancelMigration(s.target, 'runner-cancel');
    const done = await waitForMigration(s.target, 'runner-cancel', (st) => FINAL_STATES.has(st.state), {
      intervalMs: 200,
      timeoutMs: 120_000,
    });
    assert.equal(done.state, 'Canceled', done.message);
    assert.equal(done.databases[0]!.state, 'Canceled');
    // the runner records Canceled, then lets its lease go as it exits: that follows within seconds
    const released = await waitForMigration(s.target, 'runner-cancel', (st) => st.runner?.alive === false, {
      intervalMs: 100,
      timeoutMs: 30_000,
    });
    assert.equal(released.runner?.alive, false);
    assert.equal((await showMigration(s.target, 'runner-cancel'))?.state, 'Canceled');
    await assert.rejects(cancelMigration(s.target, 'runner-cancel'), (e: { code?: string }) => e.code === 'MIGRATION_FINISHED');
  });
});
