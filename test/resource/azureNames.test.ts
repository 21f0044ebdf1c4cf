// PgMigration's inputs under azure-native Migration's names, through the SDK's own provider host:
// each Azure name fills pgferry's (and back), both given with different values is one check
// failure naming both, moving a program from one spelling to the other is no change, and the
// window and per-database inputs are judged at check.
import assert from 'node:assert/strict';
import { closeProtocolSession, openProtocolSession, type ProviderHost } from './support/providerHost';

let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;

const SERVERS = {
  source: { host: '127.0.0.1', port: 5432, user: 'postgres' },
  target: { host: '127.0.0.1', port: 5433, user: 'postgres' },
};

function inputs(overrides: Record<string, unknown>): Record<string, unknown> {
  return { migrationName: 'azure-names', ...SERVERS, __provider: provider, ...overrides };
}

describe("protocol: azure-native Migration's input names beside pgferry's", function () {
  before(async () => {
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    await closeProtocolSession({ host, program });
  });

  it("accepts azure-native's names and fills pgferry's with the same values", async () => {
    const res = await host.check(
      {},
      inputs({
        dbsToMigrate: ['app'],
        migrationMode: 'Online',
        migrationOption: 'Migrate',
        triggerCutover: false,
        sslMode: 'VerifyFull',
        sourceType: 'OnPremises',
        migrationInstanceResourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/runtime',
      }),
    );
    assert.deepEqual(res.failures, []);
    assert.deepEqual([res.inputs.databases, res.inputs.mode, res.inputs.option, res.inputs.cutover], [['app'], 'Online', 'Migrate', false]);
    assert.equal((res.inputs.source as Record<string, unknown>).sslMode, 'verify-full');
    // recorded as given, so the outputs echo them
    assert.equal(res.inputs.sourceType, 'OnPremises');
    assert.match(String(res.inputs.migrationInstanceResourceId), /flexibleServers\/runtime$/);
  });

  it("fills azure-native's names from pgferry's, so either set of outputs reads the same", async () => {
    const res = await host.check({}, inputs({ databases: ['app'], mode: 'Online' }));
    assert.deepEqual(res.failures, []);
    assert.deepEqual(
      [res.inputs.dbsToMigrate, res.inputs.migrationMode, res.inputs.migrationOption],
      [['app'], 'Online', 'ValidateAndMigrate'],
    );
  });

  it('refuses one input given under both names with different values, naming both', async () => {
    const res = await host.check({}, inputs({ databases: ['app'], dbsToMigrate: ['hr'], mode: 'Online', migrationMode: 'Offline' }));
    const why = "they are one input under two names (azure-native's and pgferry's): give one of them";
    assert.deepEqual(res.failures.map((f) => f.reason).sort(), [
      `dbsToMigrate: given as ["hr"] and databases as ["app"]; ${why}`,
      `migrationMode: given as "Offline" and mode as "Online"; ${why}`,
    ]);
  });

  it('accepts one input given under both names with the same value', async () => {
    const res = await host.check(
      {},
      inputs({ databases: ['app'], dbsToMigrate: ['app'], sslMode: 'Require', source: { ...SERVERS.source, sslMode: 'require' } }),
    );
    assert.deepEqual(res.failures, []);
  });

  it("diffs clean when a program moves from pgferry's names to azure-native's with the same values", async () => {
    const olds = (await host.check({}, inputs({ databases: ['app'], mode: 'Online', cutover: false }))).inputs;
    const news = (await host.check(olds, inputs({ dbsToMigrate: ['app'], migrationMode: 'Online', triggerCutover: false }))).inputs;
    const res = await host.diff('id', { ...olds, state: 'WaitingForUserAction' }, news);
    assert.equal(res.changes, 1, JSON.stringify(res)); // DIFF_NONE
  });

  it('refuses a migration window already over at create, and keeps an existing migration past its window', async () => {
    const past = inputs({ databases: ['app'], migrationWindowEndTimeInUtc: '2001-01-01T00:00:00Z' });
    const created = await host.check({}, past);
    assert.deepEqual(
      created.failures.map((f) => f.property),
      ['migrationWindowEndTimeInUtc'],
    );
    assert.match(created.failures[0]!.reason, /^migrationWindowEndTimeInUtc \(2001-01-01T00:00:00\.000Z\) is in the past/);
    const existing = await host.check(inputs({ databases: ['app'] }), past);
    assert.deepEqual(existing.failures, []);
    const reversed = await host.check(
      {},
      inputs({
        databases: ['app'],
        migrationWindowStartTimeInUtc: '2040-01-02T00:00:00Z',
        migrationWindowEndTimeInUtc: '2040-01-01T00:00:00Z',
      }),
    );
    assert.match(reversed.failures[0]!.reason, /migrationWindowEndTimeInUtc: must be after migrationWindowStartTimeInUtc/);
  });

  it('refuses a per-database cutover or cancel naming a database the migration does not migrate', async () => {
    const res = await host.check(
      {},
      inputs({ dbsToMigrate: ['app', 'hr'], dbsToTriggerCutoverOn: ['sales'], dbsToCancelMigrationOn: ['hr'] }),
    );
    assert.deepEqual(
      res.failures.map((f) => f.reason),
      ['dbsToTriggerCutoverOn: sales is not migrated by this migration; it migrates app, hr'],
    );
  });
});
