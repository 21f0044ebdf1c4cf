// Protocol against real servers: an Offline PgMigration created, read, updated, adopted and
// deleted through the SDK's provider host over gRPC, as `pulumi up/refresh/destroy` drive it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runnerLogDir, runnerLogPath } from '../../provider/engine/runner/spawn';
import { showMigration } from '../../provider/engine';
import { serverSpec, until, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { secretLeaks, startProviderHost, type CallError, type ProviderHost } from './support/providerHost';
import { closeProtocolPair, openProtocolPair } from './support/protocolPair';

const SOURCE_PW = 'src-Offline-91b2c7';
const TARGET_PW = 'dst-Offline-4d8e03';
const SERVERS = { label: 'res', sourcePassword: SOURCE_PW, targetPassword: TARGET_PW, shops: ['shop'] };

// One pair of servers and one provider host for the whole file, started by the outer describe's
// hooks; the groups below run in order and share the migration the first one creates.
let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;
let id: string;
let outputs: Record<string, unknown>;
let replaced: { id: string; properties: Record<string, unknown> };

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

/** The catalog's row of a migration, minus what a heartbeat moves. */
const catalogRow = async (name: string) =>
  (
    await target.query(
      `SELECT name, state, sub_state, spec, instance, created_at, started_at, ended_at, verification FROM pgferry.migration WHERE name = $1`,
      [name],
    )
  )[0];
const resourceOwner = async (name: string) =>
  (await target.query<{ owner: string | null }>(`SELECT resource_owner AS owner FROM pgferry.migration WHERE name = $1`, [name]))[0]?.owner;
const databaseCount = async (name: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [name]))[0]!.n;

describe('protocol: Offline PgMigration against real servers', function () {
  this.timeout(300_000);
  before(async () => {
    ({ source, target, provider, program, host } = await openProtocolPair(SERVERS));
  });
  after(() => closeProtocolPair({ source, target, host, program }));

  describe('create, read, update and adopt', createReadUpdateAdopt);
  describe('a moved migration window', windowMoves);
  describe('get and import', getAndImport);
  describe('delete', deleteAndGone);
  describe('after a cutover: replace and drop refused unless allowed', afterCutover);
  describe('no secret anywhere', noSecretAnywhere);
});

