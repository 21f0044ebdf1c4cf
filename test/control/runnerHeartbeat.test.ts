// A runner heartbeats its own record only. A runner stopped (SIGSTOP, a laptop asleep) and woken
// after losing its lease runs its overdue heartbeat timer before it learns of the loss; by then the
// migration names its successor, whose record that beat must leave as it is, or a successor that
// died would look alive to `show` and to the copy rounds' helpers for a beat longer
// (control/store.ts heartbeat). Each beat is read back from the control catalog.
import assert from 'node:assert/strict';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { createMigration, heartbeat, setRunner } from '../../provider/engine/control/store';
import { serverSpec, startCluster, type Cluster } from '../support';

const MIGRATION = 'beats';
const FIRST = { host: 'worker-1', pid: 4100 };
const SUCCESSOR = { host: 'worker-2', pid: 4100 };

describe('control: a runner heartbeats only while the migration names it', () => {
  let cluster: Cluster;
  let store: CatalogConnection;
  before(async () => {
    cluster = await startCluster({ label: 'beats' });
    store = new CatalogConnection(serverSpec(cluster));
    await createMigration(store, { name: MIGRATION, mode: 'Online', option: 'Migrate', spec: {}, databases: ['shop'] });
  });
  after(async () => {
    await store?.close();
    await cluster?.stop();
  });

  const recorded = async () => {
    // the beat's time to the microsecond, as the catalog holds it
    const [row] = await cluster.query<{ host: string; pid: string; at: number }>(
      `SELECT runner->>'host' AS host, runner->>'pid' AS pid, extract(epoch FROM (runner->>'heartbeatAt')::timestamptz)::float8 AS at
         FROM pgferry.migration WHERE name = $1`,
      [MIGRATION],
    );
    return row!;
  };

  it("a beat moves its own runner's heartbeatAt; once the successor is recorded, the first runner's overdue beat leaves the successor's heartbeatAt unchanged", async () => {
    await setRunner(store, MIGRATION, FIRST);
    const set = await recorded();
    await heartbeat(store, MIGRATION, FIRST);
    const beat = await recorded();
    assert.ok(beat.at > set.at, `its own beat moved heartbeatAt: ${set.at} -> ${beat.at}`);

    await setRunner(store, MIGRATION, SUCCESSOR);
    const successor = await recorded();
    assert.deepEqual([successor.host, successor.pid], [SUCCESSOR.host, String(SUCCESSOR.pid)]);
    await heartbeat(store, MIGRATION, FIRST);
    assert.deepEqual(await recorded(), successor, "the first runner's beat changed nothing of the successor's record");

    await heartbeat(store, MIGRATION, SUCCESSOR);
    const own = await recorded();
    assert.ok(own.at > successor.at, `the successor's beat moved it: ${successor.at} -> ${own.at}`);
  });
});
