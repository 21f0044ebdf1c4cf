// The outputs of PgMigration: the inputs echoed (so diff sees them and read/delete can reconnect)
// plus the migration's status from the control catalog, as plain JSON for the Pulumi state.
import { displayIdent, recommendedServerParameters, type MigrationSpec, type MigrationStatus } from '../engine';
// Azure's status shape, as the CLI's `show -o json` prints it: one mapping for both.
import { azureCurrentStatus, toAzureResource, type AzureCurrentStatus } from '../azure/shape';
import { serverNameOf } from '../azure/serverName';
import { azureSpelledOutputs } from './aliases';

/**
 * The Azure API whose Migration resource PgMigration's inputs and outputs follow (azure-native 3.x's;
 * 2.x's was 2023-03-01-preview): azure-native's azureApiVersion output.
 */
const AZURE_API_VERSION = '2025-08-01';

/** The status's own fields that the outputs carry under the engine's names (MigrationStatus says what each is). */
const STATUS_FIELDS = [
  'state',
  'subState',
  'message',
  'createdAt',
  'startedAt',
  'endedAt',
  'sourceVersion',
  'targetVersion',
  'validation',
  'verification',
  'downtimeSeconds',
] as const satisfies readonly (keyof MigrationStatus)[];
type StatusFields = Pick<MigrationStatus, (typeof STATUS_FIELDS)[number]>;

/** What `pulumi stack output` and dependent resources see besides the echoed inputs. */
export interface MigrationStatusOutputs extends StatusFields {
  readonly databaseDetails: MigrationStatus['databases'];
  readonly runnerAlive?: boolean;
  /**
   * The source's server parameters that differ on the target and Azure lets a user set, name →
   * value: feed them to azure-native dbforpostgresql.Configuration (examples/parameters).
   */
  readonly recommendedServerParameters: Readonly<Record<string, string>>;
  /** As the azure-native Migration resource's output: state, error, currentSubStateDetails (dbDetails…). */
  readonly currentStatus: AzureCurrentStatus;
  /** Online: the cutovers made (the fewest of its databases'); cutoverCount above it cuts over again. */
  readonly completedCutovers?: number;
  /** Online, cut over with a fallbackWindow: the windows' states (one word when they agree, else `db: state` each). */
  readonly fallbackState?: string;
  /** The earliest end of a window still open or stopped (ISO 8601). */
  readonly fallbackWindowEndsAt?: string;
}

/** The fallback windows, said once for the resource (databaseDetails[].fallback has each in full). */
function fallbackOutputs(status: MigrationStatus): Pick<MigrationStatusOutputs, 'fallbackState' | 'fallbackWindowEndsAt'> {
  const windows = status.databases.flatMap((d) => (d.fallback ? [{ database: d.database, ...d.fallback }] : []));
  if (windows.length === 0) return {};
  const states = new Set(windows.map((w) => w.state));
  const fallbackState = states.size === 1 ? windows[0]!.state : windows.map((w) => `${displayIdent(w.database)}: ${w.state}`).join(', ');
  const ends = windows.filter((w) => w.state === 'Open' || w.state === 'Stopped').map((w) => w.endsAt);
  return { fallbackState, ...(ends.length > 0 ? { fallbackWindowEndsAt: ends.sort()[0] } : {}) };
}

/**
 * How many cutovers the migration has made: the fewest of its databases' (a database cut over alone by
 * dbsToTriggerCutoverOn does not count for the others); 0 before the first, undefined offline.
 */
export function completedCutovers(status: MigrationStatus): number | undefined {
  if (status.mode !== 'Online') return undefined;
  if (status.databases.length === 0) return 0;
  return Math.min(...status.databases.map((d) => d.cutovers ?? (d.state === 'Succeeded' ? 1 : 0)));
}

/** Pulumi's Struct cannot carry `undefined`: a JSON round trip drops it (and any class identity). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function statusOutputs(status: MigrationStatus): MigrationStatusOutputs {
  const own = Object.fromEntries(STATUS_FIELDS.map((field) => [field, status[field]])) as StatusFields;
  return plain({
    ...own,
    databaseDetails: status.databases,
    runnerAlive: status.runner?.alive,
    recommendedServerParameters: recommendedServerParameters(status.validation),
    currentStatus: azureCurrentStatus(status),
    completedCutovers: completedCutovers(status),
    ...fallbackOutputs(status),
  });
}

/** The inputs as given (not defaulted, so a diff against the next inputs is exact), minus `__provider`. */
function echoInputs(inputs: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _ignored, ...rest } = inputs;
  void _ignored;
  return plain(rest);
}

