// azure-native's `dbforpostgresql.getMigration` and `getMigrationOutput` for PgMigration: the same
// arguments (migrationName, resourceGroupName, serverName) and the same result's names, read live
// from the target's control catalog where azure-native's invoke reads ARM. It runs in the program
// (a dynamic provider has no invoke), so the server is found as serverName is found at check
// (PGFERRY_SERVER_HOSTS, else SERVER.postgres.database.azure.com), its login as azure/targetLogin.ts
// finds it, and its password from PGPASSWORD or ~/.pgpass: no secret is an argument or a result.
import * as pulumi from '@pulumi/pulumi';
import { UNKNOWN_SUBSCRIPTION, type AzureCurrentStatus } from '../azure/shape';
import type { DatabaseDetails, MigrationState, MigrationSubState } from '../engine';
import type { ServerMetadata, SystemData } from './outputs';
import { ECHOED_AZURE_OUTPUTS } from './pgMigration';
import { migrationById } from './read';

/** azure-native's GetMigrationArgs. */
export interface PgMigrationGetArgs {
  readonly migrationName: string;
  readonly resourceGroupName: string;
  readonly serverName: string;
  /** azure-native 2.x's and early 3.x's; recorded in the result's ARM ids only. */
  readonly subscriptionId?: string;
}

/** azure-native's GetMigrationOutputArgs. */
export interface PgMigrationGetOutputArgs {
  readonly migrationName: pulumi.Input<string>;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly serverName: pulumi.Input<string>;
  readonly subscriptionId?: pulumi.Input<string>;
}

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

/** What names the arguments leave empty, for the one-line refusal. */
function missing(args: PgMigrationGetArgs): string | undefined {
  for (const key of ['migrationName', 'resourceGroupName', 'serverName'] as const) {
    if (typeof args?.[key] !== 'string' || args[key] === '') return key;
  }
  return undefined;
}

/**
 * The migration `serverName`'s control catalog holds under `migrationName`, read now (every
 * preview and up). Fails, as azure-native's does for a migration ARM does not have, when there is none.
 */
export async function getMigration(args: PgMigrationGetArgs, _opts?: pulumi.InvokeOptions): Promise<PgMigrationGetResult> {
  const absent = missing(args);
  if (absent) throw new Error(`getMigration: ${absent}: required (a non-empty string, as azure-native's getMigration takes it)`);
  const subscription = args.subscriptionId || UNKNOWN_SUBSCRIPTION;
  const id = `/subscriptions/${subscription}/resourceGroups/${args.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${args.serverName}/migrations/${args.migrationName}`;
  const found = await migrationById(id, {});
  if (!found) {
    throw new Error(
      `getMigration: no migration "${args.migrationName}" on server "${args.serverName}" (its target's control catalog has none by that name)`,
    );
  }
  const outputs = found.outputs;
  const result: Record<string, unknown> = { id: outputs.azureId };
  for (const key of RESULT_KEYS) if (outputs[key] !== undefined) result[key] = outputs[key];
  return result as unknown as PgMigrationGetResult;
}

/** getMigration over Pulumi inputs, as azure-native's getMigrationOutput. */
export function getMigrationOutput(args: PgMigrationGetOutputArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<PgMigrationGetResult> {
  return pulumi.output(args).apply((plain) => getMigration(plain, opts));
}
