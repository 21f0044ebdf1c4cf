// Azure's migration properties, read once for every reader: the body `az postgres flexible-server
// migration create --properties` takes ({"properties": {...}}) and azure-native Migration's inputs
// (the same keys, camelCase, at the top level of PgMigration's inputs). Keys are matched
// case-insensitively, "True"/"False" accepted; the servers (sourceDbServerResourceId, the FQDNs,
// secretParameters) mapped to pgferry's source and target here, so the CLI and PgMigration's check
// resolve an address the same way. Azure's names, value spellings and operations are names.ts's.
import { z } from 'zod';
import {
  AZURE_NAMES,
  AZURE_OPERATION_KEYS,
  AZURE_OPERATIONS,
  AZURE_RECORDED_KEYS,
  azureChoices,
  fromAzureBoolean,
  fromAzureSpelling,
  operationOf,
  sourceTypeRefusal,
  type AzureEnum,
  type AzureOperation,
} from './names';
import { parseServerHosts, serverAddress } from './serverName';
import {
  describeIssue,
  FILTER_KEYS,
  inputError,
  MIGRATION_MODES,
  MIGRATION_OPTIONS,
  SSL_MODES,
  TUNING_KEYS,
  unknownFieldError,
  type SslMode,
} from '../engine';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Canonical key spellings are those of the `az postgres flexible-server migration` documentation examples.

/** Booleans as Azure accepts them: true/false or the strings "True"/"False" in any case. */
const boolish = z.preprocess(fromAzureBoolean, z.boolean({ error: 'must be true or false ("True"/"False" also accepted)' }));

/** An enum as Azure spells it (Online, online, VerifyCA, verify-ca...), producing pgferry's value. */
function azureEnum<T extends readonly [string, ...string[]]>(kind: AzureEnum, values: T) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? (fromAzureSpelling(kind, v) ?? v) : v),
    z.enum(values, { error: `must be ${azureChoices(kind)}` }),
  );
}

const optionalString = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, 'must not be empty')
    .optional();

const adminCredentialsSchema = z.object({
  SourceServerPassword: z.string({ error: 'must be a string' }).optional(),
  TargetServerPassword: z.string({ error: 'must be a string' }).optional(),
});

const secretParametersSchema = z.object({
  AdminCredentials: adminCredentialsSchema.optional(),
  SourceServerUsername: optionalString('a role name'),
  TargetServerUsername: optionalString('a role name'),
});

/** Keys the Azure API defines that pgferry accepts and does not use (runtime server, read-only fields). */
const AZURE_IGNORED = [
  ...AZURE_RECORDED_KEYS,
  'migrationRuntimeResourceId',
  'migrationId',
  'currentStatus',
  'migrationResourceGroup',
] as const;

const databaseNames = (what: string) =>
  z.array(z.string({ error: 'must hold database names (strings)' }), { error: `must be a list of database names ${what}` }).optional();

/** Tuning keys that are Azure's own too: read as Azure writes them ("True"), above. */
const AZURE_KEYS_OF_TUNING: readonly string[] = ['setupLogicalReplicationOnSourceDbIfNeeded', 'startDataMigration'];

/** pgferry's own settings (tuning and filters), allowed inside the Azure properties and checked by the spec schema. */
const PGFERRY_TUNING = [...TUNING_KEYS, ...FILTER_KEYS].filter((k) => !AZURE_KEYS_OF_TUNING.includes(k));

