// Azure's states pgferry lacked, each observed through `show` (the Azure resource shape) and left
// the way Azure leaves it: per-database cutover and cancel (dbsToTriggerCutoverOn,
// dbsToCancelMigrationOn) while the other databases stream, the migration window, the target
// database overwrite confirmation, CleaningUp, and the source's logical replication setup.
import assert from 'node:assert/strict';
import {
  cancelMigration,
  confirmOverwrite,
  requestDataMigrationStart,
  requestReplicationSetup,
  isFinalState,
  isPgferryError,
  requestCutover,
  resumeMigration,
  runMigration,
  showMigration,
  startMigration,
  type MigrationSpec,
  type MigrationStatus,
} from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { toAzureResource } from '../../provider/azure/shape';
import {
  CopyHold,
  endIfRunning,
  pairSpec,
  serverSpec,
  startCluster,
  startPair,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { events as catalogEvents, get, register } from '../../provider/engine/control/store';

/** A source server without logical decoding: pgferry's setup of it is what the tests look at. */
const REPLICA_ONLY = { wal_level: 'replica', max_replication_slots: '0', max_wal_senders: '0' };

/**
 * The one pair every suite below runs on, each on databases and migrations of its own; a source
 * without wal_level=logical is a server of its own (set up and restarted by its test), migrating
 * into the pair's target.
 */
let pair: ServerPair;

const TABLE = `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g`;

async function count(cluster: Cluster, database: string, where = 'true'): Promise<number> {
  const [row] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE ${where}`, [], database);
  return row!.n;
}

/** The status as `pgferry show -o json` prints it (the Azure resource's currentStatus). */
function azureStatus(status: MigrationStatus) {
  const properties = toAzureResource(status).properties;
  const current = properties.currentStatus;
  return {
    state: current.state,
    subState: current.currentSubStateDetails.currentSubState,
    dbs: Object.fromEntries(Object.entries(current.currentSubStateDetails.dbDetails).map(([db, d]) => [db, d.migrationState])),
    cutoverOn: properties.dbsToTriggerCutoverOn,
    cancelOn: properties.dbsToCancelMigrationOn,
  };
}

/** The replication slots on the source of one migration (their names carry the migration's). */
async function slotsOnSource(pair: ServerPair, migration: string): Promise<number> {
  const [row] = await pair.source.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE $1`, [
    `pgferry_s_${migration.replace(/-/g, '_')}_%`,
  ]);
  return row!.n;
}

/** Cuts over alpha alone, checks beta streams on, then cuts over beta. */
async function cutsOverOneThenTheOther(
  pair: ServerPair,
  store: CatalogConnection,
  spec: MigrationSpec,
  running: Promise<MigrationStatus>,
): Promise<void> {
  await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
  await pair.source.query(`UPDATE items SET v = 'before' WHERE id <= 5`, [], 'alpha');
  const asked = await requestCutover(spec.target, spec.migrationName, ['alpha']);
  assert.deepEqual(azureStatus(asked).cutoverOn, ['alpha']);
  const alphaDone = await waitForStatus(store, spec.migrationName, (s) => s.databases[0]?.state === 'Succeeded' || s.state === 'Failed');
  assert.equal(alphaDone.databases[1]!.state, 'WaitingForCutoverTrigger', alphaDone.message);
  // alpha's own downtime is recorded; beta has none yet
  assert.equal(typeof alphaDone.databases[0]!.downtimeSeconds, 'number');
  assert.equal(alphaDone.databases[1]!.downtimeSeconds, undefined);
  assert.equal(await count(pair.target, 'alpha', `v = 'before'`), 5);
  // beta streams on: a change made now reaches the target; alpha's slot is gone, beta's stays
  await pair.source.query(`UPDATE items SET v = 'streamed' WHERE id <= 7`, [], 'beta');
  await until('beta receives the change', async () => ((await count(pair.target, 'beta', `v = 'streamed'`)) === 7 ? true : undefined));
  assert.equal(await slotsOnSource(pair, spec.migrationName), 1);
  const streaming = azureStatus((await showMigration(spec.target, spec.migrationName))!);
  assert.deepEqual(
    [streaming.state, streaming.subState, streaming.dbs],
    ['WaitingForUserAction', 'WaitingForCutoverTrigger', { alpha: 'Succeeded', beta: 'WaitingForCutoverTrigger' }],
  );
  await pair.source.query(`UPDATE items SET v = 'last' WHERE id <= 3`, [], 'beta');
  await requestCutover(spec.target, spec.migrationName, ['beta']);
  const done = await running;
  assert.equal(done.state, 'Succeeded', done.message);
  assert.equal(await count(pair.target, 'beta', `v = 'last'`), 3);
  assert.equal(await count(pair.target, 'beta', `v = 'streamed'`), 4);
  assert.equal(await slotsOnSource(pair, spec.migrationName), 0);
  // each database has the downtime of its own cutover; the migration's is the longest of them
  const [alpha, beta] = done.databases.map((d) => d.downtimeSeconds!);
  assert.ok(alpha! > 0 && beta! > 0, `${alpha} ${beta}`);
  assert.equal(alphaDone.databases[0]!.downtimeSeconds, alpha, "beta's cutover leaves alpha's downtime as it was");
  assert.equal(done.downtimeSeconds, Math.max(alpha!, beta!));
}

