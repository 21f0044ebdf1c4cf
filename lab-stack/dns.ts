// The private DNS zone Flexible Server registers its address in, linked to the lab VNet so
// resources in the VNet (and VPN clients using its resolver) can resolve the server's FQDN.
import * as pulumi from '@pulumi/pulumi';
import * as privatedns from '@pulumi/azure-native/privatedns';
import type { LabConfig } from './config';
import type { LabNames } from './names';
import type { LabNetwork } from './network';
import { childOptions, type LabScope } from './options';

/** `<name>.private.postgres.database.azure.com`: Azure only offers zones ending in postgres.database.azure.com. */
function privateZoneName(serverName: string): string {
  return `${serverName}.private.postgres.database.azure.com`;
}

export interface LabDns {
  readonly zone: privatedns.PrivateZone;
  readonly link: privatedns.VirtualNetworkLink;
  readonly component: pulumi.ComponentResource;
}

export function createPrivateDns(
  config: LabConfig,
  names: LabNames,
  resourceGroupName: pulumi.Input<string>,
  vnet: Pick<LabNetwork, 'vnet' | 'subnets'>,
  scope: LabScope,
): LabDns {
  const zone = new privatedns.PrivateZone(
    'dns-zone',
    { resourceGroupName, privateZoneName: pulumi.output(names.serverName).apply(privateZoneName), location: 'global', tags: config.tags },
    // Named after the server, whose default name is drawn once: keep the zone's first name (see names.ts).
    { ...childOptions(scope, 'dns-zone'), ignoreChanges: names.serverNameFixed ? [] : ['privateZoneName'] },
  );
  const link = new privatedns.VirtualNetworkLink(
    'dns-link',
    {
      resourceGroupName,
      privateZoneName: zone.name,
      location: 'global',
      virtualNetwork: { id: vnet.vnet.id },
      // Flexible Server writes its own A record; VM auto-registration would mix VM names into the zone.
      registrationEnabled: false,
      tags: config.tags,
    },
    // After every subnet, the server's delegated one included, so that destroy deletes the link
    // before any subnet: deleting the link while the server's subnet is being deleted is what leaves
    // the subnet's service association link behind, and the subnet then fails with
    // InUseSubnetCannotBeDeleted (Azure/azure-rest-api-specs#17443: "Delete link between private dns
    // zone and vnet. In the meanwhile, delete subnet"; hashicorp/terraform-provider-azurerm#15032).
    // Creating it after the subnets also keeps it out of the VNet's writes (network.ts, VnetPlacement).
    childOptions(scope, 'dns-link', [...vnet.subnets]),
  );
  return { zone, link, component: scope.component };
}
