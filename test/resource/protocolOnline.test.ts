// Protocol against real servers: an Online PgMigration through the SDK's provider host — create
// returns with changes streaming, changes made on the source reach the target, refresh shows the
// counters, `cutover: true` cuts over (Succeeded, identical, downtime), and destroying an online
// migration in progress leaves no slot or publication on the source.
import assert from 'node:assert/strict';
import { showMigration } from '../../provider/engine';
import { serverSpec, until, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { secretLeaks, startProviderHost, type CallError, type ProviderHost } from './support/providerHost';
import { closeProtocolPair, openProtocolPair } from './support/protocolPair';

const SOURCE_PW = 'src-Online-0c6d19';
const TARGET_PW = 'dst-Online-b93f5a';
const SERVERS = {
  label: 'res',
  sourcePassword: SOURCE_PW,
  targetPassword: TARGET_PW,
  shops: ['shop', 'scratch', 'orphan', 'direct', 'renamed', 'live'],
};

// One pair of servers and one provider host for the whole file, started by the outer describe's
// hooks; the groups below run in order and share the migration the first one creates.
let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;
const earlierHosts: ProviderHost[] = [];
let id: string;
let outputs: Record<string, unknown>;

const inputs = (overrides: Record<string, unknown> = {}) => ({
  migrationName: 'proto-online',
  source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW },
  target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW },
  databases: ['shop'],
  mode: 'Online',
  cutover: false,
  tableJobs: 2,
  customTimeouts: { create: '5m', update: '5m', delete: '2m' },
  __provider: provider,
  ...overrides,
});

const slotsOnSource = async () =>
  (await source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pgferry%'`)).map(
    (r) => r.slot_name,
  );

describe('protocol: Online PgMigration against real servers', function () {
  this.timeout(300_000);
  before(async () => {
    ({ source, target, provider, program, host } = await openProtocolPair(SERVERS));
  });
  after(() => closeProtocolPair({ source, target, host, program }));

  describe('streaming before the cutover', streamingBeforeCutover);
  describe('cutover', cutover);
  describe('a live target database is not overwritten unless named', liveTargetDatabase);
  describe('delete while streaming', deleteWhileStreaming);
  describe('a resource renamed without an alias', renamedWithoutAlias);
  describe('no secret anywhere', noSecretAnywhere);
});

