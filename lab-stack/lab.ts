// createLab: the whole migration lab from a parsed config, as a tree of components that reads like
// the lab — Lab (resource group) › Network, Dns, Server (and its parameters), Vpn, SourceVm, and
// Runtime (the migrations, which wait for what makes the server reachable).
import * as pulumi from '@pulumi/pulumi';
import * as resources from '@pulumi/azure-native/resources';
import type { LabConfig } from './config';
import type { LabSecrets } from './stackConfig';

export { LabConfigError } from './config';
export { readLabConfig } from './stackConfig';
import { createPrivateDns, type LabDns } from './dns';
import { createDnsResolver, type LabDnsResolver } from './dnsResolver';
import { createMigrations, type MigrationFactory, type MigrationResource } from './labMigrations';
import { createNetwork, inVnet, type LabNetwork } from './network';
import { createMigrationRuntime, type LabMigrationRuntime } from './migrationRuntime';
import { createLabNames, type LabNames } from './names';
import { childOptions, labScope, partScope, type LabResourceOptions } from './options';
import { createServer, type LabServer } from './server';
import { createSourceVm, sourceVmPrivateIp, type LabSourceVm } from './sourceVm';
import { createVpn, type LabVpn } from './vpn';

export interface LabInputs {
  readonly config: LabConfig;
  readonly secrets: LabSecrets;
}

export interface LabOptions extends LabResourceOptions {
  /** Builds each PgMigration; tests and the root program may pass their own. */
  readonly migrationFactory?: MigrationFactory;
  /** Public DNS CNAME lookup, for serverPrivateIp (server.ts); tests pass their own. */
  readonly resolveCname?: (host: string) => Promise<string[]>;
}

/** What a stack exports. Secrets stay secret Outputs; nothing here holds a password in plain text. */
export interface LabOutputs {
  readonly resourceGroupName: pulumi.Output<string>;
  readonly vnetId: pulumi.Output<string>;
  readonly serverName: pulumi.Output<string>;
  readonly serverFqdn: pulumi.Output<string>;
  readonly serverPrivateIp: pulumi.Output<string | undefined>;
  readonly adminLogin: string;
  /** Secret. */
  readonly adminPassword: pulumi.Output<string>;
  /** Secret: a libpq URL for the target's maintenance database. */
  readonly serverConnectionString: pulumi.Output<string>;
  readonly parametersPendingRestart: pulumi.Output<string[]>;
  readonly dnsZoneName: pulumi.Output<string>;
  /** The DNS resolver's inbound address: VPN clients' DNS server (the Azure VPN Client profile needs it added). */
  readonly vpnDnsServer: string | undefined;
  readonly vpnGatewayId: pulumi.Output<string> | undefined;
  readonly vpnClientAddressPool: string | undefined;
  readonly sourceVmPrivateIp: string | undefined;
  /** The lab's PgBouncer (pooler.enabled), `host:port`: where the applications connect instead of the source. */
  readonly poolerAddress: string | undefined;
  /** The migration runtime's VMs: VM name, agent name (as `pgferry show` lists it), private address. */
  readonly runtimeAgents: pulumi.Output<{ vmName: string; agentName: string; privateIp: string }[]>;
  /** Migration name → state (InProgress, WaitingForUserAction, Succeeded, …). */
  readonly migrationStates: pulumi.Output<Record<string, string | undefined>>;
}

export interface Lab {
  /** The Lab component, parent of everything below. */
  readonly component: pulumi.ComponentResource;
  readonly names: LabNames;
  readonly resourceGroup: resources.ResourceGroup;
  readonly network: LabNetwork;
  readonly dns: LabDns;
  readonly dnsResolver: LabDnsResolver | undefined;
  readonly server: LabServer;
  readonly vpn: LabVpn | undefined;
  readonly sourceVm: LabSourceVm | undefined;
  /** The VMs running `pgferry agent`, when migrationRuntime.enabled. */
  readonly migrationRuntime: LabMigrationRuntime | undefined;
  readonly runtime: pulumi.ComponentResource;
  readonly migrations: ReadonlyMap<string, MigrationResource>;
  readonly outputs: LabOutputs;
}

