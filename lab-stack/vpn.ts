// The point-to-site VPN: a public IP and a route-based VPN gateway in GatewaySubnet, so a
// workstation holding a client certificate signed by the configured root can reach the private server.
import * as pulumi from '@pulumi/pulumi';
import * as network from '@pulumi/azure-native/network';
import { VPN_GENERATIONS, type LabConfig } from './config';
import type { VnetPlacement } from './placement';
import { childOptions, type LabScope } from './options';

export interface LabVpn {
  readonly publicIp: network.PublicIPAddress;
  readonly gateway: network.VirtualNetworkGateway;
  readonly component: pulumi.ComponentResource;
}

/** The configured generation, or the first the SKU exists in (Generation2 for VpnGw4AZ/5AZ). */
function vpnGeneration(vpn: LabConfig['vpn']): 'Generation1' | 'Generation2' {
  return vpn.generation ?? VPN_GENERATIONS[vpn.skuName][0]!;
}

export function createVpn(config: LabConfig, resourceGroupName: pulumi.Input<string>, placement: VnetPlacement, scope: LabScope): LabVpn {
  const vpn = config.vpn;
  const publicIp = new network.PublicIPAddress(
    'vpn-ip',
    {
      resourceGroupName,
      location: config.location,
      // Azure retired Basic public IPs for new gateways; Standard must be Static. An AZ gateway's
      // Standard IP must carry zones (VmssVpnGatewayPublicIpsMustHaveZonesConfigured): zone-redundant
      // across vpn.zones; none where the region has no availability zones (vpn.zones []).
      sku: { name: 'Standard', tier: 'Regional' },
      publicIPAllocationMethod: 'Static',
      ...(vpn.zones.length ? { zones: [...vpn.zones] } : {}),
      tags: config.tags,
    },
    childOptions(scope, 'vpn-ip'),
  );
  const gateway = new network.VirtualNetworkGateway(
    'vpn-gateway',
    {
      resourceGroupName,
      location: config.location,
      gatewayType: 'Vpn',
      vpnType: 'RouteBased', // point-to-site needs a route-based gateway
      sku: { name: vpn.skuName, tier: vpn.skuName },
      vpnGatewayGeneration: vpnGeneration(vpn),
      activeActive: false,
      enableBgp: false,
      ipConfigurations: [
        {
          name: 'default',
          privateIPAllocationMethod: 'Dynamic',
          subnet: { id: placement.subnetId },
          publicIPAddress: { id: publicIp.id },
        },
      ],
      vpnClientConfiguration: {
        vpnClientAddressPool: { addressPrefixes: [vpn.clientAddressPool] },
        vpnClientProtocols: [...vpn.protocols],
        vpnAuthenticationTypes: ['Certificate'],
        vpnClientRootCertificates: [
          // validated as present when vpn.enabled (config.ts)
          { name: vpn.rootCertificateName, publicCertData: vpn.rootCertificateData ?? '' },
        ],
      },
      tags: config.tags,
    },
    // Creating a VPN gateway takes 30-45 minutes on Azure; the default timeout would give up first.
    // It waits for every subnet of the VNet, not only GatewaySubnet (network.ts, VnetPlacement).
    { ...childOptions(scope, 'vpn-gateway', [...placement.vnetSubnets]), customTimeouts: { create: '90m', update: '90m', delete: '60m' } },
  );
  return { publicIp, gateway, component: scope.component };
}
