import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration, verifyMigration } from '../../provider/engine';
import { loadRichDatabase, makeManagedTarget, serverSpec, startPair, type ServerPair } from '../support';

for (const [sourceMajor, targetMajor] of [
  [15, 16],
  [13, 15],
] as const) {
  describe(`offline migration ${sourceMajor} → ${targetMajor} to a managed (non-superuser) target`, function () {
    this.timeout(300_000);
    let pair: ServerPair;
    before(async () => {
      pair = await startPair(sourceMajor, targetMajor);
      await loadRichDatabase(pair.source, 'rich');
    });
    after(async () => pair?.stop());

    it('migrates the rich schema as pgadmin (CREATEDB, CREATEROLE, azure_pg_admin) and proves it identical', async () => {
      const target = await makeManagedTarget(pair.target);
      const spec = parseMigrationSpec({
        migrationName: 'managed-offline',
        source: serverSpec(pair.source),
        target,
        databases: ['rich'],
        tableJobs: 3,
        indexJobs: 2,
      });
      const status = await runMigration(spec);
      assert.equal(
        status.state,
        'Succeeded',
        `${status.message} ${JSON.stringify(status.validation.filter((v) => v.status !== 'Succeeded'))}`,
      );
      assert.equal((await verifyMigration(spec)).ok, true);
      const t = (sql: string) => pair.target.query(sql, [], 'rich');
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM app.orders`), [{ n: 10000 }]);
      // ownership and grants landed as on the source
      assert.deepEqual(await t(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'app.customers'::regclass`), [
        { owner: 'app_owner' },
      ]);
      assert.deepEqual(await t(`SELECT has_table_privilege('app_reader', 'app.orders', 'SELECT') AS ok`), [{ ok: true }]);
      assert.deepEqual(await pair.target.query(`SELECT rolsuper FROM pg_roles WHERE rolname = 'ops_admin'`), [{ rolsuper: false }]);
    });
  });
}
