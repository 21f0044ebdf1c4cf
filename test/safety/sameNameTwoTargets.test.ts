// Issue 12, "names cannot collide": the Azure tutorials name every online migration
// "onlinemigration". Two of them from one source to two targets used to share one slot and one
// publication (the second start dropped the first's); now each has its own, and canceling one
// leaves the other streaming. A canceled migration leaves no origin behind on its target. Their
// runners, started detached, write two logs, not one.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, parseMigrationSpec, runMigration, startMigration, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { runnerLogPath } from '../../provider/engine/runner/spawn';
import { serverSpec, startCluster, waitForStatus, type Cluster } from '../support';
import { requestCancel, requestCutover } from '../../provider/engine/control/migrationRequests';

const streaming = (s: MigrationStatus) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed';

describe('safety: two migrations with one name from one source to two targets', function () {
  this.timeout(300_000);
  let source: Cluster;
  let first: Cluster;
  let second: Cluster;
  before(async () => {
    [source, first, second] = await Promise.all([
      startCluster({ label: 'src' }),
      startCluster({ label: 'dst1' }),
      startCluster({ label: 'dst2' }),
    ]);
    await source.query('CREATE DATABASE shop');
    await source.query(
      'CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, $$o$$ || g FROM generate_series(1, 1000) g',
      [],
      'shop',
    );
  });
  after(async () => Promise.all([source, first, second].map((c) => c?.stop())));

  const spec = (target: Cluster) =>
    parseMigrationSpec({
      migrationName: 'onlinemigration',
      source: serverSpec(source),
      target: serverSpec(target),
      databases: ['shop'],
      mode: 'Online',
      option: 'Migrate',
    });

  it('both stream; canceling one leaves the other streaming, and it cuts over with every row', async () => {
    const stores = [new CatalogConnection(serverSpec(first)), new CatalogConnection(serverSpec(second))];
    try {
      const toFirst = runMigration(spec(first));
      await waitForStatus(stores[0]!, 'onlinemigration', streaming);
      const toSecond = runMigration(spec(second));
      const [one, two] = [
        await waitForStatus(stores[0]!, 'onlinemigration', streaming),
        await waitForStatus(stores[1]!, 'onlinemigration', streaming),
      ];
      assert.equal(one.state, 'WaitingForUserAction', one.message);
      assert.equal(two.state, 'WaitingForUserAction', two.message);
      assert.notEqual(one.databases[0]!.names!.slot, two.databases[0]!.names!.slot);
      const slots = await source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots ORDER BY 1`);
      assert.deepEqual(
        slots.map((s) => s.slot_name),
        [one.databases[0]!.names!.slot, two.databases[0]!.names!.slot].sort(),
      );

      await requestCancel(stores[0]!, 'onlinemigration');
      assert.equal((await toFirst).state, 'Canceled');
      assert.deepEqual(await first.query(`SELECT roname FROM pg_replication_origin`), []);
      assert.deepEqual(
        (await source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots`)).map((s) => s.slot_name),
        [two.databases[0]!.names!.slot],
      );

      await source.query(`INSERT INTO orders VALUES (5000, 'after the cancel')`, [], 'shop');
      await waitForStatus(stores[1]!, 'onlinemigration', (s) => s.databases[0]!.inserts >= 1);
      await requestCutover(stores[1]!, 'onlinemigration');
      const done = await toSecond;
      assert.equal(done.state, 'Succeeded', done.message);
      const [row] = await second.query<{ n: number; item: string }>(
        `SELECT count(*)::int AS n, max(item) FILTER (WHERE id = 5000) AS item FROM orders`,
        [],
        'shop',
      );
      assert.deepEqual(row, { n: 1001, item: 'after the cancel' });
      assert.deepEqual(await source.query(`SELECT slot_name FROM pg_replication_slots`), []);
      assert.deepEqual(await source.query(`SELECT pubname FROM pg_publication`, [], 'shop'), []);
      assert.deepEqual(await second.query(`SELECT roname FROM pg_replication_origin`), []);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('their detached runners each write a log of their own, not both into one', async () => {
    await source.query('CREATE DATABASE depot');
    await source.query('CREATE TABLE parts (id int PRIMARY KEY); INSERT INTO parts SELECT generate_series(1, 100)', [], 'depot');
    const offline = (target: Cluster) =>
      parseMigrationSpec({
        migrationName: 'samename',
        source: serverSpec(source),
        target: serverSpec(target),
        databases: ['depot'],
        mode: 'Offline',
      });
    const logs = [first, second].map((target) => runnerLogPath('samename', serverSpec(target)));
    assert.notEqual(logs[0], logs[1]);
    // only what these runners write (a log of an earlier run whose servers had the same ports goes)
    await Promise.all(logs.map((log) => fs.rm(log, { force: true })));
    const stores = [new CatalogConnection(serverSpec(first)), new CatalogConnection(serverSpec(second))];
    try {
      await Promise.all([startMigration(offline(first)), startMigration(offline(second))]);
      for (const [i, target] of [first, second].entries()) {
        const done = await waitForStatus(stores[i]!, 'samename', (s) => isFinalState(s.state) && s.runner?.alive === false);
        assert.equal(done.state, 'Succeeded', done.message);
        assert.deepEqual(await target.query(`SELECT count(*)::int AS n FROM parts`, [], 'depot'), [{ n: 100 }]);
        const ends = (await fs.readFile(logs[i]!, 'utf8')).split('\n').filter((l) => l.startsWith('migration samename: '));
        assert.deepEqual(ends, ['migration samename: Succeeded'], `${logs[i]} holds one runner's end`);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
