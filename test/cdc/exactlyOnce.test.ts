import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import { startPair, until, type ServerPair } from '../support';
import { applierOptions, assertSame, assertSameIds, createSlot, drain, setupDb, startApplier, stopCdcPair, type CdcDb } from './harness';

const DDL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text);
CREATE TABLE ledger (id bigserial PRIMARY KEY, acct int NOT NULL, amount int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO acct SELECT g, 0, NULL FROM generate_series(1, 200) g;
`;
const TABLES = ['acct', 'ledger'];
const RUNNER = path.join(__dirname, 'fixtures', 'applyRunner.js');
/**
 * Stress knobs for hunting rare interleavings (the defaults keep the suite short): more workers and
 * transactions make more kill cycles, a shorter kill delay kills closer to each start. Found the
 * origin-position bug (progress.ts) at about one run in seven with 4 / 1200 / 300.
 */
const WORKERS = Number(process.env.PGFERRY_EXACTLY_ONCE_WORKERS ?? 3);
const TX_PER_WORKER = Number(process.env.PGFERRY_EXACTLY_ONCE_TX ?? 600);
const MAX_KILL_DELAY_MS = Number(process.env.PGFERRY_EXACTLY_ONCE_KILL_MS ?? 400);

function spawnApplier(f: CdcDb, initialLsn: bigint, preferProgressTable: boolean): ChildProcess {
  const child = spawn(process.execPath, [RUNNER], { stdio: ['pipe', 'ignore', 'pipe'] });
  const options = applierOptions(f, { commitMs: 50, commitRows: 300, preferProgressTable });
  child.stdin!.end(JSON.stringify({ ...options, initialLsn: initialLsn.toString() }));
  return child;
}

/** Interleaved transactions from several connections, paced: each moves money and appends to the ledger. */
async function workload(f: CdcDb, workers: number, txPerWorker: number): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const c: pg.Client = await f.source.connect(f.db);
      try {
        for (let i = 0; i < txPerWorker; i++) {
          const a = 1 + ((i * 7 + w * 13) % 200);
          const b = 1 + ((i * 11 + w * 3) % 200);
          await c.query('BEGIN');
          await c.query('UPDATE acct SET balance = balance - $2, note = $3 WHERE id = $1', [a, i % 17, `w${w} t${i}`]);
          await c.query('UPDATE acct SET balance = balance + $2 WHERE id = $1', [b, i % 17]);
          await c.query('INSERT INTO ledger (acct, amount) VALUES ($1, $2), ($3, $4)', [a, -(i % 17), b, i % 17]);
          if (i % 25 === 0) await c.query('DELETE FROM ledger WHERE id IN (SELECT id FROM ledger ORDER BY id LIMIT 3)');
          await c.query('COMMIT');
          // paced, so the load lasts several kill cycles: an applier faster than an unpaced load
          // would catch up within one cycle and the kills would hit an idle applier
          await new Promise((r) => setTimeout(r, 8));
        }
      } finally {
        await c.end();
      }
    }),
  );
}

describe('cdc: exactly once under SIGKILL (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  for (const mode of ['origin', 'table'] as const) {
    it(`loses and duplicates nothing when the applier is killed at random moments (progress: ${mode})`, async () => {
      const f = await setupDb(pair.source, pair.target, DDL);
      const exported = await createSlot(f);
      await exported.release();
      const load = workload(f, WORKERS, TX_PER_WORKER);
      let kills = 0;
      const progress = new Set<number>();
      let loadDone = false;
      void load.then(() => (loadDone = true));
      const stderr: string[] = [];
      while (!loadDone || kills < 6) {
        const child = spawnApplier(f, exported.consistentLsn, mode === 'table');
        // Listened for from the start: an applier that dies on its own must not hang the test.
        const exited = new Promise((r) => child.once('exit', r));
        child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
        // Kill at a random moment after this applier has applied something (node's start-up time
        // varies a lot on a loaded machine; a fixed sleep could kill it before it did any work).
        // Once the load is over there may be nothing left to apply: then any moment will do.
        const before = (await f.dst('SELECT count(*)::int AS n FROM ledger'))[0]!.n as number;
        await until(
          `applier #${kills + 1} to apply something (ledger had ${before} rows)`,
          async () => {
            if (loadDone || child.exitCode !== null) return true;
            const [now] = await f.dst('SELECT count(*)::int AS n FROM ledger');
            return (now!.n as number) !== before ? true : undefined;
          },
          60_000,
          50,
        );
        assert.equal(child.exitCode, null, `the applier exited on its own\n${stderr.join('')}`);
        // the random delay picks the moment, not an event to wait for
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * MAX_KILL_DELAY_MS)));
        child.kill('SIGKILL');
        await exited;
        kills += 1;
        const [row] = await f.dst('SELECT count(*)::int AS n FROM ledger');
        progress.add(row!.n as number);
        if (kills > 40 * Math.max(1, (WORKERS * TX_PER_WORKER) / 1800)) break;
      }
      // the killed appliers did real work: the target grew across several kills
      assert.ok(progress.size >= 3, `target progress across kills: ${[...progress].join(', ')}\n${stderr.join('')}`);
      await load;
      assert.equal(stderr.join('').includes('Error'), false, stderr.join(''));
      const running = startApplier(f, { initialLsn: exported.consistentLsn, preferProgressTable: mode === 'table' });
      await drain(f, running);
      // on a difference, name the ledger rows that differ (which ids, inserted or deleted) first
      await assertSameIds(f, 'ledger', stderr.join(''));
      await assertSame(f, TABLES);
      assert.equal(running.applier.stats().progressMode, mode);
      if (mode === 'table') {
        const [row] = await f.dst('SELECT count(*)::int AS n FROM pgferry.apply_progress');
        assert.equal(row!.n, 1);
      }
      assert.ok(kills >= 6);
    });
  }
});
