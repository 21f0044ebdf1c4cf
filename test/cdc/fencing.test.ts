// Issue 12, "never twice": the session that commits the data holds the fence. A runner whose lease
// session is terminated stops writing, even one asleep when it lost it (every apply COMMIT checks
// on the target that the lease is still held: cdc/apply/leaseGuard.ts); the resumed runner is then the
// only applier; a second applier on the same database is refused, in origin and progress-table
// mode alike. The runner that lost its lease starts its successor (runner/successor.ts), which
// resumes the migration without the user, or leaves it to the runner the user resumed first.
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMigrationSpec, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { Applier, type ApplierOptions } from '../../provider/engine/cdc/apply/applier';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { applyLockKey, cutoverMessagePrefix, leaseKey } from '../../provider/engine/core/names';
import { isPgferryError } from '../../provider/engine/core/errors';
import { LEASE_LOST_SQLSTATE, leaseGuardSql } from '../../provider/engine/cdc/apply/leaseGuard';
import { isRetryable, sqlState } from '../../provider/engine/connect/sqlstate';
import { FaultProxy, type ProxyConnection } from '../support/faultProxy';
import {
  makeManagedTarget,
  serverSpec,
  startPair,
  processAlive,
  until,
  waitForStatus,
  startSourceWriter,
  type SourceWriter,
  type Cluster,
  type ServerPair,
} from '../support';
import { applierOptions, assertSame, createSlot, drain, rowsOf, setupDb, startApplier, stopCdcPair } from './harness';
import { events as catalogEvents, get } from '../../provider/engine/control/store';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { SUCCESSIONS_AT_MOST } from '../../provider/engine/runner/successor';

/**
 * Whether a process runs. A successor's parent (the runner that lost its lease) exits before it,
 * so a successor that exited may stay a zombie of a parent that does not reap it: gone all the same.
 */
function running(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Sessions holding a migration's apply lock on one target database. */
async function fenceHolders(target: Cluster, migration: string, db: string): Promise<number[]> {
  const rows = await target.query<{ pid: number }>(
    `SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND d.datname = $2
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid`,
    [applyLockKey(migration, db), db],
  );
  return rows.map((r) => r.pid);
}

/** Runs an applier that must be refused at once; returns the error it was refused with. */
async function refusedApplier(options: ApplierOptions): Promise<unknown> {
  const applier = new Applier({ ...options, fenceWaitMs: 0 });
  const outcome = await Promise.race([
    applier.run().then(
      (end) => new Error(`the second applier ran and ended with ${end}`),
      (error: unknown) => error,
    ),
    new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('the second applier was not refused within 30 s')), 30_000)),
  ]);
  applier.stop();
  return outcome;
}

// ledger has no key: a change applied twice would show as a duplicate row
const LEDGER_SQL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger (acct int NOT NULL, amount int NOT NULL, n bigint NOT NULL);
INSERT INTO acct SELECT g, 0 FROM generate_series(1, 100) g;`;

/** Transactions moving money and appending to the ledger until stopped; stop() resolves to how many committed. */
async function startLedgerWriter(source: Cluster, db: string): Promise<SourceWriter> {
  const writer = startSourceWriter(source, db, async (client, n) => {
    const acct = 1 + (n % 100);
    await client.query('UPDATE acct SET balance = balance + $2 WHERE id = $1', [acct, n % 7]);
    await client.query('INSERT INTO ledger VALUES ($1, $2, $3)', [acct, n % 7, n]);
  });
  await writer.connected;
  return writer;
}

/** Ends the runner's lease session as a network cut or a DBA would: the one holding `migration`'s lease when named. */
async function terminateLease(target: Cluster, catalog = 'postgres', migration?: string): Promise<void> {
  const [lease] = migration
    ? await target.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid`,
        [leaseKey(migration)],
      )
    : await target.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pgferry runner lease %' AND datname = $1`,
        [catalog],
      );
  assert.ok(lease, 'the runner holds its lease on the target');
  await target.query('SELECT pg_terminate_backend($1)', [lease.pid]);
}

