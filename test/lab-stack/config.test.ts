// Stack config validation: defaults, and one line naming the key and what is allowed per problem.
import assert from 'node:assert/strict';
import { labConfigProblems, parseLabConfig, LabConfigError, type LabConfigInput } from '../../lab-stack/config';
import { fullConfig, ROOT_CERT } from './fixtures';
import { serverParameters } from '../../lab-stack/serverParameters';

/** The single error line parseLabConfig throws for a config. */
function errorFor(config: unknown): string {
  try {
    parseLabConfig(config);
  } catch (err) {
    assert.ok(err instanceof LabConfigError, `expected LabConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `not one line: ${err.message}`);
    return err.message;
  }
  assert.fail('config was accepted');
}

function withChange(change: (config: any) => void): LabConfigInput {
  const config = structuredClone(fullConfig()) as any;
  change(config);
  return config;
}

/**
 * The names Azure refuses as a VM's admin user: the "Disallowed values" of osProfile.adminUsername
 * in the Compute API (Azure/azure-rest-api-specs, Microsoft.Compute OSProfile), copied here from
 * that text rather than from the lab's list, so the two are compared.
 */
const AZURE_RESERVED_VM_ADMINS =
  'administrator, admin, user, user1, test, user2, test1, user3, admin1, 1, 123, a, actuser, adm, admin2, aspnet, backup, console, david, guest, john, owner, root, server, sql, support, support_388945a0, sys, test2, test3, user4, user5';

/** Configs one change away from the full one, each with the one line it is rejected with. */
const BAD_CONFIGS: Array<[string, (config: any) => void, string]> = [
  [
    'a source VM admin name Azure reserves',
    (c) => (c.sourceVm.adminUsername = 'admin'),
    `pgferry-lab:sourceVm.adminUsername: must not be a name Azure reserves for a VM's administrator (${AZURE_RESERVED_VM_ADMINS}): use another Linux user name such as azureuser (got "admin")`,
  ],
  [
    'a runtime VM admin name Azure reserves',
    (c) => (c.migrationRuntime = { adminUsername: 'support_388945a0' }),
    `pgferry-lab:migrationRuntime.adminUsername: must not be a name Azure reserves for a VM's administrator (${AZURE_RESERVED_VM_ADMINS}): use another Linux user name such as azureuser (got "support_388945a0")`,
  ],
  [
    'the source VM admin named postgres',
    (c) => (c.sourceVm.adminUsername = 'postgres'),
    'pgferry-lab:sourceVm.adminUsername: must not be postgres: the account PostgreSQL runs as (got "postgres")',
  ],
  [
    'the runtime VM admin named pgferry',
    (c) => (c.migrationRuntime = { adminUsername: 'pgferry' }),
    `pgferry-lab:migrationRuntime.adminUsername: must not be pgferry, postgres: the agent's system account and PostgreSQL's (got "pgferry")`,
  ],
  [
    'missing location',
    (c) => delete c.location,
    'pgferry-lab:location: is required: set azure-native:location (or pgferry-lab:location) to an Azure region such as westeurope',
  ],
  [
    'unsupported version',
    (c) => (c.server.version = '9.6'),
    'pgferry-lab:server.version: must be one of 13, 14, 15, 16, 17, 18 (got "9.6")',
  ],
  [
    'a server version Azure no longer creates',
    (c) => (c.server.version = 12),
    'pgferry-lab:server.version: must be one of 13, 14, 15, 16, 17, 18: Azure no longer creates PostgreSQL 12 servers (got "12")',
  ],
  [
    'a second migration of a database without overwriting it',
    (c) => c.migrations.push({ name: 'crm-again', databases: ['crm'], source: c.migrations[1].source }),
    "pgferry-lab:migrations[2].overwriteDbsInTarget: must be true: crm is on the target after migrations[1] (legacy-offline); the later migration overwrites it, as the tutorial's online run does",
  ],
  [
    'a migration of a database an online migration still streams into',
    (c) => c.migrations.push({ name: 'aw-offline', databases: ['adventureworks'], overwriteDbsInTarget: true }),
    'pgferry-lab:migrations[2].databases: must not include adventureworks: migrations[0] (aw-online) still streams into it until its cutover; two migrations would write one target database',
  ],
  [
    'one database brought from two sources',
    (c) => c.migrations.push({ name: 'crm-elsewhere', databases: ['crm'], overwriteDbsInTarget: true }),
    'pgferry-lab:migrations[2].databases: must not include crm: migrations[1] (legacy-offline) brings it from another source',
  ],
  [
    'server not an object',
    (c) => (c.server = 'big'),
    'pgferry-lab:server: must be an object with keys such as version, skuName, parameters (got "big")',
  ],
  ['unknown server key', (c) => (c.server.sku = 'x'), 'pgferry-lab:server: unknown key "sku"'],
  [
    'bad storage size',
    (c) => (c.server.storageSizeGb = 100),
    'pgferry-lab:server.storageSizeGb: must be one of 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767 (got 100)',
  ],
  [
    'burstable SKU in another tier',
    (c) => (c.server.skuName = 'Standard_B1ms'),
    'pgferry-lab:server.tier: must be Burstable for Standard_B1ms',
  ],
  [
    'HA on burstable',
    (c) => Object.assign(c.server, { skuName: 'Standard_B2s', tier: 'Burstable', highAvailability: 'ZoneRedundant' }),
    'pgferry-lab:server.highAvailability: must be Disabled on the Burstable tier',
  ],
  [
    'reserved admin login',
    (c) => (c.server.administratorLogin = 'azure_superuser'),
    'pgferry-lab:server.administratorLogin: must not be azure_superuser, azure_pg_admin, admin, administrator, root, guest, public or start with pg_ (got "azure_superuser")',
  ],
  [
    'azure.extensions as a parameter',
    (c) => (c.server.parameters['azure.extensions'] = 'PG_TRGM'),
    'pgferry-lab:server.parameters: must not set azure.extensions: list extensions in server.extensions instead',
  ],
  [
    'subnet outside the VNet',
    (c) => (c.network = { serverSubnet: '10.30.1.0/24' }),
    'pgferry-lab:network.serverSubnet: must lie inside network.addressSpace 10.20.0.0/16',
  ],
  [
    'overlapping subnets',
    (c) => (c.network = { sourceSubnet: '10.20.1.128/25' }),
    'pgferry-lab:network.sourceSubnet: must not overlap network.serverSubnet',
  ],
  [
    'host bits in a CIDR',
    (c) => (c.network = { addressSpace: '10.20.0.1/16' }),
    'pgferry-lab:network.addressSpace: must be an IPv4 CIDR block such as 10.20.1.0/24, with no host bits set (got "10.20.0.1/16")',
  ],
  [
    'VPN pool inside the VNet',
    (c) => (c.vpn.clientAddressPool = '10.20.200.0/24'),
    'pgferry-lab:vpn.clientAddressPool: must not overlap network.addressSpace 10.20.0.0/16',
  ],
  [
    'OpenVPN with SSTP',
    (c) => (c.vpn.protocols = ['OpenVPN', 'SSTP']),
    'pgferry-lab:vpn.protocols: must not combine OpenVPN and SSTP (Azure allows IkeV2 with either)',
  ],
  [
    'unknown tunnel type',
    (c) => (c.vpn.protocols = ['IkeV2', 'L2TP']),
    'pgferry-lab:vpn.protocols[1]: must be one of IkeV2, SSTP, OpenVPN (got "L2TP")',
  ],
  [
    'Generation2 on VpnGw1AZ',
    (c) => (c.vpn.generation = 'Generation2'),
    'pgferry-lab:vpn.generation: must be Generation1 for VpnGw1AZ (Generation1 has VpnGw1-3, Generation2 has VpnGw2-5)',
  ],
  [
    'Generation1 on VpnGw4AZ',
    (c) => Object.assign(c.vpn, { skuName: 'VpnGw4AZ', generation: 'Generation1' }),
    'pgferry-lab:vpn.generation: must be Generation2 for VpnGw4AZ (Generation1 has VpnGw1-3, Generation2 has VpnGw2-5)',
  ],
  [
    'a non-zone-redundant VPN SKU, which Azure no longer creates',
    (c) => (c.vpn.skuName = 'VpnGw1'),
    'pgferry-lab:vpn.skuName: must be a zone-redundant SKU: Azure no longer creates VpnGw1 (NonAzSkusNotAllowedForVPNGateway); use VpnGw1AZ, with vpn.zones [] in a region without availability zones (got "VpnGw1")',
  ],
  [
    'a resolver subnet too small for an inbound endpoint',
    (c) => (c.network = { resolverSubnet: '10.20.3.0/29' }),
    'pgferry-lab:network.resolverSubnet: must be from /28 to /24 (DNS Private Resolver)',
  ],
  ['a zone named twice', (c) => (c.vpn.zones = ['1', '1']), 'pgferry-lab:vpn.zones: must not name a zone twice'],
  [
    'PEM armour in the certificate',
    (c) => (c.vpn.rootCertificateData = `-----BEGIN CERTIFICATE-----\n${ROOT_CERT}\n-----END CERTIFICATE-----`),
    'pgferry-lab:vpn.rootCertificateData: must be the base64 body of the root certificate, without the -----BEGIN/END CERTIFICATE----- lines',
  ],
  [
    'VPN without a root certificate',
    (c) => delete c.vpn.rootCertificateData,
    'pgferry-lab:vpn.rootCertificateData: is required when vpn.enabled is true: the base64 body of the P2S root certificate (or set vpn.enabled false)',
  ],
  [
    'source VM without an SSH key',
    (c) => delete c.sourceVm.sshPublicKey,
    'pgferry-lab:sourceVm.sshPublicKey: is required when sourceVm.enabled is true: an OpenSSH public key line',
  ],
  [
    'source VM IP reserved by Azure',
    (c) => (c.sourceVm.privateIp = '10.20.2.3'),
    "pgferry-lab:sourceVm.privateIp: must be an assignable address inside network.sourceSubnet 10.20.2.0/24 (the first four and the last are Azure's)",
  ],
  [
    'bad migration name',
    (c) => (c.migrations[0].name = '-aw'),
    'pgferry-lab:migrations[0].name: must be 1-63 letters, digits or hyphens, not starting with a hyphen (got "-aw")',
  ],
  [
    'duplicate migration name',
    (c) => (c.migrations[1].name = 'aw-online'),
    'pgferry-lab:migrations[1].name: must be unique: aw-online is used twice',
  ],
  [
    'migration without source or VM',
    (c) => (c.sourceVm.enabled = false),
    'pgferry-lab:migrations[0].source: is required unless sourceVm.enabled is true (then the lab VM is the source)',
  ],
  [
    'bad migration mode',
    (c) => (c.migrations[0].mode = 'Sideways'),
    'pgferry-lab:migrations[0].mode: must be one of Offline, Online (got "Sideways")',
  ],
];

describe('lab-stack config', () => {
  it('fills the seeds’ defaults from a minimal config', () => {
    const config = parseLabConfig({ location: 'eastus', vpn: { rootCertificateData: ROOT_CERT } });
    assert.equal(config.namePrefix, 'pgferry-lab');
    assert.equal(config.server.version, '16');
    assert.equal(config.server.highAvailability, 'Disabled');
    assert.equal(config.server.administratorLogin, 'pgadmin');
    assert.deepEqual(config.network, {
      addressSpace: '10.20.0.0/16',
      gatewaySubnet: '10.20.0.0/27',
      serverSubnet: '10.20.1.0/24',
      sourceSubnet: '10.20.2.0/24',
      resolverSubnet: '10.20.3.0/28',
      runtimeSubnet: '10.20.4.0/24',
    });
    assert.equal(config.vpn.skuName, 'VpnGw1AZ');
    assert.equal(config.vpn.dnsResolver, true);
    assert.equal(config.sourceVm.loadSample, true);
    assert.equal(config.sourceVm.sampleDatabase, 'adventureworks');
    assert.deepEqual(config.vpn.protocols, ['IkeV2', 'OpenVPN']);
    assert.equal(config.vpn.clientAddressPool, '172.16.201.0/24');
    assert.equal(config.sourceVm.enabled, false);
    assert.deepEqual(config.migrations, []);
    assert.ok(Object.isFrozen(config.server.parameters), 'parsed config is frozen');
  });

  it('accepts the tutorial sequence: an offline, then an online migration overwriting the same database', () => {
    const config = parseLabConfig(
      withChange((c) => {
        c.migrations = [
          { name: 'offlinemigration', databases: ['adventureworks'] },
          { name: 'onlinemigration', databases: ['adventureworks'], mode: 'Online', overwriteDbsInTarget: true },
        ];
      }),
    );
    assert.deepEqual(
      config.migrations.map((m) => m.name),
      ['offlinemigration', 'onlinemigration'],
    );
  });

  it("accepts Azure's spellings of sslMode, mode and option (provider/azure/names.ts), as pgferry's values", () => {
    const config = parseLabConfig(
      withChange((c) => {
        c.migrations[0].mode = 'online';
        c.migrations[0].option = 'validate-and-migrate';
        c.migrations[1].source.sslMode = 'VerifyCA';
      }),
    );
    assert.equal(config.migrations[0]!.mode, 'Online');
    assert.equal(config.migrations[0]!.option, 'ValidateAndMigrate');
    assert.equal(config.migrations[1]!.source!.sslMode, 'verify-ca');
  });

  it("sets the server's wal_level to logical for a migration with a fallback window, and refuses another", () => {
    const windowed = parseLabConfig(
      withChange((c) => {
        c.migrations[0].mode = 'Online';
        c.migrations[0].fenceWriters = true;
        c.migrations[0].fallbackWindow = '24h';
        delete c.server.parameters.wal_level;
      }),
    );
    assert.equal(windowed.migrations[0]!.fallbackWindow, '24h');
    assert.deepEqual(
      serverParameters(windowed.server, windowed.migrations).filter(([name]) => name === 'wal_level'),
      [['wal_level', 'logical']],
    );
    const plain = parseLabConfig(withChange((c) => delete c.server.parameters.wal_level));
    assert.ok(!serverParameters(plain.server, plain.migrations).some(([name]) => name === 'wal_level'));
    assert.equal(
      errorFor(withChange((c) => (c.migrations[0].fallbackWindow = '1y'))),
      'pgferry-lab:migrations[0].fallbackWindow: must be a duration of whole minutes, hours or days (30m, 24h, 7d) from 10m to 30d (got "1y")',
    );
    assert.match(
      errorFor(
        withChange((c) => {
          c.migrations[0].fallbackWindow = '24h';
          c.server.parameters.wal_level = 'replica';
        }),
      ),
      /^pgferry-lab:migrations\[0\]\.fallbackWindow: needs the server's wal_level = logical/,
    );
  });

  it('accepts the full config and normalises parameter values to strings', () => {
    const config = parseLabConfig(fullConfig());
    assert.equal(config.server.parameters['max_replication_slots'], '20');
    assert.equal(config.migrations[1]!.source!.port, 5432);
    assert.equal(config.migrations[0]!.option, 'ValidateAndMigrate');
    assert.equal(parseLabConfig(withChange((c) => (c.server.version = 15))).server.version, '15');
  });

  for (const [title, change, expected] of BAD_CONFIGS) {
    it(`rejects ${title} with one line`, () => {
      assert.equal(errorFor(withChange(change)), expected);
    });
  }

  it('rejects unknown top-level keys, listing the allowed ones', () => {
    assert.equal(
      errorFor({ ...fullConfig(), region: 'westeurope' }),
      'pgferry-lab:(root): unknown key "region" (keys are location, namePrefix, tags, network, server, vpn, sourceVm, migrationRuntime, pooler, migrations, migrationCreateTimeout, migrationUpdateTimeout, migrationDeleteTimeout, allowReplicaIdentityFull, tableJobs, indexJobs)',
    );
  });

  it('can report every problem at once', () => {
    const problems = labConfigProblems(withChange((c) => Object.assign(c.server, { version: '8', storageSizeGb: 1 })));
    assert.deepEqual(problems, [
      'pgferry-lab:server.version: must be one of 13, 14, 15, 16, 17, 18 (got "8")',
      'pgferry-lab:server.storageSizeGb: must be one of 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767 (got 1)',
    ]);
  });
});
