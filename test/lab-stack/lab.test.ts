// The lab under Pulumi mocks: which resources exist, how they are wired, the key Azure properties,
// the outputs, and that secrets stay secret.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import {
  fakeFactory,
  installMocks,
  MOCK_ARM_TOKEN,
  MOCK_RECORD_NAME,
  MOCK_SERVER_IP,
  MOCK_SUFFIX,
  type MockLab,
  mockResolveCname,
  settle,
  valueOf,
} from './mocks';
import { fullConfig, ROOT_CERT, SSH_KEY } from './fixtures';
import { parseLabConfig, type LabConfigInput } from '../../lab-stack/config';
import { createLab, stackOutputs, type Lab } from '../../lab-stack/lab';
import { READY_COMMAND } from '../../lab-stack/sourceScripts';
import { recordNameFromCname } from '../../lab-stack/server';

const ADMIN_PASSWORD = 'Adm1n-secret-pw';
const SOURCE_PASSWORD = "src'pw";

/** Stands in for PgMigration: registers the same arguments under a test type. */
function allResources(lab: Lab): pulumi.Resource[] {
  return [
    lab.component,
    lab.runtime,
    lab.resourceGroup,
    lab.network.vnet,
    lab.network.gatewaySubnet,
    lab.network.serverSubnet,
    lab.network.sourceSubnet,
    ...(lab.network.resolverSubnet ? [lab.network.resolverSubnet] : []),
    ...(lab.network.natGateway ? [lab.network.natGateway] : []),
    ...(lab.dnsResolver ? [lab.dnsResolver.resolver, lab.dnsResolver.inbound] : []),
    lab.dns.zone,
    lab.dns.link,
    lab.server.server,
    ...lab.server.parameters,
    ...(lab.server.restart ? [lab.server.restart] : []),
    ...(lab.vpn ? [lab.vpn.publicIp, lab.vpn.gateway] : []),
    ...(lab.sourceVm ? [lab.sourceVm.nic, lab.sourceVm.vm, lab.sourceVm.ready] : []),
    ...lab.migrations.values(),
  ];
}

async function build(input: LabConfigInput, mocks: MockLab): Promise<Lab> {
  const lab = createLab(
    {
      config: parseLabConfig(input),
      secrets: {
        adminPassword: pulumi.secret(ADMIN_PASSWORD),
        passwords: { sourcePassword: pulumi.secret(SOURCE_PASSWORD), legacyPassword: pulumi.secret('legacy-pw') },
      },
    },
    { migrationFactory: fakeFactory, resolveCname: mockResolveCname },
  );
  await settle(allResources(lab));
  assert.ok(mocks.resources.size > 0);
  return lab;
}

/** The full lab (VPN, source VM, migrations), built once under mocks for the describes below. */
let fullLabBuilt: Promise<{ mocks: MockLab; lab: Lab }> | undefined;
function fullLab(): Promise<{ mocks: MockLab; lab: Lab }> {
  fullLabBuilt ??= (async () => {
    const mocks = await installMocks();
    return { mocks, lab: await build(fullConfig(), mocks) };
  })();
  return fullLabBuilt;
}