/** Exactly one apply session on the database, and it is the one holding the fence. */
async function assertOneApplier(target: Cluster, migration: string, db: string): Promise<void> {
  const holders = await until('the resumed runner to hold the apply lock', async () => {
    const pids = await fenceHolders(target, migration, db);
    return pids.length > 0 ? pids : undefined;
  });
  assert.equal(holders.length, 1, 'exactly one apply session holds the fence');
  const appliers = await target.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry apply' AND datname = $1`, [db]);
  assert.deepEqual(
    appliers.map((r) => r.pid),
    holders,
    'the only apply session is the one holding the fence',
  );
}

/** Options for an applier started by hand on a migration's database (slot and publication read from the source). */
async function byHand(source: Cluster, spec: MigrationSpec, db: string): Promise<ApplierOptions> {
  const [slot] = await source.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [db]);
  const [publication] = await source.query<{ pubname: string }>('SELECT pubname FROM pg_publication', [], db);
  return {
    source: spec.source,
    target: spec.target,
    database: db,
    slot: slot!.slot_name,
    publication: publication!.pubname,
    origin: 'pgferry_fencing_test_origin',
    migration: spec.migrationName,
    cutoverPrefix: cutoverMessagePrefix(spec.migrationName),
  };
}

describe('fencing: one applier per database, whatever happens to the lease', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  for (const preferProgressTable of [false, true]) {
    const mode = preferProgressTable ? 'table' : 'origin';
    it(`refuses a second applier while the first holds the database's apply lock, then hands over (progress: ${mode})`, async () => {
      const f = await setupDb(pair.source, pair.target, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
      const exported = await createSlot(f);
      await exported.release();
      const first = startApplier(f, { initialLsn: exported.consistentLsn, preferProgressTable });
      await f.src(`INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g`);
      await until('the first applier to apply', async () =>
        (await f.dst('SELECT count(*)::int AS n FROM t'))[0]!.n === 100 ? true : undefined,
      );
      const refused = await refusedApplier(applierOptions(f, { initialLsn: exported.consistentLsn, preferProgressTable }));
      assert.ok(isPgferryError(refused) && refused.code === 'CDC_APPLY_FENCED', String(refused));
      assert.equal((await fenceHolders(f.target, f.migration, f.db)).length, 1);
      await f.src(`UPDATE t SET v = 'b' WHERE id <= 50`);
      await drain(f, first);
      // the first is gone: a new applier takes the lock and carries on from the recorded position
      const next = startApplier(f, { initialLsn: exported.consistentLsn, preferProgressTable });
      await f.src(`DELETE FROM t WHERE id > 90`);
      await drain(f, next);
      await assertSame(f, ['t']);
      assert.deepEqual([next.applier.stats().updates, next.applier.stats().deletes], [0, 10], 'nothing applied twice');
    });
  }

  it('a runner whose lease session is terminated stops applying; after resume one applier applies everything exactly once, and its own successor leaves', async () => {
    const db = 'fenced';
    const spec = await ledgerMigration(pair, db, 'fenced-online');
    const store = new CatalogConnection(spec.target);
    const writer = await startLedgerWriter(pair.source, db);
    const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-fencing-'));
    try {
      // the runner that loses its lease starts a successor: held before it takes the lease, so the user's resume comes first
      await withHoldArmed([], holdDir, () => startMigration(spec), ['successor-lease']);
      const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Failed' || (s.databases[0]?.inserts ?? 0) > 50);
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      await terminateLease(pair.target);
      // resumed at once, while the old runner may still be on its way out: the fence decides
      await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
      await resumeMigration(spec);
      const oldRunner = streaming.runner!.pid;
      await until('the runner that lost its lease to exit', async () => (processAlive(oldRunner) ? undefined : true), 60_000);
      await waitForResumed(store, spec.migrationName, oldRunner);
      const resumed = (await get(store, spec.migrationName))!.runner!.pid;
      await assertOneApplier(pair.target, spec.migrationName, db);
      const refused = await refusedApplier(await byHand(pair.source, spec, db));
      assert.ok(isPgferryError(refused) && refused.code === 'CDC_APPLY_FENCED', String(refused));
      // the old runner's successor, let go, finds the lease held by the resumed runner and exits
      await until('the successor to wait before the lease', async () => ((await isHeld('successor-lease', holdDir)) ? true : undefined));
      const successor = Number(await fs.readFile(heldFile('successor-lease', holdDir), 'utf8'));
      await fs.rm(heldFile('successor-lease', holdDir));
      await until('the successor to exit', async () => (running(successor) ? undefined : true), 60_000);
      const after = (await get(store, spec.migrationName))!;
      assert.deepEqual([after.runner?.alive, after.runner?.pid], [true, resumed], 'the resumed runner still runs the migration');
      await cutOverAndCompare(pair, store, spec.migrationName, db, await writer.stop());
      const events = await catalogEvents(store, spec.migrationName, 200);
      assert.deepEqual(
        events.filter((e) => /a new runner resumed the migration/.test(e.message)),
        [],
        'the successor recorded no takeover',
      );
    } finally {
      await writer.stop().catch(() => undefined);
      await store.close();
      await fs.rm(holdDir, { recursive: true, force: true });
    }
  });

  it('a DBA ends every pgferry session on both servers while the source writes: a new runner resumes by itself, nothing lost or applied twice', async () =>
    sweptByDba(pair));

  it('a lease ended again and again: the successors stop at the limit with an event saying so, and a resume goes on', async () =>
    endedAgainAndAgain(pair));

  it("an apply commit is refused by the target once the runner's lease session is gone", async () => {
    await pair.target.query('CREATE DATABASE guarded');
    await pair.target.query('CREATE TABLE t (id int PRIMARY KEY)', [], 'guarded');
    const lease = await pair.target.connect();
    lease.on('error', () => undefined); // terminated below
    const apply = await pair.target.connect('guarded');
    try {
      await lease.query('SELECT pg_advisory_lock(42)');
      const [{ pid }] = (await lease.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      const commit = (id: number) => apply.query(`BEGIN; INSERT INTO t VALUES (${id}); ${leaseGuardSql(pid)!}; COMMIT`);
      await commit(1);
      await pair.target.query('SELECT pg_terminate_backend($1)', [pid]);
      await until('the lease session to end', async () =>
        (await pair.target.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0 ? true : undefined,
      );
      const refused = await commit(2).then(
        () => assert.fail('committed without the lease'),
        (error: unknown) => error,
      );
      assert.equal(sqlState(refused), LEASE_LOST_SQLSTATE, String(refused));
      assert.ok(isRetryable(refused), 'the applier retries on a new session: it does not fail the migration');
      await apply.query('ROLLBACK');
      assert.deepEqual(await pair.target.query('SELECT id FROM t ORDER BY id', [], 'guarded'), [{ id: 1 }]);
    } finally {
      await lease.end().catch(() => undefined);
      await apply.end();
    }
  });

  it('a runner that loses its lease while asleep commits nothing when it wakes, nor after it exits; its successor loses and duplicates nothing', async () =>
    asleepWithoutLease(pair));
});

interface TargetState {
  ledger: number;
  balances: string;
  /** The source position the target's replication origin records as applied. */
  applied: string | null;
}

/** What the target holds of a ledger migration: any commit of an apply transaction changes it. */
async function targetState(target: Cluster, db: string): Promise<TargetState> {
  const [row] = await target.query<TargetState>(
    `SELECT (SELECT count(*)::int FROM ledger) AS ledger, (SELECT sum(balance)::text FROM acct) AS balances,
            (SELECT max(remote_lsn)::text FROM pg_replication_origin_status s JOIN pg_replication_origin o ON o.roident = s.local_id
              WHERE o.roname LIKE 'pgferry%') AS applied`,
    [],
    db,
  );
  // a target whose user may not use origins records the position in the progress table
  const [table] = await target.query<{ t: string | null }>(`SELECT to_regclass('pgferry.apply_progress')::text AS t`, [], db);
  if (table!.t) {
    const [progress] = await target.query<{ lsn: string | null }>(`SELECT max(lsn)::text AS lsn FROM pgferry.apply_progress`, [], db);
    row!.applied = progress!.lsn;
  }
  return row!;
}

async function ledgerCount(cluster: Cluster, db: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger', [], db);
  return row!.n;
}

/** An online migration of a fresh ledger database. */
async function ledgerMigration(
  pair: ServerPair,
  db: string,
  name: string,
  target: ServerSpec = serverSpec(pair.target),
): Promise<MigrationSpec> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(LEDGER_SQL, [], db);
  return parseMigrationSpec({
    migrationName: name,
    source: serverSpec(pair.source),
    target,
    databases: [db],
    mode: 'Online',
    option: 'Migrate',
    overwriteDbsInTarget: true,
    allowReplicaIdentityFull: true,
  });
}

/** Waits for a runner other than `oldRunner` to stream: counters past the old runner's (the state is then rewritten too). */
async function waitForResumed(store: CatalogConnection, migration: string, oldRunner: number): Promise<void> {
  const before = (await get(store, migration))!.databases[0]!.inserts;
  const resumed = await waitForStatus(
    store,
    migration,
    (s) => s.runner?.alive === true && s.state === 'WaitingForUserAction' && s.databases[0]!.inserts > before,
  );
  assert.notEqual(resumed.runner!.pid, oldRunner);
}

/** Cuts over, then reads both sides back: equal row by row, and the key-less ledger holds each source transaction once. */
async function cutOverAndCompare(
  pair: ServerPair,
  store: CatalogConnection,
  migration: string,
  db: string,
  written: number,
  catalog: ServerSpec = serverSpec(pair.target),
): Promise<void> {
  await requestCutover(catalog, migration);
  const done = await waitForStatus(store, migration, (s) => s.state === 'Succeeded' || s.state === 'Failed');
  assert.equal(done.state, 'Succeeded', done.message);
  for (const table of ['acct', 'ledger']) {
    assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
  }
  assert.equal(await ledgerCount(pair.target, db), written, 'every source transaction applied once');
}

/**
 * Waits until the target has run the position record the proxy let through: the session it
 * forwards to (found by the proxy's port to the server) idle in its transaction after the record,
 * whose answer waits for the runner (its COMMIT is sent only once the record has answered).
 */
async function releasedRecordRun(target: Cluster, conn: ProxyConnection): Promise<void> {
  let seen: { state: string; query: string }[] = [];
  await until(
    () => `the target to run the released record; the session seen: ${JSON.stringify(seen)}`,
    async () => {
      seen = await target.query<{ state: string; query: string }>(
        'SELECT state, left(query, 120) AS query FROM pg_stat_activity WHERE client_port = $1',
        [conn.upstreamPort],
      );
      return seen.some((s) => s.state === 'idle in transaction' && /apply_progress/.test(s.query)) ? true : undefined;
    },
    30_000,
    50,
  );
}

/**
 * The runner is put to sleep (a laptop lid closed) with a batch whose COMMIT is next, loses its
 * lease while asleep, and wakes: nothing may reach the target from then on, while it is still
 * alive or after it exits. The successor it starts is kept off the target until then (its lease
 * session reset at the proxy, which it waits out), so whatever reaches the target meanwhile would
 * be the old runner's; then it resumes the migration by itself. A managed-like target records the applied position in a progress table,
 * the statement just before each COMMIT; the proxy in front of the target holds one such record,
 * so the sleep lands there every time.
 */
async function asleepWithoutLease(pair: ServerPair): Promise<void> {
  const db = 'fenced_quiet';
  const proxy = new FaultProxy('target', pair.target.port);
  await proxy.start();
  const managed = await makeManagedTarget(pair.target);
  // its own control catalog: the one in postgres belongs to the superuser migrations above
  await pair.target.query(`CREATE DATABASE fence_catalog OWNER ${managed.user}`);
  const catalog = serverSpec(pair.target, { maintenanceDatabase: 'fence_catalog' });
  const spec = await ledgerMigration(pair, db, 'fenced-quiet', { ...managed, port: proxy.port, maintenanceDatabase: 'fence_catalog' });
  const store = new CatalogConnection(catalog);
  const writer = await startLedgerWriter(pair.source, db);
  let stopped: number | undefined;
  try {
    await startMigration(spec);
    const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Failed' || (s.databases[0]?.inserts ?? 0) > 50);
    assert.notEqual(streaming.state, 'Failed', streaming.message);
    const oldRunner = streaming.runner!.pid;
    const held = new Promise<ProxyConnection>((resolve) => {
      proxy.onMessage = (conn, m) => {
        const record =
          conn.startup?.application_name === 'pgferry apply' && (m.type === 'Q' || m.type === 'B') && /apply_progress/.test(m.sql ?? '');
        if (!record) return false;
        proxy.onMessage = undefined;
        resolve(conn);
        return true;
      };
    });
    const conn = await held;
    process.kill(oldRunner, 'SIGSTOP');
    stopped = oldRunner;
    // the record reaches the target while the runner sleeps: its answer waits in the runner's socket
    proxy.release(conn);
    await releasedRecordRun(pair.target, conn);
    // what the target committed while the runner held its lease
    const withLease = await targetState(pair.target, db);
    await terminateLease(pair.target, 'fence_catalog');
    const onSource = await ledgerCount(pair.source, db);
    await until('the source to commit 100 more transactions', async () =>
      (await ledgerCount(pair.source, db)) > onSource + 100 ? true : undefined,
    );
    // Woken, it starts its successor as it exits. The successor's lease session is reset at the
    // proxy until the looks below are done (the target away for it alone, which it waits out):
    // what reaches the target meanwhile can only be the old runner's.
    let successorTries = 0;
    proxy.onMessage = (conn, m) => {
      if (m.type !== 'startup' || !conn.startup?.application_name?.startsWith('pgferry runner lease ')) return false;
      successorTries += 1;
      setImmediate(() => proxy.reset(conn));
      return true;
    };
    process.kill(oldRunner, 'SIGCONT');
    stopped = undefined;
    // awake, its lease gone, until it exits: the target must not move meanwhile
    const seenAlive: TargetState[] = [];
    while (processAlive(oldRunner)) {
      seenAlive.push(await targetState(pair.target, db));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(
      seenAlive.filter((s) => JSON.stringify(s) !== JSON.stringify(withLease)),
      [],
      `nothing committed by the runner awake without its lease (${seenAlive.length} looks while it was alive; with its lease the target held ${JSON.stringify(withLease)})`,
    );
    assert.deepEqual(await targetState(pair.target, db), withLease, 'nothing committed on the target as the runner exited');
    const appliers = await pair.target.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry apply' AND datname = $1`, [
      db,
    ]);
    assert.deepEqual(appliers, [], 'the apply session ended with its runner');
    // the source writes on with no runner on the target: nothing more may reach it
    const later = await ledgerCount(pair.source, db);
    await until('the source to commit 300 more transactions', async () =>
      (await ledgerCount(pair.source, db)) > later + 300 ? true : undefined,
    );
    assert.deepEqual(await targetState(pair.target, db), withLease, 'no change committed on the target after the runner lost its lease');
    await until('the successor to try the lease', async () => (successorTries > 0 ? true : undefined));
    // the target back for it: the successor takes over, with no resume
    proxy.onMessage = undefined;
    await waitForResumed(store, spec.migrationName, oldRunner);
    await cutOverAndCompare(pair, store, spec.migrationName, db, await writer.stop(), catalog);
  } finally {
    proxy.onMessage = undefined;
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    await writer.stop().catch(() => undefined);
    await store.close();
    await proxy.close();
  }
}

