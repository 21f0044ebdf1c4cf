// Protocol against real servers: an Offline PgMigration created, read, updated, adopted and
// deleted through the SDK's provider host over gRPC, as `pulumi up/refresh/destroy` drive it.
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, secretLeaks, type CallError, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-Offline-91b2c7';
const TARGET_PW = 'dst-Offline-4d8e03';

describe('protocol: Offline PgMigration against real servers', function () {
  this.timeout(300_000);
  let source: Cluster;
  let target: Cluster;
  let provider: string;
  let program: { dir: string; remove(): Promise<void> };
  let host: ProviderHost;

  const inputs = (overrides: Record<string, unknown> = {}) => ({
    migrationName: 'proto-offline',
    source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW, sslMode: 'prefer' },
    target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW, sslMode: 'prefer' },
    databases: ['shop'],
    mode: 'Offline',
    tableJobs: 2,
    indexJobs: 2,
    __provider: provider,
    ...overrides,
  });

  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'res-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'res-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, 'shop');
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    await closeProtocolSession({ host, program });
    await Promise.all([source?.stop(), target?.stop()]);
  });

  let id: string;
  let outputs: Record<string, unknown>;

  it('Create runs the migration to Succeeded and the target is identical', async () => {
    const checked = await host.check({}, inputs());
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    id = created.id;
    outputs = created.properties;
    assert.equal(id, `${target.host}:${target.port}/proto-offline`);
    assert.equal(outputs.state, 'Succeeded', String(outputs.message));
    assert.equal(outputs.subState, 'Completed');
    assert.equal(outputs.__provider, provider, 'the host keeps __provider in the outputs');
    const details = outputs.databaseDetails as {
      database: string;
      state: string;
      tables: { total: number; completed: number };
      rowsCopied: number;
    }[];
    assert.equal(details[0]!.database, 'shop');
    assert.equal(details[0]!.tables.completed, details[0]!.tables.total);
    assert.equal(details[0]!.rowsCopied, 2550);
    assert.equal((outputs.verification as { ok: boolean }).ok, true);
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
    // progress reached the CLI as stdout lines
    assert.ok(
      host.stdout.some((l) => /proto-offline: step \d+\/\d+ validation/.test(l)),
      host.stdout.join('\n'),
    );
  });

  it('Read (refresh) reports the state from the control catalog', async () => {
    const read = await host.read(id, outputs);
    assert.equal(read.id, id);
    assert.equal(read.properties.state, 'Succeeded');
    assert.equal(read.properties.migrationName, 'proto-offline');
    assert.deepEqual((read.properties.databaseDetails as unknown[]).length, 1);
  });

  it('Diff and Update: a tuning change updates in place without a new migration', async () => {
    const news = inputs({ tableJobs: 4 });
    const diff = await host.diff(id, outputs, news);
    assert.equal(diff.changes, 2);
    assert.deepEqual(diff.replaces, []);
    const updated = await host.update(id, outputs, news);
    assert.equal(updated.properties.state, 'Succeeded');
    assert.equal(updated.properties.tableJobs, 4);
    outputs = updated.properties;
  });

  it('Create adopts an existing migration of the same name and spec (an interrupted up)', async () => {
    const again = await host.create(inputs());
    assert.equal(again.id, id);
    assert.equal(again.properties.state, 'Succeeded');
    assert.ok(host.stdout.some((l) => /adopting the existing migration/.test(l)));
  });

  it('Create refuses the same name with a different spec, recording nothing', async () => {
    await assert.rejects(host.create(inputs({ databases: ['other'] })), (error: CallError) => {
      assert.match(error.message, /already exists on the target with a different spec/);
      assert.equal(error.initFailed, undefined);
      return true;
    });
  });

  it('Create with option Validate runs only the checks and returns their results', async () => {
    const created = await host.create(
      inputs({ migrationName: 'proto-validate', option: 'Validate', databases: ['shop'], overwriteDbsInTarget: true }),
    );
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    const validation = created.properties.validation as { code: string; status: string }[];
    assert.ok(validation.length > 0);
    assert.ok(
      validation.every((v) => v.status !== 'Failed'),
      JSON.stringify(validation),
    );
    assert.deepEqual(
      (created.properties.databaseDetails as { rowsCopied: number }[]).map((d) => d.rowsCopied),
      [0],
    );
  });

  it('Create reports a failure after the migration exists as a partial failure with id and outputs', async () => {
    let failed: CallError['initFailed'];
    await assert.rejects(host.create(inputs({ migrationName: 'proto-offline-missing', databases: ['nosuchdb'] })), (error: CallError) => {
      assert.ok(error.initFailed, `expected a partial failure, got: ${error.message}`);
      failed = error.initFailed;
      assert.equal(error.initFailed.id, `${target.host}:${target.port}/proto-offline-missing`);
      assert.match(String(error.initFailed.properties.state), /ValidationFailed|Failed/);
      assert.equal(error.initFailed.properties.__provider, provider, '__provider kept so a later delete works');
      assert.match(error.message, /nosuchdb/);
      return true;
    });
    // What state recorded is enough for `pulumi refresh` and `pulumi destroy`.
    const read = await host.read(failed!.id, failed!.properties);
    assert.equal(read.id, failed!.id);
    await host.delete(failed!.id, failed!.properties);
  });

  it('Delete removes the migration; the target database is kept', async () => {
    await host.delete(id, outputs);
    const dbs = await target.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = 'shop'`);
    assert.equal(dbs.length, 1);
  });

  it('Read of a migration gone from the target catalog returns an empty id (resource gone)', async () => {
    const created = await host.create(inputs({ migrationName: 'proto-gone', option: 'Validate', overwriteDbsInTarget: true }));
    await target.query(`DELETE FROM pgferry.migration WHERE name = 'proto-gone'`);
    const read = await host.read(created.id, created.properties);
    assert.equal(read.id, '');
  });

  it('a replacing change deletes the migration, then creates it again under the same name', async function () {
    const olds = (await host.create(inputs({ migrationName: 'proto-replace', overwriteDbsInTarget: true }))).properties;
    const news = inputs({ migrationName: 'proto-replace', overwriteDbsInTarget: true, databases: ['shop'], option: 'Migrate' });
    const diff = await host.diff('x', olds, news);
    assert.deepEqual(diff.replaces, ['option']);
    assert.equal(diff.deleteBeforeReplace, true);
    await host.delete('x', olds);
    const created = await host.create(news);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
  });

  it('Delete with dropTargetDatabasesOnDelete drops the migrated databases on the target', async () => {
    const news = inputs({ migrationName: 'proto-drop', overwriteDbsInTarget: true, dropTargetDatabasesOnDelete: true });
    assert.deepEqual((await host.check({}, news)).failures, []);
    const created = await host.create(news);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    assert.equal((await target.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop'`))[0]!.n, 1);
    await host.delete(created.id, created.properties);
    assert.equal((await target.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop'`))[0]!.n, 0);
  });

  it('leaks no password in any response, message or host output', () => {
    assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
    const catalog = JSON.stringify(host.responses);
    assert.ok(catalog.length > 0);
  });

  it('stores no password in the control catalog', async () => {
    const rows = await target.query<{ t: string }>(`SELECT m::text AS t FROM pgferry.migration m`);
    for (const row of rows) {
      assert.ok(!row.t.includes(SOURCE_PW) && !row.t.includes(TARGET_PW));
    }
  });
});
