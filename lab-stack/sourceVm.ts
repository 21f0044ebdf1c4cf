// The optional "on-premises" source: an Ubuntu VM in its own subnet with PostgreSQL installed and
// prepared for logical replication by cloud-init (see cloudInit.ts for the document itself).
import * as pulumi from '@pulumi/pulumi';
import * as compute from '@pulumi/azure-native/compute';
import * as network from '@pulumi/azure-native/network';
import { cidrHost, parseCidr, type Cidr } from './cidr';
import { renderCloudInit } from './cloudInit';
import { rerunTagAfterFailure } from './extensionRerun';
import { READY_COMMAND } from './sourceScripts';
import type { LabConfig } from './config';
import type { VnetPlacement } from './placement';
import { childOptions, type LabScope } from './options';

export interface LabSourceVm {
  readonly nic: network.NetworkInterface;
  readonly vm: compute.VirtualMachine;
  /** Finishes only when cloud-init has: depend on it, not on the VM, to use the source. */
  readonly ready: compute.VirtualMachineExtension;
  /** Static, so migrations and pg_hba can name it before the VM exists. */
  readonly privateIp: string;
  /** The cloud-init document (secret: it carries the postgres password). */
  readonly cloudInit: pulumi.Output<string>;
  readonly component: pulumi.ComponentResource;
}

/** The VM's address: configured, or the source subnet's first assignable one (Azure keeps .0-.3). */
export function sourceVmPrivateIp(config: LabConfig): string {
  return config.sourceVm.privateIp ?? cidrHost(parseCidr(config.network.sourceSubnet) as Cidr, 4);
}

/** Networks the source accepts password logins from: the delegated subnet, the VPN's clients, the runtime's agents. */
function sourceAllowedCidrs(config: LabConfig): string[] {
  const cidrs = [config.network.serverSubnet];
  if (config.vpn.enabled) cidrs.push(config.vpn.clientAddressPool);
  // The migration runtime's agents read the source directly.
  if (config.migrationRuntime.enabled) cidrs.push(config.network.runtimeSubnet);
  return cidrs;
}

/** The source VM's network interface: a static private address and no public IP. */
function sourceNic(
  config: LabConfig,
  resourceGroupName: pulumi.Input<string>,
  placement: VnetPlacement,
  scope: LabScope,
): network.NetworkInterface {
  const privateIp = sourceVmPrivateIp(config);
  return new network.NetworkInterface(
    'source-nic',
    {
      resourceGroupName,
      location: config.location,
      // No public IP: the source is reached through the VPN, like a server on premises.
      ipConfigurations: [
        {
          name: 'primary',
          primary: true,
          subnet: { id: placement.subnetId },
          privateIPAllocationMethod: 'Static',
          privateIPAddress: privateIp,
        },
      ],
      tags: config.tags,
    },
    // After every subnet of the VNet, not only its own (network.ts, VnetPlacement).
    childOptions(scope, 'source-nic', [...placement.vnetSubnets]),
  );
}

export function createSourceVm(
  config: LabConfig,
  resourceGroupName: pulumi.Input<string>,
  placement: VnetPlacement,
  postgresPassword: pulumi.Input<string>,
  scope: LabScope,
  /** What must exist before the VM boots: its DNS server and its way out to the package mirrors. */
  bootDependencies: pulumi.Resource[] = [],
): LabSourceVm {
  const vmConfig = config.sourceVm;
  const prefix = config.namePrefix;
  const nic = sourceNic(config, resourceGroupName, placement, scope);
  const cloudInit = pulumi.secret(
    pulumi.output(postgresPassword).apply((password) =>
      renderCloudInit({
        postgresVersion: vmConfig.postgresVersion,
        allowedCidrs: sourceAllowedCidrs(config),
        databases: vmConfig.databases,
        sampleDatabase: vmConfig.loadSample ? vmConfig.sampleDatabase : undefined,
        postgresPassword: password,
      }),
    ),
  );
  const vm = new compute.VirtualMachine(
    'source-vm',
    {
      resourceGroupName,
      location: config.location,
      hardwareProfile: { vmSize: vmConfig.vmSize },
      osProfile: {
        computerName: `${prefix}-source`.slice(0, 64),
        adminUsername: vmConfig.adminUsername,
        customData: cloudInit.apply((text) => Buffer.from(text, 'utf8').toString('base64')),
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          ssh: {
            publicKeys: [{ path: `/home/${vmConfig.adminUsername}/.ssh/authorized_keys`, keyData: vmConfig.sshPublicKey ?? '' }],
          },
        },
      },
      storageProfile: {
        imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
        osDisk: { createOption: 'FromImage', managedDisk: { storageAccountType: 'StandardSSD_LRS' }, deleteOption: 'Delete' },
      },
      networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
      tags: config.tags,
    },
    // cloud-init runs at first boot only and Azure refuses to change customData afterwards, so a
    // later change is ignored rather than replacing (and emptying) the source; use --replace to
    // rebuild. The computer name carries namePrefix, read once like the other names (names.ts).
    { ...childOptions(scope, 'source-vm', bootDependencies), ignoreChanges: ['osProfile.customData', 'osProfile.computerName'] },
  );
  // Azure reports a VM created as soon as it boots, long before cloud-init has installed
  // PostgreSQL. A script extension that waits for cloud-init and then asks the database itself
  // (the sample's 68 tables and 16 departments, sourceScripts.ts) gives dependents (the migrations)
  // a resource that completes when the source is usable, and fails `up` naming what is missing.
  const vmExtensionName = 'wait-for-cloud-init';
  const ready = new compute.VirtualMachineExtension(
    'source-ready',
    {
      resourceGroupName,
      location: config.location,
      vmName: vm.name,
      vmExtensionName,
      // A run that failed (cloud-init still going, the sample not loaded) runs again at the next `up`.
      forceUpdateTag: rerunTagAfterFailure({ resourceGroupName, vmName: vm.name, vmExtensionName }, scope),
      publisher: 'Microsoft.Azure.Extensions',
      type: 'CustomScript',
      typeHandlerVersion: '2.1',
      autoUpgradeMinorVersion: true,
      settings: { commandToExecute: READY_COMMAND },
      tags: config.tags,
    },
    childOptions(scope, 'source-ready'),
  );
  return { nic, vm, ready, privateIp: sourceVmPrivateIp(config), cloudInit, component: scope.component };
}