describe('lab-stack under Pulumi mocks, full lab (VPN, source VM, migrations): network, DNS and server', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await fullLab());
  });

  it('creates the expected resource graph', () => {
    const count = (type: string) => mocks.byType(type).length;
    assert.equal(count('azure-native:resources:ResourceGroup'), 1);
    assert.equal(count('azure-native:network:VirtualNetwork'), 1);
    assert.equal(count('azure-native:network:Subnet'), 4);
    assert.equal(count('azure-native:network:NatGateway'), 1);
    assert.equal(count('azure-native:dnsresolver:DnsResolver'), 1);
    assert.equal(count('azure-native:dnsresolver:InboundEndpoint'), 1);
    assert.equal(count('azure-native:privatedns:PrivateZone'), 1);
    assert.equal(count('azure-native:privatedns:VirtualNetworkLink'), 1);
    assert.equal(count('azure-native:dbforpostgresql:Server'), 1);
    assert.equal(count('azure-native:dbforpostgresql:Configuration'), 4);
    assert.equal(count('azure-native:network:PublicIPAddress'), 2);
    assert.equal(count('azure-native:network:VirtualNetworkGateway'), 1);
    assert.equal(count('azure-native:network:NetworkInterface'), 1);
    assert.equal(count('azure-native:compute:VirtualMachine'), 1);
    assert.equal(count('azure-native:compute:VirtualMachineExtension'), 1);
    assert.equal(count('pgferry:test:PgMigration'), 2);
    assert.equal(count('random:index/randomString:RandomString'), 1);
    assert.equal(count('pulumi-nodejs:dynamic:Resource'), 1, 'the server restart');
    assert.equal([...mocks.resources.values()].filter((r) => !r.component).length, 26);
    for (const r of mocks.resources.values()) {
      if (r.type.startsWith('azure-native:')) {
        assert.equal(r.inputs.resourceGroupName, `lab-rg-${MOCK_SUFFIX}`, `${r.name} is in the lab's group`);
      }
    }
  });

  it('delegates the server subnet to Flexible Server and names the gateway subnet GatewaySubnet', () => {
    const vnet = mocks.one('azure-native:network:VirtualNetwork');
    assert.deepEqual(vnet.inputs.addressSpace, { addressPrefixes: ['10.20.0.0/16'] });
    const server = mocks.byName('server-subnet');
    assert.equal(server.inputs.addressPrefix, '10.20.1.0/24');
    assert.equal(server.inputs.delegations.length, 1);
    assert.equal(server.inputs.delegations[0].serviceName, 'Microsoft.DBforPostgreSQL/flexibleServers');
    const gateway = mocks.byName('gateway-subnet');
    assert.equal(gateway.inputs.subnetName, 'GatewaySubnet');
    assert.equal(gateway.inputs.delegations, undefined);
    assert.equal(mocks.byName('source-subnet').inputs.addressPrefix, '10.20.2.0/24');
    // Subnets of one VNet are written one at a time.
    assert.ok(server.dependsOn.includes('gateway-subnet'));
    assert.ok(mocks.byName('source-subnet').dependsOn.includes('server-subnet'));
    for (const name of ['gateway-subnet', 'server-subnet', 'source-subnet']) {
      assert.equal(mocks.byName(name).inputs.virtualNetworkName, 'vnet-az');
    }
  });

  it('creates the private DNS zone and links it to the VNet', async () => {
    const zone = mocks.one('azure-native:privatedns:PrivateZone');
    assert.equal(zone.inputs.privateZoneName, 'pgferry-target.private.postgres.database.azure.com');
    assert.equal(zone.inputs.location, 'global');
    const link = mocks.one('azure-native:privatedns:VirtualNetworkLink');
    assert.equal(link.inputs.privateZoneName, 'pgferry-target.private.postgres.database.azure.com');
    assert.equal(link.inputs.virtualNetwork.id, await valueOf(lab.network.vnet.id));
    assert.equal(link.inputs.registrationEnabled, false);
    assert.ok(link.dependsOn.includes('vnet') && link.dependsOn.includes('dns-zone'));
  });

  it('gives the server private access through the delegated subnet and the zone', async () => {
    const server = mocks.one('azure-native:dbforpostgresql:Server');
    assert.equal(server.inputs.serverName, 'pgferry-target');
    assert.equal(server.inputs.version, '16');
    assert.deepEqual(server.inputs.sku, { name: 'Standard_D2ds_v5', tier: 'GeneralPurpose' });
    assert.deepEqual(server.inputs.storage, { storageSizeGB: 256, autoGrow: 'Disabled' });
    assert.equal(server.inputs.highAvailability.mode, 'Disabled');
    assert.deepEqual(server.inputs.network, {
      delegatedSubnetResourceId: await valueOf(lab.network.serverSubnet.id),
      privateDnsZoneArmResourceId: await valueOf(lab.dns.zone.id),
      publicNetworkAccess: 'Disabled',
    });
    assert.match(server.inputs.network.delegatedSubnetResourceId, /\/Subnet\/postgres-flexible$/);
    assert.equal(server.inputs.administratorLogin, 'pgadmin');
    assert.equal(server.inputs.administratorLoginPassword, ADMIN_PASSWORD);
    assert.ok(server.secretInputs.includes('administratorLoginPassword'), 'password sent as a secret');
    assert.ok(server.dependsOn.includes('dns-link'), 'server waits for the zone link');
    assert.deepEqual(server.ignoreChanges, [], 'a configured server name is honoured');
  });

  it('sets the server parameters one after another', () => {
    const params = mocks.byType('azure-native:dbforpostgresql:Configuration');
    const values = Object.fromEntries(params.map((p) => [p.inputs.configurationName, p.inputs.value]));
    assert.deepEqual(values, {
      'azure.extensions': 'HSTORE,PG_TRGM,TABLEFUNC,UUID-OSSP',
      max_replication_slots: '20',
      'pgaudit.log': 'ddl',
      shared_preload_libraries: 'pg_stat_statements',
    });
    for (const p of params) {
      assert.equal(p.inputs.serverName, 'pgferry-target');
      assert.equal(p.inputs.source, 'user-override');
      assert.ok(p.dependsOn.includes('server'), `${p.name} depends on the server`);
    }
    const names = lab.server.parameters.map((_, i) => params[i]!.name);
    for (let i = 1; i < names.length; i++) {
      assert.ok(mocks.byName(names[i]!).dependsOn.includes(names[i - 1]!), `${names[i]} waits for ${names[i - 1]}`);
    }
  });
});