const azurePropertiesSchema = z.object({
  // required to create (mapAzure says so); an update body (Azure's PATCH) names no source
  SourceDBServerResourceId: z.string({ error: 'must be "host:port@user"' }).optional(),
  sourceDbServerFullyQualifiedDomainName: optionalString('a host name or IP address'),
  targetDbServerFullyQualifiedDomainName: optionalString('a host name or IP address'),
  targetDbServerPort: z.number({ error: 'must be a number from 1 to 65535' }).optional(),
  targetServerUserName: optionalString('a role name'),
  targetSslMode: z.unknown().optional(),
  sourceSslRootCert: optionalString('a file path'),
  targetSslRootCert: optionalString('a file path'),
  SecretParameters: secretParametersSchema.optional(),
  DBsToMigrate: z
    .array(z.string({ error: 'must hold database names (strings)' }), { error: 'must be a list of database names' })
    .min(1, 'must name at least one database')
    .optional(),
  OverwriteDBsInTarget: boolish.optional(),
  MigrationMode: azureEnum('migrationMode', MIGRATION_MODES).optional(),
  MigrationOption: azureEnum('migrationOption', MIGRATION_OPTIONS).optional(),
  SSLMode: azureEnum('sslMode', SSL_MODES).optional(),
  migrateRoles: boolish.optional(),
  setupLogicalReplicationOnSourceDbIfNeeded: boolish.optional(),
  startDataMigration: boolish.optional(),
  // checked and normalized by the spec's schema (a date and time in UTC)
  migrationWindowStartTimeInUtc: z.unknown().optional(),
  migrationWindowEndTimeInUtc: z.unknown().optional(),
  triggerCutover: boolish.optional(),
  dbsToTriggerCutoverOn: databaseNames('to cut over'),
  cancel: boolish.optional(),
  dbsToCancelMigrationOn: databaseNames('to cancel'),
  ...Object.fromEntries(AZURE_IGNORED.map((k) => [k, z.unknown().optional()])),
  ...Object.fromEntries(PGFERRY_TUNING.map((k) => [k, z.unknown().optional()])),
});

type AzureProperties = z.infer<typeof azurePropertiesSchema>;

/** The body's keys that are one field of the spec each, under Azure's name (MigrationMode → mode...). */
const SPEC_FIELDS = AZURE_NAMES.filter(
  (n) => !n.pgferry.includes('.') && n.pgferry !== 'databases' && !(AZURE_OPERATION_KEYS as readonly string[]).includes(n.arm),
);

const AZURE_BODY_KEYS = ['properties', 'location', 'tags', 'id', 'name', 'type', 'systemData'] as const;

/** Nested key sets, by canonical path, for case-insensitive matching. */
const AZURE_KEYS: Record<string, readonly string[]> = {
  '': AZURE_BODY_KEYS,
  properties: Object.keys(azurePropertiesSchema.shape),
  'properties.SecretParameters': Object.keys(secretParametersSchema.shape),
  'properties.SecretParameters.AdminCredentials': Object.keys(adminCredentialsSchema.shape),
};

/**
 * Rewrites an object's keys to their canonical spelling (recursively for the nested key sets),
 * recording how the user spelled each path; unknown keys are refused, naming the key.
 */
function canonicalize(
  value: Record<string, unknown>,
  path: string,
  userPath: string,
  spelled: Map<string, string>,
): Record<string, unknown> {
  const known = AZURE_KEYS[path] ?? [];
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const canonical = known.find((k) => k.toLowerCase() === key.toLowerCase());
    const childUserPath = userPath ? `${userPath}.${key}` : key;
    if (!canonical) throw unknownFieldError(userPath, [key], known);
    const childPath = path ? `${path}.${canonical}` : canonical;
    if (canonical in out) {
      throw inputError('DUPLICATE_FIELD', childUserPath, `${childUserPath}: given twice (keys are case-insensitive)`);
    }
    if (!spelled.has(childPath)) spelled.set(childPath, childUserPath);
    out[canonical] = AZURE_KEYS[childPath] && isObject(child) ? canonicalize(child, childPath, childUserPath, spelled) : child;
  }
  return out;
}

const RESOURCE_ID_USAGE = 'must be "host:port@user"';

/**
 * An Azure resource id of the server a source may be: a Flexible Server or a Single Server
 * (Microsoft.DBforPostgreSQL/flexibleServers, /servers), or an Azure virtual machine
 * (Microsoft.Compute/virtualMachines). Resource providers and types are matched case-insensitively,
 * as ARM does.
 */
const ARM_SOURCE_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/(?:Microsoft\.DBforPostgreSQL\/(servers|flexibleServers)|Microsoft\.Compute\/(virtualMachines))\/([^/]+)$/i;

/** The server an Azure resource id names: its name, and whether Azure gives it a name under its domain. */
export interface ArmSource {
  readonly name: string;
  /** A Flexible Server or a Single Server: Azure names it NAME.postgres.database.azure.com; a virtual machine has no such name. */
  readonly azureDatabase: boolean;
  /** For messages: "server" or "virtual machine". */
  readonly kind: 'server' | 'virtual machine';
}

