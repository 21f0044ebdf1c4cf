// Offline, a target that differs from the source never ends Succeeded: the schema is compared
// object by object before the migration says so. Here the target is changed while the copy runs
// (a default dropped, columns' types changed, an index added); the database ends Failed with
// SCHEMA_MISMATCH naming each object and its fix, its rows kept, and `verify` is clean once the
// fixes ran as printed: a column made text there gets its date or enum back through the fix's
// USING, which PostgreSQL needs ("column cannot be cast automatically").
import assert from 'node:assert/strict';
import { runMigration, verifyMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { endIfRunning, pairSpec, suiteServers, until } from '../support';
import { get } from '../../provider/engine/control/store';

describe('offline: never Succeeded over a target whose schema differs (integration)', function () {
  this.timeout(300_000);
  const servers = suiteServers();

  it('fails the database naming each difference and its fix, keeps the rows, and verifies clean once fixed', async () => {
    const { pair } = servers;
    const db = 'trusted';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(
      `CREATE TYPE mood AS ENUM ('ok', 'sad');
       CREATE TABLE notes (id int PRIMARY KEY, body text DEFAULT 'empty', at date, mood mood);
       INSERT INTO notes SELECT g, 'note ' || g, DATE '2024-01-01' + g % 300, (enum_range(NULL::mood))[1 + g % 2] FROM generate_series(1, 1000) g;
       CREATE TABLE big (id bigint PRIMARY KEY, v text);
       INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g;`,
      [],
      db,
    );
    const spec = pairSpec(pair, 'schema-trust', [db], { option: 'Migrate', tableJobs: 1 });
    const running = runMigration(spec).catch((error: Error) => error);
    try {
      // once the tables exist on the target, someone changes one of them there
      await until(
        'the table on the target',
        async () => ((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [db])).length > 0 ? true : undefined),
        120_000,
        50,
      );
      await until(
        'notes restored on the target',
        async () => ((await pair.target.query(`SELECT to_regclass('public.notes') IS NOT NULL AS ok`, [], db))[0]?.ok ? true : undefined),
        120_000,
        50,
      );
      // a default dropped, types that print their values alike, an index added
      await pair.target.query(
        `ALTER TABLE notes ALTER COLUMN body DROP DEFAULT, ALTER COLUMN body TYPE varchar(200),
           ALTER COLUMN at TYPE text, ALTER COLUMN mood TYPE text;
         CREATE INDEX notes_at ON notes (at)`,
        [],
        db,
      );
      await running;
      const store = new CatalogConnection(spec.target);
      const status = await get(store, spec.migrationName).finally(() => store.close());
      assert.equal(status?.state, 'Failed', status?.message);
      assert.match(status?.message ?? '', /SCHEMA_MISMATCH|schema differs/);
      const differences = status?.verification?.schema?.[0]?.differences ?? [];
      assert.deepEqual(differences.map((d) => [d.object, d.fix]).sort(), [
        ['column public.notes.at', 'ALTER TABLE "public"."notes" ALTER COLUMN "at" TYPE date USING "at"::date;'],
        ['column public.notes.body', `ALTER TABLE "public"."notes" ALTER COLUMN "body" SET DEFAULT 'empty'::text;`],
        ['column public.notes.body', 'ALTER TABLE "public"."notes" ALTER COLUMN "body" TYPE text;'],
        ['column public.notes.mood', 'ALTER TABLE "public"."notes" ALTER COLUMN "mood" TYPE public.mood USING "mood"::public.mood;'],
        ['index public.notes_at', 'DROP INDEX "public"."notes_at";'],
      ]);
      assert.equal(status?.databases[0]?.state, 'Failed');
      // the rows are kept
      const [kept] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM big`, [], db);
      assert.equal(kept?.n, 400000);
      // verify names the same differences; once their fixes ran on the target, it is clean
      const before = await verifyMigration(spec);
      assert.equal(before.ok, false);
      assert.equal(before.schema?.[0]?.differences.length, 5);
      for (const d of differences) await pair.target.query(d.fix, [], db);
      const after = await verifyMigration(spec);
      assert.equal(after.ok, true, after.firstMismatch);
      assert.deepEqual(
        after.schema?.map((s) => s.differences.length),
        [0],
      );
    } finally {
      await endIfRunning(spec, running);
    }
  });
});
