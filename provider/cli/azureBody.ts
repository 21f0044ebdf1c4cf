// The Azure migration body ({"properties": {...}}) as `az postgres flexible-server migration
// create` takes it: keys matched case-insensitively, "True"/"False" accepted, mapped to spec input.
// Azure's names, value spellings and operations are provider/azure/names.ts's.
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
  type AzureEnum,
  type AzureOperation,
} from '../azure/names';
import { describeIssue, FILTER_KEYS, inputError, MIGRATION_MODES, MIGRATION_OPTIONS, SSL_MODES, TUNING_KEYS } from '../engine';
import {
  applyFlags,
  applyTargetFlags,
  flagGiven,
  isObject,
  TARGET_FLAG_NAMES,
  type MappedProperties,
  type PropertyFlags,
} from './propertyFlags';

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
    if (!canonical) {
      throw inputError('UNKNOWN_FIELD', childUserPath, `${childUserPath}: unknown field; allowed: ${known.join(', ')}`);
    }
    const childPath = path ? `${path}.${canonical}` : canonical;
    if (canonical in out) {
      throw inputError('DUPLICATE_FIELD', childUserPath, `${childUserPath}: given twice (keys are case-insensitive)`);
    }
    spelled.set(childPath, childUserPath);
    out[canonical] = AZURE_KEYS[childPath] && isObject(child) ? canonicalize(child, childPath, childUserPath, spelled) : child;
  }
  return out;
}

const RESOURCE_ID_USAGE = 'must be "host:port@user"';

/** `host:port@user` (IPv6 hosts in brackets) → server fields; errors name the field. */
export function parseSourceResourceId(text: string, field: string): { host: string; port: number; user: string } {
  if (text.startsWith('/subscriptions/')) {
    throw inputError(
      'INVALID_RESOURCE_ID',
      field,
      `${field}: ${RESOURCE_ID_USAGE}; Azure resource IDs (Single Server sources) are not supported`,
    );
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
  const parsed = azurePropertiesSchema.safeParse(canonical.properties);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = displayPath(['properties', ...issue.path], spelled);
    throw inputError('INVALID_INPUT', field, `${field}: ${describeIssue(issue).message}`);
  }
  return { p: parsed.data, at: (key: string) => spelled.get(`properties.${key}`) ?? `properties.${key}` };
}

/** What an update (PATCH) body asks for: a cutover or a cancel, of every database or of `databases`. */
export interface UpdateOperation {
  /**
   * setup-replication: setupLogicalReplicationOnSourceDbIfNeeded True (az update
   * --setup-replication); start-data-migration: startDataMigration True.
   */
  readonly kind: 'cutover' | 'cancel' | 'setup-replication' | 'start-data-migration';
  /** Undefined: every database of the migration. */
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
  return undefined;
}

/** The source server of the body; to create, its resource id and databases are required. */
function azureSource(p: AzureProperties, at: (key: string) => string, purpose: 'create' | 'target'): Record<string, unknown> {
  const secrets = p.SecretParameters;
  const resourceIdField = at('SourceDBServerResourceId');
  if (p.SourceDBServerResourceId === undefined && purpose === 'create') {
    throw inputError('INVALID_INPUT', resourceIdField, `${resourceIdField}: required: "host:port@user" of the source`);
  }
  if (p.DBsToMigrate === undefined && purpose === 'create') {
    const field = at('DBsToMigrate');
    throw inputError('INVALID_INPUT', field, `${field}: required: the list of databases to migrate`);
  }
  const fromId = p.SourceDBServerResourceId === undefined ? undefined : parseSourceResourceId(p.SourceDBServerResourceId, resourceIdField);
  const source: Record<string, unknown> = {
    host: p.sourceDbServerFullyQualifiedDomainName ?? fromId?.host,
    port: fromId?.port,
    user: secrets?.SourceServerUsername ?? fromId?.user,
  };
  if (secrets?.AdminCredentials?.SourceServerPassword !== undefined) source.password = secrets.AdminCredentials.SourceServerPassword;
  if (p.SSLMode) source.sslMode = p.SSLMode;
  if (p.sourceSslRootCert) source.sslRootCert = p.sourceSslRootCert;
  return source;
}

