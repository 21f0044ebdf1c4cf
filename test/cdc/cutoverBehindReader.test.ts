// A monitoring tool's long read transaction open on the target while a cutover with the writers
// fenced gives the target back: the release's drop of the target's guard needs the table's lock
// that the reader holds. It used to give up after a short lock_timeout and end the migration
// Failed, with the switch already made and the source fenced, so the applications had nowhere to
// write. The release now waits for the lock in short tries, names the session in the way, and goes
// on once it ends. Found by an outside trial (docs/trials.md, people acting on the target).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { cutoverEnd, endIfRunning, pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';

const DB = 'behindreader';

describe('a cutover while a read transaction stays open on the target (integration)', function () {
  this.timeout(240_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(`CREATE TABLE readings (id int PRIMARY KEY, v text); INSERT INTO readings VALUES (1, 'one')`, [], DB);
  });
  after(async () => pair?.stop());

  it('waits naming the reader, then Succeeded: the guard gone, the target writable, rows equal', async () => {
    const spec = pairSpec(pair, 'behind-reader', [DB], { mode: 'Online', option: 'Migrate', fenceWriters: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    let monitor: Awaited<ReturnType<typeof pair.target.connect>> | undefined;
    try {
      const ready = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
      await pair.source.query(`INSERT INTO readings VALUES (2, 'two')`, [], DB);
      monitor = await pair.target.connect(DB);
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
        DB,
      );
      assert.equal(Number(triggers[0]?.n), 0, "the guard's trigger is gone from the target's table");
      await pair.target.query(`INSERT INTO readings VALUES (3, 'three')`, [], DB);
      const rows = async (server: typeof pair.source) =>
        (await server.query<{ id: number; v: string }>('SELECT id, v FROM readings WHERE id < 3 ORDER BY id', [], DB)).map(
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