function streamingBeforeCutover(): void {
  it('Create returns once the copy is done and changes stream (WaitingForCutoverTrigger)', async () => {
    const checked = await host.check({}, inputs());
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    id = created.id;
    outputs = created.properties;
    assert.equal(outputs.subState, 'WaitingForCutoverTrigger', String(outputs.message));
    assert.equal(outputs.state, 'WaitingForUserAction');
    assert.equal(outputs.runnerAlive, true, 'the runner outlives the create call');
    assert.equal((await slotsOnSource()).length, 1);
  });

  it('the runner outlives the provider host, which Pulumi stops after each operation', async () => {
    const runnerPid = (await showMigration(serverSpec(target), 'proto-online'))!.runner!.pid;
    await host.stop();
    const stoppedAt = Date.now();
    earlierHosts.push(host);
    host = await startProviderHost(program.dir);
    await host.configure({});
    // The runner heartbeats after the host and its process group are gone: it is alive, not a stale row.
    await until('a runner heartbeat after the provider host stopped', async () => {
      const runner = (await showMigration(serverSpec(target), 'proto-online'))?.runner;
      return runner && Date.parse(runner.heartbeatAt) > stoppedAt ? true : undefined;
    });
    assert.doesNotThrow(() => process.kill(runnerPid, 0), 'the runner process is alive');
    const read = await host.read(id, outputs);
    assert.equal(read.properties.runnerAlive, true);
    assert.equal((await showMigration(serverSpec(target), 'proto-online'))!.runner!.pid, runnerPid, 'the same runner');
    assert.ok(!host.stdout.some((l) => /restarting/.test(l)), 'no restart was needed');
  });

  it('changes made on the source appear on the target, and Read reports them', async () => {
    await source.query(
      `INSERT INTO customers (email) VALUES ('late@example.com');
       UPDATE orders SET total = total + 1 WHERE id <= 10;
       DELETE FROM orders WHERE id > 1990;`,
      [],
      'shop',
    );
    await until('the changes on the target', async () => {
      const rows = await target.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM customers WHERE email = 'late@example.com'`,
        [],
        'shop',
      );
      const orders = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders`, [], 'shop');
      return rows[0]!.n === 1 && orders[0]!.n === 1990 ? true : undefined;
    });
    const read = await until('counters in the catalog', async () => {
      const r = await host.read(id, outputs);
      const db = (r.properties.databaseDetails as { inserts: number; updates: number; deletes: number }[])[0]!;
      return db.inserts >= 1 && db.updates >= 10 && db.deletes >= 10 ? r : undefined;
    });
    assert.equal(read.properties.subState, 'WaitingForCutoverTrigger');
    outputs = read.properties;
  });

  it('Read reports the latency and pending bytes of a stream the target holds back, and their fall once it catches up', async () => {
    type Lag = { latencySeconds?: number; pendingBytes?: number };
    const lagOf = async () => (await host.read(id, outputs)).properties.databaseDetails as Lag[];
    const onTarget = async (email: string) =>
      (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email = $1`, [email], 'shop'))[0]!.n;
    // a transaction applied first, so the one held next is the oldest not applied
    await source.query(`INSERT INTO customers (email) VALUES ('applied@example.com')`, [], 'shop');
    await until('the applied row on the target', async () => ((await onTarget('applied@example.com')) === 1 ? true : undefined));
    const blocker = await target.connect('shop');
    let held: Lag;
    try {
      // SHARE mode: the stream's inserts wait, reads go on
      await blocker.query('BEGIN; LOCK TABLE customers IN SHARE MODE');
      await source.query(`INSERT INTO customers (email) VALUES ('held@example.com')`, [], 'shop');
      // The latency is how long the oldest transaction not applied has waited since it arrived, so
      // while the lock holds it back each report must be later than the one before.
      const first = await until('Read to report the held transaction as latency and pending bytes', async () => {
        const [db] = await lagOf();
        return (db?.latencySeconds ?? 0) > 0 && (db?.pendingBytes ?? 0) > 0 ? db : undefined;
      });
      held = await until('Read to report the latency grown while the transaction is held', async () => {
        const [db] = await lagOf();
        return (db?.latencySeconds ?? 0) >= first.latencySeconds! + 1 ? db : undefined;
      });
      assert.ok(held.pendingBytes! >= first.pendingBytes!, `pending ${held.pendingBytes} B, first ${first.pendingBytes} B`);
      assert.equal(await onTarget('held@example.com'), 0, 'the held row is not on the target yet');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    const caughtUp = await until('Read to report the stream caught up', async () => {
      const [db] = await lagOf();
      return db?.latencySeconds === 0 && (db.pendingBytes ?? Infinity) < held.pendingBytes! ? db : undefined;
    });
    assert.equal(await onTarget('held@example.com'), 1);
    assert.ok(caughtUp.pendingBytes! >= 0);
  });
}

function cutover(): void {
  it('Diff: cutover false → true is an update; Update cuts over to Succeeded, identical, with the downtime', async () => {
    const news = inputs({ cutover: true });
    const diff = await host.diff(id, outputs, news);
    assert.equal(diff.changes, 2);
    assert.deepEqual(diff.replaces, []);
    await source.query(`INSERT INTO customers (email) VALUES ('last-before-cutover@example.com')`, [], 'shop');
    const updated = await host.update(id, outputs, news);
    assert.equal(updated.properties.state, 'Succeeded', String(updated.properties.message));
    assert.equal(updated.properties.subState, 'Completed');
    assert.equal((updated.properties.verification as { ok: boolean } | undefined)?.ok, true);
    assert.equal(typeof updated.properties.downtimeSeconds, 'number');
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
    assert.deepEqual(await slotsOnSource(), [], 'cutover removes the slot');
    outputs = updated.properties;
  });

  it('Check refuses cutover true → false afterwards', async () => {
    const res = await host.check(inputs({ cutover: true }), inputs({ cutover: false }));
    assert.deepEqual(
      res.failures.map((f) => f.property),
      ['cutover'],
    );
  });

  it('Create with cutover already true migrates, streams and cuts over in one `pulumi up`', async () => {
    const created = await host.create(inputs({ migrationName: 'proto-online-direct', databases: ['direct'], cutover: true }));
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    assert.deepEqual(await fingerprint(target, 'direct'), await fingerprint(source, 'direct'));
    assert.deepEqual(await slotsOnSource(), []);
  });
}

function deleteWhileStreaming(): void {
  it('Delete of an in-progress online migration cancels it and leaves no slot or publication on the source', async () => {
    const news = inputs({ migrationName: 'proto-online-cancel', databases: ['scratch'] });
    const created = await host.create(news);
    assert.equal(created.properties.subState, 'WaitingForCutoverTrigger');
    assert.equal((await slotsOnSource()).length, 1);
    await host.delete(created.id, created.properties);
    assert.deepEqual(await slotsOnSource(), []);
    const pubs = await source.query(`SELECT pubname FROM pg_publication WHERE pubname LIKE 'pgferry%'`, [], 'scratch');
    assert.deepEqual(pubs, []);
    const [row] = await target.query<{ state: string }>(`SELECT state FROM pgferry.migration WHERE name = 'proto-online-cancel'`);
    assert.ok(row === undefined || row.state === 'Canceled', JSON.stringify(row));
    // target databases are kept
    assert.equal((await target.query(`SELECT 1 FROM pg_database WHERE datname = 'scratch'`)).length, 1);
  });

  it('Delete of an online migration whose runner died restarts it to cancel, leaving no slot', async () => {
    const created = await host.create(inputs({ migrationName: 'proto-online-dead', databases: ['orphan'] }));
    assert.equal(created.properties.subState, 'WaitingForCutoverTrigger');
    const [{ pid }] = await target.query<{ pid: number }>(
      `SELECT (runner->>'pid')::int AS pid FROM pgferry.migration WHERE name = 'proto-online-dead'`,
    );
    // The runner was started by this test's provider host; stop it as a crash would.
    process.kill(pid!, 'SIGKILL');
    await until('the lease to be free', async () => {
      const status = await showMigration(
        {
          host: target.host,
          port: target.port,
          user: target.user,
          password: TARGET_PW,
          sslMode: 'prefer',
          maintenanceDatabase: 'postgres',
        },
        'proto-online-dead',
      );
      return status?.runner && !status.runner.alive ? true : undefined;
    });
    assert.equal((await slotsOnSource()).length, 1, 'the dead runner left its slot');
    await host.delete(created.id, created.properties);
    assert.deepEqual(await slotsOnSource(), []);
  });
}

/** A migration's catalog row as the servers hold it: state and owner. */
const migrationRow = async (name: string) =>
  (
    await target.query<{ state: string; sub_state: string; resource_owner: string | null }>(
      `SELECT state, sub_state, resource_owner FROM pgferry.migration WHERE name = $1`,
      [name],
    )
  )[0];
const onTarget = async (database: string, email: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email = $1`, [email], database))[0]!.n;

function liveTargetDatabase(): void {
  it('swapping in a PgMigration with overwriteDbsInTarget "True" over a database cut over is refused: rows kept, no slot', async () => {
    const before = await fingerprint(target, 'shop');
    const checked = await host.check({}, inputs({ migrationName: 'proto-online-swap', overwriteDbsInTarget: 'True' }));
    assert.deepEqual(checked.failures, []);
    let failed: CallError['initFailed'];
    await assert.rejects(host.create(checked.inputs), (error: CallError) => {
      assert.match(
        error.message,
        /TARGET_DATABASE_LIVE: database shop on the target is live \(migration "proto-online" cut over into it .*\): overwriteDbsInTarget would drop it/,
      );
      assert.match(error.message, /overwriteLiveDbsInTarget \(CLI: --overwrite-live-dbs-in-target shop\)/);
      failed = error.initFailed;
      return true;
    });
    assert.deepEqual(await fingerprint(target, 'shop'), before, "the cut-over database's rows are all there");
    assert.deepEqual(await slotsOnSource(), [], 'no slot on the source');
    assert.equal((await migrationRow('proto-online-swap'))?.state, 'ValidationFailed');
    await host.delete(failed!.id, failed!.properties);
    // without the validation (option Migrate), the run's own gate refuses it before any change
    const migrate = inputs({ migrationName: 'proto-online-swap-migrate', option: 'Migrate', overwriteDbsInTarget: true });
    await assert.rejects(host.create(migrate), (error: CallError) => {
      assert.match(error.message, /database shop on the target is live \(migration "proto-online" cut over into it .*nothing was changed/);
      failed = error.initFailed;
      return true;
    });
    assert.deepEqual(await fingerprint(target, 'shop'), before, "the cut-over database's rows are all there");
    assert.deepEqual(await slotsOnSource(), [], 'no slot on the source');
    assert.equal(
      (await migrationRow('proto-online-swap-migrate'))?.state,
      'ValidationFailed',
      'refused as a validation, before any change',
    );
    await host.delete(failed!.id, failed!.properties);
  });

  it('a database other clients have sessions in is refused, both servers unchanged; named in overwriteLiveDbsInTarget it is overwritten', async () => {
    // made and used on the target by someone else: an application connected to it
    await loadShop(target, 'live');
    await target.query(`INSERT INTO customers (email) VALUES ('app-only@example.com')`, [], 'live');
    const app = await target.connect('live');
    app.on('error', () => undefined); // the named overwrite ends this session
    try {
      let failed: CallError['initFailed'];
      const base = { migrationName: 'proto-online-live', databases: ['live'], overwriteDbsInTarget: true };
      await assert.rejects(host.create(inputs(base)), (error: CallError) => {
        assert.match(error.message, /TARGET_DATABASE_LIVE: database live on the target is live \(1 session of other clients: /);
        failed = error.initFailed;
        return true;
      });
      assert.equal(await onTarget('live', 'app-only@example.com'), 1, "the application's row is still there");
      assert.deepEqual(await slotsOnSource(), [], 'no slot on the source');
      await host.delete(failed!.id, failed!.properties);
      const named = await host.create(inputs({ ...base, overwriteLiveDbsInTarget: ['live'] }));
      assert.equal(named.properties.subState, 'WaitingForCutoverTrigger', String(named.properties.message));
      assert.equal(await onTarget('live', 'app-only@example.com'), 0, 'overwritten: a copy of the source');
      assert.deepEqual(await fingerprint(target, 'live'), await fingerprint(source, 'live'));
      await host.delete(named.id, named.properties);
    } finally {
      await app.end().catch(() => undefined);
    }
  });
}

function renamedWithoutAlias(): void {
  const base = { migrationName: 'proto-online-renamed', databases: ['renamed'] };
  let old: { id: string; properties: Record<string, unknown> };

  it("the new resource's create refuses the streaming migration it did not create, changing nothing", async () => {
    old = await host.create(inputs(base));
    assert.equal(old.properties.subState, 'WaitingForCutoverTrigger');
    const before = await migrationRow('proto-online-renamed');
    assert.equal(before?.resource_owner, old.properties.resourceOwner);
    await assert.rejects(host.create(inputs(base)), (error: CallError) => {
      assert.match(error.message, /^migrationName: migration "proto-online-renamed" already exists on the target .*did not create it/);
      assert.equal(error.initFailed, undefined);
      return true;
    });
    assert.deepEqual(await migrationRow('proto-online-renamed'), before);
    assert.equal((await slotsOnSource()).length, 1);
  });

  it('moved into a ComponentResource and renamed, with aliases: Check and Diff under the new URN plan no replace and no change; its record and slot unchanged', async () => {
    // the URN Pulumi gives the resource once a program moves it into a component and renames it; the alias maps the old one to it
    const moved = 'urn:pulumi:test::pgferry-test::pkg:index:Shop$pulumi-nodejs:dynamic/pgferry:PgMigration::shop-migration';
    const before = await migrationRow('proto-online-renamed');
    const slots = await slotsOnSource();
    const checked = await host.check(inputs(base), inputs(base), moved);
    assert.deepEqual(checked.failures, []);
    const diff = await host.diff(old.id, old.properties, checked.inputs, moved);
    assert.equal(diff.changes, 1, 'DIFF_NONE: nothing to update');
    assert.deepEqual(diff.replaces, []);
    assert.deepEqual(await migrationRow('proto-online-renamed'), before);
    assert.deepEqual(await slotsOnSource(), slots);
  });

  it("adopted by import, the old resource's delete after the new one's create leaves it streaming, its slot and record", async () => {
    const renamed = await host.create(inputs({ ...base, importId: old.id }));
    assert.equal(renamed.properties.subState, 'WaitingForCutoverTrigger');
    assert.equal((await migrationRow('proto-online-renamed'))?.resource_owner, renamed.properties.resourceOwner);
    const slots = await slotsOnSource();
    assert.equal(slots.length, 1);
    await host.delete(old.id, old.properties);
    assert.deepEqual(await migrationRow('proto-online-renamed'), {
      state: 'WaitingForUserAction',
      sub_state: 'WaitingForCutoverTrigger',
      resource_owner: renamed.properties.resourceOwner,
    });
    assert.deepEqual(await slotsOnSource(), slots, 'the slot is still there');
    // it still streams: a row written on the source reaches the target
    await source.query(`INSERT INTO customers (email) VALUES ('after-rename@example.com')`, [], 'renamed');
    await until('the row written after the delete on the target', async () =>
      (await onTarget('renamed', 'after-rename@example.com')) === 1 ? true : undefined,
    );
    await until('the host to say the delete left the migration', async () =>
      host.stdout.some((l) => /^proto-online-renamed: delete: the migration on the target belongs to another PgMigration resource/.test(l))
        ? true
        : undefined,
    );
    // its owner's delete cancels it, and keeps the target's data
    await host.delete(renamed.id, renamed.properties);
    assert.deepEqual(await slotsOnSource(), []);
    assert.equal(await onTarget('renamed', 'after-rename@example.com'), 1, "the target's rows are kept");
  });
}

function noSecretAnywhere(): void {
  it('leaks no password in any response or host output', () => {
    for (const h of [...earlierHosts, host]) assert.deepEqual(secretLeaks(h, [SOURCE_PW, TARGET_PW]), []);
  });
}
