// Parallel apply (applySessions above 1, docs/safety.md#parallel-apply-applysessions-issue-65)
// against real servers: commit order kept for transactions on one table whatever the order of
// their BEGINs (pgcopydb's #1044 lost one of two such transactions), a many-table workload with
// foreign keys identical after the drain, transactions on other rows of one table applied by
// several sessions in one batch, a foreign key whose rows are written in separate
// transactions never broken on the target while sessions commit apart, and an applier killed at
// random moments and at each step of a batch commit losing and repeating nothing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startPair, until, type ServerPair } from '../support';
import { isHeld, withHoldArmed } from '../support/holdPoints';
import { originName, slotName } from '../../provider/engine/core/names';
import {
  applierOptions,
  assertSame,
  assertSameIds,
  createSlot,
  drain,
  setupDb,
  startApplier,
  stopCdcPair,
  type CdcDb,
  type Running,
} from './harness';

const TABLE_COUNT = 8;
const TABLES = [...Array.from({ length: TABLE_COUNT }, (_, i) => `t${i}`), 'parent', 'child'];
const DDL = `
${Array.from({ length: TABLE_COUNT }, (_, i) => `CREATE TABLE t${i} (id int PRIMARY KEY, v int NOT NULL, note text);`).join('\n')}
CREATE TABLE parent (id int PRIMARY KEY, v int NOT NULL);
CREATE TABLE child (id bigserial PRIMARY KEY, parent int NOT NULL REFERENCES parent (id), v int NOT NULL);
${Array.from({ length: TABLE_COUNT }, (_, i) => `INSERT INTO t${i} SELECT g, 0, NULL FROM generate_series(1, 50) g;`).join('\n')}
`;
const RUNNER = path.join(__dirname, 'fixtures', 'applyRunner.js');
const SESSIONS = 4;

/** One transaction of the many-table load: one to three tables, sometimes a parent with its child. */
async function oneTransaction(c: pg.Client, w: number, i: number): Promise<void> {
  await c.query('BEGIN');
  const first = (i * 3 + w) % TABLE_COUNT;
  await c.query(`UPDATE t${first} SET v = v + 1, note = $2 WHERE id = $1`, [1 + ((i + w * 7) % 50), `w${w} i${i}`]);
  if (i % 3 === 0) await c.query(`UPDATE t${(first + 1 + w) % TABLE_COUNT} SET v = v - 1 WHERE id = $1`, [1 + (i % 50)]);
  if (i % 4 === 1) {
    const p = w * 100_000 + i;
    await c.query('INSERT INTO parent VALUES ($1, $2)', [p, i]);
    await c.query('INSERT INTO child (parent, v) VALUES ($1, 1), ($1, 2)', [p]);
  }
  if (i % 10 === 5) await c.query('DELETE FROM child WHERE id IN (SELECT id FROM child ORDER BY id LIMIT 2)');
  await c.query('COMMIT');
}

/** `writers` writers at once on the source, each on its own connection, writer `w` running `write(c, w)`. */
async function eachWriter(f: CdcDb, writers: number, write: (c: pg.Client, w: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const c = await f.source.connect(f.db);
      try {
        await write(c, w);
      } finally {
        await c.end();
      }
    }),
  );
}

/**
 * Writers on their own connections, each transaction paced, so the stream carries independent
 * transactions side by side; each writer stops early once `more` says so.
 */
