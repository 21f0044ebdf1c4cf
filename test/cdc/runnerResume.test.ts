// The online runner stopped (SIGTERM, as a service manager or a host shutdown stops it) or killed
// (SIGKILL) while streaming, then resumed: the migration is not canceled, the copy is not redone,
// streaming continues from the recorded position, and the cutover finds every row.
import assert from 'node:assert/strict';
import { parseMigrationSpec, resumeMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { errorMessage } from '../../provider/engine/core/errors';
import { serverSpec, startPair, until, waitForStatus, writerPause, type ServerPair } from '../support';
import { cutOverOnceAccepted, killRunnerWhileStreaming, rowsOf } from './harness';

describe('online runner: SIGTERM or SIGKILL while streaming, then resume (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('SIGTERM while streaming: not canceled, its slot kept; the resume goes on without re-copying and cuts over with every row', async () => {
    await pair.source.query('CREATE DATABASE resumable');
    await pair.source.query(
      `CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 5000) g;`,
      [],
      'resumable',
    );
    const spec = parseMigrationSpec({
      migrationName: 'resumable-online',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['resumable'],
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
    });
    const store = new CatalogConnection(spec.target);
    const writer = await pair.source.connect('resumable');
    let stop = false;
    let id = 100_000;
    const writing = (async () => {
      while (!stop) {
        id += 1;
        await writer.query(`INSERT INTO t VALUES ($1, 'live')`, [id]);
        await writer.query(`UPDATE t SET v = 'u' || $1::text WHERE id = ($1::bigint % 5000) + 1`, [id]);
        await writerPause();
      }
    })();
    try {
      await killRunnerWhileStreaming(spec, store, 'SIGTERM');
      // a stop is not a cancel: the migration stays to be resumed, and the source keeps its slot
      const stopped = await waitForStatus(store, spec.migrationName, () => true);
      assert.notEqual(stopped.state, 'Canceled', stopped.message);
      const slots = await pair.source.query(`SELECT slot_name FROM pg_replication_slots WHERE database = 'resumable'`);
      assert.equal(slots.length, 1, JSON.stringify(slots));
      // writes keep coming while no runner is alive
      const deadAt = id;
      await until('the writer to commit 20 rows while no runner is alive', async () => (id - deadAt >= 20 ? true : undefined), 60_000, 20);
      // a comment on the target database: a redone copy would recreate the database and lose it
      // (not an object in it: the cutover's schema check rightly stops at one the source lacks)
      await pair.target.query(`COMMENT ON DATABASE resumable IS 'resume marker'`);
      await resumeMigration(spec);
      stop = true;
      await writing;
      // as a user would: the resumed runner accepts the cutover once it streams again
      const done = await cutOverOnceAccepted(spec, store);
      assert.deepEqual(await rowsOf(pair.target, 'resumable', 't'), await rowsOf(pair.source, 'resumable', 't'));
      const [marker] = await pair.target.query(
        `SELECT shobj_description(oid, 'pg_database') = 'resume marker' AS kept FROM pg_database WHERE datname = 'resumable'`,
      );
      assert.equal(marker!.kept, true, 'the copy was not redone');
      assert.ok(done.databases[0]!.inserts > 50, JSON.stringify(done.databases[0]));
    } finally {
      stop = true;
      await writer.end().catch(() => undefined);
      await store.close();
    }
  });

  it('a runner killed as its apply starts (target read, stream opened, before START_REPLICATION) leaves the backlog to the next, applied once', async () => {
    await pair.source.query('CREATE DATABASE resumetwice');
    await pair.source.query(
      `CREATE TABLE t (id bigint PRIMARY KEY, v text); CREATE TABLE u (id bigint PRIMARY KEY, n int NOT NULL);
       INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 2000) g; INSERT INTO u SELECT g, 0 FROM generate_series(1, 50) g;`,
      [],
      'resumetwice',
    );
    const spec = parseMigrationSpec({
      migrationName: 'resume-twice-online',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['resumetwice'],
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
    });
    const store = new CatalogConnection(spec.target);
    const writer = await pair.source.connect('resumetwice');
    let stop = false;
    let id = 100_000;
    // each transaction inserts a row and adds to a counter: one applied twice fails the insert's key
    // or leaves a counter off, one lost leaves a row or a count missing
    const writing = (async () => {
      while (!stop) {
        id += 1;
        await writer.query(`BEGIN; INSERT INTO t VALUES (${id}, 'live'); UPDATE u SET n = n + 1 WHERE id = ${(id % 50) + 1}; COMMIT`);
        await writerPause();
      }
    })();
    try {
      const killed = await killRunnerWhileStreaming(spec, store);
      const deadAt = id;
      await until(
        'the writer to commit 20 transactions while no runner is alive',
        async () => (id - deadAt >= 20 ? true : undefined),
        60_000,
        20,
      );
      // a column added while no runner is alive: the relation message differs from what is read ahead of it
      await writer.query(`ALTER TABLE t ADD COLUMN w int DEFAULT 7`);
      const applied = await rowsOf(pair.target, 'resumetwice', 't');
      process.env.PGFERRY_FAILPOINTS = 'apply-stream-start';
      try {
        // a runner that reaches the failpoint before its spawner's next look finds it holding the
        // lease is reported as exited by a signal: that is the kill this case arms (ci108)
        await resumeMigration(spec).catch((error: unknown) => {
          if (!/exited with code null/.test(errorMessage(error))) throw error;
        });
        await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false && s.runner.pid !== killed);
      } finally {
        delete process.env.PGFERRY_FAILPOINTS;
      }
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 't'), applied, 'the runner killed before streaming applied nothing');
      await resumeMigration(spec);
      stop = true;
      await writing;
      await cutOverOnceAccepted(spec, store);
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 't'), await rowsOf(pair.source, 'resumetwice', 't'));
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 'u'), await rowsOf(pair.source, 'resumetwice', 'u'));
    } finally {
      stop = true;
      await writer.end().catch(() => undefined);
      await store.close();
    }
  });
});
