// The copy ledger in a target database: an item's rows commit only with its done-record, only
// under the latest claim, and only once. Two claimants of one item on a real server, each running
// the engine's copy item (runCopyItem with the ledger's check before COMMIT, as copy/copyTables.ts does):
// the one whose claim was taken over mid-copy has its rows rolled back by the item itself, and its
// session is left out of any transaction; the newer one commits; a second commit of a done item is
// refused and rolled back the same way. A ledger an older pgferry left (its epoch table called
// copy_fence) is taken over with its rows.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { listTables, type SourceTable } from '../../provider/engine/catalog/introspect';
import { runCopyItem } from '../../provider/engine/copy/copyItem';
import { createLedger, raiseEpoch, readDoneRecords, recordItemDone } from '../../provider/engine/copy/doneRecords';
import { startCluster, type Cluster } from '../support';

const MIGRATION = 'ledger-test';
const ITEM = '16384/2';
const ROWS = 100;

describe('copy ledger', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let source: pg.Client;
  let stale: pg.Client;
  let fresh: pg.Client;
  let table: SourceTable;

  before(async () => {
    cluster = await startCluster({ label: 'ledger' });
    await cluster.query('CREATE DATABASE ledger');
    await cluster.query('CREATE DATABASE ledger_source');
    await cluster.query('CREATE TABLE public.t (id int NOT NULL)', [], 'ledger');
    await cluster.query(
      `CREATE TABLE public.t (id int NOT NULL); INSERT INTO public.t SELECT g FROM generate_series(1, ${ROWS}) g`,
      [],
      'ledger_source',
    );
    source = await cluster.connect('ledger_source');
    stale = await cluster.connect('ledger');
    fresh = await cluster.connect('ledger');
    await createLedger(stale);
    await createLedger(stale); // idempotent
    table = (await listTables(source, cluster.major)).find((t) => t.name === 't')!;
  });
  after(async () => {
    await source?.end();
    await stale?.end();
    await fresh?.end();
    await cluster?.stop();
  });

  /** The engine's copy of the item into `target` under `epoch`; `meanwhile` runs in its transaction just before the ledger's check. */
  const copyChunk = (target: pg.Client, epoch: number, meanwhile?: () => Promise<void>) =>
    runCopyItem({
      item: { table },
      source,
      target,
      encoding: 'UTF8',
      beforeCommit: async (into, result) => {
        await meanwhile?.();
        await recordItemDone(into, MIGRATION, { item: ITEM, epoch, ...result });
      },
    });
  /** Rows in the target table as another session sees them. */
  const committed = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM public.t', [], 'ledger'))[0]!.n;
  /** The claimant's own session: its rows as it sees them, and whether it is still inside a transaction. */
  const session = async (client: pg.Client) => {
    const { rows } = await client.query<{ n: number; xid: string | null }>(
      'SELECT count(*)::int AS n, txid_current_if_assigned()::text AS xid FROM public.t',
    );
    return rows[0]!;
  };

  it('a claimant whose claim was taken over has its rows rolled back by the copy item; the newer claim commits once', async () => {
    await raiseEpoch(stale, MIGRATION, ITEM, 1);
    // the chunk is claimed again (the first claimant looked dead) while the first is mid-copy, its rows in
    await assert.rejects(
      copyChunk(stale, 1, () => raiseEpoch(fresh, MIGRATION, ITEM, 2)),
      (e: { code?: string }) => e.code === 'COPY_CLAIM_LOST',
    );
    // no ROLLBACK from the test: the item's own rolled the rows back and ended its transaction
    assert.deepEqual(await session(stale), { n: 0, xid: null }, 'the stale claimant session: no rows, no open transaction');
    assert.equal(await committed(), 0, 'the stale claimant rows were not committed');

    const outcome = await copyChunk(fresh, 2);
    assert.equal(outcome.rows, ROWS);
    assert.equal(await committed(), ROWS);

    // a fence is never lowered, and a done chunk cannot be committed again, whatever the epoch
    await raiseEpoch(stale, MIGRATION, ITEM, 1);
    await raiseEpoch(stale, MIGRATION, ITEM, 3);
    await assert.rejects(copyChunk(stale, 3), /duplicate key/);
    assert.deepEqual(await session(stale), { n: ROWS, xid: null }, 'the refused commit rolled back: the first load stays, once');
    assert.equal(await committed(), ROWS, 'rows loaded twice: none');
    const records = await readDoneRecords(fresh, MIGRATION);
    assert.deepEqual([...records.values()], [{ item: ITEM, epoch: 2, rows: ROWS, bytes: records.get(ITEM)?.bytes }]);
    assert.ok(records.get(ITEM)!.bytes > 0, 'the done-record carries the bytes the item copied');
  });

  it("takes over an older pgferry's copy_fence table, rows included, on resume", async () => {
    await cluster.query('CREATE DATABASE ledger_old');
    const old = await cluster.connect('ledger_old');
    try {
      await old.query(`CREATE SCHEMA pgferry;
        CREATE TABLE pgferry.copy_fence (migration text NOT NULL, item text NOT NULL, epoch bigint NOT NULL, PRIMARY KEY (migration, item));
        INSERT INTO pgferry.copy_fence VALUES ('${MIGRATION}', '${ITEM}', 7)`);
      await createLedger(old);
      const { rows } = await old.query<{ epoch: string; former: string | null }>(
        `SELECT epoch, to_regclass('pgferry.copy_fence')::text AS former FROM pgferry.copy_epoch WHERE migration = $1 AND item = $2`,
        [MIGRATION, ITEM],
      );
      assert.deepEqual(rows, [{ epoch: '7', former: null }]);
    } finally {
      await old.end();
    }
  });
});
