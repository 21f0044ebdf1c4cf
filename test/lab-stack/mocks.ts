// Pulumi mocks for the lab: records every registered resource with its inputs and dependencies,
// gives azure-native resources the Azure names and ARM ids the real provider would, and answers
// the private-record lookup. No Azure and no Pulumi CLI involved.
import * as pulumi from '@pulumi/pulumi';
import type { MigrationFactory } from '../../lab-stack/labMigrations';
import type { PgMigrationArgs } from '../../provider/resource';

interface Recorded {
  readonly type: string;
  readonly name: string;
  /** Inputs as the provider would receive them, secrets unwrapped (see `secretInputs`). */
  readonly inputs: Record<string, any>;
  /** Top-level input names that arrived marked secret. */
  readonly secretInputs: string[];
  /** Logical names of the resources it depends on (dependsOn and input references). */
  readonly dependsOn: string[];
  /** The parent's logical name, or undefined at the stack root. */
  readonly parent: string | undefined;
  /** What the engine would know it as: its URN here. */
  readonly urn: string;
  /** Aliases: the earlier name and whether it had no parent. */
  readonly aliases: { name: string; noParent: boolean; parentUrn: string }[];
  readonly ignoreChanges: string[];
  /** Whether it is a ComponentResource. */
  readonly component: boolean;
}

const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

