// show, list and update against a real target whose control catalog holds migrations registered
// through the control/ functions, as the runner would.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, type Cluster } from '../support';
import { propertiesFile, runCli, stderrMatch, PGFERRY_JSON, PGFERRY_JSON_LIST } from './helpers';
import {
  createMigration,
  exists,
  get,
  setRunner,
  setState,
  setTables,
  setValidation,
  updateDatabase,
  updateTable,
} from '../../provider/engine/control/store';
import { cutoverRequestedAt, isCancelRequested } from '../../provider/engine/control/migrationRequests';

// One target for the whole file, started by the outer describe's hooks; the groups below run in
// order (update changes the states that show and list read first).
let target: Cluster;
let store: CatalogConnection;
let flags: string[];
let env: Record<string, string>;

describe('pgferry show/list/update against a real target', () => {
  before(async () => {
    target = await startCluster({ label: 'cli-dst' });
    store = new CatalogConnection(serverSpec(target));
    flags = ['--target-host', target.host, '--target-port', String(target.port), '--target-user', target.user];
    env = { PGPASSWORD: target.password };
    await registerMigrations();
  });
  after(async () => {
    await store.close();
    await target.stop();
  });

  describe('show', showTests);
  describe('list', listTests);
  describe('update --cutover and --cancel', updateTests);
  describe('a wrong password or an unreachable target', connectionFailures);
});

/** Three migrations as a runner would have registered them: off-1 copying, on-1 streaming, done-1 finished. */
async function registerMigrations(): Promise<void> {
  await createMigration(store, {
    name: 'off-1',
    mode: 'Offline',
    option: 'ValidateAndMigrate',
    spec: { migrationName: 'off-1' },
    databases: ['sales', 'hr'],
  });
  await setTables(store, 'off-1', 'sales', [
    { table: { schema: 'public', name: 'orders' }, parts: 1 },
    { table: { schema: 'public', name: 'items' }, parts: 2 },
  ]);
  await updateTable(store, 'off-1', 'sales', { schema: 'public', name: 'orders' }, { state: 'Completed', rows: 1200, bytes: 65536 });
  await updateDatabase(store, 'off-1', 'sales', { state: 'InProgress', rowsCopied: 1200, bytesCopied: 65536 });
  await setState(store, 'off-1', 'InProgress', 'MigratingData');
  await setValidation(store, 'off-1', [
    { code: 'SOURCE_CONNECTIVITY', type: 'AuthenticationAndConnectivityValidation', status: 'Succeeded', message: 'source reachable' },
    {
      code: 'EXTENSION_NOT_ALLOWED',
      type: 'ExtensionsValidation',
      status: 'Warning',
      database: 'sales',
      message: 'extension "hstore" is not allow-listed',
      fix: 'add hstore to azure.extensions',
    },
  ]);
  await setRunner(store, 'off-1', { host: 'worker-7', pid: 4242 });
  await createMigration(store, { name: 'on-1', mode: 'Online', option: 'ValidateAndMigrate', spec: {}, databases: ['app'] });
  await createMigration(store, { name: 'done-1', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['old'] });
  await setState(store, 'done-1', 'Succeeded', 'Completed');
}

