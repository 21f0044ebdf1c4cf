// A monitoring tool's long read transaction on the target holds a lock that the apply needs (a
// column the source added, followed with ALTER TABLE): the apply waits, as PostgreSQL's own apply
// worker would, and a warning names the session in the way and how to end the wait. Before, only
// the latency told it, growing for as long as that transaction stayed open. Found by an outside
// trial (docs/trials.md, people acting on the target beside pgferry).
//
// The same reader open on the target while a cutover with the writers
// fenced gives the target back: the release's drop of the target's guard needs the table's lock
// that the reader holds. It used to give up after a short lock_timeout and end the migration
// Failed, with the switch already made and the source fenced, so the applications had nowhere to
// write. The release now waits for the lock in short tries, names the session in the way, and goes
// on once it ends. Found by an outside trial (docs/trials.md, people acting on the target).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverEnd, endIfRunning, pairSpec, suiteServers, until, waitingForCutover } from '../support';

const DB = 'lockwait';
const READER_DB = 'behindreader';

describe("a read transaction of someone else's open on the target, holding a streamed table (integration)", function () {
  this.timeout(240_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query(`CREATE DATABASE ${DB}`);
      await pair.source.query(`CREATE DATABASE ${READER_DB}`);
      for (const db of [DB, READER_DB])
        await pair.source.query(`CREATE TABLE readings (id int PRIMARY KEY, v text); INSERT INTO readings VALUES (1, 'one')`, [], db);
    },
  });

  it('is warned about naming the session and its fix, and the row reaches the target once that session ends', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'lock-wait', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    let monitor: Awaited<ReturnType<typeof pair.target.connect>> | undefined;
    try {
      await waitingForCutover(store, spec.migrationName);
      monitor = await pair.target.connect(DB);
      await monitor.query(`SET application_name = 'monitoring'`);
      await monitor.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await monitor.query('SELECT count(*) FROM readings');
      const pid = (await monitor.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await pair.source.query(`ALTER TABLE readings ADD COLUMN note text; INSERT INTO readings VALUES (2, 'two', 'noted')`, [], DB);

      const warning = await until(
        'a warning naming the monitoring session',
        async () =>
          (await catalogEvents(store, spec.migrationName, 200)).find((e) => e.message.startsWith(`the apply of ${DB} has waited`)),
        60_000,
      );
      assert.equal(warning.level, 'warning');
      assert.match(warning.message, new RegExp(`held by session pid ${pid} \\(user [^,]+, application "monitoring", idle in transaction`));
      assert.match(warning.message, new RegExp(`SELECT pg_terminate_backend\\(${pid}\\)`));
      // (no read of the table here: any new reader queues behind the apply's ALTER TABLE)
      await monitor.query('COMMIT');
      await until(
        'the row applied once the session ended',
        async () =>
          (await pair.target.query<{ note: string }>(`SELECT note FROM readings WHERE id = 2`, [], DB))[0]?.note === 'noted' || undefined,
        60_000,
      );
      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
    } finally {
      await monitor?.end().catch(() => undefined);
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('waits naming the reader, then Succeeded: the guard gone, the target writable, rows equal', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'behind-reader', [READER_DB], { mode: 'Online', option: 'Migrate', fenceWriters: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    let monitor: Awaited<ReturnType<typeof pair.target.connect>> | undefined;
    try {
      await waitingForCutover(store, spec.migrationName);
      await pair.source.query(`INSERT INTO readings VALUES (2, 'two')`, [], READER_DB);
      monitor = await pair.target.connect(READER_DB);
      await monitor.query(`SET application_name = 'monitoring'`);
      await monitor.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await monitor.query('SELECT count(*) FROM readings');
      const pid = (await monitor.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const ending = cutoverEnd(store, spec, running);
      const waiting = await until(
        'the release naming the reader',
        async () => (await catalogEvents(store, spec.migrationName, 200)).find((e) => e.message.startsWith('the release waits')),
        120_000,
      );
      assert.match(waiting.message, new RegExp(`session pid ${pid} \\(user [^,]+, application "monitoring", idle in transaction`));
      assert.match(waiting.message, new RegExp(`SELECT pg_terminate_backend\\(${pid}\\)`));
      await monitor.query('COMMIT');
      const done = await ending;
      assert.equal(done.state, 'Succeeded', done.message);
      const triggers = await pair.target.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = 'public.readings'::regclass AND NOT tgisinternal`,
        [],
        READER_DB,
      );
      assert.equal(Number(triggers[0]?.n), 0, "the guard's trigger is gone from the target's table");
      await pair.target.query(`INSERT INTO readings VALUES (3, 'three')`, [], READER_DB);
      const rows = async (server: typeof pair.source) =>
        (await server.query<{ id: number; v: string }>('SELECT id, v FROM readings WHERE id < 3 ORDER BY id', [], READER_DB)).map(
          (r) => `${r.id}:${r.v}`,
        );
      assert.deepEqual(await rows(pair.target), await rows(pair.source));
      assert.deepEqual(await rows(pair.target), ['1:one', '2:two']);
    } finally {
      await monitor?.end().catch(() => undefined);
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
