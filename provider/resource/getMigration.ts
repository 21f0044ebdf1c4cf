// azure-native's `dbforpostgresql.getMigration` and `getMigrationOutput` for PgMigration: the same
// arguments in every spelling azure-native has had (3.x from API 2025-08-01: serverName; 2.x and 3.x
// before it: targetDbServerName and an optional subscriptionId) and the same result's names, read
// live from the target's control catalog where azure-native's invoke reads ARM. It runs in the
// program (a dynamic provider has no invoke), so the server is found as serverName is found at check
// (PGFERRY_SERVER_HOSTS, else SERVER.postgres.database.azure.com), its login as azure/targetLogin.ts
// finds it, and its password from PGPASSWORD or ~/.pgpass: no secret is an argument or a result.
import * as pulumi from '@pulumi/pulumi';
import { toAzureResource, UNKNOWN_SUBSCRIPTION, type AzureCurrentStatus } from '../azure/shape';
import type { DatabaseDetails, MigrationState, MigrationStatus, MigrationSubState } from '../engine';
import type { ServerMetadata, SystemData } from './outputs';
import { ECHOED_AZURE_OUTPUTS } from './pgMigration';
import { migrationById } from './read';

/**
 * The target server by either of azure-native's names: `serverName` (3.x, API 2025-08-01) or
 * `targetDbServerName` (2.x, and 3.x before API 2025-08-01). Both given must be the same name.
 */
type ServerNamed<T> =
  { readonly serverName: T; readonly targetDbServerName?: T } | { readonly targetDbServerName: T; readonly serverName?: T };

/** azure-native's GetMigrationArgs, 3.x's and 2.x's. */
export type PgMigrationGetArgs = {
  readonly migrationName: string;
  readonly resourceGroupName: string;
  /** azure-native 2.x's and early 3.x's; the result's ARM ids name it, and a migration recorded in another is not found. */
  readonly subscriptionId?: string;
} & ServerNamed<string>;

/** azure-native's GetMigrationOutputArgs, 3.x's and 2.x's. */
export type PgMigrationGetOutputArgs = {
  readonly migrationName: pulumi.Input<string>;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly subscriptionId?: pulumi.Input<string>;
} & ServerNamed<pulumi.Input<string>>;

/**
 * azure-native's GetMigrationResult under its names (the inputs as Azure spells them back), with
 * pgferry's status beside it. `location`, the servers' sku and storageMb and systemData's who and
 * lastModified are Azure's records: absent (docs/pulumi.md).
 */
export interface PgMigrationGetResult {
  /** The migration's ARM id, as azure-native's. */
  readonly id: string;
  readonly azureApiVersion: string;
  readonly currentStatus: AzureCurrentStatus;
  readonly name: string;
  readonly type: string;
  readonly migrationId: string;
  readonly targetDbServerResourceId: string;
  readonly sourceDbServerMetadata: ServerMetadata;
  readonly targetDbServerMetadata: ServerMetadata;
  readonly systemData: SystemData;
  readonly location?: string;
  readonly tags?: { [key: string]: string };
  readonly cancel?: string;
  readonly triggerCutover?: string;
  readonly dbsToMigrate?: string[];
  readonly dbsToTriggerCutoverOn?: string[];
  readonly dbsToCancelMigrationOn?: string[];
  readonly migrateRoles?: string;
  readonly migrationInstanceResourceId?: string;
  readonly migrationMode?: string;
  readonly migrationOption?: string;
  readonly migrationWindowStartTimeInUtc?: string;
  readonly migrationWindowEndTimeInUtc?: string;
  readonly overwriteDbsInTarget?: string;
  readonly setupLogicalReplicationOnSourceDbIfNeeded?: string;
  readonly sourceDbServerFullyQualifiedDomainName?: string;
  readonly sourceDbServerResourceId?: string;
  readonly sourceType?: string;
  readonly sslMode?: string;
  readonly startDataMigration?: string;
  readonly targetDbServerFullyQualifiedDomainName?: string;
  /** pgferry's: the state, substate and per-database details PgMigration's outputs carry. */
  readonly state: MigrationState;
  readonly subState: MigrationSubState;
  readonly message?: string;
  readonly databaseDetails: DatabaseDetails[];
}

/**
 * The names of the result: the status and Azure's own outputs, and the inputs azure-native echoes
 * (the list PgMigration declares them by); the rest of the outputs, the echoed spec, stays out.
 */