export function createLab(inputs: LabInputs, opts: LabOptions = {}): Lab {
  const { config, secrets } = inputs;
  const lab = labScope(config.namePrefix, opts);
  const names = createLabNames(config, lab);
  const resourceGroup = new resources.ResourceGroup(
    'resource-group',
    { resourceGroupName: names.resourceGroupName, location: config.location, tags: config.tags },
    // The name is drawn once (names.ts); a stack from before keeps the one Azure gave it.
    { ...childOptions(lab, 'rg'), ignoreChanges: ['resourceGroupName'] },
  );
  const groupName = resourceGroup.name;

  const sourceVmIp = config.sourceVm.enabled ? sourceVmPrivateIp(config) : undefined;
  const network = createNetwork(config, groupName, partScope(lab, 'Network'), sourceVmIp);
  const dnsScope = partScope(lab, 'Dns');
  const dns = createPrivateDns(config, names, groupName, network, dnsScope);
  const dnsResolver = network.resolverSubnet
    ? createDnsResolver(config, groupName, inVnet(network, network.resolverSubnet), dnsScope)
    : undefined;
  const placement = { resourceGroupName: groupName, subnet: inVnet(network, network.serverSubnet), dns };
  const server = createServer(config, names, placement, secrets.adminPassword, partScope(lab, 'Server'), opts.resolveCname);
  const vpn = config.vpn.enabled ? createVpn(config, groupName, inVnet(network, network.gatewaySubnet), partScope(lab, 'Vpn')) : undefined;
  const sourcePassword = secrets.passwords['sourcePassword'];
  if (config.sourceVm.enabled && sourcePassword === undefined) {
    throw new Error('createLab: sourceVm.enabled needs secrets.passwords.sourcePassword (readLabConfig requires it)');
  }
  const sourceVm = config.sourceVm.enabled
    ? // The VM's DNS is the resolver (the VNet's DNS server): it must answer before cloud-init runs apt.
      createSourceVm(config, groupName, inVnet(network, network.sourceSubnet), sourcePassword!, partScope(lab, 'SourceVm'), [
        ...(dnsResolver ? [dnsResolver.inbound] : []),
        ...(network.natGateway ? [network.natGateway] : []),
      ])
    : undefined;
  const migrationRuntime = network.runtimeSubnet
    ? createMigrationRuntime(
        config,
        groupName,
        inVnet(network, network.runtimeSubnet),
        {
          host: server.server.fullyQualifiedDomainName,
          user: config.server.administratorLogin,
          password: secrets.adminPassword,
          sourceVmIp,
        },
        secrets,
        partScope(lab, 'MigrationRuntime'),
        [...(dnsResolver ? [dnsResolver.inbound] : []), ...(network.natGateway ? [network.natGateway] : [])],
      )
    : undefined;

  const runtime = partScope(lab, 'Runtime');
  const migrations = createMigrations(
    config,
    {
      targetHost: server.server.fullyQualifiedDomainName,
      targetUser: config.server.administratorLogin,
      adminPassword: secrets.adminPassword,
      sourceVmIp: sourceVm?.privateIp,
      ...(migrationRuntime?.pooler ? { pooler: migrationRuntime.pooler } : {}),
      secrets,
    },
    // Reachable and ready from the machine running pulumi: the server, its parameters and the
    // restart that loads the static ones, the VPN gateway, and the names VPN clients resolve the
    // server's FQDN with (the zone's link to the VNet, the DNS resolver). The same edges order
    // `pulumi destroy`: Pulumi deletes a resource before what it depends on, and deleting a
    // migration talks to the target (and, online, to the source, to drop its slot and publication;
    // provider/resource/remove.ts), so every migration is deleted while the gateway, the resolver,
    // the server, the source VM and the agents that hold its work are still there.
    {
      target: [
        server.component,
        ...(server.restart ? [server.restart] : []),
        ...(vpn ? [vpn.component] : []),
        dns.link,
        ...(dnsResolver ? [dnsResolver.resolver, dnsResolver.inbound] : []),
      ],
      sourceVm: sourceVm?.ready,
      agents: migrationRuntime?.vms.map((vm) => vm.vm),
    },
    runtime,
    opts.migrationFactory,
  );

  const parts = { component: lab.component, names, resourceGroup, network, dns, dnsResolver, server, vpn, sourceVm, migrationRuntime };
  return { ...parts, runtime: runtime.component, migrations, outputs: labOutputs(config, secrets, parts, migrations) };
}

/** What a stack exports, from the lab's parts. */
function labOutputs(
  config: LabConfig,
  secrets: LabSecrets,
  parts: Omit<Lab, 'runtime' | 'migrations' | 'outputs'>,
  migrations: ReadonlyMap<string, MigrationResource>,
): LabOutputs {
  const { resourceGroup, network, dns, dnsResolver, server, vpn, sourceVm, migrationRuntime } = parts;
  const adminPassword = pulumi.secret(secrets.adminPassword);
  const login = config.server.administratorLogin;
  return {
    resourceGroupName: resourceGroup.name,
    vnetId: network.vnet.id,
    serverName: server.server.name,
    serverFqdn: server.server.fullyQualifiedDomainName,
    serverPrivateIp: server.privateIp,
    adminLogin: login,
    adminPassword,
    serverConnectionString: pulumi.secret(
      pulumi
        .all([server.server.fullyQualifiedDomainName, adminPassword])
        .apply(
          ([host, password]) =>
            `postgresql://${encodeURIComponent(login)}:${encodeURIComponent(password)}@${host}:5432/postgres?sslmode=require`,
        ),
    ),
    parametersPendingRestart: server.pendingRestart,
    dnsZoneName: dns.zone.name,
    vpnDnsServer: dnsResolver?.address,
    vpnGatewayId: vpn?.gateway.id,
    vpnClientAddressPool: vpn ? config.vpn.clientAddressPool : undefined,
    sourceVmPrivateIp: sourceVm?.privateIp,
    poolerAddress: migrationRuntime?.pooler ? `${migrationRuntime.pooler.host}:${migrationRuntime.pooler.port}` : undefined,
    runtimeAgents: pulumi
      .all((migrationRuntime?.vms ?? []).map((vm) => pulumi.all([vm.vm.name, vm.agentName, vm.privateIp])))
      .apply((rows) => rows.map(([vmName, agentName, privateIp]) => ({ vmName, agentName, privateIp }))),
    migrationStates: pulumi
      .all([...migrations].map(([name, migration]) => pulumi.all([name, migration.state])))
      .apply((rows) => Object.fromEntries(rows)),
  };
}

/** The stack outputs of a lab program: every LabOutputs field except the bare admin password. */
export function stackOutputs(lab: Lab): Record<string, unknown> {
  const { adminPassword: _secretKeptOut, ...outputs } = lab.outputs;
  return { ...outputs };
}
