// The optional migration runtime: `migrationRuntime.count` VMs in their own subnet, each running
// `pgferry agent` against the lab's server (runtimeCloudInit.ts), so a migration with
// `runtime: agents` goes on after the `pulumi up` that declared it has ended. The agents' source
// credentials come from the stack's secrets and travel only inside the secret cloud-init.
import * as pulumi from '@pulumi/pulumi';
import * as compute from '@pulumi/azure-native/compute';
import * as network from '@pulumi/azure-native/network';
import { cidrHost, parseCidr, type Cidr } from './cidr';
import type { LabConfig } from './config';
import type { VnetPlacement } from './placement';
import { childOptions, type LabScope } from './options';
import { renderRuntimeCloudInit, type RuntimeSource } from './runtimeCloudInit';
import { migrationRuntimeOf } from './labMigrations';
import { POOLER_ADMIN_SECRET, POOLER_APP_SECRET } from './poolerConfig';
import type { LabSecrets } from './stackConfig';

interface RuntimeVm {
  /** The VM's host name, which is also its agent's name in `pgferry show`. */
  readonly agentName: string;
  readonly privateIp: string;
  readonly nic: network.NetworkInterface;
  readonly vm: compute.VirtualMachine;
}

export interface LabMigrationRuntime {
  readonly vms: readonly RuntimeVm[];
  /** The cloud-init document every VM boots with (secret: it carries the passwords). */
  readonly cloudInit: pulumi.Output<string>;
  /** The first VM's, with the lab's PgBouncer (pooler.enabled), or the same as the others'. */
  readonly firstCloudInit: pulumi.Output<string>;
  /** Where the lab's PgBouncer listens (pooler.enabled): the first VM's address and the pooler's port. */
  readonly pooler?: { readonly host: string; readonly port: number };
  readonly component: pulumi.ComponentResource;
}

/** What the runtime connects to: the server's FQDN and admin, the source VM's address. */
export interface RuntimeTarget {
  readonly host: pulumi.Input<string>;
  readonly user: string;
  readonly password: pulumi.Input<string>;
  readonly sourceVmIp: string | undefined;
}

/** VM i's static address: the runtime subnet's .4, .5, … (Azure keeps .0–.3). */
function runtimeVmIp(config: LabConfig, index: number): string {
  return cidrHost(parseCidr(config.network.runtimeSubnet) as Cidr, 4 + index);
}

/** A source without its password: the secret config key that holds it. */
type SourcePlan = Omit<RuntimeSource, 'password' | 'databases'> & { passwordKey: string; databases: string[] };

/**
 * The sources the agents get credentials for: the lab's source VM (as postgres, every database it
 * has or a migration reads from it) and the source of each migration the agents run.
 */
function runtimeSourcePlans(config: LabConfig, sourceVmIp: string | undefined): SourcePlan[] {
  const plans = new Map<string, SourcePlan>();
  const plan = (key: string, fresh: () => SourcePlan, databases: readonly string[]) => {
    const found = plans.get(key) ?? fresh();
    plans.set(key, { ...found, databases: [...new Set([...found.databases, ...databases])] });
  };
  if (sourceVmIp !== undefined) {
    const vm = config.sourceVm;
    const databases = [...(vm.loadSample ? [vm.sampleDatabase] : []), ...vm.databases];
    plan(
      `${sourceVmIp}:5432:postgres`,
      () => ({ host: sourceVmIp, port: 5432, user: 'postgres', sslMode: 'prefer', passwordKey: 'sourcePassword', databases: [] }),
      databases,
    );
  }
  for (const migration of config.migrations) {
    if (migrationRuntimeOf(migration, config) !== 'agents') continue;
    const source = migration.source;
    if (source === undefined) {
      if (sourceVmIp !== undefined) plans.get(`${sourceVmIp}:5432:postgres`)!.databases.push(...migration.databases);
      continue;
    }
    plan(
      `${source.host}:${source.port}:${source.user}`,
      () => ({
        host: source.host,
        port: source.port,
        user: source.user,
        sslMode: source.sslMode,
        passwordKey: source.passwordSecret,
        databases: [],
      }),
      migration.databases,
    );
  }
  return [...plans.values()].map((p) => ({ ...p, databases: [...new Set(p.databases)] }));
}

/** The lab's PgBouncer's setup with its passwords' Outputs, from config (pooler.enabled with the source VM). */
function poolerPlan(config: LabConfig, target: RuntimeTarget, secrets: LabSecrets) {
  if (!config.pooler.enabled || target.sourceVmIp === undefined) return undefined;
  const secret = (key: string) => {
    const value = secrets.passwords[key];
    if (value === undefined) throw new Error(`pooler: secret config key ${key} is not set`);
    return value;
  };
  const vm = config.sourceVm;
  return {
    setup: {
      host: runtimeVmIp(config, 0),
      port: config.pooler.port,
      source: { host: target.sourceVmIp, port: 5432 },
      databases: [...new Set([...(vm.loadSample ? [vm.sampleDatabase] : []), ...vm.databases])],
    },
    adminPassword: secret(POOLER_ADMIN_SECRET),
    appPassword: secret(POOLER_APP_SECRET),
  };
}

