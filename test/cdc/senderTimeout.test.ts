// A source whose wal_sender_timeout is short ends a replication client that sends it no reply for
// that long. While the apply waits on the target the stream is paused for back-pressure, and a
// paused stream reads none of the walsender's keepalives, so the status updates the session sends
// on its own timer are its only replies. They used to come at a fixed interval longer than such a
// timeout: the walsender ended the session in the middle of the transaction, the next session
// decoded it again and was ended again, and a transaction larger than what the session holds in
// memory was never applied. The updates now come well inside the source's own timeout.
import assert from 'node:assert/strict';
import { slotName } from '../../provider/engine/core/names';
import { startPair, until, type ServerPair } from '../support';
import { assertSame, createSlot, drain, setupDb, startApplier, stopCdcPair } from './harness';

const DDL = 'CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL);';
const ROWS = 20_000;

describe('cdc: a source with a short wal_sender_timeout while the apply waits on the target', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15, { wal_sender_timeout: "'2s'" });
  });
  after(async () => stopCdcPair(pair));

  it('keeps one walsender through a paused stream several timeouts long and applies every row', async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    const exported = await createSlot(f);
    await exported.release();
    // a budget far below the transaction's size: the stream pauses while the target is locked
    const running = startApplier(f, { initialLsn: exported.consistentLsn, queueBudgetBytes: 64 * 1024 });
    const slot = slotName(f.migration, f.db);
    const activePid = async (): Promise<number | undefined> => {
      const [row] = await f.src('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return (row?.active_pid as number | null) ?? undefined;
    };
    const walsender = await until('the slot is streamed', activePid);
    const blocker = await f.target.connect(f.db);
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE wide IN ACCESS EXCLUSIVE MODE');
      await f.src(`INSERT INTO wide SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, ${ROWS}) g`);
      // several of the source's timeouts with the stream paused
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await blocker.query('COMMIT');
    } finally {
      await blocker.end();
    }
    await until('every row is on the target', async () => {
      const [row] = await f.dst('SELECT count(*)::int AS n FROM wide');
      return row?.n === ROWS ? true : undefined;
    });
    assert.equal(await activePid(), walsender, 'the slot is still streamed by the walsender that sent the transaction');
    await drain(f, running);
    await assertSame(f, ['wide']);
  });
});