/**
 * `target`: only the target server is wanted (show, list, update): an update body (Azure's PATCH)
 * names no source and no databases.
 */
export function mapAzure(body: Record<string, unknown>, flags: PropertyFlags, purpose: 'create' | 'target' = 'create'): MappedProperties {
  const { p, at } = parseAzure(body);
  const secrets = p.SecretParameters;
  if (purpose === 'create') refuseOperations(p, at);

  const resourceIdField = at('SourceDBServerResourceId');
  const source = azureSource(p, at, purpose);

  const fileTarget: Record<string, unknown> = {};
  if (p.targetDbServerFullyQualifiedDomainName) fileTarget.host = p.targetDbServerFullyQualifiedDomainName;
  if (p.targetDbServerPort !== undefined) fileTarget.port = p.targetDbServerPort;
  const targetUser = secrets?.TargetServerUsername ?? p.targetServerUserName;
  if (targetUser) fileTarget.user = targetUser;
  if (secrets?.AdminCredentials?.TargetServerPassword !== undefined) fileTarget.password = secrets.AdminCredentials.TargetServerPassword;
  if (p.targetSslMode !== undefined) fileTarget.sslMode = p.targetSslMode;
  if (p.targetSslRootCert) fileTarget.sslRootCert = p.targetSslRootCert;

  const input: Record<string, unknown> = {
    migrationName: flags.name,
    source,
    target: applyTargetFlags(fileTarget, flags.target ?? {}),
    databases: p.DBsToMigrate,
  };
  for (const { arm, pgferry } of SPEC_FIELDS) if (p[arm] !== undefined) input[pgferry] = p[arm];
  for (const key of PGFERRY_TUNING) {
    const value = (p as Record<string, unknown>)[key];
    if (value !== undefined) input[key] = value;
  }
  applyFlags(input, flags);

  const fieldNames: Record<string, string> = {
    migrationName: flags.nameFlag ?? '--name',
    databases: at('DBsToMigrate'),
    ...Object.fromEntries(SPEC_FIELDS.map((n) => [n.pgferry, at(n.arm)])),
    mode: flags.mode ? '--mode' : at('MigrationMode'),
    migrationWindowStartTimeInUtc: flags.migrationWindow?.start
      ? '--migration-window-start-time-in-utc'
      : at('migrationWindowStartTimeInUtc'),
    migrationWindowEndTimeInUtc: flags.migrationWindow?.end ? '--migration-window-end-time-in-utc' : at('migrationWindowEndTimeInUtc'),
    option: flags.option ? '--option' : at('MigrationOption'),
    source: resourceIdField,
    'source.host': p.sourceDbServerFullyQualifiedDomainName ? at('sourceDbServerFullyQualifiedDomainName') : resourceIdField,
    'source.user': secrets?.SourceServerUsername ? at('SecretParameters.SourceServerUsername') : resourceIdField,
    'source.password': at('SecretParameters.AdminCredentials.SourceServerPassword'),
    'source.sslMode': at('SSLMode'),
    'source.sslRootCert': at('sourceSslRootCert'),
    'target.host':
      p.targetDbServerFullyQualifiedDomainName && !flags.target?.host && !flags.target?.url
        ? at('targetDbServerFullyQualifiedDomainName')
        : 'target.host',
    'target.password': at('SecretParameters.AdminCredentials.TargetServerPassword'),
    'target.sslMode': at('targetSslMode'),
    'target.sslRootCert': at('targetSslRootCert'),
    ...Object.fromEntries(PGFERRY_TUNING.map((k) => [k, at(k)])),
  };
  for (const [key, flag] of Object.entries(TARGET_FLAG_NAMES)) {
    if (flagGiven(flags.target ?? {}, key)) fieldNames[`target.${key}`] = flag;
  }
  if (flags.noVerify) fieldNames.verify = '--no-verify';
  return { form: 'azure', input, fieldNames };
}

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