/** The server an Azure resource id of a source names, or undefined when the text is no such id. */
export function armSourceOf(text: string): ArmSource | undefined {
  const match = ARM_SOURCE_ID.exec(text);
  if (!match) return undefined;
  const azureDatabase = match[1] !== undefined;
  return { name: match[3]!, azureDatabase, kind: azureDatabase ? 'server' : 'virtual machine' };
}

/** The forms sourceDbServerResourceId takes, for messages. */
const SOURCE_ID_FORMS =
  '"host:port@user", or the Azure resource id of a Flexible Server, a Single Server or a virtual machine (/subscriptions/…/providers/Microsoft.DBforPostgreSQL/flexibleServers/NAME, …/servers/NAME, …/Microsoft.Compute/virtualMachines/NAME)';

/**
 * `host:port@user` (IPv6 hosts in brackets) → server fields; errors name the field. An Azure
 * resource id is read by the caller (see sourceAddress); any other text under /subscriptions/ is
 * refused, naming the forms allowed.
 */
export function parseSourceResourceId(text: string, field: string): { host: string; port: number; user: string } {
  if (text.startsWith('/subscriptions/')) {
    throw inputError('INVALID_RESOURCE_ID', field, `${field}: must be ${SOURCE_ID_FORMS}`);
  }
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:@\s[\]/]+):([^@]*)@(.+)$/.exec(text);
  if (!match) throw inputError('INVALID_RESOURCE_ID', field, `${field}: ${RESOURCE_ID_USAGE}`);
  const [, rawHost, rawPort, user] = match as unknown as [string, string, string, string];
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
    throw inputError('INVALID_RESOURCE_ID', field, `${field}: ${RESOURCE_ID_USAGE} with a port from 1 to 65535`);
  }
  return { host: rawHost.replace(/^\[(.*)\]$/, '$1'), port: Number(rawPort), user };
}

function displayPath(path: readonly PropertyKey[], spelled: Map<string, string>): string {
  const canonical = path.map(String).join('.');
  // The longest prefix the user wrote keeps their spelling; the rest is ours.
  for (let n = path.length; n > 0; n--) {
    const prefix = path.slice(0, n).map(String).join('.');
    const user = spelled.get(prefix);
    if (user) return [user, ...path.slice(n).map(String)].join('.');
  }
  return canonical;
}

/** Azure's migration properties (keys in any case), checked; `at` gives a key as the user spelled it, under `prefix`. */
export function readAzureProperties(
  properties: Record<string, unknown>,
  prefix = 'properties.',
  spelled = new Map<string, string>(),
): { p: AzureProperties; at: (key: string) => string } {
  const userPath = prefix.replace(/\.$/, '');
  const canonical = canonicalize(properties, 'properties', userPath, spelled);
  const parsed = azurePropertiesSchema.safeParse(canonical);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = displayPath(['properties', ...issue.path], spelled);
    throw inputError('INVALID_INPUT', field, `${field}: ${describeIssue(issue).message}`);
  }
  return { p: parsed.data, at: (key: string) => spelled.get(`properties.${key}`) ?? `${prefix}${prefix ? key : nativeSpelling(key)}` };
}

/** ARM body keys whose azure-native (camelCase) spelling is not the key with a lower-case first letter. */
const NATIVE_SPELLINGS: Record<string, string> = {
  SourceDBServerResourceId: 'sourceDbServerResourceId',
  DBsToMigrate: 'dbsToMigrate',
  OverwriteDBsInTarget: 'overwriteDbsInTarget',
  SSLMode: 'sslMode',
};

/** A key path as azure-native spells it (secretParameters.adminCredentials.sourceServerPassword). */
function nativeSpelling(path: string): string {
  return path
    .split('.')
    .map((key) => NATIVE_SPELLINGS[key] ?? `${key.charAt(0).toLowerCase()}${key.slice(1)}`)
    .join('.');
}

