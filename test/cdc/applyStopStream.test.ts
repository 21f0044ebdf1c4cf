// A change the target refuses while streaming stops the stream, not the migration: the slot and
// publication stay, the status names the table, the statement and the first error with its fix,
// and once the user fixes the target the stream continues exactly-once from the last applied
// transaction (on a resume, after a killed runner, or by itself). A bound the user sets releases
// the slot of a stream left stopped. Each scenario's refused change is a key the target already
// holds: a row something else wrote on the target.
import assert from 'node:assert/strict';
import {
  parseMigrationSpec,
  requestCutover,
  resumeMigration,
  runMigration,
  showMigration,
  startMigration,
  waitingForApplyFix,
  type MigrationSpec,
  type MigrationStatus,
} from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { makeManagedTarget, type ServerPair, serverSpec, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from './harness';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverRequestedAt } from '../../provider/engine/control/migrationRequests';

const TABLES = ['t1', 't2', 't3'] as const;

async function createDatabase(pair: ServerPair, db: string): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    TABLES.map(
      (t) => `CREATE TABLE ${t} (id int PRIMARY KEY, v text); INSERT INTO ${t} SELECT g, 'copied' FROM generate_series(1, 100) g;`,
    ).join(''),
    [],
    db,
  );
}

async function assertSameTables(pair: ServerPair, db: string): Promise<void> {
  for (const t of TABLES) assert.deepEqual(await rowsOf(pair.target, db, t), await rowsOf(pair.source, db, t), `${db}.${t}`);
}

async function slotExists(pair: ServerPair, slot: string): Promise<boolean> {
  const rows = await pair.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows.length === 1;
}

const streaming = (s: MigrationStatus): boolean =>
  s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed' || s.state === 'Succeeded';
const stoppedOrOver = (s: MigrationStatus): boolean => waitingForApplyFix(s) || s.state === 'Failed' || s.state === 'Succeeded';

