import assert from 'node:assert/strict';
import { cancelMigration, resumeMigration, showMigration, startMigration, waitForMigration } from '../../provider/engine';
import { FINAL_STATES } from '../../provider/engine/core/model';
import { pairSpec, suiteServers, until } from '../support';

describe('detached runner (offline)', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    databases: {
      shop: `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 50000) g;`,
    },
  });

  const spec = (name: string, extra: Record<string, unknown> = {}) =>
    pairSpec(servers.pair, name, ['shop'], { overwriteDbsInTarget: true, ...extra });

  it('runs the migration in a detached process that holds the lease, and refuses a second runner', async () => {
    const { pair } = servers;
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
    const { pair } = servers;
    await pair.source.query(
      `CREATE TABLE slow (id int PRIMARY KEY, v text); INSERT INTO slow SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 400000) g;`,
      [],
      'shop',
    );
    // Two jobs, no splitting: items (3 MB) is copied and committed while slow (250 MB) still loads.
    const s = spec('runner-cancel', { tableJobs: 2, splitTablesLargerThan: 0, option: 'Migrate' });
    await startMigration(s);
    const tableStates = async () =>
      Object.fromEntries(
        (
          await pair.target.query<{ table_name: string; state: string }>(
            `SELECT schema_name || '.' || table_name AS table_name, state FROM pgferry.migration_table WHERE migration = 'runner-cancel'`,
          )
        ).map((r) => [r.table_name, r.state]),
      );
    const during = await until(
      'items copied while slow is still loading',
      async () => {
        const states = await tableStates();
        if (states['public.slow'] === 'Completed') throw new Error('slow was copied before the cancel: make it larger');
        return states['public.items'] === 'Completed' && states['public.slow'] === 'Loading' ? states : undefined;
      },
      120_000,
      50,
    );
    await cancelMigration(s.target, 'runner-cancel');
    const done = await waitForMigration(s.target, 'runner-cancel', (st) => FINAL_STATES.has(st.state), {
      intervalMs: 200,
      timeoutMs: 120_000,
    });
    assert.equal(done.state, 'Canceled', `${done.state}: ${done.message}; tables at the cancel ${JSON.stringify(during)}`);
    assert.equal(done.databases[0]!.state, 'Canceled');
    assert.equal(done.verification, undefined, 'nothing was verified');
    // The work stopped: slow's copy was abandoned (its transaction rolled back), nothing ran after it.
    const [slowCount] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM slow', [], 'shop');
    assert.equal(slowCount!.n, 0);
    assert.equal((await tableStates())['public.slow'] !== 'Completed', true);
    // The target is left as it is: the database, its schema and the rows already copied stay.
    assert.deepEqual(await pair.target.query('SELECT count(*)::int AS n FROM items', [], 'shop'), [{ n: 50000 }]);
    // the runner records Canceled, then lets its lease go as it exits: that follows within seconds
    await waitForMigration(s.target, 'runner-cancel', (st) => st.runner?.alive === false, {
      intervalMs: 100,
      timeoutMs: 30_000,
    });
    assert.equal((await showMigration(s.target, 'runner-cancel'))?.state, 'Canceled');
    await assert.rejects(cancelMigration(s.target, 'runner-cancel'), (e: { code?: string }) => e.code === 'MIGRATION_FINISHED');
  });
});