/** Cancels gamma alone, checks delta streams on, then cuts over the migration. */
async function cancelsOneCutsOverTheOther(
  pair: ServerPair,
  store: CatalogConnection,
  spec: MigrationSpec,
  running: Promise<MigrationStatus>,
): Promise<void> {
  await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
  await cancelMigration(spec.target, spec.migrationName, { databases: ['gamma'] });
  const canceled = await waitForStatus(store, spec.migrationName, (s) => s.databases[0]?.state === 'Canceled' || s.state === 'Failed');
  assert.deepEqual(azureStatus(canceled).dbs, { gamma: 'Canceled', delta: 'WaitingForCutoverTrigger' });
  assert.deepEqual(azureStatus(canceled).cancelOn, ['gamma']);
  assert.equal(await slotsOnSource(pair, spec.migrationName), 1);
  await pair.source.query(`DELETE FROM items WHERE id > 490`, [], 'delta');
  await until('delta receives the delete', async () => ((await count(pair.target, 'delta')) === 490 ? true : undefined));
  await requestCutover(spec.target, spec.migrationName);
  const done = await running;
  assert.equal(done.state, 'Succeeded');
  assert.equal(done.message, 'cut over; gamma canceled by the user and not migrated');
  assert.equal(await slotsOnSource(pair, spec.migrationName), 0);
}

/**
 * Kills the runner while it waits for the overwrite confirmation, confirms then (no runner can act
 * on it first), and resumes with the spec as created: the resumed runner is the one that overwrites.
 */
