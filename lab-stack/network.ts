// The lab's virtual network: GatewaySubnet for the VPN gateway, a subnet delegated to Flexible
// Server, and a subnet for the "on-premises" source VM.
import * as pulumi from '@pulumi/pulumi';
import * as network from '@pulumi/azure-native/network';
import type { LabConfig } from './config';
import { childOptions, type LabScope } from './options';

/** The delegation Flexible Server's private access requires on its subnet. */
export const FLEXIBLE_SERVER_DELEGATION = 'Microsoft.DBforPostgreSQL/flexibleServers';

export interface LabNetwork {
  readonly vnet: network.VirtualNetwork;
  readonly gatewaySubnet: network.Subnet;
  readonly serverSubnet: network.Subnet;
  readonly sourceSubnet: network.Subnet;
  readonly component: pulumi.ComponentResource;
}

export function createNetwork(config: LabConfig, resourceGroupName: pulumi.Input<string>, scope: LabScope): LabNetwork {
  const vnet = new network.VirtualNetwork(
    'vnet',
    {
      resourceGroupName,
      location: config.location,
      addressSpace: { addressPrefixes: [config.network.addressSpace] },
      tags: config.tags,
    },
    // Subnets are separate resources below, so the VNet is written without a subnet list (which
    // network API 2023-11-01 and later leave alone); ignoring the list Azure reports back keeps
    // it from showing as a diff after `pulumi refresh`.
    { ...childOptions(scope, 'vnet'), ignoreChanges: ['subnets'] },
  );

  // Azure rejects concurrent writes to one VNet's subnets (AnotherOperationInProgress), so each
  // subnet waits for the previous one.
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
  const sourceSubnet = new network.Subnet(
    'source-subnet',
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'source-vm',
      addressPrefix: config.network.sourceSubnet,
    },
    childOptions(scope, 'source-subnet', [serverSubnet]),
  );
  return { vnet, gatewaySubnet, serverSubnet, sourceSubnet, component: scope.component };
}