/** A refused change on a managed target, a runner killed while stopped, then the fix and a resume. */
async function stopOnManagedTargetAndResume(pair: ServerPair): Promise<void> {
  await createDatabase(pair, 'stopfix');
  const spec: MigrationSpec = parseMigrationSpec({
    migrationName: 'stop-fix',
    source: serverSpec(pair.source),
    target: await makeManagedTarget(pair.target),
    databases: ['stopfix'],
    mode: 'Online',
    option: 'Migrate',
  });
  const store = new CatalogConnection(spec.target);
  try {
    await startMigration(spec);
    const ready = await waitForStatus(store, spec.migrationName, streaming);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
    await pair.target.query(`INSERT INTO t1 VALUES (1007, 'written on the target')`, [], 'stopfix');
    // One source transaction over three tables: without replica role the apply keeps their order,
    // so t1's COPY is sent (and refused) before t3's relation is looked up on the same connection,
    // whose error would only say "current transaction is aborted".
    await pair.source.query(
      `BEGIN; INSERT INTO t1 VALUES (1007, 'source'); INSERT INTO t2 VALUES (1007, 'source'); INSERT INTO t3 VALUES (1007, 'source'); COMMIT;`,
      [],
      'stopfix',
    );
    const stopped = await waitForStatus(store, spec.migrationName, stoppedOrOver);
    assert.equal(stopped.state, 'WaitingForUserAction', stopped.message);
    assert.equal(stopped.subState, 'WaitingForApplyFix');
    const db = stopped.databases[0]!;
    assert.equal(db.state, 'ApplyStopped');
    assert.equal(db.applyStop?.sqlState, '23505', JSON.stringify(db.applyStop));
    assert.equal(db.applyStop?.table, '"public"."t1"');
    assert.match(db.applyStop?.statement ?? '', /^COPY "public"\."t1"/);
    assert.match(db.applyStop?.error ?? '', /duplicate key value violates unique constraint/);
    assert.doesNotMatch(stopped.message ?? '', /current transaction is aborted/);
    assert.match(stopped.message ?? '', /pgferry resume/);
    assert.ok(await slotExists(pair, db.names!.slot), 'the slot is kept while stopped');

    // the source goes on meanwhile; its changes wait in the slot
    for (let i = 200; i < 220; i++) await pair.source.query(`INSERT INTO t2 VALUES ($1, 'while stopped')`, [i], 'stopfix');

    // a runner killed while stopped: the resumed one stops again on the same error, keeping `since`
    process.kill(stopped.runner!.pid, 'SIGKILL');
    await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
    await resumeMigration(spec);
    const again = await waitForStatus(
      store,
      spec.migrationName,
      (s) => (waitingForApplyFix(s) && (s.databases[0]!.applyStop?.attempts ?? 0) > db.applyStop!.attempts) || s.state === 'Failed',
    );
    assert.equal(again.databases[0]!.applyStop?.since, db.applyStop!.since);
    assert.equal(again.databases[0]!.applyStop?.sqlState, '23505');
    assert.ok(await slotExists(pair, db.names!.slot));

    // the fix, then a resume and at once the cutover, as a user would: while the stream is tried
    // again the state may still say WaitingForApplyFix, and the cutover waits for it, not refused
    await pair.target.query('DELETE FROM t1 WHERE id = 1007', [], 'stopfix');
    await resumeMigration(spec);
    const asked = await requestCutover(spec.target, spec.migrationName);
    assert.ok(['WaitingForApplyFix', 'WaitingForCutoverTrigger', 'CompletingMigration'].includes(asked.subState), asked.subState);
    const events = async () => (await catalogEvents(store, spec.migrationName, 200)).map((e) => e.message);
    await until('streaming again', async () => ((await events()).some((m) => /^streaming again/.test(m)) ? true : undefined));
    const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.databases[0]!.applyStop, undefined);
    // (the one request, asked before the stream applied again, led to it: a refusal clears it)
    await assertSameTables(pair, 'stopfix');
    const [row] = await pair.target.query<{ v: string; n: number }>(
      `SELECT min(v) AS v, count(*)::int AS n FROM t1 WHERE id = 1007`,
      [],
      'stopfix',
    );
    assert.deepEqual(row, { v: 'source', n: 1 });
    assert.equal(done.databases[0]!.inserts, 23, JSON.stringify(done.databases[0]));
  } finally {
    await store.close();
  }
}