/** The Azure body's properties, canonically spelled and checked; `at` gives a key as the user spelled it. */
function parseAzure(body: Record<string, unknown>): { p: AzureProperties; at: (key: string) => string } {
  const spelled = new Map<string, string>();
  const canonical = canonicalize(body, '', '', spelled);
  if (!('properties' in canonical)) {
    throw inputError('INVALID_INPUT', 'properties', 'properties: required (the Azure migration body is {"properties": {...}})');
  }
  const propsField = spelled.get('properties') ?? 'properties';
  if (!isObject(canonical.properties)) {
    throw inputError('INVALID_INPUT', propsField, `${propsField}: must be an object`);
  }
  return readAzureProperties(canonical.properties, `${propsField}.`, spelled);
}

/** What an update (PATCH) body asks for: a cutover or a cancel, of every database or of `databases`. */
export interface UpdateOperation {
  /**
   * setup-replication: setupLogicalReplicationOnSourceDbIfNeeded True (az update
   * --setup-replication); start-data-migration: startDataMigration True.
   */
  readonly kind: 'cutover' | 'cancel' | 'setup-replication' | 'start-data-migration' | 'name-databases';
  /** Undefined: every database of the migration. name-databases: the body's dbsToMigrate. */
  readonly databases?: readonly string[];
  /** The body's keys that asked for it, as the user spelled them (for messages). */
  readonly fields: string;
}

/**
 * The operation an Azure update body carries, as Azure's PATCH reads it: triggerCutover "True"
 * cuts over every database, or those of dbsToTriggerCutoverOn when it names some, and
 * dbsToTriggerCutoverOn alone cuts those over; cancel and dbsToCancelMigrationOn likewise.
 * Undefined when it asks for nothing ("False", empty lists); both a cutover and a cancel is refused.
 */
export function azureUpdateOperation(body: Record<string, unknown>): UpdateOperation | undefined {
  const { p, at } = parseAzure(body);
  const of = (kind: AzureOperation) => {
    const { whole: flag, databases: list } = AZURE_OPERATIONS[kind];
    const databases = p[list] && p[list].length > 0 ? p[list] : undefined;
    if (p[flag] !== true && !databases) return undefined;
    const fields = [p[flag] === true ? at(flag) : undefined, databases ? at(list) : undefined].filter(Boolean).join(' and ');
    return { kind, ...(databases ? { databases } : {}), fields };
  };
  const cutover = of('cutover');
  const cancel = of('cancel');
  if (cutover && cancel) {
    throw inputError(
      'INVALID_INPUT',
      at('cancel'),
      `${cancel.fields}: the body asks for a cancel and a cutover (${cutover.fields}); give one operation per update`,
    );
  }
  if (cutover ?? cancel) return cutover ?? cancel;
  // a cutover or cancel wins: a whole body sent again carries these keys as they were created
  if (p.setupLogicalReplicationOnSourceDbIfNeeded === true) {
    return { kind: 'setup-replication', fields: at('setupLogicalReplicationOnSourceDbIfNeeded') };
  }
  if (p.startDataMigration === true) return { kind: 'start-data-migration', fields: at('startDataMigration') };
  // Azure's PATCH of dbsToMigrate: names the databases of a migration created without them
  if (p.DBsToMigrate !== undefined) return { kind: 'name-databases', databases: p.DBsToMigrate, fields: at('DBsToMigrate') };
  return undefined;
}

/** Where the source is, as far as the properties say. */
interface SourceAddress {
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly sslMode?: SslMode;
  readonly sslServerName?: string;
}

/**
 * Where the source is: `host:port@user` from sourceDbServerResourceId, its host replaced by
 * sourceDbServerFullyQualifiedDomainName and its user by secretParameters.sourceServerUsername
 * when given (Azure: "when provided, the migration service will always use it to connect"); an
 * Azure resource id is found as armSourceAddress says.
 */
function sourceAddress(p: AzureProperties, at: (key: string) => string, env: NodeJS.ProcessEnv): SourceAddress {
  const field = at('SourceDBServerResourceId');
  const id = p.SourceDBServerResourceId;
  if (id === undefined) {
    return { host: p.sourceDbServerFullyQualifiedDomainName, user: p.SecretParameters?.SourceServerUsername };
  }
  const arm = armSourceOf(id);
  if (arm !== undefined) return armSourceAddress(arm, p, at, env);
  const fromId = parseSourceResourceId(id, field);
  return {
    host: p.sourceDbServerFullyQualifiedDomainName ?? fromId.host,
    port: fromId.port,
    user: p.SecretParameters?.SourceServerUsername ?? fromId.user,
  };
}