async function manyTableLoad(f: CdcDb, writers: number, perWriter: number, paceMs: number, more = (): boolean => true): Promise<void> {
  await eachWriter(f, writers, async (c, w) => {
    for (let i = 0; i < perWriter && more(); i++) {
      await oneTransaction(c, w, i);
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
  });
}

/**
 * A backlog on one table: each writer's transactions update a row of its own and insert one, so no
 * two writers share a row, as sysbench's oltp_write_only on few tables.
 */
async function oneTableLoad(f: CdcDb, writers: number, perWriter: number): Promise<void> {
  await eachWriter(f, writers, async (c, w) => {
    for (let i = 0; i < perWriter; i++) {
      await c.query('BEGIN');
      await c.query('UPDATE t0 SET v = v + 1, note = $2 WHERE id = $1', [1 + w, `w${w} i${i}`]);
      await c.query('INSERT INTO t0 VALUES ($1, $2, NULL)', [10_000 + w * perWriter + i, i]);
      await c.query('COMMIT');
    }
  });
}

/** The most lane records of one batch (same end position): how many sessions besides the first committed parts of it. */
async function lanesInOneBatch(f: CdcDb): Promise<number> {
  const [row] = await f.dst('SELECT coalesce(max(n), 0)::int AS n FROM (SELECT count(*) AS n FROM pgferry.apply_lane GROUP BY lsn) b');
  return row!.n as number;
}

/**
 * An applier whose loop is held (the `apply-start` hold point) until the walsender has sent the
 * whole backlog: its batches then hold many transactions each, however slowly the walsender ran
 * beside a busy machine (an applier that caught up with it committed a transaction or two a batch).
 */
async function startedWithBacklogQueued(f: CdcDb, initialLsn: bigint): Promise<Running> {
  const [end] = await f.src('SELECT pg_current_wal_lsn()::text AS lsn');
  const point = `apply-start:${f.db}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
  const running = await withHoldArmed(point, dir, async () => {
    const started = startApplier(f, { initialLsn, applySessions: SESSIONS });
    await until('the applier held before its first record', async () => ((await isHeld(point, dir)) ? true : undefined));
    return started;
  });
  await until(`the walsender to send up to ${end!.lsn as string}`, async () => {
    const [sent] = await f.source.query(
      'SELECT s.sent_lsn >= $2::pg_lsn AS ok FROM pg_stat_replication s JOIN pg_replication_slots r ON r.active_pid = s.pid WHERE r.slot_name = $1',
      [slotName(f.migration, f.db), end!.lsn],
    );
    return sent?.ok === true ? true : undefined;
  });
  await rm(dir, { recursive: true });
  return running;
}

/** Rows of the lane records of the database's stream: how many batches sessions other than the first committed last. */
async function laneRecords(f: CdcDb): Promise<number> {
  const [found] = await f.dst("SELECT to_regclass('pgferry.apply_lane') IS NOT NULL AS ok");
  if (!found!.ok) return 0;
  const [row] = await f.dst('SELECT count(*)::int AS n FROM pgferry.apply_lane');
  return row!.n as number;
}

/**
 * The batches whose lane records are past the applied position: parts of batches other sessions
 * committed and the first session did not (yet). The test target lets the apply use its origin.
 */
async function batchesPastApplied(f: CdcDb): Promise<number> {
  const [row] = await f.dst(
    `SELECT count(DISTINCT l.lsn)::int AS n FROM pgferry.apply_lane l
      WHERE l.origin = $1 AND l.lsn > coalesce(pg_replication_origin_progress($1, true), '0/0'::pg_lsn)`,
    [originName(f.migration, f.db)],
  );
  return row!.n as number;
}

/** An applier in its own process; with `failpoint`, it kills itself the first time it gets there (util/failpoints.ts). */
function spawnApplier(f: CdcDb, initialLsn: bigint, failpoint?: string, holdDir?: string): ChildProcess {
  const env = failpoint
    ? { ...process.env, PGFERRY_FAILPOINTS: failpoint, ...(holdDir ? { PGFERRY_HOLD_DIR: holdDir } : {}) }
    : process.env;
  const child = spawn(process.execPath, [RUNNER], { stdio: ['pipe', 'ignore', 'pipe'], env });
  const options = applierOptions(f, { commitMs: 50, commitRows: 300, applySessions: SESSIONS });
  child.stdin!.end(JSON.stringify({ ...options, initialLsn: initialLsn.toString() }));
  return child;
}

/**
 * Rounds of two source transactions whose BEGINs and COMMITs interleave: on one table (the one
 * begun first commits last, writing the row the other wrote), then on two tables nothing links,
 * followed by one transaction writing both.
 */
async function interleavedRounds(f: CdcDb): Promise<void> {
  const a = await f.source.connect(f.db);
  const b = await f.source.connect(f.db);
  try {
    for (let round = 0; round < 20; round++) {
      // a begins first and commits last; b writes the same row after a did and commits first
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('INSERT INTO t0 VALUES ($1, 1, $2)', [1000 + round * 2, `a${round}`]);
      await b.query('INSERT INTO t0 VALUES ($1, 2, $2)', [1001 + round * 2, `b${round}`]);
      await b.query('UPDATE t0 SET note = $1 WHERE id = 1', [`b${round}`]);
      await a.query('UPDATE t1 SET note = $1 WHERE id = 1', [`a${round}`]);
      await b.query('COMMIT');
      // a writes the row b wrote only after b's commit: a's value is the last, on the target too
      await a.query('UPDATE t0 SET note = $1 WHERE id = 1', [`a${round}`]);
      await a.query('COMMIT');
      // on tables nothing links, which sessions may take apart: b begins last and commits first,
      // then one transaction writes both tables, which ends the batch if they sit on two sessions
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('UPDATE t2 SET note = $1, v = v + 1 WHERE id = 2', [`a${round}`]);
      await b.query('UPDATE t3 SET note = $1, v = v + 1 WHERE id = 3', [`b${round}`]);
      await b.query('COMMIT');
      await a.query('COMMIT');
      await b.query('BEGIN');
      await b.query('UPDATE t2 SET v = v * 2 WHERE id = 2');
      await b.query('UPDATE t3 SET v = v * 2 WHERE id = 3');
      await b.query('COMMIT');
    }
  } finally {
    await a.end();
    await b.end();
  }
}

/** A database with the tables above, and the slot its stream is read from: where the apply starts. */
async function freshStream(pair: ServerPair): Promise<{ f: CdcDb; initialLsn: bigint }> {
  const f = await setupDb(pair.source, pair.target, DDL);
  const exported = await createSlot(f);
  await exported.release();
  return { f, initialLsn: exported.consistentLsn };
}

/**
 * The failpoints of a batch commit other sessions take part in, in the order a batch meets them
 * (applyLanes.ts, targetTransaction.ts); a lane's part committed before its batch ends comes first.
 */
const KILL_STEPS = [
  'apply-lane-part-committed',
  'apply-lanes-commit',
  'apply-lane-committed',
  'apply-lanes-committed',
  'apply-batch-committed',
  'apply-batch-confirmed',
];

/**
 * Writers whose foreign key crosses transactions: a parent in one, each of its children in the
 * next ones, and both deleted later, the children first, so the parent and its children may be
 * applied in different batches, by different sessions.
 */
async function parentChildLoad(f: CdcDb, writers: number, families: number): Promise<void> {
  await eachWriter(f, writers, async (c, w) => {
    for (let i = 0; i < families; i++) {
      const p = 1_000_000 + w * 100_000 + i;
      await c.query('INSERT INTO parent VALUES ($1, 0)', [p]);
      await c.query('INSERT INTO child (parent, v) VALUES ($1, 1)', [p]);
      await c.query('INSERT INTO child (parent, v) VALUES ($1, 2)', [p]);
      if (i % 3 === 2) {
        await c.query('DELETE FROM child WHERE parent = $1', [p - 2]);
        await c.query('DELETE FROM parent WHERE id = $1', [p - 2]);
      }
    }
  });
}

/** Drains what the killed appliers left with a fresh one, then compares: every child id once, every table identical. */
async function assertNothingLostOrRepeated(f: CdcDb, initialLsn: bigint, stderr: readonly string[]): Promise<void> {
  assert.equal(stderr.join('').includes('Error'), false, stderr.join(''));
  const running = startApplier(f, { initialLsn, applySessions: SESSIONS });
  await drain(f, running, 120_000);
  await assertSameIds(f, 'child', stderr.join(''));
  await assertSame(f, TABLES);
  assert.ok((await laneRecords(f)) > 0, 'sessions other than the first committed batches');
}

/**
 * The first session held before its record and COMMIT of the first batch lanes took part in, while
 * writers insert new rows and update the one they inserted before (rows no other session holds, so
 * lanes take most of them, and the held first session's pipeline fills slowly): the lanes commit the
 * batches after it, each part with its own record; then the applier is killed, and drained.
 */
async function killedWithLanesAhead(pair: ServerPair): Promise<void> {
  const { f, initialLsn } = await freshStream(pair);
  let killed = false;
  const load = eachWriter(f, 2, async (c, w) => {
    for (let i = 0; !killed; i++) {
      const id = 500_000 + w * 100_000 + i;
      await c.query('BEGIN');
      await c.query('INSERT INTO t0 VALUES ($1, $2, NULL)', [id, i]);
      if (i > 0) await c.query('UPDATE t0 SET v = v + 1 WHERE id = $1', [id - 1]);
      await c.query('COMMIT');
    }
  });
  const point = 'apply-first-commit';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
  const stderr: string[] = [];
  const ahead = await (async () => {
    try {
      const child = spawnApplier(f, initialLsn, `${point}:hold`, dir);
      child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
      const exited = new Promise((r) => child.once('exit', r));
      await until('the first session held before its record', async () => ((await isHeld(point, dir)) ? true : undefined), 120_000);
      await until(
        'lane records of two batches past the applied position',
        async () => ((await batchesPastApplied(f)) >= 2 ? true : undefined),
        60_000,
        50,
      );
      child.kill('SIGKILL');
      await exited;
      return await batchesPastApplied(f);
    } finally {
      killed = true;
      await load;
      await rm(dir, { recursive: true, force: true });
    }
  })();
  assert.ok(ahead >= 2, `lane records of ${ahead} batch(es) past the applied position when killed`);
  await assertNothingLostOrRepeated(f, initialLsn, stderr);
}

/** A lane table as an earlier version made it, before the stream starts: its key gains the position. */
async function drainedOverOldLaneTable(pair: ServerPair): Promise<void> {
  const { f, initialLsn } = await freshStream(pair);
  await f.dst('CREATE SCHEMA IF NOT EXISTS pgferry');
  await f.dst(
    `CREATE TABLE pgferry.apply_lane (origin text NOT NULL, lane int NOT NULL, lsn pg_lsn NOT NULL,
       transactions pg_lsn[] NOT NULL, PRIMARY KEY (origin, lane))`,
  );
  const running = startApplier(f, { initialLsn, applySessions: SESSIONS });
  await manyTableLoad(f, 3, 100, 0);
  await drain(f, running, 120_000);
  await assertSame(f, TABLES);
  const [key] = await f.dst(
    `SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns FROM pg_constraint k
       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
      WHERE k.conrelid = 'pgferry.apply_lane'::regclass AND k.contype = 'p'`,
  );
  assert.deepEqual(key!.columns, ['lane', 'lsn', 'origin']);
  assert.ok((await laneRecords(f)) > 0, 'sessions other than the first committed batches');
}

describe('cdc: parallel apply, applySessions 4 (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('applies transactions whose BEGINs and COMMITs interleave, on one table and on tables of two sessions, in commit order, losing none', async () => {
    const { f, initialLsn } = await freshStream(pair);
    const running = startApplier(f, { initialLsn: initialLsn, applySessions: SESSIONS });
    await interleavedRounds(f);
    await drain(f, running);
    const [row] = await f.dst('SELECT note FROM t0 WHERE id = 1');
    assert.equal(row!.note, 'a19', 'the transaction committed last wrote the row last');
    const [count] = await f.dst('SELECT count(*)::int AS n FROM t0 WHERE id >= 1000');
    assert.equal(count!.n, 40, 'both transactions of every round are on the target');
    const crossed = await f.dst('SELECT (SELECT v FROM t2 WHERE id = 2) AS a, (SELECT v FROM t3 WHERE id = 3) AS b');
    // each round adds one, then doubles: from zero, twenty rounds give 2^21 - 2 only in that order
    assert.deepEqual(crossed[0], { a: 2 ** 21 - 2, b: 2 ** 21 - 2 }, 'every increment and doubling applied once, in commit order');
    await assertSame(f, TABLES);
  });

  it('drains a many-table workload with foreign keys to a target identical to the source, other sessions having committed', async () => {
    const { f, initialLsn } = await freshStream(pair);
    const running = startApplier(f, { initialLsn: initialLsn, applySessions: SESSIONS });
    await manyTableLoad(f, 6, 150, 0);
    await drain(f, running, 120_000);
    await assertSame(f, TABLES);
    const [orphans] = await f.dst('SELECT count(*)::int AS n FROM child c WHERE NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent)');
    assert.equal(orphans!.n, 0);
    assert.ok((await laneRecords(f)) > 0, 'sessions other than the first committed batches');
    const s = running.applier.stats();
    assert.ok(s.inserts > 0 && s.updates > 0 && s.deletes > 0);
  });

  it('applies transactions on other rows of one table on several sessions in one batch, the target identical after the drain', async () => {
    const { f, initialLsn } = await freshStream(pair);
    // the backlog first: the drain's batches then hold many transactions each
    await oneTableLoad(f, 6, 60);
    const running = await startedWithBacklogQueued(f, initialLsn);
    await drain(f, running, 120_000);
    await assertSame(f, TABLES);
    const [row] = await f.dst('SELECT count(*)::int AS n FROM t0 WHERE id >= 10000');
    assert.equal(row!.n, 360, 'every insert once');
    assert.ok((await lanesInOneBatch(f)) >= 2, 'at least two sessions besides the first committed parts of one batch on one table');
  });

  it('loses and repeats nothing when the applier is killed at random moments and resumed', async () => {
    const { f, initialLsn } = await freshStream(pair);
    let loadDone = false;
    const load = manyTableLoad(f, 3, 800, 5).then(() => (loadDone = true));
    const stderr: string[] = [];
    const progress = new Set<number>();
    let kills = 0;
    // kills late enough after a start that other sessions have batches of their own to cut
    while (!loadDone || kills < 12) {
      const child = spawnApplier(f, initialLsn);
      const exited = new Promise((r) => child.once('exit', r));
      child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
      const before = (await f.dst('SELECT count(*)::int AS n FROM child'))[0]!.n as number;
      await until(
        `applier #${kills + 1} to apply something (child had ${before} rows)`,
        async () => {
          if (loadDone || child.exitCode !== null) return true;
          const [now] = await f.dst('SELECT count(*)::int AS n FROM child');
          return (now!.n as number) !== before ? true : undefined;
        },
        60_000,
        50,
      );
      assert.equal(child.exitCode, null, `the applier exited on its own\n${stderr.join('')}`);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1200)));
      child.kill('SIGKILL');
      await exited;
      kills += 1;
      progress.add((await f.dst('SELECT count(*)::int AS n FROM child'))[0]!.n as number);
      if (kills > 40) break;
    }
    assert.ok(progress.size >= 3, `target progress across kills: ${[...progress].join(', ')}\n${stderr.join('')}`);
    await load;
    await assertNothingLostOrRepeated(f, initialLsn, stderr);
  });

  it('loses and repeats nothing when the applier is killed at each step of a batch commit other sessions take part in', async () => {
    const { f, initialLsn } = await freshStream(pair);
    let stepsDone = false;
    const load = manyTableLoad(f, 3, 100_000, 5, () => !stepsDone);
    const stderr: string[] = [];
    try {
      // each step twice: the second run starts from what the first one's kill left
      for (const step of [...KILL_STEPS, ...KILL_STEPS]) {
        const child = spawnApplier(f, initialLsn, step);
        child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
        const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
        let timer: NodeJS.Timeout | undefined;
        const signal = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 120_000)))]);
        clearTimeout(timer);
        if (signal === 'timeout') child.kill('SIGKILL');
        assert.equal(signal, 'SIGKILL', `the applier did not kill itself at ${step}\n${stderr.join('')}`);
      }
    } finally {
      stepsDone = true;
      await load;
    }
    await assertNothingLostOrRepeated(f, initialLsn, stderr);
  });

  it("loses and repeats nothing when the applier is killed once other sessions committed two batches past the first session's last COMMIT", () =>
    killedWithLanesAhead(pair));

  it('widens the key of a lane table an earlier version made (one row a lane) and drains to a target identical to the source', () =>
    drainedOverOldLaneTable(pair));

  it('never shows a child row without its parent on the target while sessions commit apart, parents and children written in separate transactions', async () => {
    const { f, initialLsn } = await freshStream(pair);
    const running = startApplier(f, { initialLsn: initialLsn, applySessions: SESSIONS, commitMs: 50, commitRows: 300 });
    let loadDone = false;
    const families = parentChildLoad(f, 2, 150);
    const load = Promise.all([families, manyTableLoad(f, 3, 200, 2)]).finally(() => (loadDone = true));
    let reads = 0;
    const orphanSeen: number[] = [];
    while (!loadDone) {
      const [row] = await f.dst('SELECT count(*)::int AS n FROM child c WHERE NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent)');
      reads += 1;
      if ((row!.n as number) > 0) orphanSeen.push(row!.n as number);
    }
    await load;
    await drain(f, running, 120_000);
    assert.deepEqual(orphanSeen, [], `child rows without their parent seen on the target in ${orphanSeen.length} of ${reads} reads`);
    assert.ok(reads > 20, `the target was read ${reads} times during the load`);
    await assertSame(f, TABLES);
    assert.ok((await laneRecords(f)) > 0, 'sessions other than the first committed batches');
  });
});
