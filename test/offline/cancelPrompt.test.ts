// A cancel stops what runs on the target now, not when it would have finished: an index build of
// minutes is canceled on the server (pgferry asks it to, with the session's cancel key), and a
// COPY into a target that stopped answering is given up after a bounded wait (its connection
// closed, so the server rolls the copy back when it sees it); a streaming apply waiting for a lock
// someone holds on the target has its statement canceled there too (left waiting, it held the
// stream's replication origin and the cleanup could not drop it), and its slot, publication and
// origin are gone once it ends. Each way the migration ends Canceled soon after the request and
// nothing pgferry started still runs on the target.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { cancelMigration, runMigration, type MigrationStatus } from '../../provider/engine';
import { isFinalState } from '../../provider/engine/core/model';
import { CatalogConnection } from '../../provider/engine/control/connection';
import {
  CopyHold,
  endIfRunning,
  NONE_LEFT,
  pairSpec,
  type ServerPair,
  serverSpec,
  STREAMING,
  streamObjects,
  suiteServers,
  until,
  waitForStatus,
} from '../support';

/** What still runs on the target in `database` (other than the asking session). */
async function activeOn(pair: ServerPair, database: string): Promise<string[]> {
  const rows = await pair.target.query<{ q: string }>(
    `SELECT left(query, 80) AS q FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`,
    [database],
  );
  return rows.map((r) => r.q);
}

/** Resolves with the final status, or rejects after `ms`: the cancel did not end the run in time. */
async function endsWithin(running: Promise<MigrationStatus>, ms: number, what: string): Promise<MigrationStatus> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running ${ms} ms after the cancel`)), ms);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a cancel stops the work in progress on the target (integration)', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      // An expression index whose function sleeps 0.1 s a row once the data is on the source: the
      // source built it fast, the target's build of 2,000 rows would take 200 s.
      await pair.source.query('CREATE DATABASE slowindex');
      await pair.source.query(
        `CREATE FUNCTION slow_key(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1';
         CREATE TABLE keyed (id int PRIMARY KEY, v text);
         INSERT INTO keyed SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
         CREATE INDEX keyed_slow ON keyed (slow_key(id));
         CREATE OR REPLACE FUNCTION slow_key(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 FROM pg_sleep(0.1)';`,
        [],
        'slowindex',
      );
      await pair.source.query('CREATE DATABASE streamed');
      await pair.source.query(
        `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' FROM generate_series(1, 100) g`,
        [],
        'streamed',
      );
      await pair.source.query('CREATE DATABASE stalled');
      await pair.source.query(
        `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g`,
        [],
        'stalled',
      );
    },
  });

  it('cancels an index build on the server instead of waiting for it', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'cancel-index', ['slowindex'], { option: 'Migrate' });
    const running = runMigration(spec);
    try {
      await until('the slow index build running on the target', async () =>
        (await activeOn(pair, 'slowindex')).some((q) => /CREATE INDEX keyed_slow/.test(q)) ? true : undefined,
      );
      await cancelMigration(spec.target, spec.migrationName);
      const done = await endsWithin(running, 30_000, 'a 200 s index build');
      assert.equal(done.state, 'Canceled', done.message);
      // nothing left running, and the index was not built
      assert.deepEqual(await activeOn(pair, 'slowindex'), []);
      const built = await pair.target.query(`SELECT 1 FROM pg_class WHERE relname = 'keyed_slow'`, [], 'slowindex');
      assert.equal(built.length, 0);
      // the rows copied before the cancel stay (a cancel keeps what was done)
      const [row] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM keyed', [], 'slowindex');
      assert.equal(row!.n, 2000);
    } finally {
      await endIfRunning(spec, running);
    }
  });

  it('stops a streaming apply that waits for a lock on the target, and drops its slot, publication and origin', async () => {
    const { pair } = servers;
    const store = new CatalogConnection(serverSpec(pair.target));
    const spec = pairSpec(pair, 'cancel-locked', ['streamed'], { mode: 'Online', option: 'Migrate' });
    const running = runMigration(spec);
    let locker: pg.Client | undefined;
    try {
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      const names = streaming.databases[0]!.names!;
      const objects = () => streamObjects(pair.source, pair.target, 'streamed', names);
      // the state says streaming once the stream is set up; the apply session creates the origin as it
      // opens, a moment later on a loaded machine
      await until('the origin on the target', async () => ((await objects()).origin ? true : undefined), 30_000).catch(() => undefined);
      assert.deepEqual(await objects(), STREAMING, 'streaming: slot and publication on the source, origin on the target');
      locker = await pair.target.connect('streamed');
      // someone holds the table on the target: the apply's next statement waits for the lock
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      await pair.source.query(`UPDATE items SET v = 'changed' WHERE id <= 10`, [], 'streamed');
      await until('the apply waiting for the lock', async () => {
        const rows = await pair.target.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = 'streamed' AND wait_event_type = 'Lock' AND application_name LIKE 'pgferry%'`,
        );
        return rows.length > 0 ? true : undefined;
      });
      await cancelMigration(spec.target, spec.migrationName);
      const done = await endsWithin(running, 30_000, 'an apply waiting for a lock');
      assert.equal(done.state, 'Canceled', done.message);
      // the waiting statement was canceled on the server, not left queued behind the lock
      const waiting = await pair.target.query(`SELECT 1 FROM pg_stat_activity WHERE datname = 'streamed' AND wait_event_type = 'Lock'`);
      assert.equal(waiting.length, 0);
      // and the cleanup the waiting statement would have blocked was done: nothing of the stream is left
      assert.deepEqual(await objects(), NONE_LEFT, `left behind: ${JSON.stringify(names)}`);
    } finally {
      await locker?.query('ROLLBACK').catch(() => undefined);
      await locker?.end();
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('gives up a COPY into a target that stopped answering, and the server rolls it back', async () => {
    const { pair } = servers;
    // the COPY's rows and everything after them wait in the proxy, its CopyFail too: a target
    // that no longer reads this connection
    const hold = await CopyHold.start(pair.target, /"items"/, { answerGiveUp: false });
    const spec = pairSpec(pair, 'cancel-stalled', ['stalled'], { option: 'Migrate', target: serverSpec(pair.target, { port: hold.port }) });
    const running = runMigration(spec);
    try {
      await hold.whenHeld();
      await cancelMigration(spec.target, spec.migrationName);
      const done = await endsWithin(running, 60_000, 'a COPY into a stalled target');
      assert.equal(done.state, 'Canceled', done.message);
      // pgferry's side is closed; the server learns it when the network passes it on (here: the
      // proxy lets go), and rolls the copy back
      hold.release();
      await until('the held COPY gone from the target', async () => ((await activeOn(pair, 'stalled')).length === 0 ? true : undefined));
      const [row] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'stalled');
      assert.equal(row!.n, 0);
    } finally {
      hold.release();
      await endIfRunning(spec, running);
      await hold.close();
    }
  });
});