/** The runtime's cloud-init, as a secret Output: the passwords are resolved inside it only; with the lab's PgBouncer when `withPooler`. */
function runtimeCloudInit(config: LabConfig, target: RuntimeTarget, secrets: LabSecrets, withPooler = false): pulumi.Output<string> {
  const runtime = config.migrationRuntime;
  const plans = runtimeSourcePlans(config, target.sourceVmIp);
  const passwords = plans.map((p) => {
    const password = secrets.passwords[p.passwordKey];
    if (password === undefined) throw new Error(`migrationRuntime: secret config key ${p.passwordKey} is not set`);
    return password;
  });
  const clientVersion =
    runtime.postgresClientVersion ??
    String(Math.max(Number(config.server.version), config.sourceVm.enabled ? Number(config.sourceVm.postgresVersion) : 0));
  const pooler = withPooler ? poolerPlan(config, target, secrets) : undefined;
  const poolerPasswords = pooler ? [pooler.adminPassword, pooler.appPassword] : [];
  return pulumi.secret(
    pulumi
      .all([target.host, target.password, pulumi.all(passwords), pulumi.all(poolerPasswords)])
      .apply(([host, targetPassword, sourcePasswords, [adminPassword, appPassword]]) =>
        renderRuntimeCloudInit({
          target: { host, port: 5432, user: target.user, password: targetPassword },
          sources: plans.map(({ passwordKey: _key, ...source }, i) => ({ ...source, password: sourcePasswords[i]! })),
          packageSpec: runtime.package ?? '',
          postgresClientVersion: clientVersion,
          concurrency: runtime.concurrency,
          ...(pooler
            ? {
                pooler: {
                  ...pooler.setup,
                  admin: { user: config.pooler.adminUser, password: adminPassword! },
                  app: { user: config.pooler.appUser, password: appPassword! },
                },
              }
            : {}),
        }),
      ),
  );
}

export function createMigrationRuntime(
  config: LabConfig,
  resourceGroupName: pulumi.Input<string>,
  placement: VnetPlacement,
  target: RuntimeTarget,
  secrets: LabSecrets,
  scope: LabScope,
  /** What must exist before the VMs boot: their DNS server and their way out to the package mirrors. */
  bootDependencies: pulumi.Resource[] = [],
): LabMigrationRuntime {
  const runtime = config.migrationRuntime;
  const [publisher, offer, sku, version] = runtime.image.split(':') as [string, string, string, string];
  const sshKey = runtime.sshPublicKey ?? config.sourceVm.sshPublicKey ?? '';
  const cloudInit = runtimeCloudInit(config, target, secrets);
  const pooled = poolerPlan(config, target, secrets) !== undefined;
  // The lab's PgBouncer runs on the first VM alone: one pooler the applications connect to.
  const firstCloudInit = pooled ? runtimeCloudInit(config, target, secrets, true) : cloudInit;
  const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const vms: RuntimeVm[] = [];
  for (let index = 0; index < runtime.count; index++) {
    const suffix = `agent-${index + 1}`;
    const privateIp = runtimeVmIp(config, index);
    const nic = new network.NetworkInterface(
      `runtime-nic-${index + 1}`,
      {
        resourceGroupName,
        location: config.location,
        // No public IP: reached over the VPN; out through the runtime subnet's NAT gateway.
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
      childOptions(scope, `runtime-nic-${index + 1}`, [...placement.vnetSubnets]),
    );
    const agentName = `${config.namePrefix}-${suffix}`;
    const vm = new compute.VirtualMachine(
      `runtime-vm-${index + 1}`,
      {
        resourceGroupName,
        location: config.location,
        hardwareProfile: { vmSize: runtime.vmSize },
        osProfile: {
          computerName: agentName,
          adminUsername: runtime.adminUsername,
          customData: (index === 0 ? firstCloudInit : cloudInit).apply(base64),
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            ssh: { publicKeys: [{ path: `/home/${runtime.adminUsername}/.ssh/authorized_keys`, keyData: sshKey }] },
          },
        },
        storageProfile: {
          imageReference: { publisher, offer, sku, version },
          osDisk: { createOption: 'FromImage', managedDisk: { storageAccountType: 'StandardSSD_LRS' }, deleteOption: 'Delete' },
        },
        networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
        tags: config.tags,
      },
      // cloud-init runs at first boot only and Azure refuses to change customData afterwards: a
      // changed password or package reaches a VM replaced with `pulumi up --replace <urn>`. The
      // agent's state is in the target's catalog, so replacing a VM loses no work.
      {
        ...childOptions(scope, `runtime-vm-${index + 1}`, bootDependencies),
        ignoreChanges: ['osProfile.customData', 'osProfile.computerName'],
      },
    );
    vms.push({ agentName, privateIp, nic, vm });
  }
  const pooler = pooled ? { host: runtimeVmIp(config, 0), port: config.pooler.port } : undefined;
  return { vms, cloudInit, firstCloudInit, ...(pooler ? { pooler } : {}), component: scope.component };
}
