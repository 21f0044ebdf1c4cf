// Protocol against real servers: per-database cutover and cancel of an Online PgMigration through
// the SDK's provider host, as `pulumi up` drives them with azure-native's inputs: `cancel` with
// dbsToCancelMigrationOn cancels that database only and the update succeeds (the cancel was asked
// for); `triggerCutover` with dbsToTriggerCutoverOn naming one database of two cuts that one over
// (its slot gone from the source, its target database taking writes of its own, its downtime
// recorded) while the other still streams source changes, as the CLI and Azure's update body do.
import assert from 'node:assert/strict';
import { showMigration, type MigrationStatus } from '../../provider/engine';
import { serverSpec, startCluster, until, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, secretLeaks, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-PerDb-61a0e2';
const TARGET_PW = 'dst-PerDb-7c31d9';
const NAME = 'proto-per-db';

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;

const inputs = (overrides: Record<string, unknown> = {}) => ({
  migrationName: NAME,
  source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW },
  target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW },
  // azure-native Migration's names, as a program moved from it spells them
  dbsToMigrate: ['alpha', 'beta', 'gamma'],
  migrationMode: 'Online',
  tableJobs: 2,
  customTimeouts: { create: '5m', update: '5m', delete: '2m' },
  __provider: provider,
  ...overrides,
});

const status = async (): Promise<MigrationStatus> => (await showMigration(serverSpec(target, { password: TARGET_PW }), NAME))!;

/** The replication slot of one database of the migration, if it is still on the source. */
async function slotOf(database: string): Promise<string | undefined> {
  const slot = (await status()).databases.find((d) => d.database === database)!.names!.slot;
  const rows = await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
  return rows.length > 0 ? slot : undefined;
}

const onTarget = async (database: string, email: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email = $1`, [email], database))[0]!.n;

describe('protocol: per-database cutover of an Online PgMigration through `pulumi up`', function () {
  this.timeout(300_000);
  let outputs: Record<string, unknown>;
  let id: string;
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'perdb-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'perdb-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, 'alpha');
    await loadShop(source, 'beta');
    await loadShop(source, 'gamma');
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    await closeProtocolSession({ host, program });
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('Create streams every database', async () => {
    const checked = await host.check({}, inputs());
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    ({ id } = created);
    outputs = created.properties;
    assert.equal(outputs.subState, 'WaitingForCutoverTrigger', String(outputs.message));
    assert.ok((await slotOf('alpha')) && (await slotOf('beta')) && (await slotOf('gamma')), 'a slot per database');
  });

  it('an update with cancel and dbsToCancelMigrationOn cancels that database only, and succeeds', async () => {
    const gammaSlot = (await status()).databases.find((d) => d.database === 'gamma')!.names!.slot;
    const news = (await host.check(outputs, inputs({ cancel: true, dbsToCancelMigrationOn: ['gamma'] }))).inputs;
    const updated = await host.update(id, outputs, news);
    outputs = updated.properties;
    const after = await status();
    assert.deepEqual(
      after.databases.map((d) => [d.database, d.state]),
      [
        ['alpha', 'WaitingForCutoverTrigger'],
        ['beta', 'WaitingForCutoverTrigger'],
        ['gamma', 'Canceled'],
      ],
      after.message,
    );
    assert.deepEqual(
      await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [gammaSlot]),
      [],
      "gamma's slot released",
    );
    assert.ok((await slotOf('alpha')) && (await slotOf('beta')), 'the others stream on');
  });

  it('an update with triggerCutover and dbsToTriggerCutoverOn cuts that database over while the other streams on', async () => {
    await source.query(`INSERT INTO customers (email) VALUES ('alpha-last@example.com')`, [], 'alpha');
    const news = (await host.check(outputs, inputs({ triggerCutover: true, dbsToTriggerCutoverOn: ['alpha'] }))).inputs;
    const diff = await host.diff(id, outputs, news);
    assert.deepEqual(diff.replaces, []);
    assert.ok(diff.changes > 0);
    const updated = await host.update(id, outputs, news);
    outputs = updated.properties;
    const after = await status();
    const [alpha, beta] = after.databases;
    assert.equal(beta!.state, 'WaitingForCutoverTrigger', 'triggerCutover with a list cuts over that list only');
    assert.deepEqual([after.state, after.subState], ['WaitingForUserAction', 'WaitingForCutoverTrigger'], after.message);
    assert.deepEqual([alpha!.state, beta!.state], ['Succeeded', 'WaitingForCutoverTrigger']);
    // alpha: cut over whole, its slot gone from the source, its own downtime recorded
    assert.deepEqual(await fingerprint(target, 'alpha'), await fingerprint(source, 'alpha'));
    assert.equal(await onTarget('alpha', 'alpha-last@example.com'), 1);
    assert.equal(await slotOf('alpha'), undefined, "alpha's slot is dropped at its cutover");
    assert.equal(typeof alpha!.downtimeSeconds, 'number');
    assert.equal(beta!.downtimeSeconds, undefined, 'beta has not cut over');
    // the application now writes alpha on the target: nothing of the migration holds it back
    await target.query(`INSERT INTO customers (email) VALUES ('written-on-target@example.com')`, [], 'alpha');
    assert.equal(await onTarget('alpha', 'written-on-target@example.com'), 1);
    // beta still streams: its slot stays, and a change made on the source now reaches the target
    assert.ok(await slotOf('beta'), "beta's slot stays");
    await source.query(`INSERT INTO customers (email) VALUES ('beta-streamed@example.com')`, [], 'beta');
    await until('beta receives the change', async () => ((await onTarget('beta', 'beta-streamed@example.com')) === 1 ? true : undefined));
    const dbs = outputs.databaseDetails as { database: string; state: string }[];
    assert.deepEqual(
      dbs.map((d) => [d.database, d.state]),
      [
        ['alpha', 'Succeeded'],
        ['beta', 'WaitingForCutoverTrigger'],
        ['gamma', 'Canceled'],
      ],
    );
  });

  it('an update naming the other then cuts it over; the migration ends with the longest downtime', async () => {
    const news = (await host.check(outputs, inputs({ dbsToTriggerCutoverOn: ['alpha', 'beta'], triggerCutover: true }))).inputs;
    const updated = await host.update(id, outputs, news);
    // a database canceled on request makes the whole migration end Canceled, not Failed (Azure's rule)
    assert.ok(['Succeeded', 'Canceled'].includes(String(updated.properties.state)), String(updated.properties.message));
    const done = await status();
    assert.equal(await slotOf('beta'), undefined);
    assert.deepEqual(await fingerprint(target, 'beta'), await fingerprint(source, 'beta'));
    const each = done.databases.filter((d) => d.state === 'Succeeded').map((d) => d.downtimeSeconds!);
    assert.equal(each.length, 2);
    assert.ok(
      each.every((s) => typeof s === 'number'),
      JSON.stringify(each),
    );
    assert.equal(done.downtimeSeconds, Math.max(...each));
  });

  it('leaks no password in any response or host output', () => {
    assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
  });
});
