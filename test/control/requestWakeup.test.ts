// A request written to the control catalog (cutover, cancel...) wakes the runner's wait for that
// migration at once; a request for another migration does not; without a listening session the
// wait is the plain poll it was.
import assert from 'node:assert/strict';
import { RequestWakeup } from '../../provider/engine/control/requestWakeup';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, type Cluster } from '../support';
import { createMigration } from '../../provider/engine/control/store';
import { requestCutover, requestDatabaseCancel } from '../../provider/engine/control/migrationRequests';

/** Whether `wait` settled before `ms` (a wait that was not woken would still be pending). */
async function settledWithin(wait: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([wait.then(() => true as const), late]);
  clearTimeout(timer);
  return result;
}

describe('control: a request wakes the waiting runner', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'wakeup' });
  });
  after(async () => cluster.stop());

  it('wakes the wait of the migration asked, not of another', async () => {
    const store = new CatalogConnection(serverSpec(cluster));
    await createMigration(store, { name: 'asked', mode: 'Online', option: 'Migrate', spec: {}, databases: ['d1'] });
    await createMigration(store, { name: 'other', mode: 'Online', option: 'Migrate', spec: {}, databases: ['d1'] });
    const asked = await RequestWakeup.listen(serverSpec(cluster), 'asked');
    const other = await RequestWakeup.listen(serverSpec(cluster), 'other');
    try {
      const askedWait = asked.sleep(60_000);
      const otherWait = other.sleep(60_000);
      await requestCutover(store, 'asked');
      assert.equal(await settledWithin(askedWait, 10_000), true, 'the cutover request woke the wait');
      assert.equal(await settledWithin(otherWait, 1_000), false, "another migration's wait sleeps on");
      // a request made while no wait is pending makes the next wait return at once
      await requestDatabaseCancel(store, 'asked', ['d1']);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await settledWithin(asked.sleep(60_000), 10_000), true, 'the request made before the wait ended it');
    } finally {
      await asked.close();
      await other.close();
      await store.close();
    }
  });

  it('falls back to the plain poll when the listening session cannot open', async () => {
    const unreachable = { ...serverSpec(cluster), port: 1 };
    const wakeup = await RequestWakeup.listen(unreachable, 'asked');
    try {
      assert.equal(wakeup.listening, false);
      assert.equal(await settledWithin(wakeup.sleep(200), 5_000), true);
    } finally {
      await wakeup.close();
    }
  });
});