function showTests(): void {
  it("show --output json prints the Azure resource, with pgferry's own status whole under properties.pgferry", async () => {
    const result = await runCli(['show', '--name', 'off-1', '--output', 'json', ...flags], env);
    assert.equal(result.code, 0, result.stderr);
    const resource = JSON.parse(result.stdout);
    assert.equal(resource.name, 'off-1');
    assert.equal(resource.type, 'Microsoft.DBforPostgreSQL/flexibleServers/migrations');
    assert.match(resource.id, /\/flexibleServers\/[^/]+\/migrations\/off-1$/);
    assert.equal(resource.properties.currentStatus.state, 'InProgress');
    assert.equal(resource.properties.currentStatus.currentSubStateDetails.currentSubState, 'MigratingData');
    assert.deepEqual(Object.keys(resource.properties.currentStatus.currentSubStateDetails.dbDetails), ['hr', 'sales']);
    assert.equal(resource.properties.currentStatus.currentSubStateDetails.dbDetails.sales.fullLoadCompletedTables, 1);
    assert.equal(resource.properties.currentStatus.currentSubStateDetails.validationDetails.status, 'Warning');
    const status = resource.properties.pgferry;
    assert.equal(status.name, 'off-1');
    assert.equal(status.state, 'InProgress');
    assert.equal(status.subState, 'MigratingData');
    assert.equal(status.mode, 'Offline');
    assert.ok(typeof status.startedAt === 'string');
    assert.equal(status.endedAt, null);
    assert.equal(status.validation.length, 2);
    assert.deepEqual(
      status.databases.map((d: { database: string; state: string }) => [d.database, d.state]),
      [
        ['sales', 'InProgress'],
        ['hr', 'Queued'],
      ],
    );
    assert.deepEqual(status.databases[0].tables, { total: 2, queued: 1, loading: 0, completed: 1, errored: 0 });
    assert.equal(status.databases[0].rowsCopied, 1200);
    assert.equal(status.databases[0].bytesCopied, 65536);
    assert.deepEqual([status.runner.host, status.runner.pid, status.runner.alive], ['worker-7', 4242, false]);
    assert.ok(status.runner.heartbeatAt);
  });

  it('show prints a table with databases and validation fixes', async () => {
    const result = await runCli(['show', '--name', 'off-1', ...flags], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /InProgress \/ MigratingData/);
    assert.match(result.stdout, /sales\s+InProgress\s+1\/2\s+1,200\s+64 kB/);
    assert.match(result.stdout, /EXTENSION_NOT_ALLOWED/);
    assert.match(result.stdout, /fix: add hstore/);
  });

  it('show takes the target from --target-url and from a properties file', async () => {
    const url = `postgres://postgres@${target.host}:${target.port}/postgres`;
    const viaUrl = await runCli(['show', '--name', 'on-1', ...PGFERRY_JSON, '--target-url', url], {
      PGPASSWORD: target.password,
    });
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    assert.equal(JSON.parse(viaUrl.stdout).mode, 'Online');
    const file = propertiesFile({
      properties: {
        SourceDBServerResourceId: 'src.example:5432@postgres',
        SecretParameters: { AdminCredentials: { TargetServerPassword: target.password } },
        DBsToMigrate: ['app'],
        targetDbServerFullyQualifiedDomainName: target.host,
        targetDbServerPort: target.port,
        targetServerUserName: target.user,
      },
    });
    const viaFile = await runCli(['show', '--name', 'on-1', ...PGFERRY_JSON, '--properties', file]);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(JSON.parse(viaFile.stdout).name, 'on-1');
  });

  it('show of an unknown name exits 3, as az does for a resource not found', async () => {
    const result = await runCli(['show', '--name', 'nope', ...flags], env);
    assert.equal(result.code, 3);
    assert.equal(result.errLines.length, 1);
    assert.match(result.errLines[0]!, /nope/);
  });
}

function listTests(): void {
  it('list prints active migrations, or all with --filter all, as a JSON array', async () => {
    const active = await runCli(['list', ...PGFERRY_JSON_LIST, ...flags], env);
    assert.equal(active.code, 0, active.stderr);
    assert.deepEqual(
      JSON.parse(active.stdout)
        .map((s: { name: string }) => s.name)
        .sort(),
      ['off-1', 'on-1'],
    );
    const all = await runCli(['list', '--filter', 'all', ...PGFERRY_JSON_LIST, ...flags], env);
    assert.deepEqual(
      JSON.parse(all.stdout)
        .map((s: { name: string }) => s.name)
        .sort(),
      ['done-1', 'off-1', 'on-1'],
    );
    const table = await runCli(['list', '--filter', 'all', ...flags], env);
    assert.match(table.stdout, /NAME\s+MODE\s+STATE/);
    assert.match(table.stdout, /done-1\s+Offline\s+Succeeded/);
  });
}

