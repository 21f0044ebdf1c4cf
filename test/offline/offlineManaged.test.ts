import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration, verifyMigration } from '../../provider/engine';
import { loadRichDatabase, makeManagedTarget, serverSpec, suiteServers } from '../support';

for (const [sourceMajor, targetMajor] of [
  [15, 16],
  [13, 15],
] as const) {
  describe(`offline migration ${sourceMajor} → ${targetMajor} to a managed (non-superuser) target`, function () {
    this.timeout(300_000);
    const servers = suiteServers({
      sourceMajor: sourceMajor,
      targetMajor: targetMajor,
      setUp: async (pair) => {
        await loadRichDatabase(pair.source, 'rich');
      },
    });

    it('migrates the rich schema as pgadmin (CREATEDB, CREATEROLE, azure_pg_admin) and proves it identical', async () => {
      const { pair } = servers;
      // rows over the TOAST threshold that do not compress: a TOAST table with pages, loaded frozen
      await pair.source.query(
        `BEGIN READ WRITE;
         CREATE TABLE public.toasted (id int8 PRIMARY KEY, body text NOT NULL);
         INSERT INTO public.toasted SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 120) i)
           FROM generate_series(1, 2000) g;
         COMMIT;`,
        [],
        'rich',
      );
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
      // the end state of a VACUUM ANALYZE, though pgadmin may not name a TOAST table (no USAGE on
      // pg_toast): every table analyzed, every page of it and of its TOAST table all-visible
      const state = await t(
        `SELECT c.oid::regclass::text AS table, s.last_analyze IS NOT NULL AS analyzed,
                c.relallvisible = c.relpages AS heap, coalesce(x.relallvisible = x.relpages, true) AS toast, coalesce(x.relpages, 0) AS toast_pages
           FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid LEFT JOIN pg_class x ON x.oid = nullif(c.reltoastrelid, 0)
          WHERE c.relkind = 'r' AND c.relnamespace::regnamespace::text IN ('app', 'public') ORDER BY 1`,
      );
      assert.ok(
        state.some((r) => r.table === 'toasted' && r.toast_pages > 10),
        JSON.stringify(state),
      );
      assert.deepEqual(
        state.filter((r) => !r.analyzed || !r.heap || !r.toast),
        [],
        'tables not analyzed or with pages not all-visible',
      );
    });
  });
}