async function resumesAfterConfirmedOverwrite(pair: ServerPair, store: CatalogConnection): Promise<void> {
  await pair.target.query(`CREATE DATABASE confirmed`);
  await pair.target.query(`CREATE TABLE older (x int)`, [], 'confirmed');
  await pair.source.query(`CREATE DATABASE confirmed`);
  await pair.source.query(TABLE, [], 'confirmed');
  const spec = pairSpec(pair, 'overwrite-resume', ['confirmed'], { waitForOverwriteConfirmation: true, option: 'Migrate' });
  await startMigration(spec);
  const waiting = await waitForStatus(
    store,
    spec.migrationName,
    (s) => (s.subState === 'WaitingForTargetDBOverwriteConfirmation' && s.runner !== undefined) || s.state === 'Failed',
  );
  process.kill(waiting.runner!.pid, 'SIGKILL');
  await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
  const confirmed = await confirmOverwrite(spec.target, spec.migrationName);
  // nothing acted on the confirmation yet: the target database is as it was
  assert.equal((await pair.target.query(`SELECT 1 FROM pg_class WHERE relname = 'older'`, [], 'confirmed')).length, 1);
  assert.equal((toAzureResource(confirmed).properties as { overwriteDbsInTarget: string }).overwriteDbsInTarget, 'True');
  // the stored spec is the one created: resuming with it is the same migration
  assert.equal((await showMigration(spec.target, spec.migrationName))!.spec.overwriteDbsInTarget, false);
  await resumeMigration(spec);
  const done = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
  assert.equal(done.state, 'Succeeded', done.message);
  assert.equal(await count(pair.target, 'confirmed'), 500);
  assert.equal((await pair.target.query(`SELECT 1 FROM pg_class WHERE relname = 'older'`, [], 'confirmed')).length, 0);
  // a resume that widens what may be dropped without a confirmation is still another migration
  await pair.target.query(`CREATE DATABASE unconfirmed`);
  await pair.source.query(`CREATE DATABASE unconfirmed`);
  const unconfirmed = pairSpec(pair, 'overwrite-unconfirmed', ['unconfirmed'], { waitForOverwriteConfirmation: true, option: 'Migrate' });
  const running = runMigration(unconfirmed);
  try {
    await waitForStatus(store, unconfirmed.migrationName, (s) => s.subState === 'WaitingForTargetDBOverwriteConfirmation');
    await assert.rejects(
      resumeMigration({ ...unconfirmed, overwriteDbsInTarget: true }),
      (e: unknown) => isPgferryError(e) && e.code === 'SPEC_MISMATCH',
    );
  } finally {
    await endIfRunning(unconfirmed, running);
  }
}

/**
 * A window that closed while no runner ran: registered with an end 2 s away, no runner started
 * until after it, then resumed. The check before the copy ends it ValidationFailed, nothing copied.
 */
