// The private DNS zone Flexible Server registers its address in, linked to the lab VNet so
// resources in the VNet (and VPN clients using its resolver) can resolve the server's FQDN.
import * as pulumi from '@pulumi/pulumi';
import * as privatedns from '@pulumi/azure-native/privatedns';
import type { LabConfig } from './config';
import { childOptions, type LabResourceOptions } from './options';

/** `<name>.private.postgres.database.azure.com`: Azure only offers zones ending in postgres.database.azure.com. */
export function privateZoneName(serverName: string): string {
  return `${serverName}.private.postgres.database.azure.com`;
}

export interface LabDns {
  readonly zone: privatedns.PrivateZone;
  readonly link: privatedns.VirtualNetworkLink;
  readonly zoneName: string;
}

export function createPrivateDns(
  config: LabConfig,
  serverName: string,
  resourceGroupName: pulumi.Input<string>,
  vnetId: pulumi.Input<string>,
  opts: LabResourceOptions,
): LabDns {
  const zoneName = privateZoneName(serverName);
  const zone = new privatedns.PrivateZone(
    `${config.namePrefix}-dns-zone`,
    { resourceGroupName, privateZoneName: zoneName, location: 'global', tags: config.tags },
    childOptions(opts),
  );
  const link = new privatedns.VirtualNetworkLink(
    `${config.namePrefix}-dns-link`,
    {
      resourceGroupName,
      privateZoneName: zone.name,
      location: 'global',
      virtualNetwork: { id: vnetId },
      // Flexible Server writes its own A record; VM auto-registration would mix VM names into the zone.
      registrationEnabled: false,
      tags: config.tags,
    },
    childOptions(opts),
  );
  return { zone, link, zoneName };
}
