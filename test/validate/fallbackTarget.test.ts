// fallbackWindow's checks of the target (docs/fallback.md): the target serves the reverse stream as
// a source serves the forward one, so its wal_level, free slots and WAL senders and its user's
// right to replicate are checked, each failure with its fix on the target; read-only on both.
import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { serverSpec, startCluster, type Cluster } from '../support';
import { assertNoFailures, specFor, summary, withCode } from './helpers';

describe('validation: the target of a fallback window', () => {
  let logical: Cluster;
  let replica: Cluster;
  let target: Cluster;
  before(async () => {
    [logical, replica, target] = await Promise.all([
      startCluster({ label: 'fbv-src' }),
      // wal_level=replica and a single slot/sender, already taken by a physical slot
      startCluster({ label: 'fbv-replica', settings: { wal_level: 'replica', max_replication_slots: '1', max_wal_senders: '1' } }),
      startCluster({ label: 'fbv-dst' }),
    ]);
    await logical.query('CREATE DATABASE clean');
    await logical.query('CREATE TABLE ok (id int PRIMARY KEY, v text)', [], 'clean');
    await replica.query(`SELECT pg_create_physical_replication_slot('standby_1')`);
  });
  after(async () => Promise.all([logical, replica, target].map((c) => c?.stop())));

  it('fallbackWindow: checks the target as the source of the reverse stream, each failure with its fix there', async () => {
    const window = { mode: 'Online' as const, fenceWriters: true, fallbackWindow: '24h' };
    const results = await runValidation(specFor(serverSpec(logical), serverSpec(replica), ['clean'], window));
    const onTarget = (code: string) => withCode(results, code).filter((r) => r.server === 'target');
    const [wal] = onTarget('WAL_LEVEL');
    assert.equal(wal?.status, 'Failed', summary(results));
    assert.equal(wal!.message, 'the target has wal_level=replica; the reverse stream of fallbackWindow needs logical');
    assert.match(
      wal!.fix!,
      /^on the target: ALTER SYSTEM SET wal_level = logical, then restart the target \(Azure: server parameter wal_level = logical/,
    );
    assert.equal(onTarget('REPLICATION_SLOTS')[0]?.status, 'Failed');
    assert.match(onTarget('REPLICATION_SLOTS')[0]!.fix!, /standby_1/);
    assert.equal(onTarget('WAL_SENDERS')[0]?.status, 'Failed');
    // the source's own checks are unchanged and pass
    assert.ok(withCode(results, 'WAL_LEVEL').some((r) => r.server === 'source' && r.status === 'Succeeded'));

    const fine = await runValidation(specFor(serverSpec(logical), serverSpec(target), ['clean'], window));
    assertNoFailures(fine);
    for (const code of ['WAL_LEVEL', 'REPLICATION_SLOTS', 'WAL_SENDERS', 'REPLICATION_PRIVILEGE', 'REPLICATION_CONNECTION']) {
      assert.ok(
        withCode(fine, code).some((r) => r.server === 'target' && r.status === 'Succeeded'),
        `${code} on the target: ${summary(fine)}`,
      );
    }
    // without a window the target is not asked
    const plain = await runValidation(specFor(serverSpec(logical), serverSpec(replica), ['clean'], { mode: 'Online' }));
    assert.ok(!withCode(plain, 'WAL_LEVEL').some((r) => r.server === 'target'));
  });
});
