// The copy ledger in a target database: a chunk's rows commit only with its done-record, only
// under the latest claim, and only once. Two claimants of one chunk on a real server: the one whose
// claim was taken over cannot commit (its rows roll back), the newer one can, and a second commit
// of a done chunk is refused.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createLedger, raiseFence, readDoneRecords, recordChunkDone } from '../../provider/engine/copy/doneRecords';
import { startCluster, type Cluster } from '../support';

const MIGRATION = 'ledger-test';
const ITEM = '16384/2';

describe('copy ledger', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let stale: pg.Client;
  let fresh: pg.Client;

  before(async () => {
    cluster = await startCluster({ label: 'ledger' });
    await cluster.query('CREATE DATABASE ledger');
    await cluster.query('CREATE TABLE public.t (id int NOT NULL)', [], 'ledger');
    stale = await cluster.connect('ledger');
    fresh = await cluster.connect('ledger');
    await createLedger(stale);
    await createLedger(stale); // idempotent
  });
  after(async () => {
    await stale?.end();
    await fresh?.end();
    await cluster?.stop();
  });

  const count = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM public.t', [], 'ledger'))[0]!.n;

  it('a claimant whose claim was taken over cannot commit its rows; the newer claim commits once', async () => {
    await raiseFence(stale, MIGRATION, ITEM, 1);
    await stale.query('BEGIN');
    await stale.query('INSERT INTO public.t SELECT g FROM generate_series(1, 100) g');

    // the chunk is claimed again (the first claimant looked dead) while the first is mid-copy
    await raiseFence(fresh, MIGRATION, ITEM, 2);
    await assert.rejects(
      recordChunkDone(stale, MIGRATION, { item: ITEM, epoch: 1, rows: 100, bytes: 0 }),
      (e: { code?: string }) => e.code === 'COPY_CLAIM_LOST',
    );
    await stale.query('ROLLBACK');
    assert.equal(await count(), 0, 'the stale claimant rows were rolled back');

    await fresh.query('BEGIN');
    await fresh.query('INSERT INTO public.t SELECT g FROM generate_series(1, 100) g');
    await recordChunkDone(fresh, MIGRATION, { item: ITEM, epoch: 2, rows: 100, bytes: 0 });
    await fresh.query('COMMIT');
    assert.equal(await count(), 100);

    // a fence is never lowered, and a done chunk cannot be committed again, whatever the epoch
    await raiseFence(stale, MIGRATION, ITEM, 1);
    await raiseFence(stale, MIGRATION, ITEM, 3);
    await stale.query('BEGIN');
    await stale.query('INSERT INTO public.t SELECT g FROM generate_series(1, 100) g');
    await assert.rejects(recordChunkDone(stale, MIGRATION, { item: ITEM, epoch: 3, rows: 100, bytes: 0 }), /duplicate key/);
    await stale.query('ROLLBACK');
    assert.equal(await count(), 100, 'rows loaded twice: none');
    const records = await readDoneRecords(fresh, MIGRATION);
    assert.deepEqual([...records.values()], [{ item: ITEM, epoch: 2, rows: 100, bytes: 0 }]);
  });
});
