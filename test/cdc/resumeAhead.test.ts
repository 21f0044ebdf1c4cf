// A resumed runner whose migration streams opens, beside its catalog reads and before its stream
// starts, the source catalog session its first relation message waits for, and reads the
// published tables' columns on it (flow/resumeAhead.ts): read from the source while the runner
// holds at its apply session's start, then the backlog applied once.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMigrationSpec, resumeMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startPair, until, writerPause, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { cutOverOnceAccepted, killRunnerWhileStreaming, rowsOf } from './harness';

describe('online runner resumed: what it opens ahead of its stream (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('a resumed runner has its source catalog session open and the published columns read before its apply session starts; the backlog applied once', async () => {
    await pair.source.query('CREATE DATABASE resumeahead');
    await pair.source.query(
      `CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 1000) g;`,
      [],
      'resumeahead',
    );
    const spec = parseMigrationSpec({
      migrationName: 'resume-ahead-online',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['resumeahead'],
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
    });
    const store = new CatalogConnection(spec.target);
    const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
    const writer = await pair.source.connect('resumeahead');
    let stop = false;
    let id = 100_000;
    const writing = (async () => {
      while (!stop) {
        id += 1;
        await writer.query(`INSERT INTO t VALUES ($1, 'live')`, [id]);
        await writerPause();
      }
    })();
    try {
      await killRunnerWhileStreaming(spec, store);
      const deadAt = id;
      await until('the writer to commit 20 rows while no runner is alive', async () => (id - deadAt >= 20 ? true : undefined), 60_000, 20);
      await withHoldArmed('apply-session-start', holdDir, () => resumeMigration(spec));
      await until(
        'the resumed runner to hold as its apply session starts',
        async () => ((await isHeld('apply-session-start', holdDir)) ? true : undefined),
        120_000,
      );
      // read from the source while the runner holds: its catalog session is open in the database, its
      // last statement the published tables' columns, and no walsender streams from the slot yet
      const catalog = await until(
        'the source catalog session to have read the published columns',
        async () => {
          const rows = await pair.source.query<{ state: string; query: string }>(
            `SELECT state, query FROM pg_stat_activity WHERE datname = 'resumeahead' AND application_name = 'pgferry cdc catalog'`,
          );
          return rows.length === 1 && rows[0]!.state === 'idle' && rows[0]!.query.includes('pg_publication_tables') ? rows : undefined;
        },
        60_000,
      );
      assert.equal(catalog.length, 1);
      const slots = await pair.source.query<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE database = 'resumeahead'`);
      assert.deepEqual(slots, [{ active: false }], 'no stream started before the apply session');
      await fs.rm(heldFile('apply-session-start', holdDir), { force: true });
      stop = true;
      await writing;
      await cutOverOnceAccepted(spec, store);
      assert.deepEqual(await rowsOf(pair.target, 'resumeahead', 't'), await rowsOf(pair.source, 'resumeahead', 't'));
    } finally {
      stop = true;
      await writer.end().catch(() => undefined);
      await fs.rm(holdDir, { recursive: true, force: true });
      await store.close();
    }
  });
});
