import assert from 'node:assert/strict';
import { CONTROL_MIGRATIONS } from '../../provider/engine/control/schemaVersions';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, type Cluster } from '../support';
import { createMigration, get, list, setTables, updateDatabase, updateTable } from '../../provider/engine/control/store';

describe('control catalog', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'control' });
  });
  after(async () => cluster.stop());

  it('installs idempotently when 20 installers race', async () => {
    const stores = Array.from({ length: 20 }, () => new CatalogConnection(serverSpec(cluster)));
    await Promise.all(stores.map((s) => s.install()));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await cluster.query<{ version: number }>('SELECT version FROM pgferry.schema_version ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      CONTROL_MIGRATIONS.map((m) => m.version),
    );
  });

  it('records a migration, refuses a duplicate name, and reads counters back', async () => {
    const store = new CatalogConnection(serverSpec(cluster));
    try {
      await createMigration(store, { name: 'm1', mode: 'Offline', option: 'Migrate', spec: { a: 1 }, databases: ['d1', 'd2'] });
      await assert.rejects(
        createMigration(store, { name: 'm1', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['x'] }),
        (e: { code?: string }) => e.code === 'MIGRATION_NAME_TAKEN',
      );
      await setTables(store, 'm1', 'd1', [
        { table: 'public.a', parts: 1 },
        { table: 'public.b', parts: 2 },
      ]);
      await updateTable(store, 'm1', 'd1', 'public.a', { state: 'Completed', rows: 10 });
      await updateDatabase(store, 'm1', 'd1', { rowsCopied: 10, state: 'InProgress' });
      const status = await get(store, 'm1');
      assert.ok(status);
      assert.equal(status.databases.length, 2);
      assert.deepEqual(status.databases[0]!.tables, { total: 2, queued: 1, loading: 0, completed: 1, errored: 0 });
      assert.equal(status.databases[0]!.rowsCopied, 10);
      assert.equal((await list(store, 'all')).length, 1);
    } finally {
      await store.close();
    }
  });
});
