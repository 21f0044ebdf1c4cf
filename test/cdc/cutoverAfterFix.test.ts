// A stream fails on a row the target refuses (a key something else wrote there), and the user fixes
// the target and asks for the cutover before the supervisor has recorded the stop: the migration
// still says WaitingForCutoverTrigger, so the request is accepted. The supervisor then finds the
// stream stopped, waiting for its back-off. Before, it refused the request (cleared, the migration
// WaitingForApplyFix, no event), and once the back-off's try applied the change the migration said
// WaitingForCutoverTrigger again with no message: the request gone unsaid, the cutover never came
// (test/cdc/labelRenamed met it once a renamed label stopped the stream at once). Now the request
// tries the stopped stream again at once and waits for it. Held at the stop's record (a hold point
// in flow/streamStops.ts) so that the request comes exactly there. Read back: the migration
// Succeeded, the request kept until then, the row refused now the source's on the target, every
// row equal, no refusal among the events.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { requestCutover, runMigration, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { heldFile, holdsInThisProcess, isHeld } from '../support/holdPoints';
import { rowsOf } from './harness';

const DB = 'fixfirst';
const POINT = `stream-stop:${DB}`;

describe('a cutover asked right after the fix, before the stream stop was recorded', function () {
  this.timeout(300_000);
  const holds = holdsInThisProcess();
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('tries the stopped stream again at once and cuts over: Succeeded, the request kept until then, rows equal, no refusal told', async () => {
    pair = await startPair(15, 15);
    const { source, target } = pair;
    await source.query(`CREATE DATABASE ${DB}`);
    await source.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copied' FROM generate_series(1, 100) g;`,
      [],
      DB,
    );
    // read by the supervisor, in this process, when it records the stop
    const holdDir = await holds.arm(POINT);
    const name = 'fix-first';
    const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const running = runMigration(spec);
    const store = new CatalogConnection(spec.target);
    try {
      await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      await target.query(`INSERT INTO t VALUES (1009, 'written on the target')`, [], DB);
      await source.query(`INSERT INTO t VALUES (1009, 'source'); UPDATE t SET v = 'changed' WHERE id <= 10`, [], DB);
      await until(
        'the stream failed, its stop about to be recorded',
        async () => ((await isHeld(POINT, holdDir)) ? true : undefined),
        60_000,
      );
      await target.query(`DELETE FROM t WHERE id = 1009`, [], DB);
      const asked = await requestCutover(spec.target, name);
      assert.equal(asked.subState, 'WaitingForCutoverTrigger', asked.message);
      await fs.rm(heldFile(POINT, holdDir));
      // the request refused is cleared: a cutover that never comes is not waited for
      const end: MigrationStatus = await waitForStatus(store, name, (s) => isFinalState(s.state) || !s.cutoverRequested);
      const told = (await catalogEvents(store, name, 200)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`);
      assert.equal(end.state, 'Succeeded', `${end.state}/${end.subState}: ${end.message}\nevents:\n  ${told.join('\n  ')}`);
      assert.equal(end.cutoverRequested, true);
      assert.deepEqual(await rowsOf(target, DB, 't'), await rowsOf(source, DB, 't'));
      const [row] = await target.query<{ v: string }>(`SELECT v FROM t WHERE id = 1009`, [], DB);
      assert.equal(row?.v, 'source');
      assert.ok(
        told.some((m) => /^error: .*streaming stopped/.test(m)),
        `the stop was recorded:\n  ${told.join('\n  ')}`,
      );
      assert.deepEqual(
        told.filter((m) => /cutover not started/.test(m)),
        [],
      );
    } finally {
      await fs.rm(heldFile(POINT, holdDir), { force: true });
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
