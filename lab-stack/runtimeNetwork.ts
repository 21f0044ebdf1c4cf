// The migration runtime's network security group: the agents reach the target's PostgreSQL, their
// sources, the VNet's DNS resolver and (for apt and npm at first boot) the internet; nothing else
// in the VNet. Inbound, only SSH from VPN clients, and the lab's PgBouncer's port from the VNet and
// the VPN clients when it runs there. Pure rule building plus the one resource.
import * as pulumi from '@pulumi/pulumi';
import * as network from '@pulumi/azure-native/network';
// Types only: nothing of the package root is loaded.
import type * as azureInputs from '@pulumi/azure-native/types/input';
import { parseIp } from './cidr';
import type { LabConfig } from './config';
import { resolverAddress, resolverEnabled } from './dnsResolver';
import { childOptions, type LabScope } from './options';

type SecurityRule = azureInputs.network.SecurityRuleArgs;

/** A source the agents connect to: one address block and the ports PostgreSQL listens on there. */
interface SourceDestination {
  readonly cidr: string;
  readonly ports: readonly number[];
}

/**
 * Where the agents' sources are, as far as config says: the lab's source VM, migrations whose
 * source host is an IPv4 address, and `migrationRuntime.sourceCidrs` (for sources named by host
 * name, on premises or in a peered network). A source on the internet needs nothing: internet
 * outbound stays open.
 */
function runtimeSourceDestinations(config: LabConfig, sourceVmIp: string | undefined): SourceDestination[] {
  const ports = new Map<string, Set<number>>();
  const add = (cidr: string, port: number) => ports.set(cidr, (ports.get(cidr) ?? new Set()).add(port));
  if (sourceVmIp !== undefined) add(`${sourceVmIp}/32`, 5432);
  const externalPorts = new Set<number>([5432]);
  for (const migration of config.migrations) {
    const source = migration.source;
    if (source === undefined) continue;
    externalPorts.add(source.port);
    if (parseIp(source.host) !== undefined) add(`${source.host}/32`, source.port);
  }
  for (const cidr of config.migrationRuntime.sourceCidrs) for (const port of externalPorts) add(cidr, port);
  return [...ports].map(([cidr, set]) => ({ cidr, ports: [...set].sort((a, b) => a - b) }));
}

function allow(
  name: string,
  priority: number,
  direction: 'Inbound' | 'Outbound',
  protocol: string,
  to: { address: string; ports: readonly string[] },
  from = '*',
): SecurityRule {
  return {
    name,
    priority,
    direction,
    access: 'Allow',
    protocol,
    sourceAddressPrefix: from,
    sourcePortRange: '*',
    destinationAddressPrefix: to.address,
    ...(to.ports.length === 1 ? { destinationPortRange: to.ports[0] } : { destinationPortRanges: [...to.ports] }),
  };
}

/** The rules, lowest priority number first. Azure's defaults (allow VNet, allow internet out) sit below 4096. */
function runtimeSecurityRules(config: LabConfig, sourceVmIp: string | undefined): SecurityRule[] {
  const rules: SecurityRule[] = [
    allow('allow-target-postgres', 100, 'Outbound', 'Tcp', { address: config.network.serverSubnet, ports: ['5432'] }),
  ];
  runtimeSourceDestinations(config, sourceVmIp).forEach((destination, index) => {
    rules.push(
      allow(`allow-source-postgres-${index + 1}`, 110 + index, 'Outbound', 'Tcp', {
        address: destination.cidr,
        ports: destination.ports.map(String),
      }),
    );
  });
  if (resolverEnabled(config)) {
    rules.push(allow('allow-dns-resolver', 200, 'Outbound', '*', { address: `${resolverAddress(config)}/32`, ports: ['53'] }));
  }
  rules.push(
    // apt, NodeSource, PGDG, npm or git at first boot, through the NAT gateway.
    allow('allow-internet-web', 300, 'Outbound', 'Tcp', { address: 'Internet', ports: ['80', '443'] }),
    { ...allow('deny-vnet-outbound', 4000, 'Outbound', '*', { address: 'VirtualNetwork', ports: ['*'] }), access: 'Deny' },
  );
  if (config.vpn.enabled) {
    rules.push(allow('allow-ssh-from-vpn', 100, 'Inbound', 'Tcp', { address: '*', ports: ['22'] }, config.vpn.clientAddressPool));
  }
  if (config.pooler.enabled) {
    // The lab's PgBouncer (first VM): the applications connect to it from the VNet and over the VPN.
    const port = { address: '*', ports: [String(config.pooler.port)] };
    rules.push(allow('allow-pooler-from-vnet', 110, 'Inbound', 'Tcp', port, config.network.addressSpace));
    if (config.vpn.enabled) rules.push(allow('allow-pooler-from-vpn', 111, 'Inbound', 'Tcp', port, config.vpn.clientAddressPool));
  }
  rules.push({
    ...allow('deny-vnet-inbound', 4000, 'Inbound', '*', { address: '*', ports: ['*'] }, 'VirtualNetwork'),
    access: 'Deny',
  });
  return rules;
}

/** Where the runtime's subnet goes in the VNet. */
interface RuntimePlacement {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly vnet: network.VirtualNetwork;
  /** The VMs' explicit way out (apt, NodeSource, npm at first boot). */
  readonly natGateway: network.NatGateway | undefined;
  /** The subnet written before it: Azure refuses concurrent writes to one VNet's subnets. */
  readonly after: network.Subnet;
  /** The source VM's static address, when the lab has one. */
  readonly sourceVmIp: string | undefined;
}

/** The runtime's subnet behind its security group. */
export function createRuntimeSubnet(
  config: LabConfig,
  placement: RuntimePlacement,
  scope: LabScope,
): { subnet: network.Subnet; securityGroup: network.NetworkSecurityGroup } {
  const { resourceGroupName, natGateway } = placement;
  const securityGroup = new network.NetworkSecurityGroup(
    'runtime-nsg',
    {
      resourceGroupName,
      location: config.location,
      securityRules: runtimeSecurityRules(config, placement.sourceVmIp),
      tags: config.tags,
    },
    childOptions(scope, 'runtime-nsg'),
  );
  const subnet = new network.Subnet(
    'runtime-subnet',
    {
      resourceGroupName,
      virtualNetworkName: placement.vnet.name,
      subnetName: 'migration-runtime',
      addressPrefix: config.network.runtimeSubnet,
      networkSecurityGroup: { id: securityGroup.id },
      ...(natGateway ? { natGateway: { id: natGateway.id } } : {}),
    },
    childOptions(scope, 'runtime-subnet', [placement.after]),
  );
  return { subnet, securityGroup };
}
