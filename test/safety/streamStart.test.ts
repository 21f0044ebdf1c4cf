// Issue 18: with an explicit publication list, a table created between the publication and the
// copy's snapshot would be copied and never streamed. The start of streaming checks the snapshot,
// and takes another once the table is published. The first test drives that step by hand; the
// second creates the table at that moment of a real online migration (the copy's table locks are
// held up behind a lock the test holds) and reads the table's rows back on the target after the
// cutover: those the copy took and those streamed afterwards.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { requestCutover, startMigration } from '../../provider/engine';
import { prepareSourceAndSnapshot, type SourcePrepContext } from '../../provider/engine/cdc/prepare/sourcePrep';
import { closeSession, openSession } from '../../provider/engine/connect/session';
import { takeCopySnapshot } from '../../provider/engine/copy/copySnapshot';
import { setIdentityFull } from '../../provider/engine/footprint/replicaIdentity';
import { pairSpec, serverSpec, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from '../cdc/harness';
import { createMigration } from '../../provider/engine/control/store';

const DB = 'start';

describe('safety: every table the copy snapshot shows is streamed or reported', function () {
  this.timeout(120_000);
  const servers = suiteServers({
    databases: {
      [DB]: 'CREATE TABLE first (id int PRIMARY KEY); CREATE UNLOGGED TABLE scratch (id int)',
    },
  });

  it('a table created after the publication, before the snapshot, is published before the copy reads it', async () => {
    const { pair, store } = servers;
    const spec = pairSpec(pair, 'start-m', [DB], { mode: 'Online' });
    const run: SourcePrepContext = { spec, store, signal: new AbortController().signal, warn: async () => undefined };
    let takes = 0;
    const exporters: pg.Client[] = [];
    try {
      await createMigration(store, { name: 'start-m', mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
      const take = () =>
        takeCopySnapshot({
          source: spec.source,
          database: DB,
          lockTimeoutSeconds: 5,
          sessions: 1,
          snapshots: {
            take: async () => {
              takes += 1;
              // the application creates a table in the moment between publication and snapshot
              if (takes === 1) await pair.source.query('CREATE TABLE late (id int PRIMARY KEY)', [], DB);
              const exporter = await openSession(spec.source, { database: DB, purpose: 'test snapshot' });
              exporters.push(exporter);
              await exporter.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
              return (await exporter.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
            },
            nameOf: (s) => s,
            discard: async () => undefined,
          },
        });
      const { copy } = await prepareSourceAndSnapshot(run, setIdentityFull, DB, 'start_pub', take, (unused) => unused.release());
      try {
        // 1: the copy's own check sees a table it has not locked; 2: locked, copied, but not published; 3: published
        assert.equal(takes, 3);
        const seen = await copy.sessions.use(async (c) => (await c.query<{ t: string }>(`SELECT 'public.late'::regclass::text AS t`)).rows);
        assert.deepEqual(seen, [{ t: 'public.late' }]);
      } finally {
        await copy.release();
      }
      const published = await pair.source.query<{ t: string }>(
        `SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = 'start_pub' ORDER BY 1`,
        [],
        DB,
      );
      assert.deepEqual(
        published.map((p) => p.t),
        ['first', 'late'],
      );
    } finally {
      for (const e of exporters) await closeSession(e);
      // the test prepared the source outside any migration: nothing else would drop its publication
      await pair.source.query('DROP PUBLICATION IF EXISTS start_pub', [], DB);
    }
  });

  it('a table created between the publication and the snapshot of a real migration has its copied and streamed rows on the target', async () => {
    const { pair, store } = servers;
    const db = 'start_live';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(
      `CREATE TABLE first (id int PRIMARY KEY, v text); INSERT INTO first SELECT g, 'copied' FROM generate_series(1, 100) g;
       CREATE UNLOGGED TABLE scratch (id int)`,
      [],
      db,
    );
    const spec = pairSpec(pair, 'start-live', [db], { mode: 'Online', option: 'Migrate' });
    // The copy locks every table before its snapshot, after the publication exists: a lock the
    // test holds on the unlogged table (copied, never published) keeps it waiting right there.
    const blocker = await pair.source.connect(db);
    try {
      await blocker.query('BEGIN; LOCK TABLE scratch IN ACCESS EXCLUSIVE MODE');
      await startMigration(spec);
      await until('the copy to wait for its table locks, the publication made', async () => {
        const [row] = await pair.source.query<{ waiting: boolean; published: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                           WHERE NOT l.granted AND l.relation = 'scratch'::regclass AND a.application_name = 'pgferry table locks') AS waiting,
                  EXISTS (SELECT 1 FROM pg_publication_tables WHERE tablename = 'first') AS published`,
          [],
          db,
        );
        return row!.waiting && row!.published ? true : undefined;
      });
      // the application creates a table and writes to it in that moment
      await pair.source.query(
        `CREATE TABLE late (id int PRIMARY KEY, v text); INSERT INTO late SELECT g, 'before the snapshot' FROM generate_series(1, 50) g`,
        [],
        db,
      );
      await blocker.query('COMMIT');
      const streaming = await waitForStatus(
        store,
        'start-live',
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state !== 'InProgress',
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
      const published = await pair.source.query<{ t: string }>(`SELECT tablename::text AS t FROM pg_publication_tables ORDER BY 1`, [], db);
      assert.deepEqual(
        published.map((p) => p.t),
        ['first', 'late'],
      );
      // rows written once streaming runs: inserts, an update and a delete in the late table
      await pair.source.query(
        `INSERT INTO late SELECT g, 'streamed' FROM generate_series(51, 80) g; UPDATE late SET v = 'updated' WHERE id = 3; DELETE FROM late WHERE id = 4;
         INSERT INTO first VALUES (101, 'streamed')`,
        [],
        db,
      );
      await until('the streamed rows on the target', async () => {
        const rows = await pair.target
          .query<{ n: number }>(`SELECT count(*)::int AS n FROM late WHERE v = 'streamed'`, [], db)
          .catch(() => []);
        return rows[0]?.n === 30 ? true : undefined;
      });
      await requestCutover(serverSpec(pair.target), 'start-live');
      const done = await waitForStatus(store, 'start-live', (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);
      for (const table of ['late', 'first'])
        assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
      const [late] = await pair.target.query<{ copied: number; streamed: number; updated: number }>(
        `SELECT count(*) FILTER (WHERE v = 'before the snapshot')::int AS copied, count(*) FILTER (WHERE v = 'streamed')::int AS streamed,
                count(*) FILTER (WHERE v = 'updated')::int AS updated FROM late`,
        [],
        db,
      );
      assert.deepEqual(late, { copied: 48, streamed: 30, updated: 1 });
    } finally {
      await blocker.end().catch(() => undefined);
    }
  });
});
