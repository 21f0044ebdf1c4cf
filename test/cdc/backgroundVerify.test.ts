// Verification while changes stream: each table compared at one exact source position with the
// apply held there (verify/background.ts), a difference found then warned about and left to the
// cutover, and the cutover reading again only what changed after that position (switchover/recheckPlan.ts).
import assert from 'node:assert/strict';
import { listTables, type SourceTable } from '../../provider/engine/catalog/introspect';
import type { OnlineStream } from '../../provider/engine/cdc/apply/onlineStream';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { recordTableVerification, tableVerifications } from '../../provider/engine/control/tableVerification';
import { recheckPlan } from '../../provider/engine/switchover/recheckPlan';
import type { MigrationRun } from '../../provider/engine/run/migrationRun';
import { verifyDatabases } from '../../provider/engine/verify/verifyTables';
import { BackgroundVerification, type PinOutcome } from '../../provider/engine/verify/background';
import { parseLsn } from '../../provider/engine/core/lsn';
import { pairSpec, startPair, until, type ServerPair } from '../support';
import {
  copyAtSnapshot,
  createSlot,
  drain,
  setupDb,
  startApplier,
  startWriter,
  stopCdcPair,
  WRITER_DDL,
  type CdcDb,
  type Running,
} from './harness';
import { createMigration } from '../../provider/engine/control/store';

const DDL = `${WRITER_DDL}
CREATE TABLE touched (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE quiet (a int, b text, n int NOT NULL, PRIMARY KEY (a, b));`;
const SEED = `
INSERT INTO touched SELECT g, 'v' || g FROM generate_series(1, 2000) g;
INSERT INTO quiet SELECT g, 'k' || g, g FROM generate_series(1, 500) g;`;
const TABLES = ['writer_rows', 'touched', 'quiet'];
/**
 * The longest a stop may take here. A stop that waited for what it must cancel would take the
 * verifier's wait for a hold, or for ever on a lock the test holds; one that cancels takes a few
 * round trips, which a loaded machine slows many times over. Between the two, with room both ways.
 */
const STOP_BUDGET_MS = 30_000;

interface Streaming {
  readonly f: CdcDb;
  readonly running: Running;
  readonly store: CatalogConnection;
  readonly run: MigrationRun;
  readonly stream: OnlineStream;
  readonly verifier: BackgroundVerification;
  table(name: string): Promise<SourceTable>;
}

/** A copied database streaming into its target, registered in the control catalog, with a verifier (its loop not started: the test drives it). */
async function streaming(pair: ServerPair): Promise<Streaming> {
  const f = await setupDb(pair.source, pair.target, DDL);
  await f.src(SEED);
  const exported = await createSlot(f);
  await copyAtSnapshot(f, exported.snapshotName, TABLES);
  await exported.release();
  const running = startApplier(f, { initialLsn: exported.consistentLsn });
  const spec = pairSpec(pair, f.migration, [f.db], { mode: 'Online', source: f.sourceSpec, target: f.targetSpec });
  const store = new CatalogConnection(spec.target);
  await createMigration(store, { name: f.migration, mode: 'Online', option: 'Migrate', spec: {}, databases: [f.db] });
  const run = { spec, store, onProgress: () => undefined, warn: async () => undefined } as unknown as MigrationRun;
  const stream = { database: f.db, applier: running.applier, done: running.done } as unknown as OnlineStream;
  const verifier = new BackgroundVerification(run, () => stream);
  const client = await f.source.connect(f.db);
  const tables = await listTables(client, 15).finally(() => client.end());
  const table = async (name: string) => tables.find((t) => t.name === name)!;
  return { f, running, store, run, stream, verifier, table };
}

/** Verifies one table at a pinned position, trying again while a pin is inexact (a transaction the snapshot did not see yet). */
async function verifyAtPin(s: Streaming, name: string): Promise<void> {
  await s.verifier.openSessions();
  for (let i = 0; i < 20; i++) {
    if ((await s.verifier.verifyTable(await s.table(name))) === 'verified') return;
  }
  assert.fail(`${name}: no exact pin in 20 tries`);
}

