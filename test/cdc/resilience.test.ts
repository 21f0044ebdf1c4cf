// The apply path under weight and disturbance: large transactions with a bounded queue, key-less
// tables (REPLICA IDENTITY FULL), a stalled target, restarts, schema changes, managed-target progress.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { slotName } from '../../provider/engine/core/names';
import { startPair, until, writerPause, type ServerPair } from '../support';
import {
  assertSame,
  createSlot,
  drain,
  setupDb,
  startApplier,
  startWriter,
  stopCdcPair,
  TARGET_KINDS,
  WRITER_DDL,
  WRITER_TABLE,
  type CdcDb,
  type Running,
  type TargetKind,
} from './harness';

/** Inserts into w until stopped, reconnecting while the source restarts; `written` counts commits. */
async function writer(f: CdcDb, stop: () => boolean, counter: { written: number }): Promise<void> {
  let c: pg.Client | undefined;
  while (!stop()) {
    try {
      if (!c) {
        c = await f.source.connect(f.db);
        c.on('error', () => undefined); // the restart terminates it
      }
      await c.query('INSERT INTO w (v) VALUES ($1)', [counter.written]);
      counter.written += 1;
      await writerPause();
    } catch {
      await c?.end().catch(() => undefined);
      c = undefined;
      await new Promise((r) => setTimeout(r, 100)); // back-off while the source restarts
    }
  }
  await c?.end().catch(() => undefined);
}

/** Holds an ACCESS EXCLUSIVE lock on a target table: the applier's statements on it wait. */
async function blockTable(f: CdcDb, table: string): Promise<pg.Client> {
  const blocker = await f.target.connect(f.db);
  await blocker.query('BEGIN');
  await blocker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return blocker;
}

/** Waits until the applier's queue reached its budget: past it the stream is paused. */
async function untilPaused(running: Running, budget: number): Promise<void> {
  await until(
    `the received-changes queue to reach its ${budget}-byte budget (the stream pauses)`,
    async () => (running.applier.stats().peakQueuedBytes >= budget ? true : undefined),
    120_000,
    50,
  );
}

/** Applies a 200k-row transaction with a bounded queue: the stream pauses while the target holds the table back. */
async function applyLargeTransactionWithBoundedQueue(pair: ServerPair, kind: TargetKind): Promise<void> {
  const ddl = `CREATE TABLE big (id int PRIMARY KEY, pad text); ${WRITER_DDL}`;
  const f = await setupDb(pair.source, pair.target, ddl, { target: kind });
  const exported = await createSlot(f);
  await exported.release();
  const budget = 2 * 1024 * 1024;
  const running = startApplier(f, { initialLsn: exported.consistentLsn, queueBudgetBytes: budget });
  const application = startWriter(f);
  // The target holds the big table back until the queue is full, so the pause must engage
  // whatever the relative speed of decoding and applying on this machine.
  const blocker = await blockTable(f, 'big');
  const started = Date.now();
  try {
    await f.src(`INSERT INTO big SELECT g, repeat('x', 100) || g FROM generate_series(1, 200000) g`);
    await untilPaused(running, budget);
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
  }
  const written = await application.stop();
  await drain(f, running, 240_000);
  const seconds = (Date.now() - started) / 1000;
  const stats = running.applier.stats();
  assert.equal(stats.inserts, 200_000 + written);
  // one frame past the budget at most: the socket is paused above it
  assert.ok(stats.peakQueuedBytes >= budget && stats.peakQueuedBytes < budget + 256 * 1024, `peak queue ${stats.peakQueuedBytes} bytes`);
  const [row] = await f.dst('SELECT count(*)::int AS n, sum(id)::bigint AS s FROM big');
  assert.deepEqual(row, { n: 200_000, s: '20000100000' });
  await assertSame(f, ['big', WRITER_TABLE]);
  console.log(
    `      200k-row transaction applied in ${seconds.toFixed(1)} s (${Math.round(200_000 / seconds)} rows/s), peak queue ${(stats.peakQueuedBytes / 1024).toFixed(0)} KiB`,
  );
}