/**
 * The source an Azure resource id names, found as the target's serverName is: its host from
 * sourceDbServerFullyQualifiedDomainName when given (port 5432, Azure's), else from the
 * PGFERRY_SERVER_HOSTS entry of its name (with the entry's port, user and sslmode), else, for a
 * Flexible or a Single Server, NAME.postgres.database.azure.com (PGFERRY_SERVER_DOMAIN in other
 * clouds), the name Azure gives such a server. Azure gives a virtual machine no name pgferry could
 * know, and a user is never guessed: either missing is refused, saying what to give.
 */
function armSourceAddress(arm: ArmSource, p: AzureProperties, at: (key: string) => string, env: NodeJS.ProcessEnv): SourceAddress {
  const field = at('SourceDBServerResourceId');
  const fqdn = p.sourceDbServerFullyQualifiedDomainName;
  const mapped = parseServerHosts(env.PGFERRY_SERVER_HOSTS).get(arm.name.toLowerCase());
  const entry = `${arm.name}=USER@HOST[:PORT] in PGFERRY_SERVER_HOSTS`;
  let address: SourceAddress;
  if (fqdn !== undefined) address = { host: fqdn, port: 5432 };
  else if (arm.azureDatabase) {
    const found = serverAddress(arm.name, env);
    address = { host: found.host, port: found.port ?? 5432, sslMode: found.sslMode, sslServerName: found.sslServerName };
  } else if (mapped !== undefined) address = { host: mapped.host, port: mapped.port ?? 5432, sslMode: mapped.sslMode };
  else {
    throw inputError(
      'INVALID_RESOURCE_ID',
      field,
      `${field}: the Azure resource id of virtual machine "${arm.name}" names no address pgferry can connect to; give ${entry}, or ${at('sourceDbServerFullyQualifiedDomainName')} beside it, or "host:port@user" instead`,
    );
  }
  const user = p.SecretParameters?.SourceServerUsername ?? mapped?.user;
  if (user === undefined) {
    throw inputError(
      'INVALID_RESOURCE_ID',
      field,
      `${field}: no user to connect to ${arm.kind} "${arm.name}" as; give ${at('SecretParameters.SourceServerUsername')}, or ${entry}`,
    );
  }
  return { ...address, user };
}

/** The servers of Azure's properties as pgferry's source and target (fields not given are left out). */
export interface AzureServers {
  readonly source: Record<string, unknown>;
  /** The target as far as the properties say (its host from targetDbServerFullyQualifiedDomainName). */
  readonly target: Record<string, unknown>;
  /** Spec field path (`source.port`) → the property as the user wrote it. */
  readonly fieldNames: Readonly<Record<string, string>>;
}

/**
 * The source and target of Azure's properties. To create, the source's resource id is required
 * (DBsToMigrate is not: without it the migration waits in WaitingForDBsToMigrateSpecification until
 * an update names them, as Azure's does); `target` (show, list, update: an update body, Azure's
 * PATCH, names no source) reads what is there.
 */