function updateTests(): void {
  it('update --cutover is refused for an Offline migration and before WaitingForCutoverTrigger (exit 2)', async () => {
    const offline = await runCli(['update', '--name', 'off-1', '--cutover', ...flags], env);
    assert.equal(offline.code, 2, offline.stderr);
    assert.match(offline.errLines[0]!, /Offline/);
    const early = await runCli(['update', '--name', 'on-1', '--cutover', ...flags], env);
    assert.equal(early.code, 2, early.stderr);
    assert.match(early.errLines[0]!, /WaitingForCutoverTrigger/);
  });

  it('update --cutover records the request when the migration waits for it', async () => {
    await setState(store, 'on-1', 'WaitingForUserAction', 'WaitingForCutoverTrigger');
    const result = await runCli(['update', '--name', 'on-1', '--cutover', ...PGFERRY_JSON, ...flags], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).name, 'on-1');
    assert.ok(await cutoverRequestedAt(store, 'on-1'));
  });

  it('update --cancel records the request; a finished migration cannot be canceled', async () => {
    const result = await runCli(['update', '--name', 'off-1', '--cancel', ...flags], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await isCancelRequested(store, 'off-1'), true);
    const done = await runCli(['update', '--name', 'done-1', '--cancel', ...flags], env);
    assert.equal(done.code, 2);
    assert.match(done.errLines[0]!, /Succeeded/);
  });

  it('update --cancel --wait follows the migration to Canceled and exits 0', async () => {
    await createMigration(store, { name: 'cancel-me', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['x'] });
    let child: ChildProcess | undefined;
    const pending = runCli(
      ['update', '--name', 'cancel-me', '--cancel', '--wait', ...PGFERRY_JSON, ...flags],
      env,
      60_000,
      (c) => (child = c),
    );
    // Play the runner once the command waits (its first status line follows the recorded request).
    await stderrMatch(child!, /^\S+ cancel-me: /, 'the first status line of the wait');
    assert.equal(await isCancelRequested(store, 'cancel-me'), true);
    await setState(store, 'cancel-me', 'Canceled', 'Completed', 'canceled by the user');
    const result = await pending;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).state, 'Canceled');
    assert.match(result.stderr, /cancel-me: Canceled/);
  });

  it('Ctrl-C during --wait stops waiting (exit 130) and leaves the migration running', async () => {
    await createMigration(store, { name: 'keep-going', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['x'] });
    await setState(store, 'keep-going', 'InProgress', 'MigratingData');
    let child: ChildProcess | undefined;
    const pending = runCli(['update', '--name', 'keep-going', '--cancel', '--wait', ...flags], env, 60_000, (c) => (child = c));
    // The Ctrl-C handler is installed before the first status line: interrupting earlier would
    // kill the command by the signal instead of ending its wait.
    await stderrMatch(child!, /^\S+ keep-going: InProgress \/ MigratingData/, 'the first status line of the wait');
    assert.equal(await isCancelRequested(store, 'keep-going'), true);
    child!.kill('SIGINT');
    const result = await pending;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.errLines[result.errLines.length - 1]!, /stopped waiting.*keep-going/);
    assert.equal((await get(store, 'keep-going'))!.state, 'InProgress');
  });
}

function connectionFailures(): void {
  it('a wrong password fails with exit 1 naming server and user, never the password', async () => {
    const wrong = 'Wr0ng-Passw0rd-xyz';
    const result = await runCli(['list', ...flags, '--target-user', 'postgres'], { PGPASSWORD: wrong });
    assert.equal(result.code, 1);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, new RegExp(`${target.host}:${target.port}`));
    assert.match(result.errLines[0]!, /user "postgres"/);
    assert.match(result.errLines[0]!, /password authentication failed/);
    assert.ok(!result.stderr.includes(wrong));
    const viaUrl = await runCli(['list', '--target-url', `postgres://postgres@${target.host}:${target.port}/`], { PGPASSWORD: wrong });
    assert.equal(viaUrl.code, 1);
    assert.ok(!viaUrl.stderr.includes(wrong));
  });

  it('create with a wrong target password fails with exit 1, naming server and user only', async () => {
    const wrong = 'N0t-The-Passw0rd';
    const file = propertiesFile({
      properties: {
        SourceDBServerResourceId: '127.0.0.1:5432@postgres',
        SecretParameters: { AdminCredentials: { SourceServerPassword: 'src-Secret-1', TargetServerPassword: wrong } },
        targetDbServerFullyQualifiedDomainName: target.host,
        targetDbServerPort: target.port,
        targetServerUserName: 'postgres',
        DBsToMigrate: ['sales'],
      },
    });
    const result = await runCli(['create', '--name', 'never-1', '--properties', file, '--output', 'json']);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, new RegExp(`target server ${target.host}:${target.port} \\(user "postgres"`));
    assert.match(result.errLines[0]!, /password authentication failed/);
    assert.ok(!result.stderr.includes(wrong) && !result.stderr.includes('src-Secret-1'));
    assert.equal(result.stdout, '');
    assert.equal(await exists(store, 'never-1'), false);
  });

  it('an unreachable target fails with exit 1 and one line', async () => {
    const result = await runCli(
      ['show', '--name', 'x', '--target-host', '127.0.0.1', '--target-port', '1', '--target-user', 'postgres'],
      env,
    );
    assert.equal(result.code, 1);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, /127\.0\.0\.1:1.*connection refused/);
  });
}
