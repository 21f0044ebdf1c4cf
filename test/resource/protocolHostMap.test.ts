// Protocol against real servers: identity is not environment. One azure-native program, its target
// named by serverName "exampleserver", run through the SDK's provider host on two "machines" whose
// PGFERRY_SERVER_HOSTS map that name to two addresses of one server (127.0.0.1 and localhost). The
// migration created on the first is online and streaming; the second's preview refuses to replace it,
// naming both addresses and the fix, and the migration streams on (read back from the target);
// with PGFERRY_ALLOW_HOST_CHANGE naming it, the replace is planned, delete first. The name the
// target's certificate carries is kept in the control catalog, so a third machine with no map that
// gets the migration by its id reaches it as the first did.
import assert from 'node:assert/strict';
import type { MigrationArgs } from '@pulumi/azure-native/dbforpostgresql/migration';
import * as dbforpostgresql from '@pulumi/azure-native/types/enums/dbforpostgresql';
import { startCluster, until, type Cluster } from '../support';
import { loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, type ProtocolSession } from './support/providerHost';

const SOURCE_PW = 'src-HostMap-5b21c7';
const TARGET_PW = 'dst-HostMap-e90a4d';
const DB = 'exampledatabase1';

let source: Cluster;
let target: Cluster;
let first: ProtocolSession;
let second: ProtocolSession;
let allowed: ProtocolSession;
let unmapped: ProtocolSession;
let created: { id: string; properties: Record<string, unknown> };
const TLS_NAME = 'exampleserver.postgres.database.azure.com';

function example(): MigrationArgs {
  return {
    dbsToMigrate: [DB],
    migrationMode: dbforpostgresql.MigrationMode.Online,
    migrationName: 'hostmap',
    migrationOption: dbforpostgresql.MigrationOption.Migrate,
    overwriteDbsInTarget: dbforpostgresql.OverwriteDatabasesOnTargetServer.True,
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: { adminCredentials: { sourceServerPassword: SOURCE_PW, targetServerPassword: TARGET_PW } },
    serverName: 'exampleserver',
    sourceDbServerResourceId: `${source.host}:${source.port}@${source.user}`,
    sslMode: dbforpostgresql.SslMode.Prefer,
  };
}

const props = (session: ProtocolSession) => ({
  ...(JSON.parse(JSON.stringify(example())) as Record<string, unknown>),
  __provider: session.provider,
});
const hosts = (address: string) => ({ PGFERRY_SERVER_HOSTS: `exampleserver=${target.user}@${address}:${target.port}?sslmode=prefer` });

describe('protocol: one program on two machines whose PGFERRY_SERVER_HOSTS differ', function () {
  this.timeout(600_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'hostmap-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'hostmap-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, DB);
    first = await openProtocolSession(hosts('127.0.0.1'));
    second = await openProtocolSession(hosts('localhost'));
    allowed = await openProtocolSession({ ...hosts('localhost'), PGFERRY_ALLOW_HOST_CHANGE: 'hostmap' });
    unmapped = await openProtocolSession({ PGFERRY_SERVER_HOSTS: '' });
  });
  after(async () => {
    for (const session of [first, second, allowed, unmapped]) await closeProtocolSession(session ?? {});
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('refuses the replace of the running migration another address of its server would plan, and plans it when PGFERRY_ALLOW_HOST_CHANGE names it', async () => {
    const checked = await first.host.check({}, props(first));
    assert.deepEqual(checked.failures, []);
    created = await first.host.create(checked.inputs);
    const outputs = created.properties;
    assert.equal((outputs.target as Record<string, unknown>).host, '127.0.0.1');
    await until('the migration to stream', async () => {
      const [row] = await target.query<{ state: string }>(`SELECT state FROM pgferry.migration WHERE name = 'hostmap'`);
      return row?.state === 'InProgress' || row?.state === 'WaitingForUserAction' ? row : undefined;
    });

    const there = await second.host.check(outputs, props(second));
    assert.equal((there.inputs.target as Record<string, unknown>).host, 'localhost');
    await assert.rejects(second.host.diff(created.id, outputs, there.inputs), (error: Error) => {
      assert.match(
        error.message,
        /server "exampleserver" resolves to localhost:\d+ on this machine and to 127\.0\.0\.1:\d+ where migration "hostmap"/,
      );
      assert.match(error.message, /PGFERRY_ALLOW_HOST_CHANGE=hostmap/);
      assert.doesNotMatch(error.message, new RegExp(TARGET_PW));
      return true;
    });
    // the migration is the one created, not canceled: a row written on the source arrives
    await source.query(`INSERT INTO customers (email) VALUES ('after-the-refused-preview@example.com')`, [], DB);
    await until(
      'the row to stream',
      async () => {
        const rows = await target.query(`SELECT 1 FROM customers WHERE email = 'after-the-refused-preview@example.com'`, [], DB);
        return rows.length === 1 ? rows : undefined;
      },
      120_000,
    );
    const [row] = await target.query<{ state: string }>(`SELECT state FROM pgferry.migration WHERE name = 'hostmap'`);
    assert.notEqual(row!.state, 'Canceled');

    const opted = await allowed.host.check(outputs, props(allowed));
    const diff = await allowed.host.diff(created.id, outputs, opted.inputs);
    assert.ok(diff.replaces.includes('target'), JSON.stringify(diff));
    assert.equal(diff.deleteBeforeReplace, true);
  });

  it("keeps the name the target's certificate carries in the catalog: a machine without the map gets it by id and its refresh keeps it", async () => {
    const [row] = await target.query<{ name: string | null }>(
      `SELECT spec->'target'->>'sslServerName' AS name FROM pgferry.migration WHERE name = 'hostmap'`,
    );
    assert.equal(row!.name, TLS_NAME, 'the control catalog keeps the name');
    assert.equal((created.properties.target as Record<string, unknown>).sslServerName, TLS_NAME, 'the state keeps it');
    // PgMigration.get on a machine with no PGFERRY_SERVER_HOSTS: the id names the address only
    const access = { user: target.user, password: TARGET_PW, sslMode: 'prefer' };
    const got = await unmapped.host.read(`127.0.0.1:${target.port}/hostmap`, { target: access, __provider: unmapped.provider });
    assert.equal((got.properties.target as Record<string, unknown>).sslServerName, TLS_NAME, 'get reads it back from the catalog');
    const refreshed = await unmapped.host.read(got.id, { ...got.properties, __provider: unmapped.provider });
    assert.equal((refreshed.properties.target as Record<string, unknown>).sslServerName, TLS_NAME, 'a refresh of that state keeps it');
    assert.notEqual(refreshed.properties.state, 'Canceled');
    await first.host.delete(created.id, created.properties);
  });
});
