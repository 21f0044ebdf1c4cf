// The target: Azure Database for PostgreSQL Flexible Server with private access only (delegated
// subnet + private DNS zone), and the server parameters a migration needs.
import { promises as dnsPromises } from 'node:dns';
import * as pulumi from '@pulumi/pulumi';
import * as dbforpostgresql from '@pulumi/azure-native/dbforpostgresql';
import * as authorization from '@pulumi/azure-native/authorization';
import * as privatedns from '@pulumi/azure-native/privatedns';
import type { LabConfig } from './config';
import type { LabDns } from './dns';
import type { LabNames } from './names';
import type { VnetPlacement } from './placement';
import { childOptions, type LabScope } from './options';
import { parametersNeedingRestart, serverParameters } from './serverParameters';
import { ServerRestart } from './serverRestart';

export interface LabServer {
  readonly server: dbforpostgresql.Server;
  readonly component: pulumi.ComponentResource;
  /** One Configuration per parameter, in the order they are applied. */
  readonly parameters: dbforpostgresql.Configuration[];
  /** The server's address from its A record in the private zone (undefined until Azure has written it). */
  readonly privateIp: pulumi.Output<string | undefined>;
  /** Parameters Azure reported as waiting for a restart when they were written (refresh to re-read). */
  readonly pendingRestart: pulumi.Output<string[]>;
  /** The restart after static parameters, when any is set: migrations wait for it. */
  readonly restart: ServerRestart | undefined;
}

export interface ServerPlacement {
  readonly resourceGroupName: pulumi.Input<string>;
  /** The delegated subnet, and every subnet of the VNet, which the server waits for. */
  readonly subnet: VnetPlacement;
  readonly dns: LabDns;
}

export function createServer(
  config: LabConfig,
  names: LabNames,
  placement: ServerPlacement,
  adminPassword: pulumi.Input<string>,
  scope: LabScope,
  resolveCname: (host: string) => Promise<string[]> = (host) => dnsPromises.resolveCname(host),
): LabServer {
  const s = config.server;
  const { resourceGroupName, subnet, dns } = placement;
  const server = new dbforpostgresql.Server(
    'server',
    {
      resourceGroupName,
      location: config.location,
      serverName: names.serverName,
      version: s.version,
      sku: { name: s.skuName, tier: s.tier },
      storage: { storageSizeGB: s.storageSizeGb, autoGrow: s.storageAutoGrow ? 'Enabled' : 'Disabled' },
      administratorLogin: s.administratorLogin,
      // Wrapped again so a password set without --secret still never shows in plain text.
      administratorLoginPassword: pulumi.secret(adminPassword),
      authConfig: { passwordAuth: 'Enabled', activeDirectoryAuth: 'Disabled' },
      network: {
        delegatedSubnetResourceId: subnet.subnetId,
        privateDnsZoneArmResourceId: dns.zone.id,
        publicNetworkAccess: 'Disabled',
      },
      // A standby doubles the cost and slows the bulk copy (every write is committed twice);
      // the seeds turn HA on only after cutover.
      highAvailability: { mode: s.highAvailability },
      backup: { backupRetentionDays: s.backupRetentionDays, geoRedundantBackup: 'Disabled' },
      ...(s.availabilityZone ? { availabilityZone: s.availabilityZone } : {}),
      createMode: 'Create',
      tags: config.tags,
    },
    {
      // Azure validates at creation that the zone is linked to the server's VNet. The server waits
      // for every subnet of the VNet, not only its delegated one (network.ts, VnetPlacement).
      ...childOptions(scope, 'pg', [dns.link, ...subnet.vnetSubnets]),
      // A defaulted name is drawn once (names.ts); a configured one is honoured.
      ignoreChanges: names.serverNameFixed ? [] : ['serverName'],
    },
  );

  // Flexible Server refuses concurrent parameter writes ("ServerIsBusy"), so each waits for the last.
  const parameters: dbforpostgresql.Configuration[] = [];
  for (const [name, value] of serverParameters(s, config.migrations)) {
    const previous = parameters[parameters.length - 1];
    parameters.push(
      new dbforpostgresql.Configuration(
        `param-${parameterSlug(name)}`,
        { resourceGroupName, serverName: server.name, configurationName: name, value, source: 'user-override' },
        childOptions(scope, `param-${parameterSlug(name)}`, previous ? [previous] : []),
      ),
    );
  }
  const restart = createRestart(config, server, parameters, scope);
  const pendingRestart = pulumi
    .all(parameters.map((p) => pulumi.all([p.name, p.isConfigPendingRestart])))
    .apply((rows) => rows.filter(([, pending]) => pending).map(([name]) => name));

  const privateIp = lookupPrivateIp(resourceGroupName, dns, server, scope, resolveCname);
  return { server, component: scope.component, parameters, privateIp, pendingRestart, restart };
}

