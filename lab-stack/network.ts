// The lab's virtual network: GatewaySubnet for the VPN gateway, a subnet delegated to Flexible
// Server, and a subnet for the "on-premises" source VM.
import * as pulumi from '@pulumi/pulumi';
import * as network from '@pulumi/azure-native/network';
import type { LabConfig } from './config';
import { childOptions, type LabResourceOptions } from './options';

/** The delegation Flexible Server's private access requires on its subnet. */
export const FLEXIBLE_SERVER_DELEGATION = 'Microsoft.DBforPostgreSQL/flexibleServers';

export interface LabNetwork {
  readonly vnet: network.VirtualNetwork;
  readonly gatewaySubnet: network.Subnet;
  readonly serverSubnet: network.Subnet;
  readonly sourceSubnet: network.Subnet;
}

export function createNetwork(config: LabConfig, resourceGroupName: pulumi.Input<string>, opts: LabResourceOptions): LabNetwork {
  const prefix = config.namePrefix;
  const vnet = new network.VirtualNetwork(
    `${prefix}-vnet`,
    {
      resourceGroupName,
      location: config.location,
      addressSpace: { addressPrefixes: [config.network.addressSpace] },
      tags: config.tags,
    },
    // Subnets are separate resources below, so the VNet is written without a subnet list (which
    // network API 2023-11-01 and later leave alone); ignoring the list Azure reports back keeps
    // it from showing as a diff after `pulumi refresh`.
    { ...childOptions(opts), ignoreChanges: ['subnets'] },
  );

  // Azure rejects concurrent writes to one VNet's subnets (AnotherOperationInProgress), so each
  // subnet waits for the previous one.
  const gatewaySubnet = new network.Subnet(
    `${prefix}-gateway-subnet`,
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'GatewaySubnet', // the VPN gateway only deploys into a subnet of exactly this name
      addressPrefix: config.network.gatewaySubnet,
    },
    childOptions(opts),
  );
  const serverSubnet = new network.Subnet(
    `${prefix}-server-subnet`,
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'postgres-flexible',
      addressPrefix: config.network.serverSubnet,
      delegations: [{ name: 'flexibleServers', serviceName: FLEXIBLE_SERVER_DELEGATION }],
    },
    childOptions(opts, [gatewaySubnet]),
  );
  const sourceSubnet = new network.Subnet(
    `${prefix}-source-subnet`,
    {
      resourceGroupName,
      virtualNetworkName: vnet.name,
      subnetName: 'source-vm',
      addressPrefix: config.network.sourceSubnet,
    },
    childOptions(opts, [serverSubnet]),
  );
  return { vnet, gatewaySubnet, serverSubnet, sourceSubnet };
}
