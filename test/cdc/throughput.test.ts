// Apply speed on a mixed OLTP backlog (update one row, insert two, sometimes delete one per
// transaction, written by 8 connections), printed for the record; only correctness is asserted.
import { startPair, type ServerPair } from '../support';
import { assertSame, createSlot, drain, setupDb, startApplier, stopCdcPair } from './harness';

const DDL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text);
CREATE TABLE ledger (id bigserial PRIMARY KEY, acct int NOT NULL, amount int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO acct SELECT g, 0, NULL FROM generate_series(1, 10000) g;`;

describe('cdc: apply throughput on a mixed OLTP backlog (measurement)', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('catches up a backlog of ~60k row changes and prints rows/s', async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    const exported = await createSlot(f);
    await exported.release();
    const workers = 8;
    const perWorker = 2500;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const c = await f.source.connect(f.db);
        try {
          for (let i = 0; i < perWorker; i++) {
            const a = 1 + ((i * 7919 + w * 104729) % 10000);
            await c.query('BEGIN');
            await c.query('UPDATE acct SET balance = balance + 1, note = $2 WHERE id = $1', [a, `n${i}`]);
            await c.query('INSERT INTO ledger (acct, amount) VALUES ($1, 1), ($1, -1)', [a]);
            if (i % 10 === 0) await c.query('DELETE FROM ledger WHERE id = (SELECT min(id) FROM ledger)');
            await c.query('COMMIT');
          }
        } finally {
          await c.end();
        }
      }),
    );
    const writeSeconds = (Date.now() - started) / 1000;
    const applyStarted = Date.now();
    const running = startApplier(f, { initialLsn: exported.consistentLsn, commitMs: 500 });
    await drain(f, running, 600_000);
    const applySeconds = (Date.now() - applyStarted) / 1000;
    const s = running.applier.stats();
    const rows = s.inserts + s.updates + s.deletes;
    console.log(
      `      source wrote ${rows} row changes in ${writeSeconds.toFixed(1)} s (${Math.round(rows / writeSeconds)} rows/s, ${workers} connections); ` +
        `applied in ${applySeconds.toFixed(1)} s (${Math.round(rows / applySeconds)} rows/s, one apply stream)`,
    );
    await assertSame(f, ['acct', 'ledger']);
  });
});