describe('lab-stack under Pulumi mocks, full lab (VPN, source VM, migrations): VPN gateway, source VM and migrations', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await fullLab());
  });

  it('configures the point-to-site VPN gateway', async () => {
    const gateway = mocks.one('azure-native:network:VirtualNetworkGateway');
    assert.equal(gateway.inputs.gatewayType, 'Vpn');
    assert.equal(gateway.inputs.vpnType, 'RouteBased');
    // Zone-redundant: Azure refuses the non-AZ VpnGw1-5 (NonAzSkusNotAllowedForVPNGateway).
    assert.deepEqual(gateway.inputs.sku, { name: 'VpnGw1AZ', tier: 'VpnGw1AZ' });
    assert.equal(gateway.inputs.vpnGatewayGeneration, 'Generation1');
    assert.deepEqual(gateway.inputs.vpnClientConfiguration, {
      vpnClientAddressPool: { addressPrefixes: ['172.16.201.0/24'] },
      vpnClientProtocols: ['IkeV2', 'OpenVPN'],
      vpnAuthenticationTypes: ['Certificate'],
      vpnClientRootCertificates: [{ name: 'P2SRootCert', publicCertData: ROOT_CERT }],
    });
    const ipConfig = gateway.inputs.ipConfigurations[0];
    assert.equal(ipConfig.subnet.id, await valueOf(lab.network.gatewaySubnet.id));
    assert.equal(ipConfig.publicIPAddress.id, await valueOf(lab.vpn!.publicIp.id));
    const ip = mocks.byName('vpn-ip');
    assert.equal(ip.inputs.publicIPAllocationMethod, 'Static');
    assert.equal(ip.inputs.sku.name, 'Standard');
    // An AZ gateway's Standard IP must carry zones (VmssVpnGatewayPublicIpsMustHaveZonesConfigured).
    assert.deepEqual(ip.inputs.zones, ['1', '2', '3']);
  });

  it('builds the source VM with PostgreSQL 16 and the AdventureWorks sample prepared by cloud-init', async () => {
    const nic = mocks.one('azure-native:network:NetworkInterface');
    assert.deepEqual(nic.inputs.ipConfigurations[0], {
      name: 'primary',
      primary: true,
      subnet: { id: await valueOf(lab.network.sourceSubnet.id) },
      privateIPAllocationMethod: 'Static',
      privateIPAddress: '10.20.2.4',
    });
    assert.ok(!('publicIPAddress' in nic.inputs.ipConfigurations[0]), 'no public IP');
    const vm = mocks.one('azure-native:compute:VirtualMachine');
    assert.equal(vm.inputs.osProfile.linuxConfiguration.disablePasswordAuthentication, true);
    assert.equal(vm.inputs.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData, SSH_KEY);
    assert.equal(vm.inputs.storageProfile.imageReference.offer, 'ubuntu-24_04-lts');
    assert.ok(vm.secretInputs.includes('osProfile'), 'customData (with the postgres password) is secret');
    const cloudInit = Buffer.from(vm.inputs.osProfile.customData, 'base64').toString('utf8');
    assert.equal(cloudInit, await valueOf(lab.sourceVm!.cloudInit));
    assert.match(cloudInit, /^\s+wal_level = logical$/m);
    assert.match(cloudInit, /^\s+max_replication_slots = 10$/m);
    assert.match(cloudInit, /^\s+host all all 10\.20\.1\.0\/24 scram-sha-256$/m, 'pg_hba line for the delegated subnet');
    assert.match(cloudInit, /^\s+host all all 172\.16\.201\.0\/24 scram-sha-256$/m, 'pg_hba line for VPN clients');
    assert.match(cloudInit, /apt-get install -y postgresql-16$/m);
    assert.ok(!cloudInit.includes(SOURCE_PASSWORD), 'password only inside base64 SQL');
    assert.ok(await pulumi.isSecret(lab.sourceVm!.cloudInit));
    const ready = mocks.one('azure-native:compute:VirtualMachineExtension');
    assert.equal(ready.inputs.settings.commandToExecute, READY_COMMAND, 'waits for cloud-init, then asks the database');
    assert.match(cloudInit, /path: \/var\/lib\/pgferry-lab\/adventureworks\.sql\n {4}permissions: '0644'\n {4}encoding: gz\+b64/);
    assert.ok(ready.dependsOn.includes('source-vm'));
  });

  it('runs the migrations in list order, each after the one before', () => {
    assert.ok(mocks.byName('migration-legacy-offline').dependsOn.includes('migration-aw-online'));
    assert.ok(!mocks.byName('migration-aw-online').dependsOn.includes('migration-legacy-offline'));
  });

  it('declares the migrations against the server, after its parameters and the source', async () => {
    const online = mocks.byName('migration-aw-online');
    assert.equal(online.inputs.migrationName, 'aw-online');
    assert.deepEqual(online.inputs.source, {
      host: '10.20.2.4',
      port: 5432,
      user: 'postgres',
      password: SOURCE_PASSWORD,
      sslMode: 'prefer',
    });
    assert.deepEqual(online.inputs.target, {
      host: 'pgferry-target.postgres.database.azure.com',
      port: 5432,
      user: 'pgadmin',
      password: ADMIN_PASSWORD,
      sslMode: 'require',
    });
    assert.deepEqual(online.inputs.databases, ['adventureworks']);
    assert.equal(online.inputs.mode, 'Online');
    assert.equal(online.inputs.overwriteDbsInTarget, true);
    assert.equal(online.inputs.cutover, false);
    assert.ok(online.secretInputs.includes('source') && online.secretInputs.includes('target'), 'passwords travel as secrets');
    const paramNames = mocks.byType('azure-native:dbforpostgresql:Configuration').map((p) => p.name);
    for (const dep of ['server', 'source-ready', 'vpn-gateway', ...paramNames])
      assert.ok(online.dependsOn.includes(dep), `depends on ${dep}`);

    const legacy = mocks.byName('migration-legacy-offline');
    assert.equal(legacy.inputs.source.host, 'onprem.example.internal');
    assert.equal(legacy.inputs.source.user, 'migrator');
    assert.equal(legacy.inputs.source.password, 'legacy-pw');
    assert.equal(legacy.inputs.mode, 'Offline');
    assert.ok(!legacy.dependsOn.includes('source-ready'), 'an external source does not wait for the lab VM');
    assert.ok(legacy.dependsOn.includes('vpn-gateway'), 'every migration waits for what makes the server reachable');
  });
});

