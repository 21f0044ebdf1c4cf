// The lab's virtual network: GatewaySubnet for the VPN gateway, a subnet delegated to Flexible
// Server, a subnet for the "on-premises" source VM (with a NAT gateway for its explicit outbound
// access) and one delegated to the DNS resolver's inbound endpoint, whose address is the VNet's DNS.
import * as pulumi from '@pulumi/pulumi';
import * as network from '@pulumi/azure-native/network';
import type { LabConfig } from './config';
import { DNS_RESOLVER_DELEGATION, resolverAddress, resolverEnabled } from './dnsResolver';
import { childOptions, type LabScope } from './options';
import type { VnetPlacement } from './placement';
import { createRuntimeSubnet } from './runtimeNetwork';

/** The delegation Flexible Server's private access requires on its subnet. */
const FLEXIBLE_SERVER_DELEGATION = 'Microsoft.DBforPostgreSQL/flexibleServers';

export interface LabNetwork {
  readonly vnet: network.VirtualNetwork;
  readonly gatewaySubnet: network.Subnet;
  readonly serverSubnet: network.Subnet;
  readonly sourceSubnet: network.Subnet;
  /** The DNS resolver's inbound endpoint subnet, when the lab runs one (dnsResolver.ts). */
  readonly resolverSubnet: network.Subnet | undefined;
  /** The migration runtime's subnet, behind its own security group, when migrationRuntime.enabled. */
  readonly runtimeSubnet: network.Subnet | undefined;
  readonly runtimeSecurityGroup: network.NetworkSecurityGroup | undefined;
  /** Explicit outbound access for the lab's VMs (apt, npm at first boot), when the lab has any. */
  readonly natGateway: network.NatGateway | undefined;
  /** Every subnet of the VNet, in the order they are written (see inVnet). */
  readonly subnets: readonly network.Subnet[];
  readonly component: pulumi.ComponentResource;
}

/** A placement in one of the lab's subnets. */
export function inVnet(lab: Pick<LabNetwork, 'vnet' | 'subnets'>, subnet: network.Subnet): VnetPlacement {
  return { vnetId: lab.vnet.id, subnetId: subnet.id, vnetSubnets: lab.subnets };
}

/**
 * The source VM installs PostgreSQL from the internet at first boot. Azure's default outbound
 * access is retired for new virtual networks (Azure's "Default outbound access" article: subnets
 * become private, newer network API versions default defaultOutboundAccess to false), so the
 * source subnet gets an explicit way out: a NAT gateway with its own Standard public IP.
 */
function createNatGateway(config: LabConfig, resourceGroupName: pulumi.Input<string>, scope: LabScope): network.NatGateway {
  const ip = new network.PublicIPAddress(
    'nat-ip',
    {
      resourceGroupName,
      location: config.location,
      sku: { name: 'Standard', tier: 'Regional' },
      publicIPAllocationMethod: 'Static',
      tags: config.tags,
    },
    childOptions(scope, 'nat-ip'),
  );
  return new network.NatGateway(
    'nat-gateway',
    {
      resourceGroupName,
      location: config.location,
      sku: { name: 'Standard' },
      publicIpAddresses: [{ id: ip.id }],
      idleTimeoutInMinutes: 4,
      tags: config.tags,
    },
    childOptions(scope, 'nat-gateway'),
  );
}

export function createNetwork(
  config: LabConfig,
  resourceGroupName: pulumi.Input<string>,
  scope: LabScope,
  /** The source VM's static address (sourceVm.ts), for the runtime's security rules. */
  sourceVmIp?: string,
): LabNetwork {
  const vnet = new network.VirtualNetwork(
    'vnet',
    {
      resourceGroupName,
      location: config.location,
      addressSpace: { addressPrefixes: [config.network.addressSpace] },
      // VPN clients (and the VNet's VMs) ask the resolver's inbound endpoint, which answers the
      // private zone's names as Azure DNS does inside the VNet and forwards the rest to it.
      ...(resolverEnabled(config) ? { dhcpOptions: { dnsServers: [resolverAddress(config)] } } : {}),
      tags: config.tags,
    },
    // Subnets are separate resources below, so the VNet is written without a subnet list (which
    // network API 2023-11-01 and later leave alone); ignoring the list Azure reports back keeps
    // it from showing as a diff after `pulumi refresh`.
    { ...childOptions(scope, 'vnet'), ignoreChanges: ['subnets'] },
  );

  // Azure rejects concurrent writes to one VNet's subnets (AnotherOperationInProgress, see
  // VnetPlacement), so each subnet waits for the previous one.
  const gatewaySubnet = new network.Subnet(
    'gateway-subnet',
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'GatewaySubnet', // the VPN gateway only deploys into a subnet of exactly this name
      addressPrefix: config.network.gatewaySubnet,
    },
    childOptions(scope, 'gateway-subnet'),
  );
  const serverSubnet = new network.Subnet(
    'server-subnet',
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'postgres-flexible',
      addressPrefix: config.network.serverSubnet,
      delegations: [{ name: 'flexibleServers', serviceName: FLEXIBLE_SERVER_DELEGATION }],
    },
    childOptions(scope, 'server-subnet', [gatewaySubnet]),
  );
  const natGateway =
    config.sourceVm.enabled || config.migrationRuntime.enabled ? createNatGateway(config, resourceGroupName, scope) : undefined;
  const sourceSubnet = new network.Subnet(
    'source-subnet',
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'source-vm',
      addressPrefix: config.network.sourceSubnet,
      ...(natGateway && config.sourceVm.enabled ? { natGateway: { id: natGateway.id } } : {}),
    },
    childOptions(scope, 'source-subnet', [serverSubnet]),
  );
  const resolverSubnet = resolverEnabled(config)
    ? new network.Subnet(
        'resolver-subnet',
        {
          resourceGroupName,
          virtualNetworkName: vnet.name,
          subnetName: 'dns-resolver-inbound',
          addressPrefix: config.network.resolverSubnet,
          delegations: [{ name: 'dnsResolvers', serviceName: DNS_RESOLVER_DELEGATION }],
        },
        childOptions(scope, 'resolver-subnet', [sourceSubnet]),
      )
    : undefined;
  const runtime = config.migrationRuntime.enabled
    ? createRuntimeSubnet(config, { resourceGroupName, vnet, natGateway, after: resolverSubnet ?? sourceSubnet, sourceVmIp }, scope)
    : undefined;
  return {
    vnet,
    gatewaySubnet,
    serverSubnet,
    sourceSubnet,
    resolverSubnet,
    runtimeSubnet: runtime?.subnet,
    runtimeSecurityGroup: runtime?.securityGroup,
    natGateway,
    subnets: [gatewaySubnet, serverSubnet, sourceSubnet, ...(resolverSubnet ? [resolverSubnet] : []), ...(runtime ? [runtime.subnet] : [])],
    component: scope.component,
  };
}
