// The `az postgres flexible-server migration` commands of the Azure tutorials, run as printed with
// `pgferry` in place of the az prefix, against local servers. Only the server name is mapped to a
// local address (PGFERRY_SERVER_HOSTS); the properties paths are the tutorial's own, files of those
// names in the working directory (backslashes are ordinary characters in a Linux file name).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, until, type ServerPair } from '../support';
import { runCli, type CliResult } from './helpers';

/** The tutorial's commands (002: offline tutorial, CLI tab; the az reference's update, check and online forms). */
const TUTORIAL = {
  listAll:
    'az postgres flexible-server migration list --subscription <<subscription ID>> --resource-group <<resource group name>> --name <<Name of the Flexible Server>> --filter All',
  checkName:
    'az postgres flexible-server migration check-name-availability --subscription 11111111-1111-1111-1111-111111111111 --resource-group my-learning-rg --name myflexibleserver --migration-name migration1',
  createOffline:
    'az postgres flexible-server migration create --subscription 11111111-1111-1111-1111-111111111111 --resource-group my-learning-rg --name myflexibleserver --migration-name migration1 --properties "C:\\Users\\Administrator\\Documents\\migrationBody.JSON" --migration-mode offline',
  show: 'az postgres flexible-server migration show --subscription <<subscription ID>> --resource-group <<resource group name>> --name <<Name of the Flexible Server>> --migration-name <<Migration ID>>',
  createOnline:
    'az postgres flexible-server migration create --subscription <<subscription ID>> --resource-group <<resource group name>> --name <<Name of the Flexible Server>> --migration-name <<Unique Migration Name>> --properties "C:\\migration-cli\\migration_body.json" --migration-mode online',
  cutover:
    'az postgres flexible-server migration update --subscription 11111111-1111-1111-1111-111111111111 --resource-group my-learning-rg --name myflexibleserver --migration-name <<Migration ID>> --cutover',
  cancel:
    'az postgres flexible-server migration update --subscription 11111111-1111-1111-1111-111111111111 --resource-group my-learning-rg --name myflexibleserver --migration-name <<Migration ID>> --cancel',
};

const PLACEHOLDERS: Record<string, string> = {
  'subscription ID': '11111111-1111-1111-1111-111111111111',
  'resource group name': 'my-learning-rg',
  'Name of the Flexible Server': 'myflexibleserver',
};

/** A printed command as argv: the az prefix dropped, placeholders filled, double quotes honoured. */
function asPrinted(line: string, fill: Record<string, string> = {}): string[] {
  const text = line
    .replace(/^az postgres flexible-server migration /, '')
    .replace(/<<([^>]+)>>/g, (_, key: string) => fill[key] ?? PLACEHOLDERS[key] ?? assert.fail(`no value for <<${key}>>`));
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Three small databases on the source, and the tutorial's body files under the tutorial's names. */
async function setUp(pair: ServerPair, cwd: string): Promise<void> {
  for (const db of ['ticketdb', 'timedb', 'salesdb']) {
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(
      `CREATE TABLE public.entries (id int PRIMARY KEY, note text NOT NULL);
       INSERT INTO public.entries SELECT g, '${db} ' || g FROM generate_series(1, 200) g;`,
      [],
      db,
    );
  }
  // The tutorial's body with its placeholders filled; it names no target: the server is --name.
  const body = (databases: string[]) =>
    JSON.stringify({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        SecretParameters: {
          AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password },
        },
        targetServerUserName: 'postgres',
        DBsToMigrate: databases,
        OverwriteDBsInTarget: 'true',
        MigrationMode: 'Offline',
      },
    });
  writeFileSync(path.join(cwd, 'C:\\Users\\Administrator\\Documents\\migrationBody.JSON'), body(['ticketdb', 'timedb', 'salesdb']));
  writeFileSync(path.join(cwd, 'C:\\migration-cli\\migration_body.json'), body(['salesdb']));
}

