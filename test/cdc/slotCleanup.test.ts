// Dropping an online migration's slot and publication rides out a source restart: the fault
// campaign saw a migration fail while the source restarted, and its cleanup, tried once
// against the restarting source, left the slot holding WAL and the publication behind.
import assert from 'node:assert/strict';
import { dropSlotAndPublication } from '../../provider/engine/footprint/slotAndPublication';
import { serverSpec, startCluster, type Cluster } from '../support';

describe('slot cleanup during a source restart', function () {
  this.timeout(120_000);
  let source: Cluster;
  before(async () => {
    source = await startCluster({ label: 'src' });
    await source.query('CREATE DATABASE shop');
    await source.query(`CREATE TABLE orders (id int PRIMARY KEY); CREATE PUBLICATION cleanup_pub FOR TABLE orders`, [], 'shop');
    await source.query(`SELECT pg_create_logical_replication_slot('cleanup_slot', 'pgoutput')`, [], 'shop');
  });
  after(async () => source?.stop());

  it('a source stopped (immediate) when cleanup starts and back 2 s later loses its slot and publication', async () => {
    await source.crash();
    const dropping = dropSlotAndPublication(serverSpec(source), 'shop', 'cleanup_slot', 'cleanup_pub');
    await new Promise((r) => setTimeout(r, 2000)); // the cleanup meets a refused connection first
    await source.start();
    await dropping;
    assert.deepEqual(await source.query(`SELECT slot_name FROM pg_replication_slots`), []);
    assert.deepEqual(await source.query(`SELECT pubname FROM pg_publication`, [], 'shop'), []);
  });
});