async function endsWhenTheWindowWasMissed(pair: ServerPair, store: CatalogConnection): Promise<void> {
  const spec = pairSpec(pair, 'window-missed', ['early'], {
    option: 'Migrate',
    migrationWindowEndTimeInUtc: new Date(Date.now() + 2_000).toISOString(),
  });
  await register(store, spec);
  await new Promise((r) => setTimeout(r, 2_500));
  await resumeMigration(spec);
  const done = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
  assert.deepEqual([done.state, done.subState], ['ValidationFailed', 'Completed']);
  assert.match(
    done.message!,
    /^the migration window closed at .* before the copy started \(was its runner stopped\?\); nothing was copied/,
  );
  assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'early'`)).length, 0);
}

function azureStatesAndPerDatabase(this: Mocha.Suite): void {
  this.timeout(400_000);
  let store: CatalogConnection;
  before(async () => {
    for (const db of ['alpha', 'beta', 'gamma', 'delta', 'early', 'kept', 'clean']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(TABLE, [], db);
    }
    store = new CatalogConnection(serverSpec(pair.target));
  });
  after(async () => store?.close());

  it('cuts over one database while the other keeps streaming and receiving changes, then the other', async () => {
    const spec = pairSpec(pair, 'per-db-cutover', ['alpha', 'beta'], { mode: 'Online', option: 'Migrate' });
    const running = runMigration(spec);
    try {
      await cutsOverOneThenTheOther(pair, store, spec, running);
    } finally {
      await endIfRunning(spec, running);
    }
  });

  it('refuses a per-database request naming a database the migration does not migrate, in one line', async () => {
    const spec = pairSpec(pair, 'per-db-refused', ['gamma'], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const running = runMigration(spec);
    try {
      await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
      await assert.rejects(requestCutover(spec.target, spec.migrationName, ['nosuch']), (e: unknown) => {
        assert.ok(isPgferryError(e) && e.code === 'DATABASE_NOT_MIGRATED');
        assert.equal((e as Error).message, 'dbsToTriggerCutoverOn: nosuch is not migrated by this migration; it migrates gamma');
        return true;
      });
    } finally {
      await cancelMigration(spec.target, spec.migrationName);
      assert.equal((await running).state, 'Canceled');
    }
  });

  it('cancels one database while the other streams on; the migration then cuts over and ends Succeeded', async () => {
    const spec = pairSpec(pair, 'per-db-cancel', ['gamma', 'delta'], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const running = runMigration(spec);
    try {
      await cancelsOneCutsOverTheOther(pair, store, spec, running);
    } finally {
      await endIfRunning(spec, running);
    }
  });

  it('refuses a migration window in the past or ending before it starts, registering nothing', async () => {
    const past = pairSpec(pair, 'window-past', ['early'], { migrationWindowEndTimeInUtc: '2001-01-01T00:00:00Z' });
    await assert.rejects(runMigration(past), /^PgferryError: migrationWindowEndTimeInUtc \(2001-01-01T00:00:00.000Z\) is in the past/);
    assert.equal(await showMigration(past.target, 'window-past'), undefined);
    assert.throws(
      () =>
        pairSpec(pair, 'window-reversed', ['early'], {
          migrationWindowStartTimeInUtc: '2030-01-02T00:00',
          migrationWindowEndTimeInUtc: '2030-01-01T00:00',
        }),
      /migrationWindowEndTimeInUtc: must be after migrationWindowStartTimeInUtc \(2030-01-02T00:00:00.000Z\)/,
    );
  });

  it('ends ValidationFailed, nothing copied, when the window closed before any runner started the copy', () =>
    endsWhenTheWindowWasMissed(pair, store));

  it('waits for a migration window that opens in the future, then runs', async () => {
    const start = new Date(Date.now() + 8_000).toISOString();
    const spec = pairSpec(pair, 'window-future', ['early'], { migrationWindowStartTimeInUtc: start, option: 'Migrate' });
    const running = runMigration(spec);
    const waiting = await waitForStatus(store, spec.migrationName, (s) => s.subState !== 'WaitingForDataMigrationScheduling');
    assert.deepEqual([azureStatus(waiting).state, azureStatus(waiting).subState], ['InProgress', 'WaitingForDataMigrationWindow']);
    assert.equal(await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'early'`).then((r) => r.length), 0);
    const done = await running;
    assert.equal(done.state, 'Succeeded', done.message);
    assert.ok(Date.parse(done.startedAt!) >= Date.parse(start), `${done.startedAt} before ${start}`);
    assert.equal(await count(pair.target, 'early'), 500);
  });

  it('waits for the overwrite of an existing target database to be allowed, then migrates over it', async () => {
    await pair.target.query(`CREATE DATABASE kept`);
    await pair.target.query(`CREATE TABLE older (x int)`, [], 'kept');
    const spec = pairSpec(pair, 'overwrite-wait', ['kept'], { waitForOverwriteConfirmation: true, option: 'Migrate' });
    const running = runMigration(spec);
    const waiting = await waitForStatus(
      store,
      spec.migrationName,
      (s) => s.subState === 'WaitingForTargetDBOverwriteConfirmation' || s.state === 'Failed',
    );
    assert.equal(azureStatus(waiting).state, 'WaitingForUserAction');
    assert.match(waiting.message!, /target database\(s\) kept exist .* `pgferry update --name overwrite-wait --overwrite-dbs-in-target`/);
    // nothing changed on the target while it waits
    assert.equal((await pair.target.query(`SELECT 1 FROM pg_class WHERE relname = 'older'`, [], 'kept')).length, 1);
    await confirmOverwrite(spec.target, spec.migrationName);
    const done = await running;
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(await count(pair.target, 'kept'), 500);
    assert.equal((await pair.target.query(`SELECT 1 FROM pg_class WHERE relname = 'older'`, [], 'kept')).length, 0);
  });

  it('resumes a migration whose runner was killed waiting for the overwrite confirmation, confirmed meanwhile, with the spec it was created with', () =>
    resumesAfterConfirmedOverwrite(pair, store));

  it('shows CleaningUp while a cancel releases what it holds, and a resumed runner finishes it Canceled', async () => {
    const spec = pairSpec(pair, 'cleaning-up', ['clean'], { mode: 'Online', option: 'Migrate' });
    // the runner inherits the environment: it dies as it starts releasing "clean"
    process.env.PGFERRY_FAILPOINTS = 'cleanup-release:clean';
    try {
      await startMigration(spec);
    } finally {
      delete process.env.PGFERRY_FAILPOINTS;
    }
    await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
    await cancelMigration(spec.target, spec.migrationName);
    const killed = await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
    assert.deepEqual(
      [azureStatus(killed).state, azureStatus(killed).subState, azureStatus(killed).dbs],
      ['CleaningUp', 'CancelingRequestedDBMigrations', { clean: 'Canceling' }],
    );
    assert.equal(await slotsOnSource(pair, spec.migrationName), 1);
    await resumeMigration(spec);
    const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Canceled' || s.state === 'Failed');
    assert.equal(done.state, 'Canceled', done.message);
    assert.equal(done.databases[0]!.state, 'Canceled');
    await until('the slot is released', async () => ((await slotsOnSource(pair, spec.migrationName)) === 0 ? true : undefined));
  });
}

