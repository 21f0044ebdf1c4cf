// A partition made, filled and dropped on the source while the stream is behind (pg_partman's
// maintenance does this: run_maintenance() makes partitions ahead, its retention drops old ones,
// and partition_data moves rows out of the default partition into new ones). The stream then
// carries changes of a table that neither the source nor the target has any more; the apply
// skips them, since the drop took the rows, where it used to stop for good on a table it could
// never find. Found by an outside trial with pg_partman 4.7 (docs/trials.md).
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { assertSame, createSlot, drain, setupDb, startApplier, stopCdcPair } from './harness';

const DDL = `
CREATE TABLE m (id int PRIMARY KEY, v text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE m_0 PARTITION OF m FOR VALUES FROM (0) TO (1000);
CREATE TABLE m_default PARTITION OF m DEFAULT;`;

describe('a partition made and dropped on the source while the stream is behind (integration)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('its changes are skipped with one event each, the stream goes on, and the other partitions read back equal', async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    const exported = await createSlot(f);
    await exported.release();
    // rows in the default partition, then moved into a partition made for them (partition_data's way)
    await f.src(`INSERT INTO m SELECT g, 'd' || g FROM generate_series(1000, 1049) g`);
    await f.src(`BEGIN;
      CREATE TABLE m_moved (LIKE m INCLUDING ALL);
      WITH gone AS (DELETE FROM m_default WHERE id >= 1000 AND id < 2000 RETURNING *) INSERT INTO m_moved SELECT * FROM gone;
      ALTER TABLE m ATTACH PARTITION m_moved FOR VALUES FROM (1000) TO (2000);
      COMMIT`);
    await f.src(`UPDATE m SET v = 'u' || id WHERE id BETWEEN 1000 AND 1009`);
    // the retention drops it in a later transaction
    await f.src('DROP TABLE m_moved');
    // made, filled and dropped in one transaction
    await f.src(`BEGIN;
      CREATE TABLE m_brief PARTITION OF m FOR VALUES FROM (2000) TO (3000);
      INSERT INTO m SELECT g, 'b' || g FROM generate_series(2000, 2019) g;
      DROP TABLE m_brief;
      COMMIT`);
    // the application goes on in the partitions that stay
    await f.src(`INSERT INTO m SELECT g, 'k' || g FROM generate_series(1, 30) g UNION ALL SELECT 5000, 'default'`);
    // the applier starts only now, so that the stream is behind every one of those drops: started
    // earlier, it could reach a partition's first change while the source still had the table,
    // which is the case of a table the target lacks, not of one dropped since
    const told: string[] = [];
    const running = startApplier(f, { initialLsn: exported.consistentLsn, log: (_level, message) => told.push(message) });
    await drain(f, running);
    await assertSame(f, ['m_0', 'm_default']);
    const left = await f.dst(`SELECT to_regclass('public.m_moved') IS NULL AND to_regclass('public.m_brief') IS NULL AS none`);
    assert.equal(left[0]?.none, true, 'no table made on the target for the dropped partitions');
    const skipped = told.filter((m) => /created and dropped on the source while the stream was behind/.test(m));
    assert.equal(skipped.length, 2, told.join('\n'));
    assert.ok(
      skipped.some((m) => m.includes('source table public.m_moved ')) && skipped.some((m) => m.includes('source table public.m_brief ')),
      skipped.join('\n'),
    );
  });
});
