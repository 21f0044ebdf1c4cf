// Group commit: on a busy source, the transactions that arrive while a target COMMIT is on its way
// join the next batch. Before, the walsender's keepalive between two source transactions made the
// apply commit and wait for each one alone; a durable target then committed one source transaction
// per fsync and the apply fell behind a few hundred transactions a second (bench/lagLab: 24 s of
// lag at 300 TPS). Here each target commit is made slow on purpose (a deferred trigger that sleeps
// once per target transaction and records it), and the source commits small transactions faster
// than that: the target must have committed them in far fewer transactions, every row there once.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { assertSame, createSlot, drain, setupDb, startApplier, stopCdcPair } from './harness';

const DDL = 'CREATE TABLE paced (id int PRIMARY KEY, v int NOT NULL);';
const SOURCE_TRANSACTIONS = 120;

/** On the target only: each target transaction that writes `paced` sleeps 100 ms at its commit and is logged once. */
const SLOW_COMMITS = `
CREATE TABLE target_commits (txid bigint PRIMARY KEY);
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.target_commits WHERE txid = txid_current()) THEN
    PERFORM pg_catalog.pg_sleep(0.1);
    INSERT INTO public.target_commits VALUES (txid_current());
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON paced DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
ALTER TABLE paced ENABLE ALWAYS TRIGGER slow_commit;`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cdc: group commit on a busy source', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('applies source transactions that arrive during a slow target commit together, each row once', async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    await f.dst(SLOW_COMMITS);
    const exported = await createSlot(f);
    await exported.release();
    const running = startApplier(f, { initialLsn: exported.consistentLsn });
    const client = await f.source.connect(f.db);
    try {
      // Each commit flushed at once, as on a durable source (the test servers' default, off, lets
      // the WAL writer flush every 200 ms, and the walsender then sends transactions in bunches).
      await client.query('SET synchronous_commit = on');
      // one small transaction every ~5 ms, each streamed on its own with a keepalive after it
      for (let id = 1; id <= SOURCE_TRANSACTIONS; id++) {
        await client.query('INSERT INTO paced VALUES ($1, $1)', [id]);
        await sleep(5);
      }
    } finally {
      await client.end();
    }
    await drain(f, running);
    await assertSame(f, ['paced']);
    const [{ n }] = (await f.dst('SELECT count(*)::int AS n FROM target_commits')) as [{ n: number }];
    assert.ok(n >= 1, 'the slow commit trigger never fired: the scenario did not happen');
    assert.ok(
      n <= SOURCE_TRANSACTIONS / 2,
      `${SOURCE_TRANSACTIONS} source transactions took ${n} target transactions: they were not grouped while a commit was on its way`,
    );
  });
});
