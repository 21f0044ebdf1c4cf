// Protocol against real servers: Azure's defaults for a program written as azure-native writes a
// Migration (its source named by sourceDbServerResourceId), driven through the SDK's provider host.
// Roles move only from a Single Server source (Microsoft Learn, "Migration of user roles,
// ownerships, and privileges"), and a target database that exists with overwriteDbsInTarget unset
// waits for the confirmation (azure-native's overwriteDbsInTarget: "If set to 'False', when the
// migration workflow detects that the database already exists on the target server, it will wait
// for a confirmation"), which `overwriteDbsInTarget: "True"` and `pulumi up` give. pgferry's own
// inputs keep pgferry's defaults, and an existing migration keeps the values it was created with.
import assert from 'node:assert/strict';
import type { MigrationArgs } from '@pulumi/azure-native/dbforpostgresql/migration';
import * as dbforpostgresql from '@pulumi/azure-native/types/enums/dbforpostgresql';
import type { PgMigrationArgs } from '../../provider/resource/pgMigration';
import { startCluster, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, secretLeaks, type ProtocolSession } from './support/providerHost';

const SOURCE_PW = 'src-AzDefaults-2c9e41';
const TARGET_PW = 'dst-AzDefaults-8d13f0';
const DB = 'exampledatabase1';

let source: Cluster;
let target: Cluster;
let session: ProtocolSession;

/** Azure's example as azure-native's docs write it, overwriteDbsInTarget and migrateRoles left out. */
function example(migrationName: string, more: Partial<MigrationArgs> = {}): MigrationArgs {
  return {
    dbsToMigrate: [DB],
    location: 'eastus',
    migrationMode: dbforpostgresql.MigrationMode.Offline,
    migrationName,
    migrationOption: dbforpostgresql.MigrationOption.ValidateAndMigrate,
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: { adminCredentials: { sourceServerPassword: SOURCE_PW, targetServerPassword: TARGET_PW } },
    serverName: 'exampleserver',
    sourceDbServerResourceId: `${source.host}:${source.port}@${source.user}`,
    sourceType: dbforpostgresql.SourceType.OnPremises,
    sslMode: dbforpostgresql.SslMode.Prefer,
    ...more,
  };
}

function props(args: PgMigrationArgs | MigrationArgs, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(JSON.stringify(args)) as Record<string, unknown>), ...more, __provider: session.provider };
}

const roleOnTarget = async (role: string) =>
  (await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [role]))[0]!.n;

describe("protocol: Azure's defaults for an azure-native Migration program", function () {
  this.timeout(600_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'azdef-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'azdef-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, DB);
    // a role of the source's own that owns a table: Azure moves it only from a Single Server
    await source.query('CREATE ROLE app_owner NOLOGIN');
    await source.query('ALTER TABLE customers OWNER TO app_owner', [], DB);
    session = await openProtocolSession({
      PGFERRY_SERVER_HOSTS: `exampleserver=${target.user}@${target.host}:${target.port}?sslmode=prefer`,
    });
  });
  after(async () => {
    await closeProtocolSession(session ?? {});
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('check: roles move from a Single Server source only, and an existing database waits; pgferry inputs keep its defaults', async () => {
    const other = await session.host.check({}, props(example('m1')));
    assert.deepEqual(other.failures, []);
    assert.equal(other.inputs.migrateRoles, false, 'OnPremises: no roles, as Azure');
    assert.equal(other.inputs.waitForOverwriteConfirmation, true);
    const single = await session.host.check({}, props(example('m1', { sourceType: dbforpostgresql.SourceType.PostgreSQLSingleServer })));
    assert.equal(single.inputs.migrateRoles, true, 'Single Server: roles, as Azure');
    const given = await session.host.check({}, props(example('m1', { migrateRoles: dbforpostgresql.MigrateRolesAndPermissions.True })));
    assert.equal(given.inputs.migrateRoles, true, 'given: as given');
    const ours = await session.host.check(
      {},
      props({
        migrationName: 'm2',
        source: { host: source.host, port: source.port, user: source.user },
        target: { host: target.host, port: target.port, user: target.user },
        databases: [DB],
      }),
    );
    assert.deepEqual([ours.inputs.migrateRoles, ours.inputs.waitForOverwriteConfirmation], [true, false], "pgferry's own inputs");
    const kept = await session.host.check(
      { migrationName: 'm1', migrateRoles: 'True', waitForOverwriteConfirmation: false },
      props(example('m1')),
    );
    assert.deepEqual(
      [kept.inputs.migrateRoles, kept.inputs.waitForOverwriteConfirmation],
      [true, false],
      'an existing migration keeps its values',
    );
  });

  it('up with the database already on the target waits, changing nothing there; overwriteDbsInTarget "True" and up then overwrite it, moving no role', async () => {
    await target.query(`CREATE DATABASE ${DB}`);
    await target.query('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$before$$)', [], DB);
    const checked = await session.host.check({}, props(example('waits')));
    const created = await session.host.create(checked.inputs);
    const outputs = created.properties;
    assert.deepEqual(
      [outputs.state, outputs.subState],
      ['WaitingForUserAction', 'WaitingForTargetDBOverwriteConfirmation'],
      String(outputs.message),
    );
    assert.deepEqual(await target.query('SELECT v FROM kept', [], DB), [{ v: 'before' }], 'the target database as it was');
    assert.equal(outputs.overwriteDbsInTarget, 'False');

    const news = (
      await session.host.check(
        outputs,
        props(example('waits', { overwriteDbsInTarget: dbforpostgresql.OverwriteDatabasesOnTargetServer.True })),
      )
    ).inputs;
    const diff = await session.host.diff(created.id, outputs, news);
    assert.deepEqual(diff.replaces, [], "an update, as Azure's PATCH");
    const updated = (await session.host.update(created.id, outputs, news)).properties;
    assert.equal(updated.state, 'Succeeded', String(updated.message));
    assert.deepEqual(await fingerprint(target, DB), await fingerprint(source, DB), 'overwritten with the source');
    assert.equal(await roleOnTarget('app_owner'), 0, 'no role moved from an OnPremises source');
    await session.host.delete(created.id, updated);
    assert.deepEqual(secretLeaks(session.host, [SOURCE_PW, TARGET_PW]), []);
  });
});
