// Protocol against real servers: azure-native's own example of dbforpostgresql.Migration (API
// 2025-08-01, "Create a migration with other source type for validating and migrating.", Azure's
// MigrationsCreateOtherSourceTypesValidateMigrate.json, which azure-native's documentation renders)
// with only the class changed to PgMigration, driven through the SDK's provider host as `pulumi up`
// drives it. Its values point at local servers: sourceDbServerResourceId is "host:port@user" of the
// source, the passwords are the servers', and serverName "exampleserver" reaches the target through
// PGFERRY_SERVER_HOSTS (the documented mapping of a server name to an address; `?sslmode=prefer`, as
// the local stand-in has no Azure certificate to verify). Offline: the four
// databases copied, read back from the target. Online: a per-database cutover with azure-native's
// "True" strings, the others streaming on, then the rest. The compiler checks that the example's
// arguments, typed as azure-native's MigrationArgs, are PgMigrationArgs unchanged. azure-native 2.x's
// spelling (targetDbServerName, subscriptionId) runs too, and getMigration by 2.x's arguments and by
// 3.x's returns what a refresh through the provider host reads.
import assert from 'node:assert/strict';
import type { MigrationArgs } from '@pulumi/azure-native/dbforpostgresql/migration';
import * as dbforpostgresql from '@pulumi/azure-native/types/enums/dbforpostgresql';
import { showMigration } from '../../provider/engine';
import { getMigration, getMigrationOutput } from '../../provider/resource';
import type { PgMigrationArgs } from '../../provider/resource/pgMigration';
import { serverSpec, startCluster, until, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, secretLeaks, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-AzNative-3f81c2';
const TARGET_PW = 'dst-AzNative-9b27e4';
const DATABASES = ['exampledatabase1', 'exampledatabase2', 'exampledatabase3', 'exampledatabase4'];

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;

/** Azure's example, as azure-native's documentation writes it for TypeScript; `migrationMode` and `migrationName` vary. */
function example(migrationName: string, migrationMode: MigrationArgs['migrationMode']): MigrationArgs {
  return {
    dbsToMigrate: [...DATABASES],
    location: 'eastus',
    migrationMode,
    migrationName,
    migrationOption: dbforpostgresql.MigrationOption.ValidateAndMigrate,
    overwriteDbsInTarget: dbforpostgresql.OverwriteDatabasesOnTargetServer.True,
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: {
      adminCredentials: {
        sourceServerPassword: SOURCE_PW,
        targetServerPassword: TARGET_PW,
      },
    },
    serverName: 'exampleserver',
    sourceDbServerResourceId: `${source.host}:${source.port}@${source.user}`,
    sourceType: dbforpostgresql.SourceType.OnPremises,
    sslMode: dbforpostgresql.SslMode.Prefer,
  };
}

/** What `new PgMigration("migration", args)` sends: the same arguments (the compiler says they are PgMigration's). */
function props(args: PgMigrationArgs, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(JSON.stringify(args)) as Record<string, unknown>), ...more, __provider: provider };
}

