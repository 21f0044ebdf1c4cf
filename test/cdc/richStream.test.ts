// The rich fixture (hostile names, every common type, partitions, inheritance, TOAST, no-key
// tables, a read-only database default) migrated online while changes are made to it; the
// cutover's verification compares every table by count and checksum.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { loadRichDatabase, RICH_CHANGES_SQL, serverSpec, suiteServers, waitForStatus } from '../support';
import { rowsOf } from './harness';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

describe('online migration of the rich fixture (integration)', function () {
  this.timeout(400_000);
  const servers = suiteServers();

  it('streams changes to every kind of table and passes the cutover verification', async () => {
    const { pair } = servers;
    await loadRichDatabase(pair.source, 'rich_online');
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      const running = runMigration(
        parseMigrationSpec({
          migrationName: 'rich-online',
          source: serverSpec(pair.source),
          target: serverSpec(pair.target),
          databases: ['rich_online'],
          mode: 'Online',
          option: 'Migrate',
          overwriteDbsInTarget: true,
          allowReplicaIdentityFull: true,
        }),
      );
      const ready = await waitForStatus(
        store,
        'rich-online',
        (st) => ['WaitingForUserAction', 'Failed', 'Succeeded', 'Canceled'].includes(st.state),
        380_000,
      );
      assert.equal(ready.state, 'WaitingForUserAction', ready.message);
      await pair.source.query(RICH_CHANGES_SQL, [], 'rich_online');
      await requestCutover(store, 'rich-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.equal(done.verification?.ok, true);
      for (const table of ['app.customers', '"We""ird Sch.ema"."Order ""Lines"".v2"', 'app.events', 'app.orders', 'app.audit_log']) {
        assert.deepEqual(await rowsOf(pair.target, 'rich_online', table), await rowsOf(pair.source, 'rich_online', table), table);
      }
    } finally {
      await store.close();
    }
  });
});