/**
 * A static parameter (serverParameters.ts) is written at once but loaded only at the next start:
 * without a restart a migration would run against a server that has not loaded, say,
 * shared_preload_libraries. The restart is a resource of its own, after every parameter, so a
 * preview shows it (create, or update when a value changes) and migrations can depend on it.
 */
function createRestart(
  config: LabConfig,
  server: dbforpostgresql.Server,
  parameters: dbforpostgresql.Configuration[],
  scope: LabScope,
): ServerRestart | undefined {
  const all = serverParameters(config.server, config.migrations);
  const names = new Set(parametersNeedingRestart(all));
  if (names.size === 0) return undefined;
  // fire and forget: a log line for the engine, nothing waits for it
  void pulumi.log.info(`server parameters ${[...names].join(', ')} need a restart: server-restart restarts the server after they are set`);
  const token = authorization.getClientTokenOutput({}, { parent: scope.component, provider: scope.provider }).token;
  return new ServerRestart(
    'server-restart',
    { serverId: server.id, parameters: all.filter(([name]) => names.has(name)).map(([name, value]) => `${name}=${value}`), token },
    childOptions(scope, 'server-restart', parameters, 'other'),
  );
}

/** A parameter name as part of a logical name (`azure.extensions` → `azure-extensions`). */
function parameterSlug(name: string): string {
  return name.replace(/[^a-z0-9]+/g, '-');
}

/**
 * The server's A record in the private zone, as a name relative to the zone, read from the CNAME
 * its public FQDN carries (`<server>.postgres.database.azure.com` → `<record>.<zone>`): Azure names
 * the record itself, not after the server, and the tutorial finds it as "the only address" of the
 * zone. Undefined when the CNAME does not point into the zone.
 */
export function recordNameFromCname(cnames: readonly string[], zone: string): string | undefined {
  const suffix = `.${zone.toLowerCase().replace(/\.$/, '')}`;
  for (const cname of cnames) {
    const name = cname.toLowerCase().replace(/\.$/, '');
    if (name.endsWith(suffix) && name.length > suffix.length) return name.slice(0, -suffix.length);
  }
  return undefined;
}

/**
 * Flexible Server exposes no private IP property. Its public FQDN is a CNAME to the A record Azure
 * writes into the private zone; the record is read after the server exists. When the name cannot be
 * resolved publicly (no DNS, or Azure changed the scheme) the output stays undefined instead of
 * failing `up`, and the README shows the `az` command that lists the zone's records. The address is
 * informational: migrations use the FQDN (Azure recommends it; the IP may change), which VPN
 * clients resolve through the lab's DNS resolver.
 */
function lookupPrivateIp(
  resourceGroupName: pulumi.Input<string>,
  dns: LabDns,
  server: dbforpostgresql.Server,
  scope: LabScope,
  resolveCname: (host: string) => Promise<string[]>,
): pulumi.Output<string | undefined> {
  return pulumi.all([resourceGroupName, dns.zone.name, server.fullyQualifiedDomainName]).apply(async ([group, zone, fqdn]) => {
    try {
      const name = recordNameFromCname(await resolveCname(fqdn), zone);
      if (name === undefined) return undefined;
      const record = await privatedns.getPrivateRecordSet(
        { resourceGroupName: group, privateZoneName: zone, recordType: 'A', relativeRecordSetName: name },
        { parent: scope.component, provider: scope.provider },
      );
      return record.aRecords?.[0]?.ipv4Address;
    } catch {
      return undefined;
    }
  });
}
