// Issue 31 ("Speed", its cutover part): fencing the writers at cutover and gating it on lag, on real
// servers with detached runners. The fence makes the source database read-only for new transactions
// and ends every session connected to it before the cutover point is marked, so every write the
// source accepted is on the target; the lag gate rolls a cutover back (fence lifted, request
// cleared, streaming on) when its predicted catch-up is over the budget; a cancel, and a runner
// killed right after the fence (failpoint cutover-fenced:<db>) then resumed or canceled, never leave
// a fence behind silently. Each scenario reads the rows back from both servers.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { cancelMigration, get, isFinalState, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { CutoverOptions, MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { makeReplicationSourceUser, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { rowsOf } from './harness';
import { applyLockKey, fenceNamesOf } from '../../provider/engine/core/names';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { heldFile, isHeld, startHeldAt } from '../support/holdPoints';

const READ_ONLY_SQL_TRANSACTION = '25006';

/** The database's own default_transaction_read_only on the source (pg_db_role_setting, all roles); null when it has none. */
async function ownSetting(pair: ServerPair, db: string): Promise<string | null> {
  const rows = await pair.source.query<{ v: string | null }>(
    `SELECT (SELECT c FROM unnest(s.setconfig) AS c WHERE c LIKE 'default_transaction_read_only=%') AS v
       FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0
      WHERE d.datname = $1`,
    [db],
  );
  return rows[0]?.v ?? null;
}

/** The fence's triggers on the source database's tables (pgferry's function in the control schema). */
async function fenceTriggers(pair: ServerPair, db: string): Promise<string[]> {
  const rows = await pair.source.query<{ t: string }>(
    `SELECT tg.tgrelid::regclass::text || ' ' || tg.tgenabled::text AS t FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgferry' ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.t);
}

/** The fence's passes tables in the source database's control schema (footprint/fenceTriggers.ts). */
async function passesTables(pair: ServerPair, db: string): Promise<string[]> {
  const rows = await pair.source.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'pgferry' AND c.relname LIKE 'pgferry\\_w\\_%\\_passes' ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.name);
}

/** Whether a new session on the source may write to the database (the fence refuses it with 25006). */
async function newSessionWrites(pair: ServerPair, db: string, id: number): Promise<boolean> {
  try {
    await pair.source.query('INSERT INTO items VALUES ($1, $2)', [id, 'new session'], db);
    return true;
  } catch (error) {
    assert.equal((error as { code?: string }).code, READ_ONLY_SQL_TRANSACTION, String(error));
    return false;
  }
}

/**
 * Writes through the fence as only a session holding the database's apply lock may (what pgferry's
 * appliers hold; no applier holds it on the source while the forward stream runs): an
 * application's session that turns the default off is refused by the fence's trigger.
 */
async function writeOverridingFence(pair: ServerPair, migration: string, db: string, sql: string): Promise<void> {
  const app = await pair.source.connect(db);
  try {
    await app.query('SET default_transaction_read_only = off');
    await assert.rejects(
      app.query(sql),
      (e: { code?: string }) => e.code === READ_ONLY_SQL_TRANSACTION,
      'an application session is fenced',
    );
  } finally {
    await app.end();
  }
  const client = new pg.Client({ ...serverSpec(pair.source), database: db, application_name: 'pgferry test' });
  await client.connect();
  try {
    await client.query('SET default_transaction_read_only = off');
    // the name alone does not pass the fence
    await assert.rejects(
      client.query(sql),
      (e: { code?: string }) => e.code === READ_ONLY_SQL_TRANSACTION,
      "a session named as pgferry's is fenced",
    );
    await client.query('SELECT pg_advisory_lock($1::bigint)', [applyLockKey(migration, db)]);
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Lifts a kept fence by hand as the status says: the database's setting, then the fence's triggers in it. */
async function liftByHand(pair: ServerPair, db: string, fence: { lift: string; liftInDatabase: string }): Promise<void> {
  await pair.source.query(fence.lift);
  await pair.source.query(fence.liftInDatabase, [], db);
}

/** Holds ACCESS EXCLUSIVE on a target table (items: the applier waits, so a backlog builds). */
async function lockTargetItems(pair: ServerPair, db: string, table = 'items'): Promise<pg.Client> {
  const client = await pair.target.connect(db);
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return client;
}

/** The target's sessions waiting for a lock on `table` of `db`. */
async function waitingOn(pair: ServerPair, db: string, table: string): Promise<number[]> {
  const rows = await pair.target.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY pid`,
    [table],
    db,
  );
  return rows.map((r) => r.pid);
}

async function release(lock: pg.Client): Promise<void> {
  await lock.query('ROLLBACK').catch(() => undefined);
  await lock.end().catch(() => undefined);
}

async function sameRows(pair: ServerPair, db: string): Promise<void> {
  const [source, target] = await Promise.all([rowsOf(pair.source, db, 'items'), rowsOf(pair.target, db, 'items')]);
  assert.equal(target.length, source.length, `items: ${target.length} rows on the target, ${source.length} on the source`);
  assert.deepEqual(target, source);
}

/** The servers of the suite and the helpers each scenario uses. */
class FenceLab {
  constructor(
    readonly pair: ServerPair,
    readonly store: CatalogConnection,
  ) {}