/**
 * A DBA ends every session named pgferry on both servers, as before maintenance, while the source
 * writes; nobody resumes: the runner that lost its lease starts its successor, which takes over.
 */
async function sweptByDba(pair: ServerPair): Promise<void> {
  const db = 'swept';
  const spec = await ledgerMigration(pair, db, 'swept-online');
  const store = new CatalogConnection(spec.target);
  const writer = await startLedgerWriter(pair.source, db);
  try {
    await startMigration(spec);
    const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Failed' || (s.databases[0]?.inserts ?? 0) > 50);
    assert.notEqual(streaming.state, 'Failed', streaming.message);
    const oldRunner = streaming.runner!.pid;
    // as a DBA does before maintenance, on both servers
    const sweep = `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
                    WHERE application_name ILIKE '%pgferry%' AND pid <> pg_backend_pid()`;
    // both at once: an apply session ended on the target ends its stream's walsender soon after
    const [[target], [source]] = await Promise.all([pair.target.query<{ n: number }>(sweep), pair.source.query<{ n: number }>(sweep)]);
    assert.ok(target!.n > 0, `sessions ended: ${target!.n} on the target (the lease among them), ${source!.n} on the source`);
    await until('the runner that lost its lease to exit', async () => (processAlive(oldRunner) ? undefined : true), 60_000);
    // no resume: the runner that lost its lease started its successor
    await waitForResumed(store, spec.migrationName, oldRunner);
    await assertOneApplier(pair.target, spec.migrationName, db);
    const events = await catalogEvents(store, spec.migrationName, 200);
    assert.ok(
      events.some((e) =>
        /^the runner's lease session was ended on the target \(terminating connection due to administrator command\): a new runner resumed the migration \(runner \d+ on .+ took over from runner \d+\)$/.test(
          e.message,
        ),
      ),
      JSON.stringify(events.map((e) => e.message)),
    );
    await cutOverAndCompare(pair, store, spec.migrationName, db, await writer.stop());
  } finally {
    await writer.stop().catch(() => undefined);
    await store.close();
  }
}

