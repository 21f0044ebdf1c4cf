// The lab as a tree of components under Pulumi mocks: each part under its component,
// names that do not carry namePrefix (renaming the lab replaces nothing, not the 30–45-minute VPN
// gateway), aliases to where resources were before the components, the migrations waiting for
// what makes the server reachable, and the lab's migration options from config.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { parseLabConfig, type LabConfigInput } from '../../lab-stack/config';
import { createLab, type Lab } from '../../lab-stack/lab';
import { fullConfig } from './fixtures';
import { fakeFactory, installMocks, type MockLab, settle } from './mocks';

async function build(input: LabConfigInput): Promise<{ mocks: MockLab; lab: Lab }> {
  const mocks = await installMocks();
  const lab = createLab(
    {
      config: parseLabConfig(input),
      secrets: { adminPassword: 'pw', passwords: { sourcePassword: 'pw', legacyPassword: 'pw' } },
    },
    { migrationFactory: fakeFactory },
  );
  const all: pulumi.Resource[] = [
    lab.component,
    lab.runtime,
    lab.resourceGroup,
    lab.server.server,
    ...lab.server.parameters,
    ...lab.migrations.values(),
  ];
  if (lab.vpn) all.push(lab.vpn.gateway, lab.vpn.publicIp);
  if (lab.sourceVm) all.push(lab.sourceVm.ready, lab.sourceVm.vm, lab.sourceVm.nic);
  await settle([...all, lab.network.vnet, lab.network.sourceSubnet, lab.dns.link, lab.dns.zone]);
  return { mocks, lab };
}

/** Custom (non-component) resources by logical name → URN. */
function urns(mocks: MockLab): Map<string, string> {
  return new Map([...mocks.resources.values()].filter((r) => !r.component).map((r) => [r.name, r.urn]));
}

describe('lab-stack components', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  before(async () => {
    ({ mocks } = await build(fullConfig()));
  });

  it('groups the lab into Network, Dns, Server, Vpn, SourceVm and Runtime under one Lab component', () => {
    const lab = mocks.byName('lab');
    assert.equal(lab.type, 'pgferry:lab:Lab');
    assert.equal(lab.parent, undefined);
    const parts: Record<string, [string, string[]]> = {
      'lab-network': ['pgferry:lab:Network', ['vnet', 'gateway-subnet', 'server-subnet', 'source-subnet']],
      'lab-dns': ['pgferry:lab:Dns', ['dns-zone', 'dns-link']],
      'lab-server': ['pgferry:lab:Server', ['server', 'param-azure-extensions', 'param-max-replication-slots']],
      'lab-vpn': ['pgferry:lab:Vpn', ['vpn-ip', 'vpn-gateway']],
      'lab-source-vm': ['pgferry:lab:SourceVm', ['source-nic', 'source-vm', 'source-ready']],
      'lab-runtime': ['pgferry:lab:Runtime', ['migration-aw-online', 'migration-legacy-offline']],
    };
    for (const [component, [type, children]] of Object.entries(parts)) {
      assert.equal(mocks.byName(component).type, type);
      assert.equal(mocks.byName(component).parent, 'lab');
      for (const child of children) assert.equal(mocks.byName(child).parent, component, `${child} under ${component}`);
    }
    assert.equal(mocks.byName('resource-group').parent, 'lab');
    assert.equal(mocks.byName('name-suffix').parent, 'lab');
  });

  it('aliases every resource to its name and place before the components, so an existing stack replaces nothing', () => {
    const legacy: Record<string, string> = {
      'resource-group': 'lab-rg',
      vnet: 'lab-vnet',
      'dns-zone': 'lab-dns-zone',
      server: 'lab-pg',
      'param-azure-extensions': 'lab-param-azure-extensions',
      'vpn-gateway': 'lab-vpn-gateway',
      'source-vm': 'lab-source-vm',
      'migration-aw-online': 'lab-migration-aw-online',
    };
    for (const [name, old] of Object.entries(legacy)) {
      // azure-native adds its own aliases (earlier API versions' types); ours names the old place.
      const aliases = mocks.byName(name).aliases;
      assert.ok(
        aliases.some((a) => a.name === old && a.noParent),
        `${name}: ${JSON.stringify(aliases.filter((a) => a.name))}`,
      );
    }
  });

  it('a namePrefix change leaves every resource at its URN: the VPN gateway is not replaced', async () => {
    const before = urns(mocks);
    const renamed = await build({ ...fullConfig(), namePrefix: 'renamed-lab' });
    const after = urns(renamed.mocks);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [name, urn] of before) assert.equal(after.get(name), urn, name);
    assert.match(
      before.get('vpn-gateway')!,
      /::pgferry:lab:Lab\$pgferry:lab:Vpn\$azure-native:network:VirtualNetworkGateway::vpn-gateway$/,
    );
    // Azure names drawn at creation are kept (ignoreChanges), so the rename reaches no Azure resource.
    assert.deepEqual(renamed.mocks.byName('resource-group').ignoreChanges, ['resourceGroupName']);
    assert.ok(renamed.mocks.byName('source-vm').ignoreChanges.includes('osProfile.computerName'));
  });

  it('every migration waits for what makes the server reachable: the server, its parameters and the VPN', () => {
    const needed = ['server', 'param-azure-extensions', 'param-max-replication-slots', 'vpn-gateway', 'vpn-ip'];
    for (const name of ['migration-aw-online', 'migration-legacy-offline']) {
      const deps = mocks.byName(name).dependsOn;
      for (const dep of needed) assert.ok(deps.includes(dep), `${name} depends on ${dep}`);
    }
  });

  it('takes the lab-wide migration options from config, an entry overriding them', async () => {
    const config = fullConfig();
    const { mocks: m } = await build({
      ...config,
      migrationCreateTimeout: '12h',
      allowReplicaIdentityFull: true,
      tableJobs: '6' as unknown as number,
      migrations: [
        { ...config.migrations![0]!, tableJobs: 3, allowReplaceAfterCutover: true },
        { ...config.migrations![1]!, allowReplicaIdentityFull: false },
      ],
    });
    const online = m.byName('migration-aw-online').inputs;
    assert.equal(online.tableJobs, 3);
    assert.equal(online.allowReplicaIdentityFull, true);
    assert.equal(online.allowReplaceAfterCutover, true);
    assert.equal(online.indexJobs, undefined, '0: left to the machine running pulumi');
    const legacy = m.byName('migration-legacy-offline').inputs;
    assert.equal(legacy.tableJobs, 6);
    assert.equal(legacy.allowReplicaIdentityFull, false);
    assert.equal(legacy.allowReplaceAfterCutover, false);
  });
});
