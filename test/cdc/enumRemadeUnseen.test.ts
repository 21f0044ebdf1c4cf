// An enum made again on the source while no runner ran: the runner killed while streaming, the type
// made again as drizzle-kit makes it (the column to text, DROP TYPE, CREATE TYPE with 'c' removed and
// 'd' added, the column back USING c::e), a writer inserting rows with the new label before and
// after the resume. No runner saw the type's OID change between two of its looks, so before the
// source's OID was recorded in the control catalog (known objects) the resumed runner could not
// tell the remake from a label renamed: the apply stopped on the first row with 'd' (invalid input
// value for enum) and the watch printed RENAME VALUE as the fix. Now the first look of the resumed
// runner compares the source's OID with the recorded one: the labels are added on the target, the
// held rows applied, then the type made again once the apply passed the change. Read back: the
// labels, the column's type, the enum types and an md5 of the rows on both servers, no stream stop
// and no RENAME VALUE fix among the events, and a cutover that Succeeds.
import assert from 'node:assert/strict';
import { resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import {
  endIfRunning,
  pairSpec,
  startPair,
  startSourceWriter,
  until,
  waitForStatus,
  waitingForCutover,
  type Cluster,
  type ServerPair,
  type SourceWriter,
} from '../support';
import { drizzleRemake, ENUM_TABLE_SCHEMA, enumState } from '../support/enumRemade';
import { eventsTold, streamStops } from '../support/toldEvents';
import { cutOverOnceAccepted } from './harness';

const DB = 'enumunseen';

const state = (cluster: Cluster) => enumState(cluster, DB);

describe('an enum made again on the source while no runner ran, rows with the new label written around the resume', function () {
  this.timeout(400_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the resumed runner follows it: the target's labels, column type, enum types and rows (md5) as the source's, no stop, no RENAME VALUE fix, Succeeded", async () => {
    const name = 'enum-unseen';
    pair = await startPair(15, 15);
    const { source, target } = pair;
    await source.query(`CREATE DATABASE ${DB}`);
    await source.query(ENUM_TABLE_SCHEMA, [], DB);
    const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    let writing: SourceWriter | undefined;
    const told = () => eventsTold(store, name, 40);
    try {
      await startMigration(spec);
      const streaming = await waitingForCutover(store, name);
      process.kill(streaming.runner!.pid, 'SIGKILL');
      await waitForStatus(store, name, (s) => s.runner?.alive === false);
      // drizzle-kit: 'c' removed, 'd' added
      await source.query(drizzleRemake(['a', 'b', 'd']), [], DB);
      const writer = startSourceWriter(source, DB, (c, n) => c.query(`INSERT INTO t VALUES ($1, 'd')`, [1000 + n]));
      writing = writer;
      await until('rows with the new label written while no runner runs', async () => (writer.committed() >= 20 ? true : undefined));
      await resumeMigration(spec);
      await waitingForCutover(store, name);
      const resumedAt = writer.committed();
      await until('rows written after the resume', async () => (writer.committed() >= resumedAt + 20 ? true : undefined));
      await writer.stop();
      await until(
        "the target's labels, column and rows as the source's",
        async () => ((await state(target)) === (await state(source)) ? true : undefined),
        120_000,
        500,
      ).catch(async (error: Error) =>
        assert.fail(`${error.message}: ${await state(target)} / ${await state(source)}\nevents:\n  ${await told()}`),
      );
      assert.match(await state(target), /^a,b,d \| e \| e \| \d+ /);
      assert.deepEqual(await streamStops(store, name, 1000), []);
      const all = await catalogEvents(store, name, 1000);
      assert.deepEqual(
        all.filter((e) => /RENAME VALUE/.test(e.message)).map((e) => e.message),
        [],
      );
      await cutOverOnceAccepted(spec, store);
      assert.equal(await state(target), await state(source));
    } finally {
      await writing?.stop().catch(() => undefined);
      await endIfRunning(spec, Promise.resolve());
      await waitForStatus(store, name, (s) => s.runner?.alive !== true).catch(() => undefined);
      await store.close();
    }
  });
});