describe('lab-stack under Pulumi mocks, full lab: static server parameters', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    ({ mocks } = await fullLab());
  });

  it('restarts the server after the parameters that need it, and the migrations wait for the restart', async () => {
    const restart = mocks.byName('server-restart');
    assert.equal(restart.type, 'pulumi-nodejs:dynamic:Resource');
    assert.match(restart.inputs.serverId, /\/Server\/pgferry-target$/);
    // Only the static ones, name=value, so a changed value restarts again; azure.extensions is dynamic.
    assert.deepEqual(restart.inputs.parameters, ['max_replication_slots=20', 'shared_preload_libraries=pg_stat_statements']);
    assert.equal(restart.inputs.token, MOCK_ARM_TOKEN);
    assert.ok(restart.secretInputs.includes('token'), 'the ARM token travels as a secret');
    // A dynamic provider runs from its serialized text (Pulumi's dynamic providers): the retry on
    // Azure's busy answers and the library it uses must travel in it.
    assert.match(restart.inputs.__provider, /exponential-backoff/);
    assert.match(restart.inputs.__provider, /ServerIsNotReady/);
    for (const param of mocks.byType('azure-native:dbforpostgresql:Configuration')) {
      assert.ok(restart.dependsOn.includes(param.name), `restart after ${param.name}`);
    }
    for (const name of ['migration-aw-online', 'migration-legacy-offline']) {
      assert.ok(mocks.byName(name).dependsOn.includes('server-restart'), `${name} waits for the restart`);
    }
  });
});

