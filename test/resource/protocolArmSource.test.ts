// Protocol against real servers: a source named by its Azure resource id. An azure-native program
// whose sourceDbServerResourceId is a Flexible Server's ARM id (no FQDN, no source user given) runs
// through the SDK's provider host with PGFERRY_SERVER_HOSTS mapping that server's name to a local
// server: the migration is created online, the copy and a row streamed after it are read back from
// the target. A second machine whose map gives the same server another address (localhost for
// 127.0.0.1) is refused the replace the address would plan, and the migration streams on.
import assert from 'node:assert/strict';
import type { MigrationArgs } from '@pulumi/azure-native/dbforpostgresql/migration';
import * as dbforpostgresql from '@pulumi/azure-native/types/enums/dbforpostgresql';
import { startCluster, until, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, type ProtocolSession } from './support/providerHost';

const SOURCE_PW = 'src-ArmSource-41c9d2';
const TARGET_PW = 'dst-ArmSource-8e07b5';
const DB = 'exampledatabase1';
const SOURCE_ID =
  '/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/exampleresourcegroup/providers/Microsoft.DBforPostgreSQL/flexibleServers/examplesource';

let source: Cluster;
let target: Cluster;
let first: ProtocolSession;
let second: ProtocolSession;

function example(): MigrationArgs {
  return {
    dbsToMigrate: [DB],
    migrationMode: dbforpostgresql.MigrationMode.Online,
    migrationName: 'armsource',
    migrationOption: dbforpostgresql.MigrationOption.Migrate,
    overwriteDbsInTarget: dbforpostgresql.OverwriteDatabasesOnTargetServer.True,
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: { adminCredentials: { sourceServerPassword: SOURCE_PW, targetServerPassword: TARGET_PW } },
    serverName: 'exampleserver',
    sourceDbServerResourceId: SOURCE_ID,
    sslMode: dbforpostgresql.SslMode.Prefer,
  };
}

const props = (session: ProtocolSession) => ({
  ...(JSON.parse(JSON.stringify(example())) as Record<string, unknown>),
  __provider: session.provider,
});
/** Both servers mapped by name, the source at `sourceAddress`. */
const hosts = (sourceAddress: string) => ({
  PGFERRY_SERVER_HOSTS: [
    `examplesource=${source.user}@${sourceAddress}:${source.port}?sslmode=prefer`,
    `exampleserver=${target.user}@127.0.0.1:${target.port}?sslmode=prefer`,
  ].join(','),
});

describe('protocol: a source named by its Azure resource id, found through PGFERRY_SERVER_HOSTS', function () {
  this.timeout(600_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'armsrc-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'armsrc-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, DB);
    first = await openProtocolSession(hosts('127.0.0.1'));
    second = await openProtocolSession(hosts('localhost'));
  });
  after(async () => {
    for (const session of [first, second]) await closeProtocolSession(session ?? {});
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it("creates the migration from the mapped address, copies and streams into the target, and refuses the replace another machine's map would plan", async () => {
    const checked = await first.host.check({}, props(first));
    assert.deepEqual(checked.failures, []);
    const mapped = checked.inputs.source as Record<string, unknown>;
    assert.deepEqual([mapped.host, mapped.port, mapped.user], ['127.0.0.1', source.port, source.user]);
    const created = await first.host.create(checked.inputs);
    const outputs = created.properties;
    assert.equal(outputs.sourceDbServerResourceId, SOURCE_ID, 'the outputs keep the id as given');
    await until('the migration to stream', async () => {
      const [row] = await target.query<{ sub_state: string }>(`SELECT sub_state FROM pgferry.migration WHERE name = 'armsource'`);
      return row?.sub_state === 'WaitingForCutoverTrigger' ? row : undefined;
    });
    const [spec] = await target.query<{ host: string; port: number }>(
      `SELECT spec->'source'->>'host' AS host, (spec->'source'->>'port')::int AS port FROM pgferry.migration WHERE name = 'armsource'`,
    );
    assert.deepEqual(spec, { host: '127.0.0.1', port: source.port }, 'the catalog records the address the map gave');
    assert.deepEqual(await fingerprint(target, DB), await fingerprint(source, DB), 'the copy equals the source');

    const there = await second.host.check(outputs, props(second));
    assert.equal((there.inputs.source as Record<string, unknown>).host, 'localhost');
    await assert.rejects(second.host.diff(created.id, outputs, there.inputs), (error: Error) => {
      assert.match(
        error.message,
        /^source: server "examplesource" \(sourceDbServerResourceId\) resolves to localhost:\d+ on this machine and to 127\.0\.0\.1:\d+ where migration "armsource"/,
      );
      assert.match(error.message, /PGFERRY_ALLOW_HOST_CHANGE=armsource/);
      assert.doesNotMatch(error.message, new RegExp(`${SOURCE_PW}|${TARGET_PW}`));
      return true;
    });
    // the migration created is the one streaming: a row written on the source arrives
    await source.query(`INSERT INTO customers (email) VALUES ('after-the-arm-id@example.com')`, [], DB);
    await until(
      'the row to stream',
      async () => {
        const rows = await target.query(`SELECT 1 FROM customers WHERE email = 'after-the-arm-id@example.com'`, [], DB);
        return rows.length === 1 ? rows : undefined;
      },
      120_000,
    );
    await first.host.delete(created.id, created.properties);
    assert.equal((await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'armsource'`)).length, 0);
  });
});