/** Moves a table's pin forward, trying again while a pin is inexact. */
async function rollForwardAtPin(s: Streaming, table: SourceTable): Promise<PinOutcome> {
  let outcome = await s.verifier.rollForward(table);
  for (let i = 0; outcome !== 'verified' && i < 20; i++) outcome = await s.verifier.rollForward(table);
  return outcome;
}

/** Waits, the stream running on, until the target shows what `probe` (one boolean column `ok`) looks for. */
async function applied(s: Streaming, probe: string): Promise<void> {
  await until(probe, async () => ((await s.f.target.query<{ ok: boolean }>(probe, [], s.f.db))[0]?.ok ? true : undefined));
}

/** A busy table's pin moved forward while streaming: the cutover then reads only the keys changed after it. */
async function rollForwardThenKeys(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  try {
    for (const t of TABLES) await verifyAtPin(s, t);
    await s.f.src(`UPDATE touched SET v = v || '!' WHERE id <= 1500`);
    await applied(s, `SELECT count(*) = 1500 AS ok FROM touched WHERE v LIKE '%!'`);
    const due = await s.verifier.rollForwardDue(await Promise.all(TABLES.map((t) => s.table(t))));
    assert.deepEqual(
      due.map((t) => t.name),
      ['touched'],
    );
    assert.equal(await rollForwardAtPin(s, due[0]!), 'verified');
    const [record] = (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.touched');
    assert.equal(record?.method, 'background');
    assert.equal(record?.matches, true, record?.reason);
    assert.equal(record?.keysChecked, 1500);
    assert.equal(record?.sourceRows, 2000);
    // not due again: its changed keys count from the new pin
    assert.deepEqual(await s.verifier.rollForwardDue(await Promise.all(TABLES.map((t) => s.table(t)))), []);
    await s.f.src(`UPDATE touched SET v = v || '?' WHERE id IN (1, 2, 1999)`);
    await drain(s.f, s.running);
    const report = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [s.stream]) });
    assert.equal(report.ok, true, report.firstMismatch);
    const touched = report.tables.find((t) => t.table === 'public.touched');
    assert.equal(touched?.method, 'keys');
    assert.equal(touched?.keysChecked, 3);
  } finally {
    await s.verifier.stop();
    await s.store.close();
  }
}

/** A target row among the changed keys altered behind the stream: moving the pin forward finds it. */
async function rollForwardFindsTamper(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  try {
    for (const t of TABLES) await verifyAtPin(s, t);
    await s.f.src(`UPDATE touched SET v = v || '+' WHERE id <= 1200`);
    await applied(s, `SELECT count(*) = 1200 AS ok FROM touched WHERE v LIKE '%+'`);
    await s.f.dst(`UPDATE touched SET v = 'tampered' WHERE id = 600`);
    assert.equal(await rollForwardAtPin(s, await s.table('touched')), 'verified');
    const [record] = (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.touched');
    assert.equal(record?.matches, false);
    assert.match(record?.reason ?? '', /^content checksum of the 1200 key\(s\) changed differs at source position [0-9A-F]+\/[0-9A-F]+$/);
    await drain(s.f, s.running);
    const report = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [s.stream]) });
    assert.equal(report.ok, false);
    assert.equal(report.tables.find((t) => t.table === 'public.touched')?.method, 'full');
  } finally {
    await s.verifier.stop();
    await s.store.close();
  }
}

/** A stop while a table is read (here blocked by a lock on the target) cancels the read: the cutover does not wait for it. */
async function stopCancelsRead(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  const locker = await s.f.target.connect(s.f.db);
  const waiting = `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'pgferry verify'`;
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE quiet IN ACCESS EXCLUSIVE MODE');
    s.verifier.start();
    await until('the verifier waits on the lock', async () => ((await s.f.dst(waiting)).length > 0 ? true : undefined));
    const started = Date.now();
    await s.verifier.stop();
    const stopMs = Date.now() - started;
    assert.ok(stopMs < STOP_BUDGET_MS, `stop took ${stopMs} ms`);
    // cancelled on the server, not only left behind by a closed connection
    assert.deepEqual(await s.f.dst(waiting), []);
    const records = (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.quiet');
    assert.deepEqual(records, []);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
    await s.verifier.stop();
    await s.store.close();
  }
}