describe('lab-stack under Pulumi mocks, full lab: name resolution for VPN clients and outbound access', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await fullLab());
  });

  it('runs a DNS private resolver whose inbound endpoint, in its own delegated subnet, is the VNet DNS server', async () => {
    const subnet = mocks.byName('resolver-subnet');
    assert.equal(subnet.inputs.addressPrefix, '10.20.3.0/28');
    assert.deepEqual(subnet.inputs.delegations, [{ name: 'dnsResolvers', serviceName: 'Microsoft.Network/dnsResolvers' }]);
    assert.ok(subnet.dependsOn.includes('source-subnet'), 'subnets of one VNet are written one at a time');
    const resolver = mocks.one('azure-native:dnsresolver:DnsResolver');
    assert.equal(resolver.inputs.virtualNetwork.id, await valueOf(lab.network.vnet.id));
    const inbound = mocks.one('azure-native:dnsresolver:InboundEndpoint');
    assert.deepEqual(inbound.inputs.ipConfigurations, [
      { privateIpAllocationMethod: 'Static', privateIpAddress: '10.20.3.4', subnet: { id: await valueOf(lab.network.resolverSubnet!.id) } },
    ]);
    assert.equal(inbound.inputs.dnsResolverName, resolver.inputs.dnsResolverName ?? 'dns-resolver-az');
    assert.deepEqual(mocks.one('azure-native:network:VirtualNetwork').inputs.dhcpOptions, { dnsServers: ['10.20.3.4'] });
    assert.equal(lab.outputs.vpnDnsServer, '10.20.3.4');
  });

  it('boots the source VM only once its DNS server and its NAT gateway exist', () => {
    const vm = mocks.byName('source-vm');
    assert.ok(vm.dependsOn.includes('dns-inbound'), 'apt at first boot needs the VNet DNS server to answer');
    assert.ok(vm.dependsOn.includes('nat-gateway'));
  });

  it('gives the source subnet explicit outbound access through a NAT gateway with its own public IP', async () => {
    const nat = mocks.one('azure-native:network:NatGateway');
    assert.deepEqual(nat.inputs.sku, { name: 'Standard' });
    const natIp = mocks.byName('nat-ip');
    assert.equal(natIp.inputs.sku.name, 'Standard');
    assert.deepEqual(nat.inputs.publicIpAddresses, [{ id: natIpId(mocks) }]);
    assert.deepEqual(mocks.byName('source-subnet').inputs.natGateway, { id: await valueOf(lab.network.natGateway!.id) });
    assert.equal(mocks.byName('server-subnet').inputs.natGateway, undefined, 'only the VM subnet needs a way out');
  });

  it('reads serverPrivateIp from the A record the public FQDN points at, not from a record named after the server', async () => {
    assert.equal(await valueOf(lab.outputs.serverPrivateIp), MOCK_SERVER_IP);
    const lookups = mocks.invokes.filter((i) => i.token === 'azure-native:privatedns:getPrivateRecordSet');
    assert.deepEqual(
      lookups.map((l) => [l.inputs.privateZoneName, l.inputs.relativeRecordSetName, l.inputs.recordType]),
      [['pgferry-target.private.postgres.database.azure.com', MOCK_RECORD_NAME, 'A']],
    );
    assert.equal(
      recordNameFromCname(['a1b2c3d4e5f6.pg.private.postgres.database.azure.com.'], 'pg.private.postgres.database.azure.com'),
      'a1b2c3d4e5f6',
    );
    assert.equal(recordNameFromCname(['pg.postgres.database.azure.com'], 'pg.private.postgres.database.azure.com'), undefined);
  });
});

/** The ARM id the mocks gave the NAT gateway's public IP. */
function natIpId(mocks: MockLab): string {
  const ip = mocks.byName('nat-ip');
  return `/subscriptions/0000/resourceGroups/${ip.inputs.resourceGroupName}/providers/network/PublicIPAddress/nat-ip-az`;
}