const RESULT_KEYS = [
  'azureApiVersion',
  'currentStatus',
  'name',
  'type',
  'migrationId',
  'targetDbServerResourceId',
  'sourceDbServerMetadata',
  'targetDbServerMetadata',
  'systemData',
  'state',
  'subState',
  'message',
  'databaseDetails',
  ...ECHOED_AZURE_OUTPUTS,
] as const satisfies readonly Exclude<keyof PgMigrationGetResult, 'id'>[];

/** Plain arguments as a caller may pass them (a JavaScript program is not type-checked). */
type LooseArgs = Partial<Record<'migrationName' | 'resourceGroupName' | 'subscriptionId' | 'serverName' | 'targetDbServerName', unknown>>;

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** The server the arguments name, or the one-line refusal: neither name, or two different ones. */
function serverOf(args: LooseArgs): string {
  const { serverName: a, targetDbServerName: b } = args;
  if (nonEmpty(a) && nonEmpty(b) && a !== b) {
    throw new Error(
      `getMigration: serverName: given as ${JSON.stringify(a)} and targetDbServerName as ${JSON.stringify(b)}; they name one server (azure-native 3.x and 2.x): give one of them`,
    );
  }
  if (nonEmpty(a)) return a;
  if (nonEmpty(b)) return b;
  throw new Error(
    "getMigration: serverName: required (a non-empty string, as azure-native's getMigration takes it; or targetDbServerName, azure-native 2.x's name)",
  );
}

/** The ARM id the arguments name: the server's, the group's and, given, the subscription's. */
function armIdOf(args: LooseArgs): { id: string; server: string } {
  for (const key of ['migrationName', 'resourceGroupName'] as const) {
    if (!nonEmpty(args[key]))
      throw new Error(`getMigration: ${key}: required (a non-empty string, as azure-native's getMigration takes it)`);
  }
  if (args.subscriptionId !== undefined && !nonEmpty(args.subscriptionId)) {
    throw new Error("getMigration: subscriptionId: a non-empty string when given (azure-native 2.x's), or left out");
  }
  const server = serverOf(args);
  const subscription = nonEmpty(args.subscriptionId) ? args.subscriptionId : UNKNOWN_SUBSCRIPTION;
  const group = args.resourceGroupName as string;
  return {
    id: `/subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${server}/migrations/${String(args.migrationName)}`,
    server,
  };
}

/**
 * A migration recorded under another subscription or resource group than the arguments name is
 * another ARM resource: Azure's GET would not find it, and neither does this.
 */
function recordedElsewhere(args: LooseArgs, status: MigrationStatus): string | undefined {
  const recorded = status.azureContext ?? {};
  if (nonEmpty(args.subscriptionId) && recorded.subscription !== undefined && recorded.subscription !== args.subscriptionId) {
    return `subscription "${recorded.subscription}", not "${args.subscriptionId}"`;
  }
  if (recorded.resourceGroup !== undefined && recorded.resourceGroup !== args.resourceGroupName) {
    return `resource group "${recorded.resourceGroup}", not "${String(args.resourceGroupName)}"`;
  }
  return undefined;
}

/**
 * The migration the server's control catalog holds under `migrationName`, read now (every preview
 * and up). Fails, as azure-native's does for a migration ARM does not have, when there is none.
 */
export async function getMigration(args: PgMigrationGetArgs, _opts?: pulumi.InvokeOptions): Promise<PgMigrationGetResult> {
  const loose = (args ?? {}) as LooseArgs;
  const { id, server } = armIdOf(loose);
  const found = await migrationById(id, {});
  const none = `getMigration: no migration "${String(loose.migrationName)}" on server "${server}"`;
  if (!found) throw new Error(`${none} (its target's control catalog has none by that name)`);
  const elsewhere = recordedElsewhere(loose, found.status);
  if (elsewhere) throw new Error(`${none} in these arguments' scope (the one by that name was created in ${elsewhere})`);
  const outputs = found.outputs;
  const result: Record<string, unknown> = { id: outputs.azureId };
  for (const key of RESULT_KEYS) if (outputs[key] !== undefined) result[key] = outputs[key];
  // the source as ARM's GET always gives it; the catalog keeps its address, which `pgferry show -o json` prints so
  const source = toAzureResource(found.status).properties.sourceDbServerResourceId;
  if (result.sourceDbServerResourceId === undefined && source !== null) result.sourceDbServerResourceId = source;
  return result as unknown as PgMigrationGetResult;
}

/** getMigration over Pulumi inputs, as azure-native's getMigrationOutput. */
export function getMigrationOutput(args: PgMigrationGetOutputArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<PgMigrationGetResult> {
  return pulumi.output(args).apply((plain) => getMigration(plain, opts));
}
