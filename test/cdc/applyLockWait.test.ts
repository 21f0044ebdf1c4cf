// A monitoring tool's long read transaction on the target holds a lock that the apply needs (a
// column the source added, followed with ALTER TABLE): the apply waits, as PostgreSQL's own apply
// worker would, and a warning names the session in the way and how to end the wait. Before, only
// the latency told it, growing for as long as that transaction stayed open. Found by an outside
// trial (docs/trials.md, people acting on the target beside pgferry).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { cutoverEnd, endIfRunning, pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';

const DB = 'lockwait';

describe('the apply waiting for a lock a session holds on the target (integration)', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(`CREATE TABLE readings (id int PRIMARY KEY, v text); INSERT INTO readings VALUES (1, 'one')`, [], DB);
  });
  after(async () => pair?.stop());

  it('is warned about naming the session and its fix, and the row reaches the target once that session ends', async () => {
    const spec = pairSpec(pair, 'lock-wait', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
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
      monitor = await pair.target.connect(DB);
      await monitor.query(`SET application_name = 'monitoring'`);
      await monitor.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await monitor.query('SELECT count(*) FROM readings');
      const pid = (await monitor.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await pair.source.query(`ALTER TABLE readings ADD COLUMN note text; INSERT INTO readings VALUES (2, 'two', 'noted')`, [], DB);

      const warning = await until(
        'a warning naming the monitoring session',
        async () =>
          (await catalogEvents(store, spec.migrationName, 200)).find((e) => e.message.startsWith(`the apply of "${DB}" has waited`)),
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
});
