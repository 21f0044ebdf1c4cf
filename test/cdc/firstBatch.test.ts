// A session's first batch commits at its first source commit: after a restart with a backlog, the
// first change shows on the target as soon as its transaction is applied, as native's apply worker
// shows it, instead of once a batch of the backlog has grown old enough. The later batches still
// group the backlog. Each target transaction that writes `paced` is told by a trigger on the target
// recording its transaction id beside each row it wrote.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { assertSame, createSlot, drain, setupDb, startApplier, stopCdcPair } from './harness';

const DDL = 'CREATE TABLE paced (id int PRIMARY KEY, v int NOT NULL);';
const SOURCE_TRANSACTIONS = 200;

/** On the target only: each row written to `paced`, with the target transaction that wrote it. */
const ROWS_BY_TRANSACTION = `
CREATE TABLE applied_rows (id int PRIMARY KEY, txid bigint NOT NULL);
CREATE FUNCTION applied_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.applied_rows VALUES (NEW.id, txid_current());
  RETURN NULL;
END $$;
CREATE TRIGGER applied_row AFTER INSERT ON paced FOR EACH ROW EXECUTE FUNCTION applied_row();
ALTER TABLE paced ENABLE ALWAYS TRIGGER applied_row;`;

describe('cdc: the first batch of a session', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it("commits a backlog's first source transaction alone, then groups the rest, each row once", async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    await f.dst(ROWS_BY_TRANSACTION);
    const exported = await createSlot(f);
    await exported.release();
    // the backlog, written before the apply starts: every transaction is queued when it does
    const client = await f.source.connect(f.db);
    try {
      for (let id = 1; id <= SOURCE_TRANSACTIONS; id++) await client.query('INSERT INTO paced VALUES ($1, $1)', [id]);
    } finally {
      await client.end();
    }
    const running = startApplier(f, { initialLsn: exported.consistentLsn, commitMs: 500 });
    await drain(f, running);
    await assertSame(f, ['paced']);
    const batches = (await f.dst('SELECT array_agg(id ORDER BY id) AS ids FROM applied_rows GROUP BY txid ORDER BY min(id)')) as {
      ids: number[];
    }[];
    assert.equal(
      batches.reduce((n, b) => n + b.ids.length, 0),
      SOURCE_TRANSACTIONS,
    );
    assert.deepEqual(batches[0]!.ids, [1], `the first target transaction held source rows ${batches[0]!.ids.join(', ')}`);
    assert.ok(
      batches.length <= SOURCE_TRANSACTIONS / 2,
      `${SOURCE_TRANSACTIONS} source transactions took ${batches.length} target transactions: the backlog after the first was not grouped`,
    );
  });
});
