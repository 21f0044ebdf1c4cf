// Name resolution for point-to-site clients: migrations and psql target the server's private FQDN,
// which only resolvers inside the VNet (Azure DNS with the linked private zone) can answer. An Azure
// DNS Private Resolver inbound endpoint, in its own delegated subnet at a static address, answers
// for them; the VNet's DNS servers name that address, which is what VPN clients (IKEv2) are handed.
import * as pulumi from '@pulumi/pulumi';
import * as dnsresolver from '@pulumi/azure-native/dnsresolver';
import { cidrHost, parseCidr, type Cidr } from './cidr';
import type { LabConfig } from './config';
import type { VnetPlacement } from './placement';
import { childOptions, type LabScope } from './options';

/** The delegation an inbound endpoint's subnet needs (and nothing else may use that subnet). */
export const DNS_RESOLVER_DELEGATION = 'Microsoft.Network/dnsResolvers';

export interface LabDnsResolver {
  readonly resolver: dnsresolver.DnsResolver;
  readonly inbound: dnsresolver.InboundEndpoint;
  /** The inbound endpoint's static address: the VNet's DNS server. */
  readonly address: string;
}

/** Whether the lab runs a resolver: for VPN clients, so only with the VPN. */
export function resolverEnabled(config: LabConfig): boolean {
  return config.vpn.enabled && config.vpn.dnsResolver;
}

/** The inbound endpoint's address, the resolver subnet's first assignable one (Azure keeps .0-.3). */
export function resolverAddress(config: LabConfig): string {
  return cidrHost(parseCidr(config.network.resolverSubnet) as Cidr, 4);
}

export function createDnsResolver(
  config: LabConfig,
  resourceGroupName: pulumi.Input<string>,
  placement: VnetPlacement,
  scope: LabScope,
): LabDnsResolver {
  // Both wait for every subnet of the VNet, not only the resolver's (network.ts, VnetPlacement).
  const after = [...placement.vnetSubnets];
  const resolver = new dnsresolver.DnsResolver(
    'dns-resolver',
    { resourceGroupName, location: config.location, virtualNetwork: { id: placement.vnetId }, tags: config.tags },
    childOptions(scope, 'dns-resolver', after),
  );
  const address = resolverAddress(config);
  const inbound = new dnsresolver.InboundEndpoint(
    'dns-inbound',
    {
      resourceGroupName,
      location: config.location,
      dnsResolverName: resolver.name,
      // Static: the VNet names this address as its DNS server before the endpoint exists.
      ipConfigurations: [{ privateIpAllocationMethod: 'Static', privateIpAddress: address, subnet: { id: placement.subnetId } }],
      tags: config.tags,
    },
    childOptions(scope, 'dns-inbound', after),
  );
  return { resolver, inbound, address };
}
