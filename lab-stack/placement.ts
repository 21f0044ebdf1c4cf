// Where a resource goes in the lab's VNet, a type of its own: the network makes placements
// (network.ts inVnet), and the resources placed in it (the server, the source VM, the VPN gateway,
// the DNS resolver, the migration runtime) take them.
import type * as pulumi from '@pulumi/pulumi';
import type * as network from '@pulumi/azure-native/network';

/**
 * Where a resource goes in the lab's VNet: its subnet, and every subnet of the VNet, which it waits
 * for. Azure serializes writes within one VNet: while a subnet is written, a write that touches
 * another subnet of it is refused with AnotherOperationInProgress (pulumi/pulumi-azure-native#699
 * and #1024, Azure/terraform-provider-azapi#503, hashicorp/terraform-provider-azurerm#3780), and
 * one that references the VNet or a subnet still Updating by a PutSubnetOperation with
 * ReferencedResourceNotProvisioned ("... is not in Succeeded state. Resource is in Updating state
 * and the last operation that updated/is updating the resource is PutSubnetOperation",
 * hashicorp/terraform-provider-azurerm#30197, Azure-Samples/azuresandbox#25). So the gateway, the
 * server, the resolver, the NICs and the zone link wait for the whole chain, not only for their
 * own subnet; on destroy the same edges make Pulumi delete them before any subnet.
 */
export interface VnetPlacement {
  readonly vnetId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly vnetSubnets: readonly network.Subnet[];
}
