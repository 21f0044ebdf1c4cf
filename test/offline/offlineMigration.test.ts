import assert from 'node:assert/strict';
import { runMigration, verifyMigration } from '../../provider/engine';
import { loadRichDatabase, pairSpec, type ServerPair, suiteServers } from '../support';

const specFor = (pair: ServerPair, name: string, databases: string[], extra: Record<string, unknown> = {}) =>
  pairSpec(pair, name, databases, { tableJobs: 3, indexJobs: 2, ...extra });

for (const [sourceMajor, targetMajor] of [
  [15, 15],
  [13, 16],
] as const) {
  describe(`offline migration ${sourceMajor} → ${targetMajor}`, function () {
    this.timeout(300_000);
    const servers = suiteServers({
      sourceMajor: sourceMajor,
      targetMajor: targetMajor,
      setUp: async (pair) => {
        await loadRichDatabase(pair.source, 'rich');
      },
    });

    it('migrates the rich schema and the verifier proves it identical', async () => {
      const { pair } = servers;
      // Large objects beyond the fixture's five: an empty one, one with a hole, and one past the
      // copy's 16 MiB chunk whose bytes never repeat (a chunk written at the wrong offset shows).
      await pair.source.query(
        `BEGIN READ WRITE;
         SELECT lo_from_bytea(0, ''::bytea);
         SELECT lo_put(lo_create(0), 3000000, 'after a hole'::bytea);
         SELECT lo_from_bytea(0, decode(string_agg(md5(g::text), '' ORDER BY g), 'hex')) FROM generate_series(1, 1100000) g;
         COMMIT;`,
        [],
        'rich',
      );
      const spec = specFor(pair, 'rich-offline', ['rich'], { splitTablesLargerThan: 256 * 1024 });
      const status = await runMigration(spec);
      assert.equal(status.state, 'Succeeded', status.message);
      assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
      const db = status.databases[0]!;
      assert.equal(db.state, 'Succeeded');
      assert.ok(db.tables.total >= 10 && db.tables.completed === db.tables.total, JSON.stringify(db.tables));

      // Read back from the target, not from our own report.
      const t = (sql: string) => pair.target.query(sql, [], 'rich');
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM app.customers`), [{ n: 2001 }]);
      assert.deepEqual(await t(`SELECT name_upper FROM app.customers WHERE id = 7`), [{ name_upper: 'USER 7' }]);
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM "We""ird Sch.ema"."Order ""Lines"".v2"`), [{ n: 500 }]);
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM ONLY app.vehicles`), [{ n: 100 }]);
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM app.cars`), [{ n: 50 }]);
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM app.events_other`), [
        {
          n:
            5000 -
            (await pair.source.query(`SELECT count(*)::int AS n FROM app.events_2024`, [], 'rich'))[0]!.n -
            (await pair.source.query(`SELECT count(*)::int AS n FROM app.events_2025`, [], 'rich'))[0]!.n,
        },
      ]);
      assert.deepEqual(await t(`SELECT last_value::int AS v, is_called FROM app.invoice_seq`), [{ v: 1234, is_called: true }]);
      assert.deepEqual(await t(`SELECT count(*)::int AS n FROM app.order_stats`), [{ n: 2000 }]);
      // every large object by OID, owner, size and content, and the rows that refer to them
      const largeObjects = `SELECT oid::int8::text AS oid, pg_get_userbyid(lomowner) AS owner, length(lo_get(oid))::int AS bytes,
                                   md5(lo_get(oid)) AS md5 FROM pg_largeobject_metadata ORDER BY oid`;
      const sourceObjects = await pair.source.query(largeObjects, [], 'rich');
      assert.deepEqual(
        sourceObjects.map((o) => o.bytes as number).sort((a, b) => a - b),
        [0, 14_000, 14_000, 14_000, 14_000, 14_000, 3_000_012, 17_600_000],
      );
      assert.deepEqual(await t(largeObjects), sourceObjects);
      const references = `SELECT id, md5(lo_get(doc_oid)) AS md5 FROM app.documents WHERE doc_oid IS NOT NULL ORDER BY id`;
      assert.deepEqual(await t(references), await pair.source.query(references, [], 'rich'));
      assert.equal((await t(references)).length, 5);
      // the identity sequence continues after the copied rows
      const client = await pair.target.connect('rich');
      try {
        await client.query('BEGIN READ WRITE');
        const inserted = await client.query(`INSERT INTO app.customers (email) VALUES ('new@x') RETURNING id`);
        assert.deepEqual(inserted.rows, [{ id: 2002 }]);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
        // nextval is not rolled back: put the sequence back, or the verification below would
        // (rightly) find it one past the source's
        await client.query(`BEGIN READ WRITE; SELECT setval(pg_get_serial_sequence('app.customers', 'id'), 2001); COMMIT`);
        await client.end();
      }
      // indexes, constraints, triggers, policies, grants and database properties came along
      const indexes = await t(`SELECT indexname FROM pg_indexes WHERE schemaname IN ('app', 'We"ird Sch.ema') ORDER BY 1`);
      const names = indexes.map((r) => r.indexname as string);
      for (const expected of [
        'customers_pkey',
        'customers_email_key',
        'orders_customer_idx',
        'orders_note_trgm',
        'Weird Idx "1"',
        'events_kind_idx',
        'order_stats_pk',
      ]) {
        assert.ok(names.includes(expected), `index ${expected} missing: ${names.join(', ')}`);
      }
      assert.deepEqual(
        await t(
          `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND connamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('app', 'We"ird Sch.ema'))`,
        ),
        [{ n: 2 }],
      );
      assert.deepEqual(await t(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal`), [{ tgname: 'orders_touch' }]);
      assert.deepEqual(await t(`SELECT polname FROM pg_policy`), [{ polname: 'documents_reader' }]);
      assert.deepEqual(await t(`SELECT relrowsecurity FROM pg_class WHERE oid = 'app.documents'::regclass`), [{ relrowsecurity: true }]);
      assert.deepEqual(await t(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'app.customers'::regclass`), [
        { owner: 'app_owner' },
      ]);
      assert.deepEqual(await t(`SELECT has_table_privilege('app_reader', 'app.orders', 'SELECT') AS ok`), [{ ok: true }]);
      assert.deepEqual(await t(`SELECT relpersistence FROM pg_class WHERE oid = 'app.cache'::regclass`), [{ relpersistence: 'u' }]);
      assert.deepEqual(await t(`SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'rich'`), [
        { c: 'the rich fixture' },
      ]);
      const settings = await t(
        `SELECT unnest(setconfig) AS s FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'rich' ORDER BY 1`,
      );
      assert.ok(
        settings.some((r) => r.s === 'default_transaction_read_only=on'),
        JSON.stringify(settings),
      );
      assert.ok(
        settings.some((r) => String(r.s).startsWith('search_path=')),
        JSON.stringify(settings),
      );
      assert.ok(
        settings.some((r) => r.s === 'work_mem=8MB'),
        JSON.stringify(settings),
      );
      // roles: a superuser target user gives superuser/replication/bypassrls as on the source
      // (a managed target strips them), memberships kept
      assert.deepEqual(
        await pair.target.query(`SELECT rolsuper, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'ops_admin'`),
        [{ rolsuper: true, rolreplication: true, rolbypassrls: true, rolcanlogin: true }],
      );
      assert.deepEqual(await pair.target.query(`SELECT pg_has_role('Odd "Role"', 'app_reader', 'MEMBER') AS ok`), [{ ok: true }]);
    });

    it('pgferry verify detects a changed row', async () => {
      const { pair } = servers;
      const spec = specFor(pair, 'rich-offline', ['rich']);
      const clean = await verifyMigration(spec);
      assert.equal(clean.ok, true, clean.firstMismatch);
      await pair.target.query(
        `BEGIN READ WRITE; SET LOCAL session_replication_role = replica; UPDATE app.orders SET note = 'tampered' WHERE order_id = 42; COMMIT;`,
        [],
        'rich',
      );
      const report = await verifyMigration(spec);
      assert.equal(report.ok, false);
      assert.match(report.firstMismatch ?? '', /app\.orders/);
      assert.ok(report.tables.filter((x) => !x.matches).every((x) => x.table === 'app.orders'));
    });
  });
}