function setupOnLogicalReplicaSource(this: Mocha.Suite): void {
  this.timeout(300_000);
  let source: Cluster;
  let target: Cluster;
  before(async () => {
    source = await startCluster({ label: 'src-replica', settings: REPLICA_ONLY });
    target = pair.target;
    await source.query(`CREATE DATABASE shop`);
    await source.query(TABLE, [], 'shop');
  });
  after(async () => source?.stop());

  it('sets wal_level with ALTER SYSTEM, waits for the restart it never does itself, then streams', async () => {
    const spec = pairSpec({ source, target } as ServerPair, 'logical-setup', ['shop'], {
      mode: 'Online',
      setupLogicalReplicationOnSourceDbIfNeeded: true,
    });
    const targetStore = new CatalogConnection(spec.target);
    try {
      const running = runMigration(spec);
      const waiting = await waitForStatus(
        targetStore,
        'logical-setup',
        (s) => s.subState === 'WaitingForLogicalReplicationSetupRequestOnSourceDB' || s.state === 'Failed',
      );
      assert.equal(azureStatus(waiting).state, 'WaitingForUserAction');
      assert.match(
        waiting.message!,
        /pgferry set wal_level=logical, max_replication_slots=1, max_wal_senders=1 on the source with ALTER SYSTEM: restart the source server/,
      );
      const [level] = await source.query<{ wal_level: string }>(`SELECT current_setting('wal_level') AS wal_level`);
      assert.equal(level!.wal_level, 'replica'); // not restarted by pgferry
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await get(targetStore, 'logical-setup'))!.subState, 'WaitingForLogicalReplicationSetupRequestOnSourceDB');
      await source.restart();
      const streaming = await waitForStatus(
        targetStore,
        'logical-setup',
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed',
      );
      assert.equal(streaming.state, 'WaitingForUserAction', streaming.message);
      await source.query(`INSERT INTO items VALUES (1000, 'after setup')`, [], 'shop');
      await until('the insert streams', async () => ((await count(target, 'shop')) === 501 ? true : undefined));
      await requestCutover(spec.target, 'logical-setup');
      assert.equal((await running).state, 'Succeeded');
    } finally {
      await targetStore.close();
    }
  });
}

