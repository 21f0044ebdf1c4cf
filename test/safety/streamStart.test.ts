// Issue 18: with an explicit publication list, a table created between the publication and the
// copy's snapshot would be copied and never streamed. The start of streaming checks the snapshot,
// and takes another once the table is published.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { prepareSourceAndSnapshot, type SourcePrepContext } from '../../provider/engine/cdc/source/sourcePrep';
import { closeSession, openSession } from '../../provider/engine/connect/session';
import { takeCopySnapshot } from '../../provider/engine/copy/copySnapshot';
import { ControlStore } from '../../provider/engine/control/store';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';

const DB = 'start';

describe('safety: every table the copy snapshot shows is streamed or reported (issue 18)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query('CREATE TABLE first (id int PRIMARY KEY); CREATE UNLOGGED TABLE scratch (id int)', [], DB);
  });
  after(async () => pair?.stop());

  it('a table created after the publication, before the snapshot, is published before the copy reads it', async () => {
    const spec = pairSpec(pair, 'start-m', [DB], { mode: 'Online' });
    const store = new ControlStore(serverSpec(pair.target));
    const run: SourcePrepContext = { spec, store, signal: new AbortController().signal, warn: async () => undefined };
    let takes = 0;
    const exporters: pg.Client[] = [];
    try {
      await store.createMigration({ name: 'start-m', mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
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
      const { copy } = await prepareSourceAndSnapshot(run, DB, 'start_pub', take, (unused) => unused.release());
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
      await store.close();
      // the test prepared the source outside any migration: nothing else would drop its publication
      await pair.source.query('DROP PUBLICATION IF EXISTS start_pub', [], DB);
    }
  });
});
