// The order in which `pulumi up` creates the lab and `pulumi destroy` deletes it, under Pulumi
// mocks: the dependency edges the engine receives. Pulumi creates a resource after everything it
// depends on and deletes it before them ("The dependsOn option ensures that resource creation,
// update, and deletion operations are executed in the correct order", Pulumi's dependsOn docs), so
// one edge answers both questions. The Azure rules each edge serves are cited where it is asserted.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { fakeFactory, installMocks, type MockLab, mockResolveCname, settle } from './mocks';
import { fullConfig } from './fixtures';
import { parseLabConfig, type LabConfigInput } from '../../lab-stack/config';
import { createLab, type Lab } from '../../lab-stack/lab';

/** Every option on: VPN, resolver, source VM, two runtime agents; one migration local, one by agents. */
function everythingConfig(): LabConfigInput {
  const config = structuredClone(fullConfig()) as any;
  config.migrationRuntime = { enabled: true, count: 2, package: 'pgferry@0.2.0' };
  config.migrations[1].runtime = 'local';
  return config;
}

async function build(input: LabConfigInput): Promise<{ mocks: MockLab; lab: Lab }> {
  const mocks = await installMocks();
  const lab = createLab(
    {
      config: parseLabConfig(input),
      secrets: {
        adminPassword: pulumi.secret('Adm1n-secret-pw'),
        passwords: { sourcePassword: pulumi.secret('src-pw'), legacyPassword: pulumi.secret('legacy-pw') },
      },
    },
    { migrationFactory: fakeFactory, resolveCname: mockResolveCname },
  );
  await settle([
    lab.component,
    ...lab.network.subnets,
    lab.dns.link,
    lab.server.server,
    ...lab.server.parameters,
    ...(lab.server.restart ? [lab.server.restart] : []),
    ...(lab.dnsResolver ? [lab.dnsResolver.resolver, lab.dnsResolver.inbound] : []),
    ...(lab.vpn ? [lab.vpn.gateway] : []),
    ...(lab.sourceVm ? [lab.sourceVm.nic, lab.sourceVm.vm, lab.sourceVm.ready] : []),
    ...(lab.migrationRuntime?.vms ?? []).flatMap((vm) => [vm.nic, vm.vm]),
    ...lab.migrations.values(),
  ]);
  return { mocks, lab };
}

/** Whether `from` depends on `to`, directly or through other resources (so is deleted before it). */
function dependsTransitively(mocks: MockLab, from: string, to: string): boolean {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const dep of mocks.resources.get(name)?.dependsOn ?? []) {
      if (dep === to) return true;
      if (!seen.has(dep)) {
        seen.add(dep);
        queue.push(dep);
      }
    }
  }
  return false;
}

const SUBNETS = ['gateway-subnet', 'server-subnet', 'source-subnet', 'resolver-subnet', 'runtime-subnet'];

describe('lab-stack under Pulumi mocks: the order of create and destroy', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    ({ mocks } = await build(everythingConfig()));
  });

  it('writes the subnets of the VNet one at a time, in one chain', () => {
    // Azure serializes writes within one VNet: a second subnet written meanwhile gets
    // AnotherOperationInProgress (pulumi/pulumi-azure-native#699, Azure/terraform-provider-azapi#503).
    assert.deepEqual(
      mocks.byType('azure-native:network:Subnet').map((s) => s.name),
      SUBNETS,
    );
    for (let i = 1; i < SUBNETS.length; i++) {
      assert.ok(mocks.byName(SUBNETS[i]!).dependsOn.includes(SUBNETS[i - 1]!), `${SUBNETS[i]} after ${SUBNETS[i - 1]}`);
    }
  });

  it('places nothing in the VNet until every subnet of it is written', () => {
    // Each of these writes into the VNet (an IP configuration in a subnet, or a link/resolver on the
    // VNet): while any subnet is still being written Azure answers AnotherOperationInProgress
    // (pulumi/pulumi-azure-native#699 and #1024, hashicorp/terraform-provider-azurerm#3780) or
    // ReferencedResourceNotProvisioned, "Resource is in Updating state and the last operation ... is
    // PutSubnetOperation" (hashicorp/terraform-provider-azurerm#30197, Azure-Samples/azuresandbox#25),
    // so each waits for all of them, not its own only.
    const placed = ['vpn-gateway', 'server', 'dns-resolver', 'dns-inbound', 'source-nic', 'runtime-nic-1', 'runtime-nic-2', 'dns-link'];
    for (const name of placed) {
      for (const subnet of SUBNETS) {
        assert.ok(mocks.byName(name).dependsOn.includes(subnet), `${name} waits for ${subnet}`);
      }
    }
  });

  it('deletes the zone link before the server subnet, and the server before the link', () => {
    // Deleting the link while the server's subnet is deleted leaves the subnet's service association
    // link behind: InUseSubnetCannotBeDeleted (Azure/azure-rest-api-specs#17443,
    // hashicorp/terraform-provider-azurerm#15032). The server needs the link at creation (Azure
    // checks that the zone is linked to the server's VNet), so the order is server, link, subnets.
    assert.ok(dependsTransitively(mocks, 'dns-link', 'server-subnet'), 'link deleted before the server subnet');
    assert.ok(dependsTransitively(mocks, 'server', 'dns-link'), 'server deleted before the link');
    assert.ok(!dependsTransitively(mocks, 'dns-link', 'server'), 'no cycle');
  });

  it('deletes every migration while what reaches the server and the source still exists', () => {
    // Deleting a PgMigration talks to the target over the VPN, by the server's private FQDN (the
    // resolver answers from the linked zone), and for an online migration to the source, to drop its
    // slot and publication (provider/resource/remove.ts); one the agents run is cancelled by an agent.
    const reach = ['vpn-gateway', 'dns-inbound', 'dns-resolver', 'dns-link', 'server', 'server-restart'];
    for (const migration of ['migration-aw-online', 'migration-legacy-offline']) {
      for (const name of reach) assert.ok(mocks.byName(migration).dependsOn.includes(name), `${migration} deleted before ${name}`);
    }
    const online = mocks.byName('migration-aw-online');
    for (const name of ['source-ready', 'source-vm', 'runtime-vm-1', 'runtime-vm-2']) {
      assert.ok(dependsTransitively(mocks, online.name, name), `the lab-sourced, agent-run migration deleted before ${name}`);
    }
    const legacy = mocks.byName('migration-legacy-offline');
    assert.ok(!legacy.dependsOn.includes('runtime-vm-1'), 'a local migration with its own source needs no agent');
    assert.ok(!legacy.dependsOn.includes('source-ready'), 'nor the lab VM');
  });

  it('deletes the DNS resolver only after the source VM, which uses it as its DNS server', () => {
    assert.ok(mocks.byName('source-vm').dependsOn.includes('dns-inbound'));
    assert.ok(mocks.byName('runtime-vm-1').dependsOn.includes('dns-inbound'));
  });
});

describe('lab-stack under Pulumi mocks: the order without the VPN, the resolver or the runtime', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    ({ mocks } = await build({ location: 'eastus', vpn: { enabled: false } }));
  });

  it('still places the server and the zone link after every subnet of the VNet', () => {
    const subnets = mocks.byType('azure-native:network:Subnet').map((s) => s.name);
    assert.deepEqual(subnets, ['gateway-subnet', 'server-subnet', 'source-subnet']);
    for (const name of ['server', 'dns-link']) {
      for (const subnet of subnets) assert.ok(mocks.byName(name).dependsOn.includes(subnet), `${name} waits for ${subnet}`);
    }
  });
});