describe('online: a change the target refuses stops the stream until it is fixed', function () {
  this.timeout(300_000);
  const servers = suiteServers();

  it('on a managed target: names the first error, keeps the slot through a killed runner, and resumes exactly-once after the fix', () =>
    stopOnManagedTargetAndResume(servers.pair));

  it('a cutover asked for while the stream stops waits; the stream retries by itself once fixed, then cuts over', async () => {
    const { pair } = servers;
    await createDatabase(pair, 'selfheal');
    const spec = parseMigrationSpec({
      migrationName: 'self-heal',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['selfheal'],
      mode: 'Online',
      option: 'Migrate',
    });
    const store = new CatalogConnection(spec.target);
    try {
      const running = runMigration(spec);
      await waitForStatus(store, spec.migrationName, streaming);
      await pair.target.query(`INSERT INTO t2 VALUES (1009, 'written on the target')`, [], 'selfheal');
      await pair.source.query(`INSERT INTO t2 VALUES (1009, 'source'); UPDATE t1 SET v = 'changed' WHERE id <= 10;`, [], 'selfheal');
      // as a user might: the cutover asked for at once, before or after the stream stopped
      await requestCutover(spec.target, spec.migrationName).catch((error: { code?: string }) => {
        if (error.code !== 'CUTOVER_NOT_READY') throw error;
      });
      const stopped = await waitForStatus(store, spec.migrationName, (s) => stoppedOrOver(s) && s.subState === 'WaitingForApplyFix');
      assert.equal(stopped.state, 'WaitingForUserAction', stopped.message);
      // a request written just after the stop was seen is cleared at the runner's next poll
      await until('the cutover request is cleared', async () =>
        (await cutoverRequestedAt(store, spec.migrationName)) === undefined ? true : undefined,
      );
      assert.ok(await slotExists(pair, stopped.databases[0]!.names!.slot));
      // fixed on the target, no resume: the stream is tried again by itself
      await pair.target.query('DELETE FROM t2 WHERE id = 1009', [], 'selfheal');
      const moving = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed',
        60_000,
      );
      assert.equal(moving.state, 'WaitingForUserAction', moving.message);
      await requestCutover(spec.target, spec.migrationName);
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      await assertSameTables(pair, 'selfheal');
    } finally {
      await store.close();
    }
  });

  it("after the fix and pgferry resume, show's message says the stream streams again, naming the database and its stop, until the cutover", async () => {
    const { pair } = servers;
    await createDatabase(pair, 'resumedsaid');
    const spec = parseMigrationSpec({
      migrationName: 'resumed-said',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['resumedsaid'],
      mode: 'Online',
      option: 'Migrate',
    });
    const store = new CatalogConnection(spec.target);
    try {
      await startMigration(spec);
      await waitForStatus(store, spec.migrationName, streaming);
      await pair.target.query(`INSERT INTO t3 VALUES (1011, 'written on the target')`, [], 'resumedsaid');
      await pair.source.query(`INSERT INTO t3 VALUES (1011, 'source')`, [], 'resumedsaid');
      const stopped = await waitForStatus(store, spec.migrationName, stoppedOrOver);
      assert.equal(stopped.subState, 'WaitingForApplyFix', stopped.message);
      await pair.target.query('DELETE FROM t3 WHERE id = 1011', [], 'resumedsaid');
      await resumeMigration(spec);
      const moving = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed',
      );
      assert.equal(moving.state, 'WaitingForUserAction', moving.message);
      // what `pgferry show` reads: the migration's message, not only its events
      const shown = await showMigration(spec.target, spec.migrationName);
      assert.match(
        shown?.message ?? '',
        /^streaming again: database "?resumedsaid"?: the change that stopped it is applied \(it had stopped \d+ time\(s\) since /,
      );
      assert.equal(shown!.databases[0]!.applyStop, undefined);
      const [row] = await pair.target.query<{ v: string }>('SELECT v FROM t3 WHERE id = 1011', [], 'resumedsaid');
      assert.equal(row?.v, 'source', 'the stopped change applied once fixed');
      await requestCutover(spec.target, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.message, undefined, 'the message of the stop gone once it cut over');
      await assertSameTables(pair, 'resumedsaid');
    } finally {
      await store.close();
    }
  });

  it('a stream left stopped past maxApplyStopHours releases its slot and fails, saying so', async () => {
    const { pair } = servers;
    await createDatabase(pair, 'bounded');
    const spec = parseMigrationSpec({
      migrationName: 'bounded',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['bounded'],
      mode: 'Online',
      option: 'Migrate',
      maxApplyStopHours: 0.001, // 3.6 s
    });
    const store = new CatalogConnection(spec.target);
    try {
      const running = runMigration(spec);
      const ready = await waitForStatus(store, spec.migrationName, streaming);
      const slot = ready.databases[0]!.names!.slot;
      await pair.target.query(`INSERT INTO t3 VALUES (1005, 'written on the target')`, [], 'bounded');
      await pair.source.query(`INSERT INTO t3 VALUES (1005, 'source')`, [], 'bounded');
      const done = await running;
      assert.equal(done.state, 'Failed');
      assert.match(done.message ?? '', /maxApplyStopHours \(0\.001 h\).*released.*duplicate key/);
      await until('the slot to be dropped', async () => ((await slotExists(pair, slot)) ? undefined : true), 30_000);
      // the target keeps what was applied
      const [row] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM t1', [], 'bounded');
      assert.equal(row!.n, 100);
    } finally {
      await store.close();
    }
  });
});