function isSecretWrapper(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Removes secret wrappers at any depth. */
function unwrapSecrets(value: any): any {
  if (isSecretWrapper(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}

/** The input property that holds the Azure name, per resource type (the mock echoes it as `name`). */
const AZURE_NAME_INPUT: Record<string, string> = {
  'azure-native:resources:ResourceGroup': 'resourceGroupName',
  'azure-native:network:VirtualNetwork': 'virtualNetworkName',
  'azure-native:network:Subnet': 'subnetName',
  'azure-native:privatedns:PrivateZone': 'privateZoneName',
  'azure-native:privatedns:VirtualNetworkLink': 'virtualNetworkLinkName',
  'azure-native:dbforpostgresql:Server': 'serverName',
  'azure-native:dbforpostgresql:Configuration': 'configurationName',
  'azure-native:network:PublicIPAddress': 'publicIpAddressName',
  'azure-native:network:VirtualNetworkGateway': 'virtualNetworkGatewayName',
  'azure-native:network:NetworkInterface': 'networkInterfaceName',
  'azure-native:compute:VirtualMachine': 'vmName',
  'azure-native:compute:VirtualMachineExtension': 'vmExtensionName',
  'azure-native:network:NatGateway': 'natGatewayName',
  'azure-native:dnsresolver:DnsResolver': 'dnsResolverName',
  'azure-native:dnsresolver:InboundEndpoint': 'inboundEndpointName',
};

export const MOCK_SERVER_IP = '10.20.1.4';
/** The ARM token the azure-native provider's login gives under these mocks. */
export const MOCK_ARM_TOKEN = 'mock-arm-token';
/** The name Azure gives the server's A record in the private zone (not the server's name). */
export const MOCK_RECORD_NAME = 'a1b2c3d4e5f6';

/** What public DNS answers for a VNet-integrated server's FQDN: a CNAME to its record in the private zone. */
export async function mockResolveCname(fqdn: string): Promise<string[]> {
  const server = fqdn.replace(/\.postgres\.database\.azure\.com$/, '');
  return [`${MOCK_RECORD_NAME}.${server}.private.postgres.database.azure.com`];
}
/** What the random provider draws for the lab's name suffix under these mocks. */
export const MOCK_SUFFIX = 'k3x9q2m7';

interface RequestFacts {
  readonly dependsOn: string[];
  readonly parent: string | undefined;
  readonly aliases: Recorded['aliases'];
  readonly ignoreChanges: string[];
}

export interface MockLab {
  readonly resources: Map<string, Recorded>;
  byType(type: string): Recorded[];
  one(type: string): Recorded;
  byName(name: string): Recorded;
  /** Whether the private-record lookup should fail (Azure named the record otherwise). */
  failRecordLookup: boolean;
  /** Every invoke the program made: its token and inputs. */
  readonly invokes: Array<{ token: string; inputs: Record<string, any> }>;
  /**
   * VM extensions Azure already has, by extension name, as getVirtualMachineExtension returns them
   * (a previous `up`); none by default, where Azure answers NotFound (the first `up`).
   */
  readonly existingExtensions: Map<string, { provisioningState: string; forceUpdateTag?: string }>;
}

function logicalName(urn: string): string {
  return urn.slice(urn.lastIndexOf('::') + 2);
}

/** The URN the engine gives: the parent's qualified type chain, then the type and the name. */
function mockUrn(parentUrn: string | undefined, type: string, name: string): string {
  const qualified = parentUrn ? `${parentUrn.split('::')[2]}$${type}` : type;
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualified}::${name}`;
}

/** Installs fresh mocks (a new monitor, so each test starts with an empty registry). */
export async function installMocks(): Promise<MockLab> {
  const facts = new Map<string, RequestFacts>();
  const resources = new Map<string, Recorded>();
  const lab: MockLab = {
    resources,
    byType: (type) => [...resources.values()].filter((r) => r.type === type),
    one(type) {
      const found = this.byType(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0]!;
    },
    byName(name) {
      const found = resources.get(name);
      if (!found) throw new Error(`no resource named ${name}; have ${[...resources.keys()].join(', ')}`);
      return found;
    },
    failRecordLookup: false,
    invokes: [],
    existingExtensions: new Map(),
  };
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const azureName = (args.inputs[AZURE_NAME_INPUT[args.type] ?? ''] as string | undefined) ?? `${args.name}-az`;
        const group = (args.inputs.resourceGroupName as string | undefined) ?? azureName;
        const provider = args.type.split(':')[1];
        const id = `/subscriptions/0000/resourceGroups/${group}/providers/${provider}/${args.type.split(':')[2]}/${azureName}`;
        const known = facts.get(args.name);
        const parentUrn = known?.parent;
        resources.set(args.name, {
          type: args.type,
          name: args.name,
          inputs: unwrapSecrets(args.inputs),
          secretInputs: Object.keys(args.inputs).filter((k) => isSecretWrapper(args.inputs[k])),
          dependsOn: known?.dependsOn ?? [],
          parent: parentUrn ? logicalName(parentUrn) : undefined,
          urn: mockUrn(parentUrn, args.type, args.name),
          aliases: known?.aliases ?? [],
          ignoreChanges: known?.ignoreChanges ?? [],
          component: args.custom === false,
        });
        const state: Record<string, unknown> = { ...args.inputs, name: azureName, id };
        if (args.type === 'random:index/randomString:RandomString') state.result = MOCK_SUFFIX;
        if (args.type === 'azure-native:dbforpostgresql:Server') {
          state.fullyQualifiedDomainName = `${azureName}.postgres.database.azure.com`;
        }
        if (args.type === 'azure-native:dbforpostgresql:Configuration') {
          state.isConfigPendingRestart = args.inputs.configurationName === 'shared_preload_libraries';
        }
        // Migrations: the test stand-in and the real PgMigration (a dynamic resource) report a state.
        if (args.type.startsWith('pgferry:test:') || args.type.startsWith('pulumi-nodejs:dynamic')) state.state = 'InProgress';
        return { id, state };
      },
      call(args) {
        lab.invokes.push({ token: args.token, inputs: args.inputs });
        if (args.token === 'azure-native:privatedns:getPrivateRecordSet') {
          // Azure has one A record in the zone, under its own name.
          if (lab.failRecordLookup || args.inputs.relativeRecordSetName !== MOCK_RECORD_NAME) throw new Error('record not found');
          return { name: args.inputs.relativeRecordSetName, aRecords: [{ ipv4Address: MOCK_SERVER_IP }] };
        }
        if (args.token === 'azure-native:authorization:getClientToken') return { token: MOCK_ARM_TOKEN };
        if (args.token === 'azure-native:compute:getVirtualMachineExtension') {
          const found = lab.existingExtensions.get(args.inputs.vmExtensionName as string);
          if (!found) throw new Error('ResourceNotFound: the extension does not exist');
          return { name: args.inputs.vmExtensionName, ...found };
        }
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    'pgferry-lab',
    'test',
  );
  // The mock monitor does not hand dependencies to newResource; read them off the request first.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = require('@pulumi/pulumi/runtime/settings').getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: unknown) => {
    const urns: string[] = [...req.getDependenciesList()];
    req.getPropertydependenciesMap().forEach((value: any) => urns.push(...value.getUrnsList()));
    facts.set(req.getName(), {
      dependsOn: [...new Set(urns.map(logicalName))],
      parent: req.getParent() || undefined,
      aliases: req.getAliasesList().map((alias: any) => {
        const spec = alias.getSpec();
        return { name: spec.getName(), noParent: spec.getNoparent(), parentUrn: spec.getParenturn() };
      }),
      ignoreChanges: req.getIgnorechangesList(),
    });
    return original(req, callback);
  };
  return lab;
}

/** The value of an Output (mocks never leave values unknown). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => (resolve(v), v)));
}

/** Waits until every resource has been registered with the mock monitor. */
export async function settle(resources: Iterable<pulumi.Resource>): Promise<void> {
  await Promise.all([...resources].map((r) => valueOf(r.urn)));
}

/** A stand-in for PgMigration: the lab's migrations as plain resources, so no provider host runs under the mocks. */
class FakeMigration extends pulumi.CustomResource {
  declare readonly state: pulumi.Output<string | undefined>;
  constructor(name: string, args: PgMigrationArgs, opts?: pulumi.CustomResourceOptions) {
    super('pgferry:test:PgMigration', name, { ...args, state: undefined }, opts);
  }
}

/** The migration factory every lab test gives createLab. */
export const fakeFactory: MigrationFactory = (name, args, opts) => new FakeMigration(name, args, opts);
