// Issue 13: a table whose copy fails shows as Errored, with the server's reason, before the failure
// ends the migration (the table-error event used to be handled but never emitted). Here a regrole
// value names a role that exists only on the source, and roles are not migrated.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { pairSpec, serverSpec, suiteServers } from '../support';
import { tables as catalogTables } from '../../provider/engine/control/store';

describe('a table whose copy fails shows as Errored', function () {
  this.timeout(120_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query('CREATE ROLE only_on_source NOLOGIN');
      await pair.source.query('CREATE DATABASE errs');
      await pair.source.query(
        `CREATE TABLE fine (id int PRIMARY KEY); INSERT INTO fine SELECT generate_series(1, 10);
         CREATE TABLE grants (id int PRIMARY KEY, grantee regrole); INSERT INTO grants VALUES (1, 'only_on_source')`,
        [],
        'errs',
      );
    },
  });

  it('records the failing table as Errored with its reason and the migration as Failed', async () => {
    const { pair } = servers;
    const status = await runMigration(pairSpec(pair, 'errs', ['errs'], { option: 'Migrate', migrateRoles: false, tableJobs: 1 }));
    assert.equal(status.state, 'Failed');
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      const tables = await catalogTables(store, 'errs');
      const grants = tables.find((t) => t.table === 'public.grants');
      assert.equal(grants?.state, 'Errored', JSON.stringify(tables));
      assert.match(grants?.message ?? '', /only_on_source/);
      assert.notEqual(tables.find((t) => t.table === 'public.fine')?.state, 'Errored');
    } finally {
      await store.close();
    }
  });
});