describe("the Azure tutorials' az commands, run by pgferry", function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let cwd: string;
  let env: Record<string, string>;
  const run = (argv: string[], timeoutMs = 60_000): Promise<CliResult> => runCli(argv, env, timeoutMs, undefined, cwd);
  const state = async (migration: string, query = 'properties.currentStatus.state'): Promise<string> => {
    const result = await run([...asPrinted(TUTORIAL.show, { 'Migration ID': migration }), '--query', query, '-o', 'tsv']);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim();
  };
  const reaches = (migration: string, wanted: string, query?: string) =>
    until(`${migration} to reach ${wanted}`, async () => ((await state(migration, query)) === wanted ? true : undefined), 180_000, 500);

  before(async () => {
    pair = await startPair();
    cwd = mkdtempSync(path.join(os.tmpdir(), 'pgferry-az-'));
    await setUp(pair, cwd);
    // Only the server name is mapped; show, list and update read the target password from PGPASSWORD.
    env = {
      PGFERRY_SERVER_HOSTS: `myflexibleserver=postgres@${pair.target.host}:${pair.target.port}?sslmode=prefer`,
      PGPASSWORD: pair.target.password,
    };
  });
  after(async () => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await pair?.stop();
  });

  it('list --filter All runs before any migration and lists none', async () => {
    const result = await run(asPrinted(TUTORIAL.listAll));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /no migrations/);
    assert.deepEqual(JSON.parse((await run([...asPrinted(TUTORIAL.listAll), '-o', 'json'])).stdout), []);
  });

  it('check-name-availability answers nameAvailable, reason and message from the target', async () => {
    const result = await run([...asPrinted(TUTORIAL.checkName), '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      message: null,
      name: 'migration1',
      nameAvailable: true,
      reason: null,
      type: 'Microsoft.DBforPostgreSQL/flexibleServers/migrations',
    });
  });

  it('the offline create runs as printed, with a body that names no target, and succeeds', async () => {
    const result = await run(asPrinted(TUTORIAL.createOffline));
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
    assert.match(result.stdout, /migration1 {2}\(Offline, ValidateAndMigrate\)/);
    await reaches('migration1', 'Succeeded');
    for (const db of ['ticketdb', 'timedb', 'salesdb']) {
      assert.deepEqual(await pair.target.query(`SELECT count(*)::int AS n FROM public.entries`, [], db), [{ n: 200 }]);
    }
    const taken = JSON.parse((await run([...asPrinted(TUTORIAL.checkName), '-o', 'json'])).stdout);
    assert.deepEqual([taken.nameAvailable, taken.reason], [false, 'AlreadyExists']);
  });

  it('show runs as printed and answers the JMESPath queries people use', async () => {
    const table = await run(asPrinted(TUTORIAL.show, { 'Migration ID': 'migration1' }));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Succeeded \/ Completed/);
    const dbStates = await run([
      ...asPrinted(TUTORIAL.show, { 'Migration ID': 'migration1' }),
      '-o',
      'json',
      '--query',
      'properties.currentStatus.currentSubStateDetails.dbDetails.*.migrationState',
    ]);
    assert.deepEqual(JSON.parse(dbStates.stdout), ['Succeeded', 'Succeeded', 'Succeeded']);
    const top = await run([...asPrinted(TUTORIAL.show, { 'Migration ID': 'migration1' }), '--query', 'properties.currentStatus.state']);
    assert.equal(top.stdout, '"Succeeded"\n');
    const resource = JSON.parse((await run([...asPrinted(TUTORIAL.show, { 'Migration ID': 'migration1' }), '-o', 'json'])).stdout);
    assert.equal(
      resource.id,
      '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/my-learning-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/myflexibleserver/migrations/migration1',
    );
    assert.deepEqual(resource.properties.dbsToMigrate, ['ticketdb', 'timedb', 'salesdb']);
    assert.equal(resource.properties.currentStatus.currentSubStateDetails.dbDetails.timedb.fullLoadCompletedTables, 1);
    assert.equal(resource.properties.overwriteDbsInTarget, 'True');
    assert.equal(resource.properties.pgferry.databases[0].rowsCopied, 200);
  });

  it('the online create, then update --cutover, run as printed and carry a late row across', async () => {
    const created = await run(asPrinted(TUTORIAL.createOnline, { 'Unique Migration Name': 'migration2' }));
    assert.equal(created.code, 0, created.stderr);
    await reaches('migration2', 'WaitingForCutoverTrigger', 'properties.currentStatus.currentSubStateDetails.currentSubState');
    await pair.source.query(`INSERT INTO public.entries VALUES (201, 'late')`, [], 'salesdb');
    await until('the late row on the target', async () => {
      const rows = await pair.target.query(`SELECT note FROM public.entries WHERE id = 201`, [], 'salesdb');
      return rows.length === 1 ? true : undefined;
    });
    const cutover = await run(asPrinted(TUTORIAL.cutover, { 'Migration ID': 'migration2' }));
    assert.equal(cutover.code, 0, cutover.stderr);
    await reaches('migration2', 'Succeeded');
    const list = JSON.parse((await run([...asPrinted(TUTORIAL.listAll), '-o', 'json'])).stdout);
    assert.deepEqual(
      list.map((m: { name: string }) => m.name),
      ['migration1', 'migration2'],
    );
    assert.equal(list[1].properties.triggerCutover, 'True');
  });

  it('update --cancel runs as printed and cancels a streaming migration created from inline JSON', async () => {
    // Inline JSON on a command line may carry no password: both come from PGPASSWORD here (the test
    // clusters share one), as they would from ~/.pgpass.
    assert.equal(pair.source.password, pair.target.password);
    const inline = JSON.stringify({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        DBsToMigrate: ['timedb'],
        OverwriteDBsInTarget: true,
      },
    });
    const created = await run(
      asPrinted(TUTORIAL.createOnline.replace('"C:\\migration-cli\\migration_body.json"', 'INLINE'), {
        'Unique Migration Name': 'migration3',
      }).map((a) => (a === 'INLINE' ? inline : a)),
    );
    assert.equal(created.code, 0, created.stderr);
    await reaches('migration3', 'WaitingForCutoverTrigger', 'properties.currentStatus.currentSubStateDetails.currentSubState');
    const cancel = await run(asPrinted(TUTORIAL.cancel, { 'Migration ID': 'migration3' }));
    assert.equal(cancel.code, 0, cancel.stderr);
    await reaches('migration3', 'Canceled');
    const active = JSON.parse((await run([...asPrinted(TUTORIAL.listAll.replace('All', 'Active')), '-o', 'json'])).stdout);
    assert.deepEqual(active, []);
  });
});
