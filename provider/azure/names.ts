// Azure's names for what pgferry does, in one place: each input under its three names (the ARM
// properties body that `az postgres flexible-server migration` sends, azure-native's Migration
// inputs, pgferry's spec), the spellings Azure gives their values, and the operations of Azure's
// update. The CLI reads Azure bodies with it, the Pulumi resource azure-native's inputs, the lab its
// config. Pure and type-only towards the engine, so the lab can load it without the PostgreSQL driver.
import type { MigrationMode, MigrationOption, SslMode } from '../engine';

/**
 * Azure's spelling of each enum value → pgferry's value. Azure's SslMode has Prefer, Require,
 * VerifyCA and VerifyFull (API 2025-08-01); Disable is pgferry's own (source.sslMode disable),
 * which the resource accepted under azure-native's name before both readers shared this table.
 */
const ENUMS = {
  sslMode: { Disable: 'disable', Prefer: 'prefer', Require: 'require', VerifyCA: 'verify-ca', VerifyFull: 'verify-full' },
  migrationMode: { Offline: 'Offline', Online: 'Online' },
  migrationOption: { Validate: 'Validate', Migrate: 'Migrate', ValidateAndMigrate: 'ValidateAndMigrate' },
} as const satisfies {
  sslMode: Record<string, SslMode>;
  migrationMode: Record<string, MigrationMode>;
  migrationOption: Record<string, MigrationOption>;
};

export type AzureEnum = keyof typeof ENUMS;
type ValueOf<E extends AzureEnum> = (typeof ENUMS)[E][keyof (typeof ENUMS)[E]];

/**
 * Spellings compare without case (ARM matches enum values so, and az's own examples write
 * `--migration-mode offline` and "SSL mode: prefer") and without - and _ (so libpq's verify-full
 * and Azure's VerifyFull are one value).
 */
const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/** pgferry's value of an Azure spelling, or undefined when `text` spells none of the enum's values. */
export function fromAzureSpelling<E extends AzureEnum>(kind: E, text: string): ValueOf<E> | undefined {
  const table = ENUMS[kind] as unknown as Record<string, ValueOf<E>>;
  const found = Object.keys(table).find((azure) => squash(azure) === squash(text));
  return found === undefined ? undefined : table[found];
}

/** Azure's canonical spelling of pgferry's value (what `show -o json` prints), or the value itself. */
export function azureSpelling(kind: AzureEnum, value: string): string {
  const table = ENUMS[kind] as Record<string, string>;
  return Object.keys(table).find((azure) => table[azure] === value) ?? value;
}

