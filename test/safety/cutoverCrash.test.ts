// Issue 12, "cutover is crash-safe": a runner killed in the middle of a two-database cutover, right
// after the first database's slot was dropped (failpoint cutover-released:<db>). The old runner
// resumed streaming that database from a slot that was gone, failed, and dropped the second
// database's slot too. Now the resume finishes the cutover: both databases hold every row.
import assert from 'node:assert/strict';
import { isFinalState, parseMigrationSpec, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, suiteServers, until, waitForStatus } from '../support';

describe('safety: a runner killed during a two-database cutover', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      for (const db of ['alpha', 'beta']) {
        await pair.source.query(`CREATE DATABASE ${db}`);
        await pair.source.query(
          `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 2000) g`,
          [],
          db,
        );
      }
    },
  });

  it('resumes the cutover where it stopped and never drops the slot of a database not yet cut over', async () => {
    const { pair } = servers;
    const spec = parseMigrationSpec({
      migrationName: 'two-db',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['alpha', 'beta'],
      mode: 'Online',
      option: 'Migrate',
    });
    const store = new CatalogConnection(spec.target);
    try {
      // the runner inherits the environment: it dies right after releasing alpha's slot
      process.env.PGFERRY_FAILPOINTS = 'cutover-released:alpha';
      try {
        await startMigration(spec);
      } finally {
        delete process.env.PGFERRY_FAILPOINTS;
      }
      await waitForStatus(store, 'two-db', (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
      for (const db of ['alpha', 'beta']) await pair.source.query(`UPDATE items SET v = 'late' WHERE id <= 10`, [], db);
      await requestCutover(spec.target, 'two-db');
      const killed = await waitForStatus(store, 'two-db', (s) => s.runner?.alive === false);
      assert.equal(killed.databases.find((d) => d.database === 'alpha')?.cutoverStep, 'released');
      assert.notEqual(killed.state, 'Failed');
      // beta's slot survives the crash
      const slots = await pair.source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots`);
      assert.deepEqual(
        slots.map((s) => s.slot_name),
        [killed.databases.find((d) => d.database === 'beta')!.names!.slot],
      );

      await resumeMigration(spec);
      const done = await waitForStatus(store, 'two-db', (s) => isFinalState(s.state));
      assert.equal(done.state, 'Succeeded', done.message);
      for (const db of ['alpha', 'beta']) {
        const [row] = await pair.target.query<{ n: number; late: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'late')::int AS late FROM items`,
          [],
          db,
        );
        assert.deepEqual(row, { n: 2000, late: 10 }, db);
      }
      await until('no slot left on the source', async () =>
        (await pair.source.query(`SELECT 1 FROM pg_replication_slots`)).length === 0 ? true : undefined,
      );
      assert.deepEqual(await pair.target.query(`SELECT roname FROM pg_replication_origin`), []);
    } finally {
      await store.close();
    }
  });
});