/**
 * A stop while the verifier waits for the apply to hold (the apply stuck on a target lock inside a
 * source transaction): the stop withdraws the pin and returns at once; the cutover waits for it.
 * Before, it waited up to the hold's 60 s, and for ever on a pin the apply never reached.
 */
async function stopWithdrawsPin(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  const locker = await s.f.target.connect(s.f.db);
  let pins = 0;
  const request = s.running.applier.requestPin.bind(s.running.applier);
  s.running.applier.requestPin = (atPin) => {
    pins += 1;
    return request(atPin);
  };
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE touched IN ACCESS EXCLUSIVE MODE');
    // a source transaction the apply cannot finish while the lock is held: no boundary to hold at
    await s.f.src(`BEGIN; UPDATE touched SET v = v || '~' WHERE id <= 10; INSERT INTO quiet VALUES (9001, 'k9001', 1); COMMIT`);
    await until('the apply waits on the lock', async () =>
      (await s.f.dst(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'pgferry apply'`)).length > 0
        ? true
        : undefined,
    );
    s.verifier.start();
    await until('the verifier asks for a pin', async () => (pins > 0 ? true : undefined));
    const started = Date.now();
    await s.verifier.stop();
    const stopMs = Date.now() - started;
    assert.ok(stopMs < STOP_BUDGET_MS, `stop took ${stopMs} ms`);
    assert.deepEqual(await tableVerifications(s.store, s.f.migration), []);
    // the withdrawn pin does not hold the apply: once the lock goes, the transaction is applied
    await locker.query('ROLLBACK');
    await applied(s, `SELECT count(*) = 1 AS ok FROM quiet WHERE a = 9001`);
    await applied(s, `SELECT count(*) = 10 AS ok FROM touched WHERE v LIKE '%~'`);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
    await s.verifier.stop();
    await s.store.close();
  }
}

/**
 * A stream far behind the source (a backlog after a restart or an outage): the verifier neither
 * pins nor reads until the stream is within 16 MiB of the source's WAL, then verifies every
 * table. The applier is stopped while the source writes a backlog of about 80 MiB of WAL in 300
 * transactions; three passes find it that far behind (counted at the gate; before the gate, each
 * asked it to hold for a pin) and none asks for a pin, then a new applier catches up.
 */
async function waitsWhileCatchingUp(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  const stream = s.stream as { applier: OnlineStream['applier']; done: Promise<unknown> };
  let pins = 0;
  const counted = (applier: OnlineStream['applier']): void => {
    const request = applier.requestPin.bind(applier);
    applier.requestPin = (atPin) => {
      pins += 1;
      return request(atPin);
    };
  };
  try {
    await drain(s.f, s.running);
    counted(s.running.applier);
    await s.f.src(
      `DO $$ BEGIN FOR i IN 0..299 LOOP INSERT INTO touched SELECT g, repeat('w', 200) FROM generate_series(2001 + i * 1000, 3000 + i * 1000) g; COMMIT; END LOOP; END $$`,
    );
    // each pass's gate (the verifier's private catchingUp) counted: passes that found the stream behind
    const verifier = s.verifier as unknown as { catchingUp(): Promise<boolean> };
    const gate = verifier.catchingUp.bind(verifier);
    let held = 0;
    verifier.catchingUp = async () => {
      const behind = await gate();
      if (behind) held += 1;
      return behind;
    };
    s.verifier.start();
    await until('three passes of the verifier gated by the backlog', async () => (held >= 3 ? true : undefined));
    assert.equal(pins, 0, 'the verifier asked a stream 80 MiB behind to hold for a pin');
    assert.deepEqual(await tableVerifications(s.store, s.f.migration), []);
    const running = startApplier(s.f, { tracker: s.running.applier.tracker });
    counted(running.applier);
    stream.applier = running.applier;
    stream.done = running.done;
    await until('every table verified once caught up', async () =>
      (await tableVerifications(s.store, s.f.migration)).length === TABLES.length ? true : undefined,
    );
    assert.ok(pins >= TABLES.length);
    const [row] = await s.f.dst('SELECT count(*)::int AS n FROM touched');
    assert.equal(row!.n, 302_000);
    for (const r of await tableVerifications(s.store, s.f.migration)) assert.equal(r.matches, true, `${r.table}: ${r.reason}`);
  } finally {
    await s.verifier.stop();
    stream.applier.stop();
    await s.store.close();
  }
}

/** A difference found in the background: warned about once, left to the cutover, which reads the table whole. */
async function differenceLeftToCutover(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  const warnings: string[] = [];
  const run = { ...s.run, warn: async (message: string) => void warnings.push(message) } as MigrationRun;
  const verifier = new BackgroundVerification(run, () => s.stream);
  try {
    await s.f.src(`UPDATE touched SET v = 'source' WHERE id = 1`);
    await s.f.dst(`UPDATE touched SET v = 'tampered' WHERE id = 7`);
    await verifier.openSessions();
    let outcome = await verifier.verifyTable(await s.table('touched'));
    for (let i = 0; outcome !== 'verified' && i < 20; i++) outcome = await verifier.verifyTable(await s.table('touched'));
    assert.equal(outcome, 'verified');
    const [record] = (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.touched');
    assert.equal(record?.matches, false);
    assert.match(record?.reason ?? '', /content checksum differs at source position/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /background verification: table public\.touched: content checksum differs.*the cutover verifies it whole/);
    // left to the cutover: not compared again in the background, so not warned about again
    const due = await verifier.tablesDue(await Promise.all(TABLES.map((t) => s.table(t))));
    assert.ok(!due.some((t) => t.name === 'touched'), 'touched is not due again');
    // the stream goes on: a later source change reaches the target
    await s.f.src(`UPDATE touched SET v = 'after' WHERE id = 2`);
    await drain(s.f, s.running);
    assert.deepEqual(await s.f.dst(`SELECT id, v FROM touched WHERE id IN (1, 2, 7) ORDER BY id`), [
      { id: 1, v: 'source' },
      { id: 2, v: 'after' },
      { id: 7, v: 'tampered' },
    ]);
    // the cutover's verification reads the table whole and stops on the tampered row
    const report = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [s.stream]) });
    assert.equal(report.ok, false);
    const touched = report.tables.find((t) => t.table === 'public.touched');
    assert.equal(touched?.method, 'full');
    assert.match(report.firstMismatch ?? '', /touched/);
  } finally {
    await verifier.stop();
    await s.verifier.stop();
    await s.store.close();
  }
}

/**
 * The writer, once it has committed rows on the source: a pin before that would compare an empty
 * table (the test asserts every pin compared rows). Stopped if they never come.
 */
async function writingWriter(f: Parameters<typeof startWriter>[0]): Promise<ReturnType<typeof startWriter>> {
  const writer = startWriter(f);
  try {
    await until("the writer's first rows on the source", async () =>
      Number((await f.src('SELECT count(*) AS n FROM writer_rows'))[0]!.n) > 0 ? true : undefined,
    );
    return writer;
  } catch (error) {
    await writer.stop();
    throw error;
  }
}

/**
 * A column the source added that has not reached the target (the stream adds it at the table's
 * next write): a pin reads no result, records nothing and warns of nothing, and says why.
 */
async function shapePendingNoResult(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  const said: string[] = [];
  const warned: string[] = [];
  const run = {
    ...s.run,
    onProgress: (p: { message: string }) => void said.push(p.message),
    warn: async (message: string) => void warned.push(message),
  } as MigrationRun;
  const verifier = new BackgroundVerification(run, () => s.stream);
  try {
    // no write follows: the stream's next relation message of quiet, which adds it there, never comes
    await s.f.src(`ALTER TABLE quiet ADD COLUMN extra int DEFAULT 7`);
    await verifier.openSessions();
    let outcome = await verifier.verifyTable(await s.table('quiet'));
    for (let i = 0; outcome === 'inexact' && i < 20; i++) outcome = await verifier.verifyTable(await s.table('quiet'));
    assert.equal(outcome, 'no result');
    assert.deepEqual(
      (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.quiet'),
      [],
    );
    assert.deepEqual(warned, []);
    assert.ok(
      said.includes(
        'background verification of public.quiet: no result, a change of its columns is still to reach the target; tried again',
      ),
      said.join(' | '),
    );
  } finally {
    await verifier.stop();
    await s.verifier.stop();
    await s.store.close();
  }
}

/** A target row deleted after its table was verified: the cutover counts the table and finds it. */
async function deletedAfterVerified(pair: ServerPair): Promise<void> {
  const s = await streaming(pair);
  try {
    await verifyAtPin(s, 'quiet');
    await s.f.dst(`DELETE FROM quiet WHERE a = 10`);
    await s.f.src(`INSERT INTO touched VALUES (6000, 'after')`);
    await drain(s.f, s.running);
    const report = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [s.stream]) });
    assert.equal(report.ok, false);
    const quiet = report.tables.find((t) => t.table === 'public.quiet');
    assert.equal(quiet?.method, 'count');
    assert.equal(quiet?.reason, 'row count differs: source 500, target 499');
    // a table no pin of this runner covers is read whole
    assert.equal(report.tables.find((t) => t.table === 'public.touched')?.method, 'full');
  } finally {
    await s.verifier.stop();
    await s.store.close();
  }
}

/** Exact pins the test compares at, and the pins it asks for at most to get them. */
const EXACT_PINS = 6;
const MAX_PINS = 48;

describe('cdc: verification while streaming, pinned to a source position', function () {
  this.timeout(240_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('a table compared while the source writes to it matches at every pinned position', async () => {
    const s = await streaming(pair);
    const writer = await writingWriter(s.f);
    try {
      let verified = 0;
      let lastLsn = -1n;
      let last: Awaited<ReturnType<typeof tableVerifications>>[number] | undefined;
      await s.verifier.openSessions();
      // a pin the writer's transaction in flight makes inexact is tried again: how many are depends on
      // how the writer and the apply share a busy machine, so the pins go on until EXACT_PINS were exact
      let pins = 0;
      for (let i = 0; verified < EXACT_PINS && i < MAX_PINS; i++) {
        pins += 1;
        const outcome = await s.verifier.verifyTable(await s.table('writer_rows'));
        assert.notEqual(outcome, 'skipped');
        // each comparison's own record, read back from the control store: a pin past the previous one, both sides equal
        const [record] = (await tableVerifications(s.store, s.f.migration)).filter((r) => r.table === 'public.writer_rows');
        if (outcome === 'inexact') {
          assert.deepEqual(record, last, `pin ${i + 1}: not exact, so nothing was compared or recorded`);
          continue;
        }
        verified += 1;
        assert.equal(record?.method, 'background', `pin ${i + 1}`);
        assert.equal(record?.matches, true, `pin ${i + 1}: ${record?.reason}`);
        assert.match(record?.verifiedLsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/, `pin ${i + 1}`);
        const lsn = parseLsn(record!.verifiedLsn!);
        assert.ok(lsn > lastLsn, `pin ${i + 1} at ${record!.verifiedLsn}: past the previous pin`);
        assert.ok(record!.sourceRows > 0, `pin ${i + 1}`);
        assert.equal(record!.targetRows, record!.sourceRows, `pin ${i + 1}`);
        lastLsn = lsn;
        last = record;
      }
      assert.ok(verified >= EXACT_PINS, `${verified} of ${pins} pins exact`);
    } finally {
      await writer.stop();
      await s.verifier.stop();
      await s.store.close();
    }
  });

  it('a target row changed while streaming, before the pinned position, is warned about once naming the table; the stream goes on and the cutover reads that table whole and finds it', () =>
    differenceLeftToCutover(pair));

  it('the cutover reads again only the keys changed after each table was verified, and counts the rest', async () => {
    const s = await streaming(pair);
    try {
      for (const t of TABLES) await verifyAtPin(s, t);
      await s.f.src(`UPDATE touched SET v = v || '!' WHERE id IN (3, 4, 5)`);
      await s.f.src(`DELETE FROM touched WHERE id = 6`);
      await s.f.src(`INSERT INTO touched VALUES (5000, 'new')`);
      await drain(s.f, s.running);
      const plan = await recheckPlan(s.run, [s.stream]);
      const report = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: plan });
      assert.equal(report.ok, true, report.firstMismatch);
      const byTable = new Map(report.tables.map((t) => [t.table, t]));
      assert.equal(byTable.get('public.touched')?.method, 'keys');
      assert.equal(byTable.get('public.touched')?.keysChecked, 5);
      assert.equal(byTable.get('public.touched')?.sourceRows, 2000);
      assert.equal(byTable.get('public.quiet')?.method, 'count');
      assert.equal(byTable.get('public.writer_rows')?.method, 'count');
    } finally {
      await s.verifier.stop();
      await s.store.close();
    }
  });

  it('a table changed in many keys has its pin moved forward while streaming, and the cutover reads only the keys changed after that', () =>
    rollForwardThenKeys(pair));

  it('a target row among the keys changed since the last pin, altered behind the stream, is found when the pin moves forward; the cutover reads that table whole', () =>
    rollForwardFindsTamper(pair));

  it('a stop while a table is read cancels the read on the servers and returns at once', () => stopCancelsRead(pair));

  it('a stop while the verifier waits for a stuck apply to hold withdraws the pin and returns at once; the apply goes on', () =>
    stopWithdrawsPin(pair));

  it('reads nothing while the stream is far behind the source, and verifies every table once it has caught up', () =>
    waitsWhileCatchingUp(pair));

  it('after a cutover stopped on a mismatch, the verifier pins every table again and the next cutover re-reads only changed keys', async () => {
    const s = await streaming(pair);
    try {
      for (const t of TABLES) await verifyAtPin(s, t);
      assert.deepEqual(await s.verifier.tablesDue(await Promise.all(TABLES.map((t) => s.table(t)))), []);
      await s.f.dst(`DELETE FROM quiet WHERE a = 10`);
      await s.f.src(`UPDATE touched SET v = v || '!' WHERE id IN (3, 4)`);
      await drain(s.f, s.running);
      // the cutover's verification, recorded as cutover() records it: it stops on quiet
      const first = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [s.stream]) });
      assert.equal(first.ok, false);
      for (const t of first.tables)
        if (t.method && t.relation)
          await recordTableVerification(s.store, s.f.migration, { ...t, relation: t.relation, method: `cutover-${t.method}` });
      // the user fixes the row; the stream goes on from where it stopped, keeping its change tracking (as the cutover restarts it, flow/cutoverRollBack.ts)
      await s.f.dst(`INSERT INTO quiet VALUES (10, 'k10', 10)`);
      const running = startApplier(s.f, { tracker: s.running.applier.tracker });
      const stream = { database: s.f.db, applier: running.applier, done: running.done } as unknown as OnlineStream;
      const verifier = new BackgroundVerification(s.run, () => stream);
      try {
        await s.f.src(`UPDATE touched SET v = v || '?' WHERE id = 8`);
        const due = await verifier.tablesDue(await Promise.all(TABLES.map((t) => s.table(t))));
        assert.deepEqual(due.map((t) => t.name).sort(), [...TABLES].sort());
        await verifier.openSessions();
        for (const t of due) {
          let outcome = await verifier.verifyTable(t);
          for (let i = 0; outcome !== 'verified' && i < 20; i++) outcome = await verifier.verifyTable(t);
          assert.equal(outcome, 'verified', t.name);
        }
        await s.f.src(`UPDATE touched SET v = v || '#' WHERE id = 9`);
        await drain(s.f, running);
        const second = await verifyDatabases(s.run.spec, { databases: [s.f.db], recheck: await recheckPlan(s.run, [stream]) });
        assert.equal(second.ok, true, second.firstMismatch);
        const byTable = new Map(second.tables.map((t) => [t.table, t]));
        assert.equal(byTable.get('public.touched')?.method, 'keys');
        assert.equal(byTable.get('public.touched')?.keysChecked, 1);
        assert.equal(byTable.get('public.quiet')?.method, 'count');
        assert.equal(byTable.get('public.quiet')?.targetRows, 500);
      } finally {
        await verifier.stop();
      }
    } finally {
      await s.verifier.stop();
      await s.store.close();
    }
  });

  it('a target row deleted after its table was verified is found by the cutover', () => deletedAfterVerified(pair));

  it('a column the source added that has not reached the target: no result recorded, no warning, and the progress line says why', () =>
    shapePendingNoResult(pair));
});