/** Applies updates and deletes to a table without a primary key (REPLICA IDENTITY FULL), duplicates included. */
async function applyIdentityFullChanges(pair: ServerPair, kind: TargetKind): Promise<void> {
  const ddl = `CREATE TABLE nopk (a int, b text, j json, p point); ALTER TABLE nopk REPLICA IDENTITY FULL; ${WRITER_DDL}`;
  const f = await setupDb(pair.source, pair.target, ddl, { target: kind });
  const exported = await createSlot(f);
  await exported.release();
  const running = startApplier(f, { initialLsn: exported.consistentLsn });
  const application = startWriter(f);
  await f.src(
    `INSERT INTO nopk VALUES (1, 'x', '{"a":1}', '(1,2)'), (1, 'x', '{"a":1}', '(1,2)'), (2, NULL, NULL, NULL), (3, 'z', '[]', '(0,0)')`,
  );
  await f.src(`UPDATE nopk SET b = 'updated' WHERE ctid = (SELECT ctid FROM nopk WHERE a = 1 LIMIT 1)`); // one of two duplicates
  await f.src(`UPDATE nopk SET a = 20 WHERE a = 2`); // NULLs in the old row
  await f.src(`DELETE FROM nopk WHERE a = 3`);
  await f.src(`INSERT INTO nopk SELECT g, 't', NULL, NULL FROM generate_series(1, 10) g`);
  await f.src(`TRUNCATE nopk`); // then rows again, after the truncate
  await f.src(
    `INSERT INTO nopk VALUES (1, 'x', '{"a":1}', '(1,2)'), (1, 'x', '{"a":1}', '(1,2)'), (2, NULL, NULL, NULL), (3, 'z', '[]', '(0,0)')`,
  );
  await f.src(`UPDATE nopk SET b = 'updated' WHERE ctid = (SELECT ctid FROM nopk WHERE a = 1 LIMIT 1)`);
  await f.src(`DELETE FROM nopk WHERE a = 3`);
  assert.ok((await application.stop()) > 0);
  await drain(f, running);
  await assertSame(f, ['nopk', WRITER_TABLE]);
  const rows = await f.dst(`SELECT b FROM nopk WHERE a = 1 ORDER BY b`);
  assert.deepEqual(
    rows.map((r) => r.b),
    ['updated', 'x'],
  );
}

/** Holds memory bounded (the start budget, before a first commit) while the target is stalled, then catches up. */
async function holdMemoryWhileTargetStalls(pair: ServerPair): Promise<void> {
  const f = await setupDb(pair.source, pair.target, 'CREATE TABLE stall (id int PRIMARY KEY, pad text)');
  const exported = await createSlot(f);
  await exported.release();
  const budget = 1024 * 1024;
  const running = startApplier(f, { initialLsn: exported.consistentLsn, queueBudgetBytes: budget });
  const blocker = await blockTable(f, 'stall');
  try {
    for (let i = 0; i < 10; i++) {
      await f.src(`INSERT INTO stall SELECT g, repeat('p', 200) FROM generate_series(${i * 10_000 + 1}, ${(i + 1) * 10_000}) g`);
    }
    // 100,000 rows of 200 bytes are twenty times the budget: the queue fills, the stream pauses.
    // Stalled before its first commit, the session queues at most its start budget, 256 KiB
    // (cdc/apply/sessionConnections.ts START_BUDGET_BYTES), not yet the configured one.
    await untilPaused(running, 256 * 1024);
    // nothing applied is acknowledged: the slot keeps the source's WAL from the stall on (what the
    // walsender has sent may reach the end of it, the kernel's socket buffers holding the rest)
    const [lag] = await f.src(
      `SELECT (pg_current_wal_lsn() - s.confirmed_flush_lsn)::int8 AS behind
         FROM pg_replication_slots s WHERE s.slot_name = $1`,
      [slotName(f.migration, f.db)],
    );
    assert.ok(Number(lag!.behind) > budget, `the slot's acknowledged position is ${String(lag!.behind)} bytes behind the source's WAL`);
    const stalled = running.applier.stats();
    assert.equal(stalled.inserts, 0);
    assert.ok(stalled.peakQueuedBytes < 256 * 1024 + 256 * 1024, `peak queue ${stalled.peakQueuedBytes} bytes while stalled`);
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
  }
  await drain(f, running, 120_000);
  assert.equal(running.applier.stats().inserts, 100_000);
  await assertSame(f, ['stall']);
}

/** Continues across restarts and crashes of the source and of the target during streaming. */
async function streamAcrossRestartsAndCrashes(pair: ServerPair): Promise<void> {
  const f = await setupDb(pair.source, pair.target, 'CREATE TABLE w (id bigserial PRIMARY KEY, v int)');
  const exported = await createSlot(f);
  await exported.release();
  const logs: string[] = [];
  const running = startApplier(f, { initialLsn: exported.consistentLsn, log: (_l, m) => logs.push(m) });
  let stop = false;
  const counter = { written: 0 };
  const writing = writer(f, () => stop, counter);
  // After each restart or crash: rows written since then reach the target (the writer and the
  // applier both reconnected), read back from the target.
  const appliedAfter = async (event: string) => {
    const mark = counter.written;
    await until(
      `rows written after ${event} to reach the target`,
      async () => {
        const [row] = await f.dst('SELECT count(*)::int AS n FROM w WHERE v > $1', [mark]).catch(() => [{ n: 0 }]);
        return (row!.n as number) > 0 ? true : undefined;
      },
      120_000,
    );
  };
  try {
    await appliedAfter('the start');
    await f.source.restart();
    await appliedAfter('the source restart');
    await f.target.restart();
    await appliedAfter('the target restart');
    // crashes (immediate stop, crash recovery): the slot may fall back to its last checkpointed
    // position and resend what the target already has; the recorded progress skips it
    await f.source.crash();
    await f.source.start();
    await appliedAfter('the source crash');
    await f.target.crash();
    await f.target.start();
    await appliedAfter('the target crash');
  } finally {
    stop = true;
    await writing;
  }
  await drain(f, running, 120_000);
  await assertSame(f, ['w']);
  assert.ok(counter.written > 100, `only ${counter.written} rows written`);
  assert.ok(
    logs.some((l) => /reconnecting/.test(l)),
    logs.join('\n'),
  );
}

