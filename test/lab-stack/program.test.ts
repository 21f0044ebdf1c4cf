// The standalone lab program end to end under mocks: stack config in, stack outputs out, with the
// real PgMigration resource for the declared migrations.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { installMocks, valueOf, type MockLab } from './mocks';
import { fullConfig } from './fixtures';
import { readLabConfig, LabConfigError } from '../../lab-stack/lab';
import labProgram = require('../../lab-stack/index');

/** Stack config as `pulumi config set [--path] [--secret]` leaves it: JSON text for structured keys. */
function setStackConfig(secrets: Record<string, string>): void {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(fullConfig())) {
    config[`pgferry-lab:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  for (const [key, value] of Object.entries(secrets)) config[`pgferry-lab:${key}`] = value;
  pulumi.runtime.setAllConfig(
    config,
    Object.keys(secrets).map((k) => `pgferry-lab:${k}`),
  );
}

describe('lab-stack program', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    mocks = await installMocks();
  });
  after(() => pulumi.runtime.setAllConfig({}));

  it('names the missing secret and the command that sets it', () => {
    setStackConfig({ sourcePassword: 'src', legacyPassword: 'legacy' });
    assert.throws(
      () => readLabConfig(),
      (err: unknown) =>
        err instanceof LabConfigError &&
        err.message ===
          'pgferry-lab:adminPassword: is required (the Flexible Server administrator password); set it with: pulumi config set --secret adminPassword <value>',
    );
    setStackConfig({ adminPassword: 'pw', sourcePassword: 'src' });
    assert.throws(
      () => readLabConfig(),
      /^LabConfigError: pgferry-lab:legacyPassword: is required \(migrations\[1\] reads its source password from it\)/,
    );
  });

  it('refuses an administrator password Azure would refuse, at preview, without echoing it', () => {
    for (const weak of ['passw0rd', 'Sh0rt!', 'alllowercaseletters!']) {
      setStackConfig({ adminPassword: weak, sourcePassword: 'src', legacyPassword: 'legacy' });
      assert.throws(
        () => readLabConfig(),
        (err: unknown) =>
          err instanceof LabConfigError &&
          err.key === 'pgferry-lab:adminPassword' &&
          /must be 8-128 characters from at least three of: uppercase letters, lowercase letters, digits, symbols/.test(err.message) &&
          !err.message.includes(weak),
      );
    }
    setStackConfig({ adminPassword: 'Passw0rd!', sourcePassword: 'src', legacyPassword: 'legacy' });
    assert.equal(readLabConfig().config.server.administratorLogin, 'pgadmin', "the tutorial's Passw0rd! passes");
  });

  it('reads the region once, from azure-native:location, and refuses two different regions', () => {
    const { location: _location, ...rest } = fullConfig();
    void _location;
    const config: Record<string, string> = { 'azure-native:location': 'northeurope' };
    for (const [key, value] of Object.entries(rest))
      config[`pgferry-lab:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
    const secrets = { 'pgferry-lab:adminPassword': 'Adm1n-pw!', 'pgferry-lab:sourcePassword': 'pw', 'pgferry-lab:legacyPassword': 'pw' };
    pulumi.runtime.setAllConfig({ ...config, ...secrets }, Object.keys(secrets));
    assert.equal(readLabConfig().config.location, 'northeurope');
    pulumi.runtime.setAllConfig({ ...config, ...secrets, 'pgferry-lab:location': 'westeurope' }, Object.keys(secrets));
    assert.throws(
      () => readLabConfig(),
      (err: unknown) =>
        err instanceof LabConfigError && err.key === 'pgferry-lab:location' && /azure-native:location is "northeurope"/.test(err.message),
    );
  });

  it('reports a bad structured key from stack config as one line', () => {
    pulumi.runtime.setAllConfig({ 'pgferry-lab:location': 'westeurope', 'pgferry-lab:server': '{"version":"10"}' });
    assert.throws(
      () => readLabConfig(),
      (err: unknown) => err instanceof LabConfigError && err.key === 'pgferry-lab:server.version',
    );
  });

  it('runs from stack config to stack outputs, with PgMigration for the migrations', async () => {
    setStackConfig({ adminPassword: 'Adm1n-pw', sourcePassword: 'src-pw', legacyPassword: 'legacy-pw' });
    const secretConfig = await pulumi.isSecret(readLabConfig().secrets.adminPassword as pulumi.Output<string>);
    assert.ok(secretConfig, 'admin password read as a secret');

    const outputs = labProgram() as Record<string, pulumi.Output<unknown> | string | undefined>;
    assert.deepEqual(Object.keys(outputs).sort(), [
      'adminLogin',
      'dnsZoneName',
      'migrationStates',
      'parametersPendingRestart',
      'poolerAddress',
      'resourceGroupName',
      'runtimeAgents',
      'serverConnectionString',
      'serverFqdn',
      'serverName',
      'serverPrivateIp',
      'sourceVmPrivateIp',
      'vnetId',
      'vpnClientAddressPool',
      'vpnDnsServer',
      'vpnGatewayId',
    ]);
    assert.deepEqual(await valueOf(outputs.migrationStates as pulumi.Output<unknown>), {
      'aw-online': 'InProgress',
      'legacy-offline': 'InProgress',
    });
    assert.ok(await pulumi.isSecret(outputs.serverConnectionString as pulumi.Output<string>));
    assert.equal(await pulumi.isSecret(outputs.serverFqdn as pulumi.Output<string>), false);

    const migrations = mocks.byType('pulumi-nodejs:dynamic/pgferry:PgMigration');
    assert.deepEqual(migrations.map((m) => m.name).sort(), ['migration-aw-online', 'migration-legacy-offline']);
    const online = mocks.byName('migration-aw-online');
    assert.equal(typeof online.inputs.__provider, 'string', 'a real dynamic resource with its serialized provider');
    assert.ok(
      !online.inputs.__provider.includes('src-pw') && !online.inputs.__provider.includes('Adm1n-pw'),
      'no password captured in the provider text',
    );
    assert.ok(online.secretInputs.includes('source') && online.secretInputs.includes('target'));
    assert.equal(online.inputs.target.host, 'pgferry-target.postgres.database.azure.com');
    assert.deepEqual(online.inputs.customTimeouts, { create: '6h', update: '6h', delete: '30m' });
    for (const dep of ['source-ready', 'server', 'vpn-gateway']) assert.ok(online.dependsOn.includes(dep), dep);
    assert.equal(online.parent, 'lab-runtime');
  });
});