const onTarget = async (database: string, email: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email = $1`, [email], database))[0]!.n;

describe('protocol: an azure-native Migration program with only its class changed to PgMigration', function () {
  this.timeout(600_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'aznat-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'aznat-dst', password: TARGET_PW }),
    ]);
    for (const db of DATABASES) await loadShop(source, db);
    ({ provider, program, host } = await openProtocolSession({
      PGFERRY_SERVER_HOSTS: `exampleserver=${target.user}@${target.host}:${target.port}?sslmode=prefer`,
    }));
  });
  after(async () => {
    await closeProtocolSession({ host, program });
    await Promise.all([source?.stop(), target?.stop()]);
  });

  describe('offline', () => {
    let id: string;
    let outputs: Record<string, unknown>;

    it('checks clean: the target from serverName, the source from sourceDbServerResourceId, no password outside secretParameters', async () => {
      const checked = await host.check({}, props(example('examplemigration', dbforpostgresql.MigrationMode.Offline)));
      assert.deepEqual(checked.failures, []);
      const t = checked.inputs.target as Record<string, unknown>;
      const s = checked.inputs.source as Record<string, unknown>;
      assert.deepEqual([t.host, t.port, t.user], [target.host, target.port, target.user]);
      assert.deepEqual([s.host, s.port, s.user, s.sslMode], [source.host, source.port, source.user, 'prefer']);
      assert.equal(t.password, undefined, 'the target password stays in secretParameters');
      assert.equal(s.password, undefined, 'the source password stays in secretParameters');
      assert.equal(checked.inputs.overwriteDbsInTarget, true, '"True" is true');
      assert.equal(checked.inputs.mode, 'Offline');
    });

    it('up copies the four databases; the target reads back as the source', async () => {
      const checked = await host.check({}, props(example('examplemigration', dbforpostgresql.MigrationMode.Offline)));
      const created = await host.create(checked.inputs);
      ({ id } = created);
      outputs = created.properties;
      assert.equal(outputs.state, 'Succeeded', String(outputs.message));
      for (const db of DATABASES) assert.deepEqual(await fingerprint(target, db), await fingerprint(source, db), db);
      assert.equal(
        (await target.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', [], 'exampledatabase3'))[0]!.n,
        2000,
        'the rows are on the target',
      );
    });

    it("gives azure-native's outputs: migrationId, the ARM ids, name, type, currentStatus, server metadata", () => {
      assert.equal(typeof outputs.migrationId, 'string');
      assert.ok((outputs.migrationId as string).length > 0);
      assert.match(
        String(outputs.targetDbServerResourceId),
        /^\/subscriptions\/[0-9a-f-]+\/resourceGroups\/exampleresourcegroup\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/exampleserver$/,
      );
      assert.equal(outputs.azureId, `${String(outputs.targetDbServerResourceId)}/migrations/examplemigration`);
      assert.equal(outputs.name, 'examplemigration');
      assert.equal(outputs.type, 'Microsoft.DBforPostgreSQL/flexibleServers/migrations');
      const status = outputs.currentStatus as {
        state: string;
        currentSubStateDetails: { currentSubState: string; dbDetails: Record<string, unknown> };
      };
      assert.equal(status.state, 'Succeeded');
      assert.deepEqual(Object.keys(status.currentSubStateDetails.dbDetails).sort(), DATABASES);
      assert.deepEqual(outputs.targetDbServerMetadata, { location: 'eastus', version: String(outputs.targetVersion) });
      assert.deepEqual(outputs.sourceDbServerMetadata, { version: String(outputs.sourceVersion) });
      assert.equal(outputs.sourceType, 'OnPremises', 'recorded as given');
    });

    it("gives azure-native's other outputs as Azure spells them; sku, storageMb and who created it absent (Azure's records)", () => {
      assert.equal(outputs.azureApiVersion, '2025-08-01');
      assert.deepEqual(outputs.systemData, { createdAt: outputs.createdAt });
      assert.ok(!Number.isNaN(Date.parse(String(outputs.createdAt))));
      assert.equal(outputs.migrationMode, 'Offline');
      assert.equal(outputs.migrationOption, 'ValidateAndMigrate');
      assert.deepEqual(outputs.dbsToMigrate, DATABASES);
      assert.equal(outputs.overwriteDbsInTarget, 'True', 'as ARM returns it, not true');
      assert.equal(outputs.triggerCutover, 'False');
      assert.equal(outputs.sslMode, 'Prefer');
      assert.equal(outputs.location, 'eastus');
      assert.equal(outputs.mode, 'Offline', "pgferry's names keep pgferry's spelling");
      assert.equal((outputs.source as { sslMode: string }).sslMode, 'prefer');
      for (const side of ['sourceDbServerMetadata', 'targetDbServerMetadata'] as const) {
        const metadata = outputs[side] as Record<string, unknown>;
        assert.ok(!('sku' in metadata) && !('storageMb' in metadata), `${side}: no sku, no storageMb`);
      }
    });

    it('the same program diffs clean against those outputs (Azure\'s "True" read back as true)', async () => {
      const checked = await host.check(outputs, props(example('examplemigration', dbforpostgresql.MigrationMode.Offline)));
      const diff = await host.diff(id, outputs, checked.inputs);
      assert.equal(diff.changes, 1); // DIFF_NONE
      assert.deepEqual(diff.replaces, []);
    });

    it("getMigration and getMigrationOutput read it live by azure-native's arguments, with libpq's PGPASSWORD", () =>
      readsByGetMigration(outputs));

    it("reads the migration back by its ARM id (azure-native's id), as PgMigration.get and import do", async () => {
      const read = await host.read(String(outputs.azureId), { __provider: provider, target: { password: TARGET_PW } });
      assert.equal(read.id, outputs.azureId);
      assert.equal(read.properties.state, 'Succeeded');
      assert.equal(read.properties.migrationName, 'examplemigration');
      assert.equal(read.properties.azureId, outputs.azureId, 'the same ARM id');
      assert.deepEqual(read.properties.databases, DATABASES);
    });

    it('destroy removes it and keeps the target databases', async () => {
      await host.delete(id, outputs);
      assert.equal(await showMigration(serverSpec(target, { password: TARGET_PW }), 'examplemigration'), undefined);
      assert.deepEqual(await fingerprint(target, 'exampledatabase1'), await fingerprint(source, 'exampledatabase1'));
    });
  });

  describe("azure-native 2.x's spelling: targetDbServerName and subscriptionId, and getMigration's", legacyTests);

  describe('online, with a per-database cutover', onlineTests);

  // a describe of its own, so it runs after both above
  describe('secrets', () => {
    it('leaks no password in any response or host output (outside secretParameters, a Pulumi secret)', () => {
      assert.ok(host.responses.length > 10, 'the runs above were recorded');
      assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
    });
  });
});

/** Runs `body` in the program's environment: the server by PGFERRY_SERVER_HOSTS, the password by PGPASSWORD. */
async function withGetMigrationEnv(body: () => Promise<void>): Promise<void> {
  const saved = { hosts: process.env.PGFERRY_SERVER_HOSTS, password: process.env.PGPASSWORD };
  process.env.PGFERRY_SERVER_HOSTS = `exampleserver=${target.user}@${target.host}:${target.port}?sslmode=prefer`;
  process.env.PGPASSWORD = TARGET_PW;
  try {
    await body();
  } finally {
    for (const [key, value] of [
      ['PGFERRY_SERVER_HOSTS', saved.hosts],
      ['PGPASSWORD', saved.password],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** getMigration in the program, as azure-native's invoke. */
async function readsByGetMigration(outputs: Record<string, unknown>): Promise<void> {
  await withGetMigrationEnv(async () => {
    const args = { migrationName: 'examplemigration', resourceGroupName: 'exampleresourcegroup', serverName: 'exampleserver' };
    const got = await getMigration(args);
    assert.equal(got.id, outputs.azureId, "azure-native's id: the ARM id");
    assert.equal(got.currentStatus.state, 'Succeeded');
    assert.deepEqual(Object.keys(got.currentStatus.currentSubStateDetails.dbDetails).sort(), DATABASES);
    assert.equal(got.migrationMode, 'Offline');
    assert.equal(got.overwriteDbsInTarget, 'True');
    assert.equal(got.migrationId, outputs.migrationId);
    assert.equal(got.azureApiVersion, '2025-08-01');
    assert.ok(!JSON.stringify(got).includes(TARGET_PW), 'no password in the result');
    const viaOutput = await new Promise((resolve) => getMigrationOutput(args).apply((m) => resolve(m.state)));
    assert.equal(viaOutput, 'Succeeded');
    await assert.rejects(getMigration({ ...args, migrationName: 'nosuchmigration' }), {
      message:
        'getMigration: no migration "nosuchmigration" on server "exampleserver" (its target\'s control catalog has none by that name)',
    });
  });
}

/**
 * The names of azure-native 3.x's GetMigrationResult (a superset of 2.x's) and pgferry's status
 * beside them: what getMigration returns of a migration, where the resource's outputs have them.
 */
const RESULT_NAMES = [
  'azureApiVersion',
  'cancel',
  'currentStatus',
  'dbsToCancelMigrationOn',
  'dbsToMigrate',
  'dbsToTriggerCutoverOn',
  'location',
  'migrateRoles',
  'migrationId',
  'migrationInstanceResourceId',
  'migrationMode',
  'migrationOption',
  'migrationWindowEndTimeInUtc',
  'migrationWindowStartTimeInUtc',
  'name',
  'overwriteDbsInTarget',
  'setupLogicalReplicationOnSourceDbIfNeeded',
  'sourceDbServerFullyQualifiedDomainName',
  'sourceDbServerMetadata',
  'sourceDbServerResourceId',
  'sourceType',
  'sslMode',
  'startDataMigration',
  'systemData',
  'tags',
  'targetDbServerFullyQualifiedDomainName',
  'targetDbServerMetadata',
  'targetDbServerResourceId',
  'triggerCutover',
  'type',
  'state',
  'subState',
  'message',
  'databaseDetails',
];

/** What getMigration should return of the resource whose outputs these are: those names, and its ARM id as `id`. */
function resultOf(outputs: Record<string, unknown>): Record<string, unknown> {
  const named = RESULT_NAMES.filter((key) => outputs[key] !== undefined).map((key) => [key, outputs[key]]);
  return Object.fromEntries([['id', outputs.azureId], ...named]);
}

/**
 * A 2.x program (its Migration and getMigration take targetDbServerName and subscriptionId, as
 * 2.92.3's declarations write them) with only the class changed: up through the provider host, then
 * getMigration by 2.x's arguments and by 3.x's returns what a refresh through the provider host reads.
 */
function legacyTests(): void {
  const NAME = 'examplemigrationtwo';
  const SUBSCRIPTION = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
  const v2 = (): PgMigrationArgs => ({
    dbsToMigrate: ['exampledatabase1'],
    location: 'westus',
    migrationMode: 'Offline',
    migrationName: NAME,
    overwriteDbsInTarget: 'True',
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: { adminCredentials: { sourceServerPassword: SOURCE_PW, targetServerPassword: TARGET_PW } },
    sourceDbServerResourceId: `${source.host}:${source.port}@${source.user}`,
    subscriptionId: SUBSCRIPTION,
    targetDbServerName: 'exampleserver',
  });
  let id: string;
  let outputs: Record<string, unknown>;

  it("up copies the database; the outputs' ARM ids name 2.x's subscription and server", async () => {
    const checked = await host.check({}, props(v2()));
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    ({ id } = created);
    outputs = created.properties;
    assert.equal(outputs.state, 'Succeeded', String(outputs.message));
    assert.deepEqual(await fingerprint(target, 'exampledatabase1'), await fingerprint(source, 'exampledatabase1'));
    assert.equal(
      outputs.azureId,
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/exampleresourcegroup/providers/Microsoft.DBforPostgreSQL/flexibleServers/exampleserver/migrations/${NAME}`,
    );
  });

  it("getMigration by 2.x's arguments and by 3.x's returns what a refresh through the provider host reads", () =>
    withGetMigrationEnv(async () => {
      const refreshed = (await host.read(id, outputs)).properties;
      const legacy = {
        migrationName: NAME,
        resourceGroupName: 'exampleresourcegroup',
        subscriptionId: SUBSCRIPTION,
        targetDbServerName: 'exampleserver',
      };
      const byTwo = (await getMigration(legacy)) as unknown as Record<string, unknown>;
      assert.deepEqual(byTwo, resultOf(refreshed));
      assert.equal(byTwo.id, outputs.azureId);
      const byThree = await getMigration({ migrationName: NAME, resourceGroupName: 'exampleresourcegroup', serverName: 'exampleserver' });
      assert.deepEqual(byThree, byTwo, "3.x's arguments (no subscriptionId) name the same migration");
      const viaOutput = await new Promise((resolve) => getMigrationOutput(legacy).apply(resolve));
      assert.deepEqual(viaOutput, byTwo);
    }));

  it('getMigration refuses, in one line, another subscription, two server names, or none', () =>
    withGetMigrationEnv(async () => {
      const base = { migrationName: NAME, resourceGroupName: 'exampleresourcegroup' };
      await assert.rejects(
        getMigration({ ...base, targetDbServerName: 'exampleserver', subscriptionId: 'eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee' }),
        {
          message: `getMigration: no migration "${NAME}" on server "exampleserver" in these arguments' scope (the one by that name was created in subscription "${SUBSCRIPTION}", not "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee")`,
        },
      );
      await assert.rejects(getMigration({ ...base, serverName: 'exampleserver', targetDbServerName: 'otherserver' }), {
        message:
          'getMigration: serverName: given as "exampleserver" and targetDbServerName as "otherserver"; they name one server (azure-native 3.x and 2.x): give one of them',
      });
      await assert.rejects(
        getMigration(base as unknown as Parameters<typeof getMigration>[0]),
        /^Error: getMigration: serverName: required/,
      );
      // nothing was changed by the refusals: the migration reads back as it was
      assert.equal((await showMigration(serverSpec(target, { password: TARGET_PW }), NAME))?.state, 'Succeeded');
    }));

  it('destroy removes it and keeps the target database', async () => {
    await host.delete(id, outputs);
    assert.equal(await showMigration(serverSpec(target, { password: TARGET_PW }), NAME), undefined);
    assert.deepEqual(await fingerprint(target, 'exampledatabase1'), await fingerprint(source, 'exampledatabase1'));
  });
}