  async createDatabase(db: string, setup = ''): Promise<void> {
    await this.pair.source.query(`CREATE DATABASE ${db}`);
    await this.pair.source.query(
      `CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
       INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g; ${setup}`,
      [],
      db,
    );
  }

  spec(name: string, db: string, extra: Record<string, unknown> = {}): MigrationSpec {
    return pairSpec(this.pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, ...extra });
  }

  /** Makes `db` on the source and starts a fenced online migration of it, returned once it streams. */
  async startStreaming(name: string, db: string): Promise<MigrationSpec> {
    await this.createDatabase(db);
    const s = this.spec(name, db);
    await startMigration(s);
    assert.equal((await this.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
    return s;
  }

  async streaming(name: string): Promise<MigrationStatus> {
    return waitForStatus(this.store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  }

  async final(name: string): Promise<MigrationStatus> {
    return waitForStatus(this.store, name, (s) => isFinalState(s.state));
  }

  /** Starts the runner with a failpoint that kills it right after the fence of `db` is applied, and asks for the cutover. */
  async startKilledAfterFence(s: MigrationSpec, db: string, options: CutoverOptions = {}, at = 'cutover-fenced'): Promise<void> {
    process.env.PGFERRY_FAILPOINTS = `${at}:${db}`;
    try {
      await startMigration(s);
    } finally {
      delete process.env.PGFERRY_FAILPOINTS;
    }
    assert.equal((await this.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
    await requestCutover(s.target, s.migrationName, undefined, options);
    const killed = await waitForStatus(this.store, s.migrationName, (st) => st.runner?.alive === false);
    assert.ok(killed.databases[0]!.writerFence, 'the fence is recorded in the catalog');
    assert.equal(killed.databases[0]!.writerFence!.kept, false);
    assert.equal(await newSessionWrites(this.pair, db, 900_001), false, 'the killed runner left the source fenced');
  }
}

/** ends a writer connected before the cutover, refuses new writes while fenced, and every committed row is on the target. */
async function fencesAWriter(lab: FenceLab): Promise<void> {
  const db = 'fence_writer';
  await lab.createDatabase(db, 'CREATE TABLE writes (n int PRIMARY KEY)');
  const s = pairSpec(lab.pair, 'fence-writer', [db], { mode: 'Online', option: 'ValidateAndMigrate', fenceWriters: true });
  await startMigration(s);
  const ready = await lab.streaming(s.migrationName);
  assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
  const check = ready.validation.find((v) => v.code === 'WRITER_FENCE');
  assert.equal(check?.status, 'Succeeded', JSON.stringify(ready.validation.filter((v) => v.status !== 'Succeeded')));

  // the application: one session writing small transactions, one idle, both connected before the cutover
  const writer = await lab.pair.source.connect(db);
  writer.on('error', () => undefined);
  const idle = await lab.pair.source.connect(db);
  idle.on('error', () => undefined);
  const committed: number[] = [];
  let stop = false;
  const writing = (async () => {
    for (let n = 1; !stop; n++) {
      await writer.query('BEGIN');
      await writer.query('INSERT INTO writes VALUES ($1)', [n]);
      await writer.query('UPDATE items SET v = $2 WHERE id = $1', [(n % 1000) + 1, `w${n}`]);
      await writer.query('COMMIT');
      committed.push(n);
      await new Promise((r) => setTimeout(r, 5));
    }
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  await until('the writer committed some', async () => (committed.length >= 20 ? true : undefined));

  await requestCutover(s.target, s.migrationName);
  const done = await waitForStatus(lab.store, s.migrationName, (st) => isFinalState(st.state));
  assert.equal(done.state, 'Succeeded', done.message);
  stop = true;
  const ended = await writing;
  assert.ok(ended instanceof Error, 'the writer connected before the fence was ended');
  await assert.rejects(idle.query('SELECT 1'), 'the idle session connected before the fence was ended too');
  await Promise.all([writer.end().catch(() => undefined), idle.end().catch(() => undefined)]);

  // every write the source accepted is on the target, none more
  const targetWrites = (await lab.pair.target.query<{ n: number }>('SELECT n FROM writes ORDER BY n', [], db)).map((r) => r.n);
  const sourceWrites = (await lab.pair.source.query<{ n: number }>('SELECT n FROM writes ORDER BY n', [], db)).map((r) => r.n);
  assert.deepEqual(targetWrites, sourceWrites);
  for (const n of committed) assert.ok(targetWrites.includes(n), `committed write ${n} is on the target`);
  await sameRows(lab.pair, db);

  // the fence stays after the cutover, and says how to lift it
  assert.equal(await newSessionWrites(lab.pair, db, 900_000), false, 'a new session on the source cannot write');
  const readWrite = await lab.pair.source.connect(db);
  try {
    await readWrite.query('BEGIN READ WRITE');
    await assert.rejects(
      readWrite.query(`INSERT INTO items VALUES (900001, 'read write')`),
      (e: { code?: string }) => e.code === READ_ONLY_SQL_TRANSACTION,
    );
    await readWrite.query('ROLLBACK');
  } finally {
    await readWrite.end();
  }
  assert.deepEqual(
    await fenceTriggers(lab.pair, db),
    ['items A', 'writes A'],
    'every streamed table keeps its fence trigger, ENABLE ALWAYS',
  );
  assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=on');
  const fence = done.databases[0]!.writerFence;
  assert.ok(fence?.kept, JSON.stringify(fence));
  assert.ok((fence.sessionsEnded ?? 0) >= 2, `sessions ended: ${fence.sessionsEnded}`);
  assert.equal(fence.lift, `ALTER DATABASE "${db}" RESET default_transaction_read_only`);
  const events = await catalogEvents(lab.store, s.migrationName, 100);
  assert.ok(
    events.some((e) => /cutover completed .*stays fenced.*RESET default_transaction_read_only/.test(e.message)),
    events.map((e) => e.message).join('\n'),
  );
  assert.deepEqual(await passesTables(lab.pair, db), [fenceNamesOf(s.migrationName, db).passes], 'the kept fence keeps its passes table');
  await liftByHand(lab.pair, db, fence);
  assert.equal(await newSessionWrites(lab.pair, db, 900_000), true, 'lifted as the status says, the source takes writes again');
  assert.deepEqual(await fenceTriggers(lab.pair, db), []);
  assert.deepEqual(await passesTables(lab.pair, db), [], "the fence's passes table lifted with it");
}

/** rolls a cutover back when the predicted catch-up is over the budget, and a later cutover succeeds. */
async function rollsBackOverBudget(lab: FenceLab): Promise<void> {
  const db = 'fence_gate';
  await lab.createDatabase(db);
  const s = lab.spec('fence-gate', db);
  await startMigration(s);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  // the applier stuck behind a lock on the target while 6 MB of changes wait: nothing can be applied
  const lock = await lockTargetItems(lab.pair, db);
  try {
    await lab.pair.source.query(`INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(100001, 125000) g`, [], db);
    await requestCutover(s.target, s.migrationName);
    // a resumed runner first redoes its checks and reopens the stream: minutes on a loaded 2-core machine
    const back = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
    assert.equal(back.state, 'WaitingForUserAction', back.message);
    assert.equal(back.subState, 'WaitingForCutoverTrigger');
    assert.match(
      back.message ?? '',
      /^cutover (rolled back|not started): fence_gate would take longer than any budget to catch up \(\d+\.\d [KM]iB pending, nothing applied/,
    );
    assert.match(
      back.message ?? '',
      /over the lag budget of 30 s \(cutoverLagBudgetSeconds, the default with fenceWriters\); (the writer fence is lifted|the source was not fenced,) and changes stream on: request the cutover again .* or raise cutoverLagBudgetSeconds$/,
    );
    assert.equal(back.databases[0]!.writerFence, undefined, 'no fence is left recorded');
    assert.equal(await ownSetting(lab.pair, db), null, 'the database has no setting of its own again');
    assert.equal(await newSessionWrites(lab.pair, db, 200_000), true, 'the source takes writes again');
  } finally {
    await release(lock);
  }
  // streaming went on: the backlog and the write after the roll-back reach the target
  await until('the write after the roll-back is on the target', async () =>
    (await lab.pair.target.query('SELECT 1 FROM items WHERE id = 200000', [], db)).length === 1 ? true : undefined,
  );
  await requestCutover(s.target, s.migrationName);
  const done = await waitForStatus(lab.store, s.migrationName, (st) => isFinalState(st.state));
  assert.equal(done.state, 'Succeeded', done.message);
  await sameRows(lab.pair, db);
  assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=on');
  await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
}

/** lifts the fence when the migration is canceled during a fenced cutover. */
async function cancelLiftsFence(lab: FenceLab): Promise<void> {
  const db = 'fence_cancel';
  await lab.createDatabase(db, 'CREATE TABLE other (id int PRIMARY KEY); INSERT INTO other VALUES (1)');
  const s = lab.spec('fence-cancel', db);
  await startMigration(s);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  // a table no change touches, locked on the target: the fence, the gate and the drain go through,
  // and the cutover's verification waits for it, fenced
  const lock = await lockTargetItems(lab.pair, db, 'other');
  try {
    await lab.pair.source.query(`UPDATE items SET v = 'last' WHERE id = 1`, [], db);
    await requestCutover(s.target, s.migrationName);
    const fenced = await waitForStatus(
      lab.store,
      s.migrationName,
      (st) => st.databases[0]?.cutoverStep === 'drained' || isFinalState(st.state),
    );
    assert.equal(fenced.subState, 'CompletingMigration', fenced.message);
    assert.ok(fenced.databases[0]!.writerFence, 'fenced');
    assert.equal(await newSessionWrites(lab.pair, db, 300_000), false, 'fenced while the cutover goes on');
    const verifying = await until('the cutover to wait on the locked table', async () => (await waitingOn(lab.pair, db, 'other'))[0]);
    await cancelMigration(s.target, s.migrationName);
    // the runner sees the cancel while fenced, however loaded the machine: it stops what waits on the lock
    await until(`the cancel to stop session ${verifying} waiting on the locked table`, async () =>
      (await waitingOn(lab.pair, db, 'other')).includes(verifying) ? undefined : true,
    );
  } finally {
    await release(lock);
  }
  const done = await lab.final(s.migrationName);
  assert.equal(done.state, 'Canceled', done.message);
  assert.equal(done.databases[0]!.writerFence, undefined);
  assert.equal(await ownSetting(lab.pair, db), null);
  assert.equal(await newSessionWrites(lab.pair, db, 300_000), true, 'the cancel lifted the fence');
  const events = await catalogEvents(lab.store, s.migrationName, 100);
  assert.ok(
    events.some((e) =>
      e.message.startsWith(`writer fence lifted: ALTER DATABASE "${db}" RESET default_transaction_read_only; in ${db}: DROP FUNCTION`),
    ),
    events.map((e) => e.message).join('\n'),
  );
  assert.deepEqual(await fenceTriggers(lab.pair, db), [], "the fence's triggers are gone");
  assert.deepEqual(await passesTables(lab.pair, db), [], "the fence's passes table is gone");
  assert.ok(!events.some((e) => /rolled back/.test(e.message)), 'lifted by the cancel, not by a roll-back');
}

/** a runner killed right after a fence its cutover request asked for, resumed, completes the cutover with the value recorded first. */
async function resumeCompletes(lab: FenceLab): Promise<void> {
  const db = 'fence_resume';
  await lab.createDatabase(db);
  // the migration does not fence; its cutover request does (update --cutover --fence-writers), and
  // the runner resumed with the same spec still honours the request
  const s = lab.spec('fence-resume', db, { fenceWriters: false });
  await lab.startKilledAfterFence(s, db, { fenceWriters: true, cutoverLagBudgetSeconds: 60 });
  // a session that overrides the fence still writes; the resumed cutover must carry it over
  await writeOverridingFence(lab.pair, s.migrationName, db, `UPDATE items SET v = 'while dead' WHERE id <= 10`);
  await resumeMigration(s);
  const done = await waitForStatus(lab.store, s.migrationName, (st) => isFinalState(st.state));
  assert.equal(done.state, 'Succeeded', done.message);
  await sameRows(lab.pair, db);
  const [late] = await lab.pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE v = 'while dead'`, [], db);
  assert.equal(late!.n, 10);
  // fenced again on resume, the database's own earlier value (none) kept, not pgferry's own `on`
  assert.equal(done.databases[0]!.writerFence?.lift, `ALTER DATABASE "${db}" RESET default_transaction_read_only`);
  assert.equal(await newSessionWrites(lab.pair, db, 400_000), false);
  await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
  assert.equal(await ownSetting(lab.pair, db), null);
}

/**
 * A lock taken on the target past the gate (the runner held at `cutover-held`) where a write
 * behind the fence must be applied: the drain, bounded by the lag budget, rolls the cutover back
 * naming the lock's session, the fence lifted; the lock released, that write and one after the
 * roll-back reach the target, and a later cutover succeeds with every row equal.
 */
async function lateDrainRollsBack(lab: FenceLab): Promise<void> {
  const db = 'fence_late_drain';
  await lab.createDatabase(db);
  const s = lab.spec('fence-late-drain', db, { cutoverLagBudgetSeconds: 5 });
  const point = `cutover-held:${db}`;
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-late-drain-'));
  try {
    await startHeldAt(s, point, holdDir);
    assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
    await requestCutover(s.target, s.migrationName);
    await until('the cutover held past its gates', async () => ((await isHeld(point, holdDir)) ? true : undefined), 300_000);
    const lock = await lockTargetItems(lab.pair, db);
    try {
      const holder = (await lock.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
      await writeOverridingFence(lab.pair, s.migrationName, db, `UPDATE items SET v = 'late' WHERE id = 7`);
      await fs.rm(heldFile(point, holdDir));
      const back = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
      assert.equal(back.subState, 'WaitingForCutoverTrigger', back.message);
      assert.match(
        back.message ?? '',
        new RegExp(
          `^cutover rolled back: the stream of fence_late_drain did not reach the cutover point within the lag budget of 5 s \\(cutoverLagBudgetSeconds\\): session pid ${holder} \\(user [^,]+, application "[^"]*", idle in transaction, transaction open for \\d+ s\\) in fence_late_drain holds a lock its apply waits for on the target \\(end that transaction: COMMIT or ROLLBACK in it, or SELECT pg_terminate_backend\\(${holder}\\) on the target\\); the writer fence is lifted and changes stream on: request the cutover again once that session is done, or raise cutoverLagBudgetSeconds$`,
        ),
      );
      assert.equal(back.databases[0]!.writerFence, undefined, 'no fence is left recorded');
      assert.equal(await newSessionWrites(lab.pair, db, 300_000), true, 'the source takes writes again');
      // the target's guard could not be dropped behind the same lock: it stays on, and the migration goes on
      const said = (await catalogEvents(lab.store, s.migrationName, 100)).map((e) => e.message);
      assert.ok(
        said.some((m) => m.startsWith(`the target's guard of ${db} stays on for now (`)),
        said.join('\n'),
      );
    } finally {
      await release(lock);
    }
    await until('the late write and the one after the roll-back on the target', async () => {
      const rows = await lab.pair.target.query<{ id: number; v: string }>(
        'SELECT id, v FROM items WHERE id IN (7, 300000) ORDER BY id',
        [],
        db,
      );
      return rows.length === 2 && rows[0]!.v === 'late' ? true : undefined;
    });
    await requestCutover(s.target, s.migrationName);
    const done = await lab.final(s.migrationName);
    assert.equal(done.state, 'Succeeded', done.message);
    await sameRows(lab.pair, db);
    const guards = await lab.pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname LIKE 'pgferry\\_g\\_%'`,
      [],
      db,
    );
    assert.equal(guards[0]!.n, 0, "the guard's triggers are gone after the cutover");
  } finally {
    await fs.rm(holdDir, { recursive: true, force: true });
  }
}

/** a runner killed right after the fence, resumed with a backlog over the budget, lifts it to the exact earlier value. */
async function resumeRollsBack(lab: FenceLab): Promise<void> {
  const db = 'fence_resume_back';
  await lab.createDatabase(db, `ALTER DATABASE fence_resume_back SET default_transaction_read_only = off`);
  // verify 'full': no verification while streaming, whose pin would wait for the applier held up by the lock below
  const s = lab.spec('fence-resume-back', db, { cutoverLagBudgetSeconds: 5, verify: 'full' });
  await lab.startKilledAfterFence(s, db);
  assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=on');
  const lock = await lockTargetItems(lab.pair, db);
  try {
    await writeOverridingFence(
      lab.pair,
      s.migrationName,
      db,
      `INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(100001, 125000) g`,
    );
    await resumeMigration(s);
    // a resumed runner first redoes its checks and reopens the stream: minutes on a loaded 2-core machine
    const back = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
    assert.equal(back.subState, 'WaitingForCutoverTrigger', back.message);
    assert.match(
      back.message ?? '',
      /^cutover rolled back: .*over the lag budget of 5 s \(cutoverLagBudgetSeconds\); the writer fence is lifted/,
    );
    assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=off', 'set back to its own value, not reset');
    assert.equal(back.databases[0]!.writerFence, undefined);
  } finally {
    await release(lock);
  }
  await lab.pair.source.query(`INSERT INTO items VALUES (500000, 'after the roll-back')`, [], db);
  await until('the backlog and the new write are on the target', async () =>
    (await lab.pair.target.query('SELECT 1 FROM items WHERE id = 500000', [], db)).length === 1 ? true : undefined,
  );
  await sameRows(lab.pair, db);
  const canceled = await cancelMigration(s.target, s.migrationName);
  assert.notEqual(canceled.state, 'Failed');
  const done = await waitForStatus(lab.store, s.migrationName, (st) => isFinalState(st.state));
  assert.equal(done.state, 'Canceled', done.message);
  assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=off');
  const events = await catalogEvents(lab.store, s.migrationName, 100);
  const rollBacks = events.filter((e) => e.message.startsWith('cutover rolled back: '));
  assert.equal(rollBacks.length, 1, `the roll-back recorded once: ${rollBacks.map((e) => `${e.level}: ${e.message}`).join('\n')}`);
}

/** a runner killed right after the fence, then canceled without it, lifts the fence. */
async function deadCancelLifts(lab: FenceLab): Promise<void> {
  const db = 'fence_dead_cancel';
  await lab.createDatabase(db);
  const s = lab.spec('fence-dead-cancel', db);
  await lab.startKilledAfterFence(s, db);
  const show = await get(lab.store, s.migrationName);
  assert.match(show!.databases[0]!.writerFence!.lift, /RESET default_transaction_read_only/);
  const done = await cancelMigration(s.target, s.migrationName, { spec: s });
  assert.equal(done.state, 'Canceled', done.message);
  assert.equal(done.databases[0]!.writerFence, undefined);
  assert.equal(await ownSetting(lab.pair, db), null);
  assert.equal(await newSessionWrites(lab.pair, db, 600_000), true);
}

/** a runner killed past the cutover's point of no return, then canceled without it, keeps the old source fenced, and the cancel's answer shows that fence. */
async function deadCancelPastPoint(lab: FenceLab): Promise<void> {
  const db = 'fence_dead_past';
  await lab.createDatabase(db);
  const s = lab.spec('fence-dead-past', db);
  await lab.startKilledAfterFence(s, db, {}, 'cutover-point-of-no-return');
  const killed = await get(lab.store, s.migrationName);
  assert.equal(killed!.databases[0]!.cutoverStep, 'released');
  const done = await cancelMigration(s.target, s.migrationName, { spec: s });
  assert.equal(done.state, 'Canceled', done.message);
  // verified and drained before the point: the target holds every row, and the old source takes none
  await sameRows(lab.pair, db);
  assert.equal(await newSessionWrites(lab.pair, db, 700_000), false, 'the old source stays fenced past the point of no return');
  const fence = (await get(lab.store, s.migrationName))!.databases[0]!.writerFence;
  assert.equal(fence?.kept, true, 'show keeps the fence and how to lift it');
  assert.deepEqual(done.databases[0]!.writerFence, fence, "the cancel's answer has the kept fence as show has it");
  const events = await catalogEvents(lab.store, s.migrationName, 100);
  assert.ok(
    events.some(
      (e) => e.message.includes("had passed its cutover's point of no return") && e.message.includes('the old source stays fenced'),
    ),
    events.map((e) => e.message).join('\n'),
  );
  await liftByHand(lab.pair, db, fence);
  assert.equal(await ownSetting(lab.pair, db), null);
}

/** Without the privileges the fence needs, validation names the grants and a cutover changes nothing; a superuser's session stops a non-superuser's fence. */
async function refusesWithoutRights(lab: FenceLab): Promise<void> {
  const db = 'fence_rights';
  await lab.pair.source.query('CREATE ROLE fence_owner');
  await lab.createDatabase(db, 'ALTER TABLE items OWNER TO fence_owner');
  // a non-superuser that owns the tables (through fence_owner), neither the database nor pg_signal_backend
  const source = await makeReplicationSourceUser(lab.pair.source, db);
  await lab.pair.source.query(`GRANT CREATE ON DATABASE ${db} TO migrator`); // CREATE PUBLICATION needs it
  const check = pairSpec(lab.pair, 'fence-rights-check', [db], { mode: 'Online', option: 'Validate', fenceWriters: true, source });
  await startMigration(check);
  const checked = await lab.final(check.migrationName);
  const failed = checked.validation.find((v) => v.code === 'WRITER_FENCE_PRIVILEGES');
  assert.equal(failed?.status, 'Failed', JSON.stringify(checked.validation));
  assert.equal(
    failed.fix,
    'on the source: ALTER DATABASE "fence_rights" OWNER TO "migrator" (or GRANT "postgres" TO "migrator"); GRANT pg_signal_backend TO "migrator" (or fence as a superuser)',
  );

  const s = pairSpec(lab.pair, 'fence-rights', [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, source });
  await startMigration(s);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  const idle = await lab.pair.source.connect(db); // a superuser's session
  idle.on('error', () => undefined);
  try {
    await requestCutover(s.target, s.migrationName);
    const refused = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state));
    assert.equal(refused.subState, 'WaitingForCutoverTrigger', refused.message);
    assert.match(
      refused.message ?? '',
      /^cutover not started: fenceWriters: source user migrator cannot fence the writers of fence_rights: it may not ALTER DATABASE fence_rights \(its owner is postgres\) and may not end other roles' sessions \(fix: on the source: .*GRANT pg_signal_backend TO "migrator".*\); nothing was changed on the source, and changes stream on$/,
    );
    assert.equal(await ownSetting(lab.pair, db), null);
    assert.deepEqual(await idle.query('SELECT 1 AS one').then((r) => r.rows), [{ one: 1 }], 'no session was ended');

    // granted: a superuser's session is still connected, which only a superuser may end
    await lab.pair.source.query(`ALTER DATABASE ${db} OWNER TO migrator; GRANT pg_signal_backend TO migrator`);
    await requestCutover(s.target, s.migrationName);
    // a resumed runner first redoes its checks and reopens the stream: minutes on a loaded 2-core machine
    const back = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
    assert.match(
      back.message ?? '',
      /^cutover rolled back: fenceWriters: pid \d+ \(user postgres, application ""\) of a superuser is connected to fence_rights, and only a superuser may end it .*; the writer fence is lifted and changes stream on$/,
    );
    assert.equal(await ownSetting(lab.pair, db), null, 'lifted');
    assert.deepEqual(await idle.query('SELECT 1 AS one').then((r) => r.rows), [{ one: 1 }]);
  } finally {
    await idle.end().catch(() => undefined);
  }
  // that session gone, the fence goes through, and ends another role's session that migrator's
  // pg_stat_activity shows without its backend_type (no pg_read_all_stats)
  await lab.pair.source.query(`CREATE ROLE fence_app LOGIN PASSWORD 'app-pw'`);
  const app = new pg.Client({
    host: lab.pair.source.host,
    port: lab.pair.source.port,
    user: 'fence_app',
    password: 'app-pw',
    database: db,
  });
  app.on('error', () => undefined);
  await app.connect();
  await requestCutover(s.target, s.migrationName);
  const done = await lab.final(s.migrationName);
  assert.equal(done.state, 'Succeeded', done.message);
  await assert.rejects(app.query('SELECT 1'), "another role's session was ended by the fence");
  await app.end().catch(() => undefined);
  await sameRows(lab.pair, db);
  assert.equal(await newSessionWrites(lab.pair, db, 700_000), false);
  await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
}

/**
 * a fence transaction a stopped runner left open (the fault campaign's agent-lease-loss at
 * cutover-fence, seeds 2075332264 and 2274009982: the old runner stopped after its ALTER DATABASE,
 * the agent that took its lease timed out behind it and rolled the cutover back) is ended, and the
 * cutover completes.
 */
async function staleFenceSession(lab: FenceLab): Promise<void> {
  const db = 'fence_stale';
  await lab.createDatabase(db);
  const s = lab.spec('fence-stale', db);
  await startMigration(s);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  // the stopped runner's fence session: its ALTER DATABASE done, never committed
  const stale = new pg.Client({ ...s.source, database: 'postgres', application_name: 'pgferry fence' });
  await stale.connect();
  stale.on('error', () => undefined);
  try {
    await stale.query('BEGIN');
    await stale.query(`ALTER DATABASE ${db} SET default_transaction_read_only = on`);
    await new Promise((r) => setTimeout(r, 2500)); // idle in its transaction for longer than a fence ever is
    await lab.pair.source.query(`INSERT INTO items VALUES (5001, 'before the cutover')`, [], db);
    await requestCutover(s.target, s.migrationName);
    const done = await lab.final(s.migrationName);
    assert.equal(done.state, 'Succeeded', done.message);
    await assert.rejects(stale.query('SELECT 1'), 'the stale fence session was ended');
    assert.equal(await ownSetting(lab.pair, db), 'default_transaction_read_only=on');
    assert.ok(done.databases[0]!.writerFence?.kept);
    await sameRows(lab.pair, db);
    await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
  } finally {
    await stale.end().catch(() => undefined);
  }
}

/**
 * a writer that gets past the fence (a session that takes pgferry's apply lock itself, writing in
 * BEGIN READ WRITE transactions) and commits after the cutover point rolls the cutover back before anything
 * irreversible, naming its user, application and address; its writes then reach the target, and a
 * cutover once it stopped succeeds.
 */
async function lateWriterRollsBack(lab: FenceLab): Promise<void> {
  const db = 'fence_late';
  await lab.createDatabase(db);
  const s = lab.spec('fence-late', db);
  // The runner holds right before it reads the writes past the cutover point, so the impostor's
  // write lands after that point whatever the machine's load: a writer looping on its own may
  // commit nothing inside that short window and the test would then judge nothing.
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-late-'));
  const point = `cutover-late-writes:${db}`;
  await startHeldAt(s, point, holdDir);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  // the lock pgferry's appliers hold, taken while none holds it on the source: the key is derived
  // from the migration's name, so a session that means to can pass the first line
  const connectImpostor = async (): Promise<pg.Client> => {
    const client = new pg.Client({ ...serverSpec(lab.pair.source), database: db, application_name: 'pgferry impostor' });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1::bigint)', [applyLockKey(s.migrationName, db)]);
    return client;
  };
  let impostor = await connectImpostor();
  const acked: number[] = [];
  const write = async (id: number): Promise<void> => {
    await impostor.query('BEGIN READ WRITE');
    await impostor.query('INSERT INTO items VALUES ($1, $2)', [id, 'late']);
    await impostor.query('COMMIT');
    acked.push(id);
  };
  try {
    await write(1_000_001);
    await requestCutover(s.target, s.migrationName);
    await until('the runner held before reading the writes past the cutover point', async () => {
      if (await isHeld(point, holdDir)) return true;
      const st = await get(lab.store, s.migrationName);
      if (st && (isFinalState(st.state) || !st.cutoverRequested))
        throw new Error(`the cutover ended without holding: ${st.state} ${st.message ?? ''}`);
      return undefined;
    });
    // the fence ended the impostor's first session, its name notwithstanding; connected again, it
    // takes the lock again, and the fence lets a session holding it through: its write is past the cutover point
    await impostor.end().catch(() => undefined);
    impostor = await connectImpostor();
    await write(1_000_002);
    await fs.rm(heldFile(point, holdDir), { force: true });
    const back = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
    assert.equal(back.subState, 'WaitingForCutoverTrigger', `${back.state}/${back.subState}: ${back.message}`);
    assert.match(
      back.message ?? '',
      /^cutover rolled back: fence_late: \d+ transaction\(s\) committed on the source after the cutover point wrote public\.items, by user postgres, application "pgferry impostor", address (127\.0\.0\.1|::1) \(pid \d+\); the writer fence is lifted and changes stream on/,
    );
    assert.equal(await ownSetting(lab.pair, db), null, 'the setting lifted');
    assert.deepEqual(await fenceTriggers(lab.pair, db), [], 'the triggers lifted');
    assert.deepEqual(await passesTables(lab.pair, db), [], 'the passes table lifted');
    assert.equal(back.databases[0]!.writerFence, undefined);
  } finally {
    await fs.rm(heldFile(point, holdDir), { force: true });
    await impostor.end();
    await fs.rm(holdDir, { recursive: true, force: true });
  }
  // nothing was lost: streaming went on and carried every write the impostor was told committed
  await until('every acknowledged write is on the target', async () => {
    const rows = await lab.pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = ANY($1::int[])', [acked], db);
    return rows[0]!.n === acked.length ? true : undefined;
  });
  await requestCutover(s.target, s.migrationName);
  const done = await lab.final(s.migrationName);
  assert.equal(done.state, 'Succeeded', done.message);
  await sameRows(lab.pair, db);
  await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
}

/**
 * A client that names itself pgferry's is ended by the fence as any other: one named `pgferry
 * cutover` in an open write transaction on a streamed table (which would hold the fence's triggers
 * off) and one named `pgferry apply` left idle. pgferry's own sessions, told by the backend pids it
 * opened, are spared: the cutover succeeds, the open transaction's row is on neither server, and
 * every other row is equal on both.
 */
async function endsClientsNamedAsPgferry(lab: FenceLab): Promise<void> {
  const db = 'fence_named';
  const s = await lab.startStreaming('fence-named', db);
  const named = async (application: string): Promise<pg.Client> => {
    const client = new pg.Client({ ...serverSpec(lab.pair.source), database: db, application_name: application });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const writing = await named('pgferry cutover');
  const idle = await named('pgferry apply');
  const pids = [(writing as unknown as { processID: number }).processID, (idle as unknown as { processID: number }).processID];
  try {
    await writing.query('BEGIN');
    await writing.query(`INSERT INTO items VALUES (900100, 'named as pgferry')`);
    await requestCutover(s.target, s.migrationName);
    const done = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
    assert.equal(done.state, 'Succeeded', `${done.state}/${done.subState}: ${done.message}`);
    await assert.rejects(writing.query('COMMIT'), 'the client named "pgferry cutover" was ended');
    await assert.rejects(idle.query('SELECT 1'), 'the client named "pgferry apply" was ended');
    const [left] = await lab.pair.source.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])',
      [pids],
    );
    assert.equal(left!.n, 0, 'neither named client is connected to the source');
    assert.ok(
      (done.databases[0]!.writerFence!.sessionsEnded ?? 0) >= 2,
      `sessions ended: ${done.databases[0]!.writerFence!.sessionsEnded}`,
    );
    for (const server of [lab.pair.source, lab.pair.target]) {
      const [row] = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = 900100', [], db);
      assert.equal(row!.n, 0, "the ended transaction's row is on neither server");
    }
    await sameRows(lab.pair, db);
    await liftByHand(lab.pair, db, done.databases[0]!.writerFence!);
  } finally {
    await Promise.all([writing.end().catch(() => undefined), idle.end().catch(() => undefined)]);
  }
}

/** Replication slots, publications and databases' own settings of a server: what a refused cutover must leave as it was. */
async function serverState(cluster: ServerPair['source'], db: string): Promise<string> {
  const [slots, pubs, settings, triggers] = await Promise.all([
    cluster.query<{ s: string }>(`SELECT slot_name || ':' || database || ':' || slot_type AS s FROM pg_replication_slots ORDER BY 1`),
    cluster.query<{ s: string }>(`SELECT pubname AS s FROM pg_publication ORDER BY 1`, [], db),
    cluster.query<{ s: string }>(
      `SELECT setdatabase::text || ':' || array_to_string(setconfig, ',') AS s FROM pg_db_role_setting ORDER BY 1`,
    ),
    cluster.query<{ s: string }>(`SELECT tgname AS s FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`, [], db),
  ]);
  return JSON.stringify({ slots, pubs, settings, triggers });
}

/** refuses a fallback window without the fence (window from the spec, --no-fence-writers from the request) in one line, changing nothing. */
async function refusesUnfencedWindow(lab: FenceLab): Promise<void> {
  const db = 'fence_window';
  await lab.createDatabase(db);
  const s = lab.spec('fence-window', db, { fallbackWindow: '1h' });
  await startMigration(s);
  assert.equal((await lab.streaming(s.migrationName)).subState, 'WaitingForCutoverTrigger');
  const before = [await serverState(lab.pair.source, db), await serverState(lab.pair.target, db)];
  await requestCutover(s.target, s.migrationName, undefined, { fenceWriters: false });
  const refused = await waitForStatus(lab.store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state));
  assert.equal(refused.subState, 'WaitingForCutoverTrigger', refused.message);
  assert.equal(
    refused.message,
    "cutover not started: a fallback window (1h, from the migration's spec) needs the writers fenced, and the cutover request (--no-fence-writers) asked fenceWriters: false: request the cutover again with the fence (or without the window); nothing was changed on either server, and changes stream on",
  );
  assert.deepEqual(
    [await serverState(lab.pair.source, db), await serverState(lab.pair.target, db)],
    before,
    'nothing changed on either server',
  );
  assert.equal(refused.databases[0]!.fallback, undefined, 'no window opened');
  assert.equal(refused.databases[0]!.writerFence, undefined);
  // streaming goes on: a write after the refusal reaches the target
  await lab.pair.source.query(`INSERT INTO items VALUES (800000, 'after the refusal')`, [], db);
  await until('the write after the refusal is on the target', async () =>
    (await lab.pair.target.query('SELECT 1 FROM items WHERE id = 800000', [], db)).length === 1 ? true : undefined,
  );
  await sameRows(lab.pair, db);
  const done = await cancelMigration(s.target, s.migrationName);
  assert.notEqual(done.state, 'Failed', done.message);
  await lab.final(s.migrationName);
}

describe('cutover: fencing the writers and the lag gate (integration)', function () {
  this.timeout(600_000);
  let lab: FenceLab;

  before(async () => {
    const pair = await startPair();
    lab = new FenceLab(pair, new CatalogConnection(pairSpec(pair, 'x', ['x']).target));
  });
  after(async () => {
    await lab?.store.close();
    await lab?.pair.stop();
  });

  it('ends a writer connected before the cutover, refuses new writes while fenced, and every committed row is on the target', () =>
    fencesAWriter(lab));
  it('rolls a cutover back when the predicted catch-up is over the budget, and a later cutover succeeds', () => rollsBackOverBudget(lab));
  it("a lock on the target taken past the gate keeps the drain from its point: past the budget the cutover rolls back naming the lock's session, the fence lifted, and a later cutover succeeds with every row", () =>
    lateDrainRollsBack(lab));
  it('lifts the fence when the migration is canceled during a fenced cutover', () => cancelLiftsFence(lab));
  it('a runner killed right after the fence, resumed, completes the cutover with the value recorded first', () => resumeCompletes(lab));
  it('a runner killed right after the fence, resumed with a backlog over the budget, lifts it to the exact earlier value and records the roll-back once', () =>
    resumeRollsBack(lab));
  it('a runner killed right after the fence, then canceled without it, lifts the fence', () => deadCancelLifts(lab));
  it('a runner killed past the point of no return, then canceled without it, keeps the old source fenced with every row on the target, its answer showing the kept fence', () =>
    deadCancelPastPoint(lab));
  it('refuses without the privileges, naming the grants, and changes nothing', () => refusesWithoutRights(lab));
  it('ends a fence transaction a stopped runner left open, and completes the cutover', () => staleFenceSession(lab));
  it('a writer past the fence committing after the cutover point rolls the cutover back, naming its user, application and address', () =>
    lateWriterRollsBack(lab));
  it('ends clients named "pgferry cutover" (in an open write transaction) and "pgferry apply" at the fence, and the cutover succeeds with every row equal and the open row on neither server', () =>
    endsClientsNamedAsPgferry(lab));
  it('refuses a fallback window without the fence (window from the spec, --no-fence-writers from the request) in one line, changing nothing', () =>
    refusesUnfencedWindow(lab));
});