/** The enum's values as Azure spells them, for messages: "Offline or Online". */
export function azureChoices(kind: AzureEnum): string {
  const values = Object.keys(ENUMS[kind]);
  return values.length === 1 ? values[0]! : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

/**
 * A boolean as Azure writes it: true/false, or the strings "True"/"False" in any case (the ARM
 * template's overwriteDbsInTarget, azure-native's string enums). Anything else comes back as it was,
 * for the reader's schema to refuse with its own message.
 */
export function fromAzureBoolean(value: unknown): unknown {
  return typeof value === 'string' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value;
}

/**
 * One input under its three names. `arm`: its key in the properties body as az's documented
 * examples spell it (keys are matched without case). `native`: azure-native Migration's input, and
 * the key ARM's JSON prints. `pgferry`: the spec's field (`source.sslMode` is inside the source).
 * `spelling`: how Azure writes the value, when not as pgferry does.
 */
export interface AzureName {
  readonly arm: string;
  readonly native: string;
  readonly pgferry: string;
  readonly spelling?: AzureEnum | 'boolean';
}

export const AZURE_NAMES = [
  { arm: 'DBsToMigrate', native: 'dbsToMigrate', pgferry: 'databases' },
  { arm: 'MigrationMode', native: 'migrationMode', pgferry: 'mode', spelling: 'migrationMode' },
  { arm: 'MigrationOption', native: 'migrationOption', pgferry: 'option', spelling: 'migrationOption' },
  { arm: 'SSLMode', native: 'sslMode', pgferry: 'source.sslMode', spelling: 'sslMode' },
  { arm: 'triggerCutover', native: 'triggerCutover', pgferry: 'cutover', spelling: 'boolean' },
  { arm: 'OverwriteDBsInTarget', native: 'overwriteDbsInTarget', pgferry: 'overwriteDbsInTarget', spelling: 'boolean' },
  { arm: 'migrateRoles', native: 'migrateRoles', pgferry: 'migrateRoles', spelling: 'boolean' },
  {
    arm: 'setupLogicalReplicationOnSourceDbIfNeeded',
    native: 'setupLogicalReplicationOnSourceDbIfNeeded',
    pgferry: 'setupLogicalReplicationOnSourceDbIfNeeded',
    spelling: 'boolean',
  },
  { arm: 'startDataMigration', native: 'startDataMigration', pgferry: 'startDataMigration', spelling: 'boolean' },
  { arm: 'migrationWindowStartTimeInUtc', native: 'migrationWindowStartTimeInUtc', pgferry: 'migrationWindowStartTimeInUtc' },
  { arm: 'migrationWindowEndTimeInUtc', native: 'migrationWindowEndTimeInUtc', pgferry: 'migrationWindowEndTimeInUtc' },
] as const satisfies readonly AzureName[];

/**
 * The operations of Azure's update (PATCH): a cutover or a cancel, of the whole migration (`whole`
 * "True") or of the databases `databases` names. The whole cutover is also pgferry's `cutover`.
 */
export const AZURE_OPERATIONS = {
  cutover: { whole: 'triggerCutover', databases: 'dbsToTriggerCutoverOn' },
  cancel: { whole: 'cancel', databases: 'dbsToCancelMigrationOn' },
} as const;

export type AzureOperation = keyof typeof AZURE_OPERATIONS;

export const AZURE_OPERATION_KEYS = ['triggerCutover', 'dbsToTriggerCutoverOn', 'cancel', 'dbsToCancelMigrationOn'] as const;

/** Which operation an operation key asks for. */
export function operationOf(key: (typeof AZURE_OPERATION_KEYS)[number]): AzureOperation {
  return (Object.keys(AZURE_OPERATIONS) as AzureOperation[]).find((op) => Object.values<string>(AZURE_OPERATIONS[op]).includes(key))!;
}

/**
 * Azure's inputs that pgferry accepts and records (the resource echoes them) without acting on
 * them: the runtime server and the kind of source say where Azure would run the migration.
 */
export const AZURE_RECORDED_KEYS = ['migrationInstanceResourceId', 'sourceType'] as const;

/**
 * Azure's kinds of source server (azure-native's SourceType, API 2025-08-01), matched as ARM matches
 * enum values, whatever the case. Each is a PostgreSQL server but EDB_Oracle_Server.
 */
const AZURE_SOURCE_TYPES = [
  'OnPremises',
  'AWS',
  'GCP',
  'AzureVM',
  'PostgreSQLSingleServer',
  'AWS_RDS',
  'AWS_AURORA',
  'AWS_EC2',
  'GCP_CloudSQL',
  'GCP_AlloyDB',
  'GCP_Compute',
  'EDB',
  'EDB_Oracle_Server',
  'EDB_PostgreSQL',
  'PostgreSQLFlexibleServer',
  'PostgreSQLCosmosDB',
  'Huawei_RDS',
  'Huawei_Compute',
  'Heroku_PostgreSQL',
  'Crunchy_PostgreSQL',
  'ApsaraDB_RDS',
  'Digital_Ocean_Droplets',
  'Digital_Ocean_PostgreSQL',
  'Supabase_PostgreSQL',
] as const;

/**
 * Why a migration cannot name this source type, in one line starting with `field`; undefined when
 * it may. An Oracle source is one of Azure's kinds, but not a PostgreSQL server pgferry can read.
 */
export function sourceTypeRefusal(value: unknown, field: string): string | undefined {
  const known = typeof value === 'string' ? AZURE_SOURCE_TYPES.find((t) => t.toLowerCase() === value.toLowerCase()) : undefined;
  if (known === undefined)
    return `${field}: ${JSON.stringify(value)} is not one of Azure's source types; allowed: ${AZURE_SOURCE_TYPES.join(', ')}`;
  if (known === 'EDB_Oracle_Server')
    return `${field}: EDB_Oracle_Server is an Oracle database; pgferry moves PostgreSQL to PostgreSQL only (allowed: any other of Azure's source types)`;
  return undefined;
}