/**
 * The lease ended again and again, each time a runner streams: the successors within the limit
 * take over, the one past it stops with an error event, and the user's resume goes on from there.
 */
async function endedAgainAndAgain(pair: ServerPair): Promise<void> {
  const db = 'swept_again';
  const spec = await ledgerMigration(pair, db, 'swept-again');
  const store = new CatalogConnection(spec.target);
  const writer = await startLedgerWriter(pair.source, db);
  try {
    await startMigration(spec);
    const runners: number[] = [];
    // the first runner and each successor the limit allows, every one streaming when its lease is ended
    for (let i = 0; i <= SUCCESSIONS_AT_MOST; i++) {
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.state === 'Failed' || (s.runner?.alive === true && !runners.includes(s.runner.pid) && s.state === 'WaitingForUserAction'),
      );
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      runners.push(streaming.runner!.pid);
      await terminateLease(pair.target, 'postgres', spec.migrationName);
    }
    const stopped = await until('the last successor to stop', async () => {
      const events = await catalogEvents(store, spec.migrationName, 200);
      return events.find((e) => /something ends pgferry's sessions again and again/.test(e.message));
    });
    assert.equal(stopped.level, 'error');
    assert.match(stopped.message, new RegExp(`the ${SUCCESSIONS_AT_MOST + 1}th time within`));
    // the successor that stopped holds the lease until it has recorded that, then lets it go and
    // exits: waited for, not read once (ci: read while it still held the lease)
    await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false, 60_000);
    await until('every runner that lost its lease to exit', async () => (runners.some(running) ? undefined : true), 60_000);
    const takeovers = (await catalogEvents(store, spec.migrationName, 200)).filter((e) =>
      /a new runner resumed the migration/.test(e.message),
    );
    assert.equal(takeovers.length, SUCCESSIONS_AT_MOST, 'each successor within the limit took over once');
    await resumeMigration(spec);
    await waitForResumed(store, spec.migrationName, runners[runners.length - 1]!);
    await cutOverAndCompare(pair, store, spec.migrationName, db, await writer.stop());
  } finally {
    await writer.stop().catch(() => undefined);
    await store.close();
  }
}