/**
 * A server's metadata as azure-native's DbServerMetadataResponse. pgferry knows the version, and the
 * target's location when the program gives `location`; the compute tier (sku) and storage size are
 * Azure's records of a server, which pgferry never reads: always absent, never guessed.
 */
export interface ServerMetadata {
  readonly location?: string;
  readonly version?: string;
  /** Always absent: Azure's record of the server's compute tier. */
  readonly sku?: { readonly name?: string; readonly tier?: string };
  /** Always absent: Azure's record of the server's storage size. */
  readonly storageMb?: number;
}

/**
 * azure-native's systemData (ARM's SystemDataResponse): when the migration was created, which
 * pgferry records. Who created or changed it (an Azure identity) and when it was last changed by
 * ARM are Azure's records: absent.
 */
export interface SystemData {
  readonly createdAt?: string;
  readonly createdBy?: string;
  readonly createdByType?: string;
  readonly lastModifiedAt?: string;
  readonly lastModifiedBy?: string;
  readonly lastModifiedByType?: string;
}

/** The outputs azure-native's Migration gives that pgferry can give (docs/azure-names.md, "Outputs"). */
interface AzureNativeOutputs {
  /** The migration's own random identifier, drawn when it was registered (Azure: a GUID). */
  readonly migrationId?: string;
  /** The target as an ARM id: `/subscriptions/<00000000-…>/resourceGroups/<resourceGroupName>/…/flexibleServers/<serverName>`. */
  readonly targetDbServerResourceId: string;
  /** The migration as an ARM id (azure-native's `id`); `PgMigration.get` and `import` take it. */
  readonly azureId: string;
  readonly name: string;
  readonly type: string;
  readonly sourceDbServerMetadata: ServerMetadata;
  readonly targetDbServerMetadata: ServerMetadata;
  readonly azureApiVersion: string;
  readonly systemData: SystemData;
}

/**
 * Every output besides the echoed inputs, by name: PgMigration declares them (pgMigration.ts), so
 * a program can read them before the first up.
 */
export const STATUS_OUTPUTS = [
  ...STATUS_FIELDS,
  'databaseDetails',
  'runnerAlive',
  'recommendedServerParameters',
  'currentStatus',
  'completedCutovers',
  'fallbackState',
  'fallbackWindowEndsAt',
  'migrationId',
  'targetDbServerResourceId',
  'azureId',
  'name',
  'type',
  'sourceDbServerMetadata',
  'targetDbServerMetadata',
  'azureApiVersion',
  'systemData',
] as const satisfies readonly (keyof MigrationStatusOutputs | keyof AzureNativeOutputs)[];

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * azure-native's outputs: the ARM shape `pgferry show -o json` prints (provider/azure/shape.ts),
 * scoped by resourceGroupName and serverName (or the target host's server name when not given).
 */
function azureNativeOutputs(inputs: Record<string, unknown>, status: MigrationStatus): AzureNativeOutputs {
  const target = inputs.target as { host?: unknown } | undefined;
  const server =
    text(inputs.serverName) ?? text(inputs.targetDbServerName) ?? (text(target?.host) ? serverNameOf(String(target!.host)) : undefined);
  const arm = toAzureResource(status, { subscription: text(inputs.subscriptionId), resourceGroup: text(inputs.resourceGroupName), server });
  const location = text(inputs.location);
  return plain({
    migrationId: arm.properties.migrationId ?? undefined,
    targetDbServerResourceId: arm.properties.targetDbServerResourceId,
    azureId: arm.id,
    name: arm.name,
    type: arm.type,
    sourceDbServerMetadata: { version: status.sourceVersion },
    targetDbServerMetadata: { location, version: status.targetVersion },
    azureApiVersion: AZURE_API_VERSION,
    systemData: { createdAt: status.createdAt },
  });
}

/** Outputs stored in state: the echoed inputs, then the status and azure-native's outputs. */
export function migrationOutputs(inputs: Record<string, unknown>, status: MigrationStatus): Record<string, unknown> {
  const echoed = echoInputs(inputs);
  return { ...echoed, ...plain(azureSpelledOutputs(echoed)), ...statusOutputs(status), ...azureNativeOutputs(inputs, status) };
}

/** The resource id: the migration is a sub-resource of the target server, as in Azure. */
export function migrationId(spec: MigrationSpec): string {
  return `${spec.target.host}:${spec.target.port}/${spec.migrationName}`;
}