function offlineCancelingSome(this: Mocha.Suite): void {
  this.timeout(300_000);
  before(async () => {
    for (const db of ['offa', 'offb', 'offc']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(TABLE, [], db);
    }
    // offa's copy is held mid-stream by a proxy (the test below) until its cancel is noticed
    await pair.source.query(`INSERT INTO items SELECT g, repeat('p', 300) FROM generate_series(501, 2500) g`, [], 'offa');
  });

  it('stops the database being copied, never starts one canceled before its turn, copies the others', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    // offa's COPY held mid-stream: the cancel lands while it is being copied, however fast the
    // machine (600,000 unheld rows were copied whole before the cancel on a quiet one)
    const hold = await CopyHold.start(pair.target, /"items"/);
    const spec = pairSpec(pair, 'offline-some', ['offa', 'offb', 'offc'], {
      option: 'Migrate',
      tableJobs: 1,
      target: serverSpec(pair.target, { port: hold.port }),
    });
    const running = runMigration(spec);
    try {
      await hold.whenHeld();
      const asked = await cancelMigration(spec.target, spec.migrationName, { databases: ['offa', 'offc'] });
      assert.deepEqual(azureStatus(asked).cancelOn, ['offa', 'offc']);
      // the runner notices the cancel while the COPY is held (its rows may all be sent, the
      // server's answer held), says so, and rolls the copy back once the target answers again
      await waitForStatus(store, spec.migrationName, (s) => s.databases.find((d) => d.database === 'offa')?.state === 'Canceling');
      hold.release();
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.message, 'copied; offa, offc canceled by the user and not migrated');
      assert.deepEqual(azureStatus(done).dbs, { offa: 'Canceled', offb: 'Succeeded', offc: 'Canceled' });
      // offb whole; offa stopped short of its 2,500 rows (counted, not the lazily flushed n_live_tup); offc never created on the target
      assert.equal(await count(pair.target, 'offb'), 500);
      const offa = await count(pair.target, 'offa');
      assert.ok(offa < 2_500, `offa has ${offa} rows`);
      assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'offc'`)).length, 0);
      const events = await catalogEvents(store, spec.migrationName, 200);
      assert.ok(
        events.some((e) => e.database === 'offa' && /its copy stopped/.test(e.message)),
        JSON.stringify(events),
      );
    } finally {
      hold.release();
      await endIfRunning(spec, running);
      await store.close();
      await hold.close();
    }
  });
}

function setupReplicationAsked(this: Mocha.Suite): void {
  this.timeout(300_000);
  let source: Cluster;
  let target: Cluster;
  before(async () => {
    source = await startCluster({ label: 'src-asked', settings: REPLICA_ONLY });
    target = pair.target;
    await source.query(`CREATE DATABASE asked`);
    await source.query(TABLE, [], 'asked');
  });
  after(async () => source?.stop());

  /** The source settings waiting for a restart (set by ALTER SYSTEM, not applied yet). */
  const pendingRestart = async () =>
    (await source.query<{ name: string }>(`SELECT name FROM pg_settings WHERE pending_restart ORDER BY name`)).map((r) => r.name);

  it('waits for the setup request without changing the source, sets it up when asked, streams after a restart slower than its looks', async () => {
    const spec = pairSpec({ source, target } as ServerPair, 'asked-setup', ['asked'], { mode: 'Online', option: 'Migrate' });
    const store = new CatalogConnection(spec.target);
    try {
      // not waiting yet: refused in one line, naming the state it applies in
      await assert.rejects(
        requestReplicationSetup(spec.target, 'asked-setup'),
        /^PgferryError: migration "asked-setup" not found on the target$/,
      );
      const running = runMigration(spec);
      const waiting = await waitForStatus(
        store,
        'asked-setup',
        (s) => s.subState === 'WaitingForLogicalReplicationSetupRequestOnSourceDB' || isFinalState(s.state),
      );
      assert.equal(azureStatus(waiting).state, 'WaitingForUserAction');
      assert.match(waiting.message!, /pgferry update --name asked-setup --setup-replication/);
      assert.match(waiting.message!, /ALTER SYSTEM SET wal_level = 'logical';/);
      // nothing changed on the source until asked
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(await pendingRestart(), []);
      await requestReplicationSetup(spec.target, 'asked-setup');
      await until('pgferry sets the source up', async () => ((await pendingRestart()).includes('wal_level') ? true : undefined));
      const asked = (await get(store, 'asked-setup'))!;
      assert.equal(asked.subState, 'WaitingForLogicalReplicationSetupRequestOnSourceDB');
      const [level] = await source.query<{ wal_level: string }>(`SELECT current_setting('wal_level') AS wal_level`);
      assert.equal(level!.wal_level, 'replica'); // pgferry never restarts the source
      // the user's restart, slow: the source away across more than one of pgferry's looks at it
      await source.crash();
      await new Promise((r) => setTimeout(r, 5000));
      await source.start();
      const streaming = await waitForStatus(
        store,
        'asked-setup',
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message ?? ''}`);
      await source.query(`INSERT INTO items VALUES (1000, 'after setup')`, [], 'asked');
      await until('the insert streams', async () => ((await count(target, 'asked')) === 501 ? true : undefined));
      await requestCutover(spec.target, 'asked-setup');
      assert.equal((await running).state, 'Succeeded');
      assert.equal(await count(target, 'asked', `v = 'after setup'`), 1);
      // a request to a migration that no longer waits for it is refused in one line
      await assert.rejects(requestReplicationSetup(spec.target, 'asked-setup'), (e: unknown) => {
        assert.ok(isPgferryError(e) && e.code === 'SETUP_REPLICATION_NOT_WAITING', String(e));
        assert.equal(
          (e as Error).message,
          'migration "asked-setup" is Succeeded/Completed; a logical replication setup request applies only in WaitingForLogicalReplicationSetupRequestOnSourceDB',
        );
        return true;
      });
    } finally {
      await store.close();
    }
  });
}