/** Follows an added column and stops, naming table and change, when a column is dropped. */
async function followAddedAndDroppedColumns(pair: ServerPair): Promise<void> {
  const f = await setupDb(pair.source, pair.target, 'CREATE TABLE s (id int PRIMARY KEY, a text)');
  const exported = await createSlot(f);
  await exported.release();
  const running = startApplier(f, { initialLsn: exported.consistentLsn });
  await f.src(`INSERT INTO s VALUES (1, 'one')`);
  await f.src(`ALTER TABLE s ADD COLUMN b int NOT NULL DEFAULT 7`);
  await f.src(`INSERT INTO s VALUES (2, 'two', 22)`);
  await f.src(`UPDATE s SET b = 11 WHERE id = 1`);
  await drain(f, running);
  await assertSame(f, ['s']);
  const [col] = await f.dst(
    `SELECT format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'b'`,
  );
  assert.deepEqual(col, { t: 'integer', nn: true });

  // a dropped column stops the stream with followSchemaChanges off (followed otherwise: shapeFollows)
  const again = startApplier(f, { initialLsn: exported.consistentLsn, followSchemaChanges: false });
  await f.src(`ALTER TABLE s DROP COLUMN a`);
  await f.src(`INSERT INTO s VALUES (3, 33)`);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('the applier did not stop')), 60_000));
  await assert.rejects(Promise.race([again.done, timeout]), (e: Error) =>
    /source table public\.s changed while streaming: column a was dropped/.test(e.message),
  );
  const [count] = await f.dst('SELECT count(*)::int AS n FROM s');
  assert.equal(count!.n, 2);
}

/** Keeps progress in a table on a managed (non-superuser) target. */
async function keepProgressInTableOnManagedTarget(pair: ServerPair): Promise<void> {
  const f = await setupDb(pair.source, pair.target, 'CREATE TABLE m (id int PRIMARY KEY, v text)', { target: 'managed' });
  const exported = await createSlot(f);
  await exported.release();
  const logs: string[] = [];
  const running = startApplier(f, { initialLsn: exported.consistentLsn, log: (_l, m) => logs.push(m) });
  await f.src(`INSERT INTO m SELECT g, 'v' || g FROM generate_series(1, 100) g`);
  await f.src(`UPDATE m SET v = 'u' WHERE id <= 10`);
  await f.src(`DELETE FROM m WHERE id > 90`);
  await drain(f, running);
  await assertSame(f, ['m']);
  assert.equal(running.applier.stats().progressMode, 'table');
  const [progress] = await f.dst('SELECT migration, database FROM pgferry.apply_progress');
  assert.deepEqual(progress, { migration: f.migration, database: f.db });
  // without replica role, but with no foreign key, trigger or rule to fire: applied as a replica
  // would (rows grouped by table), so there is nothing to warn about
  assert.deepEqual(
    logs.filter((l) => /session_replication_role/.test(l)),
    [],
  );
}

describe('cdc: large transactions, identity FULL, restarts, schema changes, progress on a managed target (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  // Both against a superuser target and a managed-like one, while an application writes on the source.
  for (const kind of TARGET_KINDS) {
    it(`applies a 200k-row transaction with a bounded queue (the stream pauses; ${kind} target)`, () =>
      applyLargeTransactionWithBoundedQueue(pair, kind));

    it(`applies updates and deletes to a table without a primary key (REPLICA IDENTITY FULL), duplicates included (${kind} target)`, () =>
      applyIdentityFullChanges(pair, kind));
  }

  it('holds memory bounded (the start budget, before a first commit) while the target is stalled, then catches up', () =>
    holdMemoryWhileTargetStalls(pair));

  it('continues across restarts and crashes of the source and of the target during streaming', () => streamAcrossRestartsAndCrashes(pair));

  it('follows an added column and stops, naming table and change, when a column is dropped', () => followAddedAndDroppedColumns(pair));

  it('keeps progress in a table on a managed (non-superuser) target', () => keepProgressInTableOnManagedTarget(pair));
});
