// Issue 6: the online migration of the rich fixture with the privileges users really have — a
// source user with only LOGIN REPLICATION and membership in the tables' owners, and an Azure-like
// target admin (CREATEDB, CREATEROLE, azure_pg_admin, no superuser).
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { loadRichDatabase, makeManagedTarget, makeReplicationSourceUser, RICH_CHANGES_SQL, suiteServers, waitForStatus } from '../support';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

describe('online migration with a replication-only source user and a managed target', function () {
  this.timeout(400_000);
  const servers = suiteServers({
    targetMajor: 16,
    setUp: async (pair) => {
      await loadRichDatabase(pair.source, 'rich');
    },
  });

  it('copies, streams and cuts over the rich schema, then verifies it identical', async () => {
    const { pair } = servers;
    const source = await makeReplicationSourceUser(pair.source, 'rich');
    const target = await makeManagedTarget(pair.target);
    const spec = parseMigrationSpec({
      migrationName: 'managed-online',
      source,
      target,
      databases: ['rich'],
      mode: 'Online',
      allowReplicaIdentityFull: true,
    });
    const store = new CatalogConnection(target);
    try {
      const running = runMigration(spec);
      const ready = await waitForStatus(store, 'managed-online', (st) => st.state !== 'InProgress', 380_000);
      assert.equal(
        ready.subState,
        'WaitingForCutoverTrigger',
        `${ready.state}: ${ready.message} ${JSON.stringify(ready.validation.filter((v) => v.status === 'Failed'))}`,
      );
      await pair.source.query(RICH_CHANGES_SQL, [], 'rich');
      await requestCutover(store, 'managed-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.equal(done.verification?.ok, true);
      const t = (sql: string) => pair.target.query(sql, [], 'rich');
      const s = (sql: string) => pair.source.query(sql, [], 'rich');
      for (const sql of [
        'SELECT count(*)::int AS n, sum(total)::text AS total FROM app.orders',
        'SELECT count(*)::int AS n FROM app.customers',
        `SELECT count(*)::int AS n FROM "We""ird Sch.ema"."Order ""Lines"".v2" WHERE "qty ""n""" = -1`,
      ]) {
        assert.deepEqual(await t(sql), await s(sql), sql);
      }
      // the source's audit trigger fired once per change (on the source): none fired again on the
      // target while streaming, and after the cutover it is enabled again as on the source
      assert.deepEqual(await t('SELECT count(*)::int AS n FROM app.audit_log'), await s('SELECT count(*)::int AS n FROM app.audit_log'));
      assert.deepEqual(await t(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'orders_touch'`), [{ tgenabled: 'O' }]);
      // no slot, publication or progress table is left behind
      assert.deepEqual(await pair.source.query('SELECT slot_name FROM pg_replication_slots'), []);
      assert.deepEqual(await s('SELECT pubname FROM pg_publication'), []);
      assert.deepEqual(await t(`SELECT to_regclass('pgferry.apply_progress') AS t`), [{ t: null }]);
    } finally {
      await store.close();
    }
  });
});