function startDataMigrationFalse(this: Mocha.Suite): void {
  this.timeout(300_000);
  before(async () => {
    await pair.source.query(`CREATE DATABASE later`);
    await pair.source.query(TABLE, [], 'later');
  });

  it('validates, copies nothing until the data migration is started, then migrates', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    const spec = pairSpec(pair, 'start-later', ['later'], { option: 'ValidateAndMigrate', startDataMigration: false });
    const running = runMigration(spec);
    try {
      const waiting = await waitForStatus(
        store,
        'start-later',
        (s) => s.subState === 'WaitingForDataMigrationScheduling' || isFinalState(s.state),
      );
      assert.equal(azureStatus(waiting).state, 'InProgress');
      assert.match(waiting.message!, /pgferry update --name start-later --start-data-migration/);
      // validated first (the option asks for it), and nothing failed
      assert.ok(waiting.validation.length > 0);
      assert.deepEqual(
        waiting.validation.filter((v) => v.status === 'Failed').map((v) => v.code),
        [],
      );
      const shown = toAzureResource(waiting).properties as { startDataMigration: string };
      assert.equal(shown.startDataMigration, 'False');
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'later'`)).length, 0);
      await requestDataMigrationStart(spec.target, 'start-later');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(await count(pair.target, 'later'), 500);
      await assert.rejects(
        requestDataMigrationStart(spec.target, 'start-later'),
        (e: unknown) => isPgferryError(e) && e.code === 'DATA_MIGRATION_NOT_WAITING',
      );
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
}

describe('Azure states, per-database operations, setup and scheduling (integration)', function () {
  this.timeout(400_000);
  before(async () => {
    pair = await startPair();
  });
  after(async () => pair?.stop());

  describe("Azure's states and per-database operations (integration)", azureStatesAndPerDatabase);
  describe('setupLogicalReplicationOnSourceDbIfNeeded on a source without wal_level=logical (integration)', setupOnLogicalReplicaSource);
  describe('an offline migration canceling some of its databases (integration)', offlineCancelingSome);
  describe('az update --setup-replication on a source without wal_level=logical (integration)', setupReplicationAsked);
  describe('startDataMigration: False (integration)', startDataMigrationFalse);
});