/** The same example with migrationMode Online: a per-database cutover, then the rest. */
function onlineTests(): void {
  const NAME = 'exampleonline';
  let id: string;
  let outputs: Record<string, unknown>;
  const args = (more: Record<string, unknown> = {}) => props(example(NAME, dbforpostgresql.MigrationMode.Online), more);

  it('up copies and streams every database (overwriting the offline copies: overwriteDbsInTarget "True")', async () => {
    const checked = await host.check({}, args());
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    ({ id } = created);
    outputs = created.properties;
    assert.equal(outputs.subState, 'WaitingForCutoverTrigger', String(outputs.message));
  });

  it('triggerCutover "True" with dbsToTriggerCutoverOn cuts over that database only; the others stream on', async () => {
    for (const db of DATABASES) await source.query(`INSERT INTO customers (email) VALUES ('before-cutover@example.com')`, [], db);
    const news = (
      await host.check(outputs, args({ triggerCutover: dbforpostgresql.TriggerCutover.True, dbsToTriggerCutoverOn: ['exampledatabase1'] }))
    ).inputs;
    const diff = await host.diff(id, outputs, news);
    assert.deepEqual(diff.replaces, []);
    const updated = await host.update(id, outputs, news);
    outputs = updated.properties;
    const details = outputs.databaseDetails as { database: string; state: string }[];
    assert.deepEqual(
      details.map((d) => [d.database, d.state]),
      [
        ['exampledatabase1', 'Succeeded'],
        ['exampledatabase2', 'WaitingForCutoverTrigger'],
        ['exampledatabase3', 'WaitingForCutoverTrigger'],
        ['exampledatabase4', 'WaitingForCutoverTrigger'],
      ],
    );
    assert.equal(await onTarget('exampledatabase1', 'before-cutover@example.com'), 1, 'the last change is on the target');
    assert.deepEqual(await fingerprint(target, 'exampledatabase1'), await fingerprint(source, 'exampledatabase1'));
    // the others still stream: a change made now reaches the target
    await source.query(`INSERT INTO customers (email) VALUES ('streamed@example.com')`, [], 'exampledatabase2');
    await until('exampledatabase2 receives the change', async () =>
      (await onTarget('exampledatabase2', 'streamed@example.com')) === 1 ? true : undefined,
    );
    const status = outputs.currentStatus as { currentSubStateDetails: { dbDetails: Record<string, { migrationState: string }> } };
    assert.equal(status.currentSubStateDetails.dbDetails.exampledatabase1!.migrationState, 'Succeeded');
  });

  it('triggerCutover "True" alone then cuts over the rest; every database reads back as the source', async () => {
    for (const db of DATABASES.slice(1)) await source.query(`INSERT INTO customers (email) VALUES ('last@example.com')`, [], db);
    const news = (await host.check(outputs, args({ triggerCutover: dbforpostgresql.TriggerCutover.True }))).inputs;
    const updated = await host.update(id, outputs, news);
    outputs = updated.properties;
    assert.equal(outputs.state, 'Succeeded', String(outputs.message));
    for (const db of DATABASES) assert.deepEqual(await fingerprint(target, db), await fingerprint(source, db), db);
    for (const db of DATABASES.slice(1)) assert.equal(await onTarget(db, 'last@example.com'), 1, db);
    await host.delete(id, outputs);
  });
}