describe('lab-stack under Pulumi mocks, full lab (VPN, source VM, migrations): outputs', function () {
  this.timeout(60_000);
  let lab: Lab;
  before(async () => {
    ({ lab } = await fullLab());
  });

  it('exports the lab outputs', async () => {
    const o = lab.outputs;
    assert.equal(await valueOf(o.serverFqdn), 'pgferry-target.postgres.database.azure.com');
    assert.equal(await valueOf(o.serverPrivateIp), MOCK_SERVER_IP);
    assert.equal(await valueOf(o.dnsZoneName), 'pgferry-target.private.postgres.database.azure.com');
    assert.match(await valueOf(o.vpnGatewayId!), /\/VirtualNetworkGateway\//);
    assert.equal(o.vpnClientAddressPool, '172.16.201.0/24');
    assert.equal(o.sourceVmPrivateIp, '10.20.2.4');
    assert.deepEqual(await valueOf(o.parametersPendingRestart), ['shared_preload_libraries']);
    assert.deepEqual(await valueOf(o.migrationStates), { 'aw-online': 'InProgress', 'legacy-offline': 'InProgress' });
  });

  it('keeps secrets secret in the outputs', async () => {
    assert.ok(await pulumi.isSecret(lab.outputs.adminPassword));
    assert.equal(await valueOf(lab.outputs.adminPassword), ADMIN_PASSWORD);
    assert.ok(await pulumi.isSecret(lab.outputs.serverConnectionString));
    assert.equal(
      await valueOf(lab.outputs.serverConnectionString),
      `postgresql://pgadmin:${ADMIN_PASSWORD}@pgferry-target.postgres.database.azure.com:5432/postgres?sslmode=require`,
    );
    const exported = stackOutputs(lab);
    assert.ok(!('adminPassword' in exported));
    for (const [key, value] of Object.entries(exported)) {
      if (!pulumi.Output.isInstance(value)) {
        assert.ok(!JSON.stringify(value ?? null).includes(ADMIN_PASSWORD), key);
        continue;
      }
      const secret = await pulumi.isSecret(value);
      const text = JSON.stringify((await valueOf(value)) ?? null);
      if (text.includes(ADMIN_PASSWORD) || text.includes(SOURCE_PASSWORD)) assert.ok(secret, `${key} holds a password but is not secret`);
    }
  });
});

describe('lab-stack under Pulumi mocks, minimal lab (no VPN, no source VM)', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    mocks = await installMocks();
    mocks.failRecordLookup = true;
    lab = await build({ location: 'eastus', vpn: { enabled: false } }, mocks);
  });

  it('creates only the network, DNS and server', () => {
    assert.equal(mocks.byType('azure-native:network:VirtualNetworkGateway').length, 0);
    assert.equal(mocks.byType('azure-native:compute:VirtualMachine').length, 0);
    assert.equal(mocks.byType('pgferry:test:PgMigration').length, 0);
    assert.equal(lab.server.restart, undefined, 'no static parameter, no restart');
    assert.equal([...mocks.resources.values()].filter((r) => !r.component && !r.type.startsWith('random:')).length, 9);
    const param = mocks.one('azure-native:dbforpostgresql:Configuration');
    assert.equal(param.inputs.configurationName, 'azure.extensions');
    assert.equal(param.inputs.value, 'TABLEFUNC,UUID-OSSP');
    const server = mocks.one('azure-native:dbforpostgresql:Server');
    assert.equal(server.inputs.serverName, `pgferry-lab-${MOCK_SUFFIX}`, 'default name: a random suffix, no collision');
    assert.deepEqual(server.ignoreChanges, ['serverName'], 'drawn once: a later namePrefix change renames nothing');
    assert.deepEqual(mocks.one('azure-native:privatedns:PrivateZone').ignoreChanges, ['privateZoneName']);
  });

  it('leaves optional outputs empty and survives a missing A record', async () => {
    assert.equal(lab.outputs.vpnGatewayId, undefined);
    assert.equal(lab.outputs.vpnClientAddressPool, undefined);
    assert.equal(lab.outputs.sourceVmPrivateIp, undefined);
    assert.equal(await valueOf(lab.outputs.serverPrivateIp), undefined);
    assert.deepEqual(await valueOf(lab.outputs.migrationStates), {});
    assert.equal(await valueOf(lab.outputs.dnsZoneName), `pgferry-lab-${MOCK_SUFFIX}.private.postgres.database.azure.com`);
  });
});

describe('lab-stack under Pulumi mocks, a VPN in a region without availability zones', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    mocks = await installMocks();
    await build({ location: 'westcentralus', vpn: { rootCertificateData: ROOT_CERT, skuName: 'VpnGw4AZ', zones: [] } }, mocks);
  });

  it('keeps the AZ SKU, gives its public IP no zones, and picks the generation the SKU exists in', () => {
    const gateway = mocks.one('azure-native:network:VirtualNetworkGateway');
    assert.deepEqual(gateway.inputs.sku, { name: 'VpnGw4AZ', tier: 'VpnGw4AZ' });
    assert.equal(gateway.inputs.vpnGatewayGeneration, 'Generation2', 'VpnGw4 exists only as Generation2');
    assert.equal(mocks.one('azure-native:network:PublicIPAddress').inputs.zones, undefined);
  });
});