function createReadUpdateAdopt(): void {
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
    // It ran in a detached runner (whatever the timeout) and its progress reached the CLI as lines.
    assert.ok(
      host.stdout.some((l) => /proto-offline: runner started/.test(l)),
      host.stdout.join('\n'),
    );
    assert.ok(host.stdout.some((l) => /^proto-offline: Succeeded\/Completed — shop tables 3\/3 rows 2550/.test(l)));
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
    const before = await catalogRow('proto-offline');
    const linesBefore = host.stdout.length;
    const updated = await host.update(id, outputs, news);
    assert.equal(updated.properties.state, 'Succeeded');
    assert.equal(updated.properties.tableJobs, 4);
    // in place: the same migration in the catalog, not run again, the target as it was
    assert.deepEqual(await catalogRow('proto-offline'), before);
    assert.ok(!host.stdout.slice(linesBefore).some((l) => /runner started/.test(l)), host.stdout.slice(linesBefore).join('\n'));
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
    const read = await host.read(id, updated.properties);
    assert.equal(read.properties.tableJobs, 4, 'state keeps the new value');
    outputs = updated.properties;
  });

  it('Create of another resource refuses a migration of the same name and spec it did not create, changing nothing', async () => {
    const before = await catalogRow('proto-offline');
    const owner = await resourceOwner('proto-offline');
    assert.equal(owner, outputs.resourceOwner, "the catalog holds the creating resource's id, kept in its state");
    await assert.rejects(host.create(inputs()), (error: CallError) => {
      assert.match(
        error.message,
        /^migrationName: migration "proto-offline" already exists on the target .* this resource did not create it/,
      );
      assert.match(error.message, /import option \(\{ import: "[^"]+\/proto-offline" \}/);
      assert.equal(error.initFailed, undefined, 'nothing recorded in state');
      return true;
    });
    assert.deepEqual(await catalogRow('proto-offline'), before);
    assert.equal(await resourceOwner('proto-offline'), owner, 'still the first resource');
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

  it('Create with startDataMigration false returns once validated and waiting; an Update setting it true migrates', async () => {
    await loadShop(source, 'later');
    const created = await host.create(inputs({ migrationName: 'proto-later', databases: ['later'], startDataMigration: false }));
    assert.deepEqual([created.properties.state, created.properties.subState], ['InProgress', 'WaitingForDataMigrationScheduling']);
    assert.equal(await databaseCount('later'), 0, 'nothing copied before the start');
    const news = inputs({ migrationName: 'proto-later', databases: ['later'], startDataMigration: true });
    const diff = await host.diff(created.id, created.properties, news);
    assert.deepEqual(diff.replaces, []);
    const updated = await host.update(created.id, created.properties, news);
    assert.equal(updated.properties.state, 'Succeeded', String(updated.properties.message));
    assert.deepEqual(await fingerprint(target, 'later'), await fingerprint(source, 'later'));
    await host.delete(created.id, updated.properties);
  });

  it("outputs recommendedServerParameters: the source's parameters Azure allows that differ on the target", async () => {
    await source.query(`ALTER SYSTEM SET work_mem = '12MB'`);
    await source.query(`SELECT pg_reload_conf()`);
    try {
      const created = await host.create(
        inputs({ migrationName: 'proto-parameters', option: 'Validate', databases: ['shop'], overwriteDbsInTarget: true }),
      );
      assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
      const recommended = created.properties.recommendedServerParameters as Record<string, string>;
      assert.equal(recommended.work_mem, '12288');
      const report = (created.properties.validation as { code: string; parameter?: { name: string; targetValue?: string } }[]).find(
        (v) => v.code === 'SERVER_PARAMETER_DIFFERS' && v.parameter?.name === 'work_mem',
      );
      assert.equal(report?.parameter?.targetValue, '4096');
    } finally {
      await source.query(`ALTER SYSTEM RESET work_mem`);
      await source.query(`SELECT pg_reload_conf()`);
    }
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
}

function windowMoves(): void {
  it('an Update that moves the migration window of a waiting migration starts it in the new window, which the stored spec carries', async () => {
    await loadShop(source, 'windowed');
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const base = { migrationName: 'proto-window', databases: ['windowed'] };
    const created = await host.create(inputs({ ...base, migrationWindowStartTimeInUtc: later }));
    assert.equal(created.properties.state, 'InProgress');
    // registered as scheduled, then the runner waits for the window: create returns at either
    assert.ok(
      ['WaitingForDataMigrationScheduling', 'WaitingForDataMigrationWindow'].includes(String(created.properties.subState)),
      String(created.properties.subState),
    );
    const soon = new Date(Date.now() + 4_000).toISOString();
    const news = inputs({ ...base, migrationWindowStartTimeInUtc: soon });
    const diff = await host.diff(created.id, created.properties, news);
    assert.deepEqual(diff.replaces, [], 'a moved window is an update');
    assert.ok(diff.changes > 0);
    const updated = await host.update(created.id, created.properties, news);
    // as create, the update returns while the migration waits for its (new) window
    assert.equal(updated.properties.state, 'InProgress', String(updated.properties.message));
    // the runner reads the new window: the copy starts within it, not an hour later
    const done = await until(
      'the migration to end',
      async () => {
        const s = await showMigration(serverSpec(target, { password: TARGET_PW }), 'proto-window');
        return s && ['Succeeded', 'Failed', 'Canceled', 'ValidationFailed'].includes(s.state) ? s : undefined;
      },
      60_000,
    );
    assert.equal(done.state, 'Succeeded', done.message);
    const [row] = await target.query<{ spec: Record<string, unknown>; started: Date }>(
      `SELECT spec, started_at AS started FROM pgferry.migration WHERE name = 'proto-window'`,
    );
    assert.equal(row!.spec.migrationWindowStartTimeInUtc, soon);
    assert.ok(row!.started.getTime() >= Date.parse(soon) - 1000, `started ${row!.started.toISOString()} before ${soon}`);
    assert.deepEqual(await fingerprint(target, 'windowed'), await fingerprint(source, 'windowed'));
    await host.delete(created.id, (await host.read(created.id, updated.properties)).properties);
  });
}

function getAndImport(): void {
  it('PgMigration.get: Read by id with the target credentials returns the migration as the catalog holds it', async () => {
    const got = await host.read(id, { target: { user: target.user, password: TARGET_PW }, __provider: provider });
    assert.equal(got.id, id);
    assert.equal(got.properties.state, 'Succeeded');
    assert.equal(got.properties.migrationName, 'proto-offline');
    assert.deepEqual(got.properties.databases, ['shop']);
    assert.equal((got.properties.databaseDetails as { rowsCopied: number }[])[0]!.rowsCopied, 2550);
    const gotSource = got.properties.source as Record<string, unknown>;
    assert.equal(gotSource.host, source.host);
    assert.equal(gotSource.password, undefined, 'the catalog holds no password');
  });

  it('import: create with importId adopts the existing migration and starts nothing', async () => {
    const before = host.stdout.length;
    const imported = await host.create({ ...inputs(), importId: id });
    assert.equal(imported.id, id);
    assert.equal(imported.properties.state, 'Succeeded');
    const lines = host.stdout.slice(before);
    assert.ok(lines.some((l) => /adopting the existing migration/.test(l)));
    assert.ok(!lines.some((l) => /runner started/.test(l)), lines.join('\n'));
    // the adoption moved the ownership: the earlier resource's delete and update leave the migration
    assert.equal(await resourceOwner('proto-offline'), imported.properties.resourceOwner);
    assert.notEqual(imported.properties.resourceOwner, outputs.resourceOwner);
    const row = await catalogRow('proto-offline');
    await assert.rejects(host.update(id, outputs, inputs({ tableJobs: 3 })), (error: CallError) => {
      assert.match(error.message, /^proto-offline: update refused: the migration on the target belongs to another PgMigration resource/);
      assert.equal(error.initFailed, undefined, 'the earlier state stays as it was');
      return true;
    });
    await host.delete(id, outputs);
    assert.deepEqual(await catalogRow('proto-offline'), row, 'the migration is still recorded, as it was');
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
    // the host's output arrives through a pipe, possibly after the response
    await until('the host to say the delete left the migration', async () =>
      host.stdout.some((l) => /^proto-offline: delete: the migration on the target belongs to another PgMigration resource/.test(l))
        ? true
        : undefined,
    );
    outputs = imported.properties;
  });

  it('import of a migration that is not on the target fails and records nothing', async () => {
    const absent = inputs({ migrationName: 'proto-absent', importId: `${target.host}:${target.port}/proto-absent` });
    await assert.rejects(host.create(absent), (error: CallError) => {
      assert.match(error.message, /^importId: no migration "proto-absent"/);
      assert.equal(error.initFailed, undefined);
      return true;
    });
    assert.equal((await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'proto-absent'`)).length, 0);
  });
}

function deleteAndGone(): void {
  it('Delete removes the migration; the target database is kept', async () => {
    assert.ok(await catalogRow('proto-offline'));
    await host.delete(id, outputs);
    const left = await target.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pgferry.migration WHERE name = $1)
            + (SELECT count(*) FROM pgferry.migration_database WHERE migration = $1)
            + (SELECT count(*) FROM pgferry.migration_table WHERE migration = $1)
            + (SELECT count(*) FROM pgferry.event WHERE migration = $1) AS n`,
      ['proto-offline'],
    );
    assert.equal(Number(left[0]!.n), 0, 'the migration, its databases, tables and events are gone from the catalog');
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'), 'the target database is kept as it was');
  });

  it('Read of a migration gone from the target catalog returns an empty id (resource gone)', async () => {
    const created = await host.create(inputs({ migrationName: 'proto-gone', option: 'Validate', overwriteDbsInTarget: true }));
    await target.query(`DELETE FROM pgferry.migration WHERE name = 'proto-gone'`);
    const read = await host.read(created.id, created.properties);
    assert.equal(read.id, '');
  });
}

function afterCutover(): void {
  it('a replacing change of a migration that has cut over is refused without allowReplaceAfterCutover (17)', async () => {
    const olds = (await host.create(inputs({ migrationName: 'proto-replace', overwriteDbsInTarget: true }))).properties;
    assert.equal(olds.state, 'Succeeded');
    const news = inputs({ migrationName: 'proto-replace', overwriteDbsInTarget: true, option: 'Migrate' });
    await assert.rejects(host.diff('x', olds, news), (error: CallError) => /^allowReplaceAfterCutover: /.test(error.message));
    const allowed = { ...news, allowReplaceAfterCutover: true };
    const diff = await host.diff('x', olds, allowed);
    assert.equal(diff.changes, 2);
    assert.deepEqual(diff.replaces, ['option']);
    assert.equal(diff.deleteBeforeReplace, true);
    await host.delete('x', olds);
    const created = await host.create(allowed);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    replaced = created;
  });

  it('the live state refuses the replace when stored outputs are older than a cutover', async () => {
    const stale = { ...replaced.properties, state: 'InProgress', subState: 'MigratingData' };
    await assert.rejects(host.diff('x', stale, inputs({ migrationName: 'proto-replace', databases: ['other'] })), (error: CallError) =>
      /^allowReplaceAfterCutover: /.test(error.message),
    );
  });

  it('Delete with dropTargetDatabasesOnDelete keeps the databases of a migration that has cut over', async () => {
    const news = inputs({ migrationName: 'proto-drop', overwriteDbsInTarget: true, dropTargetDatabasesOnDelete: true });
    assert.deepEqual((await host.check({}, news)).failures, []);
    const created = await host.create(news);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    await host.delete(created.id, created.properties);
    assert.equal(await databaseCount('shop'), 1, 'kept');
    assert.ok(host.stdout.some((l) => /proto-drop: kept the target databases shop: .*PGFERRY_ALLOW_DROP_AFTER_CUTOVER=proto-drop/.test(l)));
    const rows = await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'proto-drop'`);
    assert.equal(rows.length, 0, 'the migration itself is removed');
  });

  it('…and drops them when PGFERRY_ALLOW_DROP_AFTER_CUTOVER names it for that operation', async () => {
    const news = inputs({ migrationName: 'proto-drop', overwriteDbsInTarget: true, dropTargetDatabasesOnDelete: true });
    const created = await host.create(news);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    const allowing = await startProviderHost(program.dir, { PGFERRY_ALLOW_DROP_AFTER_CUTOVER: 'other, proto-drop' });
    try {
      await allowing.configure({});
      await allowing.delete(created.id, created.properties);
      assert.deepEqual(secretLeaks(allowing, [SOURCE_PW, TARGET_PW]), []);
    } finally {
      await allowing.stop();
    }
    assert.equal(await databaseCount('shop'), 0, 'dropped');
  });
}

function noSecretAnywhere(): void {
  it('leaks no password in any response, message or host output', () => {
    assert.ok(host.responses.length >= 20, `${host.responses.length} responses scanned`);
    assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
    // the scan finds a password where there is one
    const planted = { ...host, responses: [{ method: 'read', result: { message: `failed with ${TARGET_PW}` } }] };
    assert.equal(secretLeaks(planted, [SOURCE_PW, TARGET_PW]).length, 1);
  });

  it("stores no password in any table of the control catalog, its events or the runners' logs", async () => {
    const tables = await target.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'pgferry' ORDER BY 1`,
    );
    assert.ok(tables.some((t) => t.t === 'pgferry.event') && tables.some((t) => t.t === 'pgferry.migration'), JSON.stringify(tables));
    let rows = 0;
    for (const { t } of tables) {
      const texts = await target.query<{ r: string }>(`SELECT r::text AS r FROM ${t} r`);
      rows += texts.length;
      for (const { r } of texts) assert.ok(!r.includes(SOURCE_PW) && !r.includes(TARGET_PW), `${t}: ${r.slice(0, 200)}`);
    }
    assert.ok(rows > 0, 'the catalog holds rows to scan');
    const logs = (await fs.readdir(runnerLogDir())).filter((f) => /^runner-proto-.*\.log$/.test(f));
    assert.ok(logs.includes(path.basename(runnerLogPath('proto-replace', serverSpec(target)))), logs.join(', '));
    for (const log of logs) {
      const text = await fs.readFile(path.join(runnerLogDir(), log), 'utf8');
      assert.ok(!text.includes(SOURCE_PW) && !text.includes(TARGET_PW), `${log} holds a password`);
    }
  });
}