export function azureServers(
  p: AzureProperties,
  at: (key: string) => string,
  purpose: 'create' | 'target',
  env: NodeJS.ProcessEnv = process.env,
): AzureServers {
  const secrets = p.SecretParameters;
  const resourceIdField = at('SourceDBServerResourceId');
  if (p.SourceDBServerResourceId === undefined && purpose === 'create') {
    throw inputError('INVALID_INPUT', resourceIdField, `${resourceIdField}: required: "host:port@user" of the source`);
  }
  const address = sourceAddress(p, at, env);
  const source: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(address)) if (value !== undefined) source[key] = value;
  if (secrets?.AdminCredentials?.SourceServerPassword !== undefined) source.password = secrets.AdminCredentials.SourceServerPassword;
  if (p.SSLMode) source.sslMode = p.SSLMode;
  if (p.sourceSslRootCert) source.sslRootCert = p.sourceSslRootCert;

  const target: Record<string, unknown> = {};
  if (p.targetDbServerFullyQualifiedDomainName) target.host = p.targetDbServerFullyQualifiedDomainName;
  if (p.targetDbServerPort !== undefined) target.port = p.targetDbServerPort;
  const targetUser = secrets?.TargetServerUsername ?? p.targetServerUserName;
  if (targetUser) target.user = targetUser;
  if (secrets?.AdminCredentials?.TargetServerPassword !== undefined) target.password = secrets.AdminCredentials.TargetServerPassword;
  if (p.targetSslMode !== undefined) target.sslMode = p.targetSslMode;
  if (p.targetSslRootCert) target.sslRootCert = p.targetSslRootCert;

  const fieldNames: Record<string, string> = {
    source: resourceIdField,
    'source.host': p.sourceDbServerFullyQualifiedDomainName ? at('sourceDbServerFullyQualifiedDomainName') : resourceIdField,
    'source.port': resourceIdField,
    'source.user': secrets?.SourceServerUsername ? at('SecretParameters.SourceServerUsername') : resourceIdField,
    'source.password': at('SecretParameters.AdminCredentials.SourceServerPassword'),
    'source.sslMode': at('SSLMode'),
    'source.sslRootCert': at('sourceSslRootCert'),
    'target.password': at('SecretParameters.AdminCredentials.TargetServerPassword'),
    'target.sslMode': at('targetSslMode'),
    'target.sslRootCert': at('targetSslRootCert'),
  };
  if (p.targetDbServerFullyQualifiedDomainName) fieldNames['target.host'] = at('targetDbServerFullyQualifiedDomainName');
  if (targetUser)
    fieldNames['target.user'] = secrets?.TargetServerUsername ? at('SecretParameters.TargetServerUsername') : at('targetServerUserName');
  return { source, target, fieldNames };
}

/** The body's spec fields besides the servers: databases, Azure's named inputs, pgferry's tuning keys. */
export function azureSpecFields(
  p: AzureProperties,
  at: (key: string) => string,
): { input: Record<string, unknown>; fieldNames: Record<string, string> } {
  const input: Record<string, unknown> = {};
  if (p.DBsToMigrate !== undefined) input.databases = p.DBsToMigrate;
  for (const { arm, pgferry } of SPEC_FIELDS) if (p[arm] !== undefined) input[pgferry] = p[arm];
  for (const key of PGFERRY_TUNING) {
    const value = (p as Record<string, unknown>)[key];
    if (value !== undefined) input[key] = value;
  }
  const fieldNames: Record<string, string> = {
    databases: at('DBsToMigrate'),
    ...Object.fromEntries(SPEC_FIELDS.map((n) => [n.pgferry, at(n.arm)])),
    mode: at('MigrationMode'),
    option: at('MigrationOption'),
    ...Object.fromEntries(PGFERRY_TUNING.map((k) => [k, at(k)])),
  };
  return { input, fieldNames };
}

/** Azure's properties of a body, checked; to create, an operation (cutover, cancel) is refused. */
export function azureBodyProperties(
  body: Record<string, unknown>,
  purpose: 'create' | 'target',
): { p: AzureProperties; at: (key: string) => string } {
  const parsed = parseAzure(body);
  if (purpose === 'create') refuseOperations(parsed.p, parsed.at);
  const sourceType = (parsed.p as Record<string, unknown>).sourceType;
  const refused = sourceType === undefined ? undefined : sourceTypeRefusal(sourceType, parsed.at('sourceType'));
  if (refused) throw inputError('INVALID_INPUT', parsed.at('sourceType'), refused);
  return parsed;
}

export type { AzureProperties };

/**
 * A create body that asks for a cutover or a cancel: the migration does not exist yet, so there is
 * nothing to act on; refused, naming the key and where it belongs. "False" and empty lists (a body
 * kept from a template) are accepted.
 */
function refuseOperations(p: AzureProperties, at: (key: string) => string): void {
  for (const key of AZURE_OPERATION_KEYS) {
    const value = p[key];
    if (value === true || (Array.isArray(value) && value.length > 0)) {
      throw inputError(
        'INVALID_INPUT',
        at(key),
        `${at(key)}: asks for a ${operationOf(key)} of a migration that is being created; give it to \`pgferry update --properties\` once the migration runs (or leave it out, "False" or [])`,
      );
    }
  }
}
