// The --properties file (the Azure migration body, or pgferry's plain form) plus command-line
// flags, mapped to the input of parseMigrationSpec. Pure: no IO, no connections.
import { z } from 'zod';
import {
  describeIssue,
  inputError,
  migrationSpecSchema,
  parseMigrationSpec,
  PgferryError,
  serverSpecSchema,
  zodToInputError,
  MIGRATION_MODES,
  MIGRATION_OPTIONS,
  type MigrationMode,
  type MigrationOption,
  type MigrationSpec,
  type ServerSpec,
  type SslMode,
} from '../engine';
import { parseConnectionUrl } from './url';

/** Target server flags shared by every command that talks to the target. */
export interface TargetFlags {
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly url?: string;
  readonly sslMode?: SslMode;
  readonly database?: string;
}

export interface PropertyFlags {
  readonly name?: string;
  readonly mode?: MigrationMode;
  readonly option?: MigrationOption;
  readonly noVerify?: boolean;
  readonly allowReplicaIdentityFull?: boolean;
  readonly target?: TargetFlags;
}

export interface MappedProperties {
  readonly form: 'azure' | 'plain';
  /** The input object for parseMigrationSpec. */
  readonly input: Record<string, unknown>;
  /** Spec field path (`source.port`) → the field as the user wrote it (`properties.SourceDBServerResourceId`). */
  readonly fieldNames: Readonly<Record<string, string>>;
}

export const DEFAULT_TARGET_USER = 'postgres';

const TARGET_FLAG_NAMES: Record<string, string> = {
  host: '--target-host',
  port: '--target-port',
  user: '--target-user',
  sslMode: '--target-ssl-mode',
  maintenanceDatabase: '--target-database',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// The Azure body. Keys are matched case-insensitively, as the service does; canonical spellings
// are those of the `az postgres flexible-server migration` documentation examples.

const AZURE_SSL_MODES = ['Prefer', 'Require', 'VerifyCA', 'VerifyFull'] as const;
const SSL_FROM_AZURE: Record<(typeof AZURE_SSL_MODES)[number], SslMode> = {
  Prefer: 'prefer',
  Require: 'require',
  VerifyCA: 'verify-ca',
  VerifyFull: 'verify-full',
};

/** Booleans as Azure accepts them: true/false or the strings "True"/"False" in any case. */
const boolish = z.preprocess(
  (v) => (typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v),
  z.boolean({ error: 'must be true or false ("True"/"False" also accepted)' }),
);

/** An enum matched case-insensitively (and ignoring - and _), producing the canonical spelling. */
function caseEnum<T extends readonly [string, ...string[]]>(values: T) {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const allowed = values.length === 2 ? `${values[0]} or ${values[1]}` : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
  return z.preprocess(
    (v) => (typeof v === 'string' ? (values.find((x) => squash(x) === squash(v)) ?? v) : v),
    z.enum(values, { error: `must be ${allowed}` }),
  );
}

const optionalString = (what: string) => z.string({ error: `must be ${what}` }).min(1, 'must not be empty').optional();

const adminCredentialsSchema = z.object({
  SourceServerPassword: z.string({ error: 'must be a string' }).optional(),
  TargetServerPassword: z.string({ error: 'must be a string' }).optional(),
});

const secretParametersSchema = z.object({
  AdminCredentials: adminCredentialsSchema.optional(),
  SourceServerUsername: optionalString('a role name'),
  TargetServerUsername: optionalString('a role name'),
});

/** Keys the Azure API defines that pgferry accepts and does not use (scheduling, runtime server, per-DB operations). */
const AZURE_IGNORED = [
  'sourceType',
  'migrationRuntimeResourceId',
  'migrationInstanceResourceId',
  'setupLogicalReplicationOnSourceDbIfNeeded',
  'migrationWindowStartTimeInUtc',
  'migrationWindowEndTimeInUtc',
  'startDataMigration',
  'triggerCutover',
  'cancel',
  'dbsToTriggerCutoverOn',
  'dbsToCancelMigrationOn',
  'migrationId',
  'currentStatus',
  'migrationResourceGroup',
] as const;

/** pgferry's own settings, allowed inside the Azure properties and checked by the spec schema. */
const PGFERRY_TUNING = [
  'tableJobs',
  'indexJobs',
  'splitTablesLargerThan',
  'splitMaxParts',
  'pgBinDir',
  'verify',
  'allowReplicaIdentityFull',
  'slotRetainedWarnBytes',
] as const;

const azurePropertiesSchema = z.object({
  SourceDBServerResourceId: z.string({ error: (i) => (i.input === undefined ? 'required: "host:port@user" of the source' : 'must be "host:port@user"') }),
  sourceDbServerFullyQualifiedDomainName: optionalString('a host name or IP address'),
  targetDbServerFullyQualifiedDomainName: optionalString('a host name or IP address'),
  targetDbServerPort: z.number({ error: 'must be a number from 1 to 65535' }).optional(),
  targetServerUserName: optionalString('a role name'),
  targetSslMode: z.unknown().optional(),
  sourceSslRootCert: optionalString('a file path'),
  targetSslRootCert: optionalString('a file path'),
  SecretParameters: secretParametersSchema.optional(),
  DBsToMigrate: z
    .array(z.string({ error: 'must hold database names (strings)' }), {
      error: (i) => (i.input === undefined ? 'required: the list of databases to migrate' : 'must be a list of database names'),
    })
    .min(1, 'must name at least one database'),
  OverwriteDBsInTarget: boolish.optional(),
  MigrationMode: caseEnum(MIGRATION_MODES).optional(),
  MigrationOption: caseEnum(MIGRATION_OPTIONS).optional(),
  SSLMode: caseEnum(AZURE_SSL_MODES).optional(),
  migrateRoles: boolish.optional(),
  ...Object.fromEntries(AZURE_IGNORED.map((k) => [k, z.unknown().optional()])),
  ...Object.fromEntries(PGFERRY_TUNING.map((k) => [k, z.unknown().optional()])),
});

type AzureProperties = z.infer<typeof azurePropertiesSchema>;

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
function canonicalize(value: Record<string, unknown>, path: string, userPath: string, spelled: Map<string, string>): Record<string, unknown> {
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
    throw inputError('INVALID_RESOURCE_ID', field, `${field}: ${RESOURCE_ID_USAGE}; Azure resource IDs (Single Server sources) are not supported`);
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

function mapAzure(body: Record<string, unknown>, flags: PropertyFlags): MappedProperties {
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
  const p: AzureProperties = parsed.data;
  const at = (key: string) => spelled.get(`properties.${key}`) ?? `properties.${key}`;
  const secrets = p.SecretParameters;

  const resourceIdField = at('SourceDBServerResourceId');
  const fromId = parseSourceResourceId(p.SourceDBServerResourceId, resourceIdField);
  const source: Record<string, unknown> = {
    host: p.sourceDbServerFullyQualifiedDomainName ?? fromId.host,
    port: fromId.port,
    user: secrets?.SourceServerUsername ?? fromId.user,
  };
  if (secrets?.AdminCredentials?.SourceServerPassword !== undefined) source.password = secrets.AdminCredentials.SourceServerPassword;
  if (p.SSLMode) source.sslMode = SSL_FROM_AZURE[p.SSLMode];
  if (p.sourceSslRootCert) source.sslRootCert = p.sourceSslRootCert;

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
  if (p.OverwriteDBsInTarget !== undefined) input.overwriteDbsInTarget = p.OverwriteDBsInTarget;
  if (p.migrateRoles !== undefined) input.migrateRoles = p.migrateRoles;
  if (p.MigrationMode) input.mode = p.MigrationMode;
  if (p.MigrationOption) input.option = p.MigrationOption;
  for (const key of PGFERRY_TUNING) {
    const value = (p as Record<string, unknown>)[key];
    if (value !== undefined) input[key] = value;
  }
  applyFlags(input, flags);

  const fieldNames: Record<string, string> = {
    migrationName: '--name',
    databases: at('DBsToMigrate'),
    overwriteDbsInTarget: at('OverwriteDBsInTarget'),
    migrateRoles: at('migrateRoles'),
    mode: flags.mode ? '--mode' : at('MigrationMode'),
    option: flags.option ? '--option' : at('MigrationOption'),
    source: resourceIdField,
    'source.host': p.sourceDbServerFullyQualifiedDomainName ? at('sourceDbServerFullyQualifiedDomainName') : resourceIdField,
    'source.user': secrets?.SourceServerUsername ? at('SecretParameters.SourceServerUsername') : resourceIdField,
    'source.password': at('SecretParameters.AdminCredentials.SourceServerPassword'),
    'source.sslMode': at('SSLMode'),
    'source.sslRootCert': at('sourceSslRootCert'),
    'target.host': p.targetDbServerFullyQualifiedDomainName && !flags.target?.host && !flags.target?.url ? at('targetDbServerFullyQualifiedDomainName') : 'target.host',
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

// ---------------------------------------------------------------------------------------------
// The plain form: the migration spec itself, with `source`/`target` as objects or URLs.

const PLAIN_KEYS = Object.keys(migrationSpecSchema.shape);

function mapPlain(body: Record<string, unknown>, flags: PropertyFlags): MappedProperties {
  for (const key of Object.keys(body)) {
    if (!PLAIN_KEYS.includes(key)) {
      throw inputError('UNKNOWN_FIELD', key, `${key}: unknown field; allowed: ${PLAIN_KEYS.join(', ')} (or the Azure body {"properties": {...}})`);
    }
  }
  const input: Record<string, unknown> = { ...body };
  if (typeof body.source === 'string') input.source = parseConnectionUrl(body.source, 'source');
  let fileTarget: Record<string, unknown> = {};
  if (typeof body.target === 'string') fileTarget = parseConnectionUrl(body.target, 'target');
  else if (isObject(body.target)) fileTarget = body.target;
  else if (body.target !== undefined) throw inputError('INVALID_INPUT', 'target', 'target: must be a connection object or a postgres:// URL');
  input.target = applyTargetFlags(fileTarget, flags.target ?? {});
  if (flags.name !== undefined) input.migrationName = flags.name;
  applyFlags(input, flags);
  const fieldNames: Record<string, string> = {};
  if (flags.name !== undefined) fieldNames.migrationName = '--name';
  if (flags.mode) fieldNames.mode = '--mode';
  if (flags.option) fieldNames.option = '--option';
  for (const [key, flag] of Object.entries(TARGET_FLAG_NAMES)) {
    if (flagGiven(flags.target ?? {}, key)) fieldNames[`target.${key}`] = flag;
  }
  return { form: 'plain', input, fieldNames };
}

// ---------------------------------------------------------------------------------------------

function flagGiven(flags: TargetFlags, specKey: string): boolean {
  const flagKey = specKey === 'maintenanceDatabase' ? 'database' : specKey;
  return (flags as Record<string, unknown>)[flagKey] !== undefined;
}

function applyFlags(input: Record<string, unknown>, flags: PropertyFlags): void {
  if (flags.mode) input.mode = flags.mode;
  if (flags.option) input.option = flags.option;
  if (flags.noVerify) input.verify = false;
  if (flags.allowReplicaIdentityFull) input.allowReplicaIdentityFull = true;
}

/** Target fields from the file, overridden by --target-url, then by the single --target-* flags. */
export function applyTargetFlags(fileTarget: Record<string, unknown>, flags: TargetFlags): Record<string, unknown> {
  let target: Record<string, unknown> = { ...fileTarget };
  if (flags.url !== undefined) target = { ...target, ...parseConnectionUrl(flags.url, '--target-url') };
  if (flags.host !== undefined) target.host = flags.host;
  if (flags.port !== undefined) target.port = flags.port;
  if (flags.user !== undefined) target.user = flags.user;
  if (flags.sslMode !== undefined) target.sslMode = flags.sslMode;
  if (flags.database !== undefined) target.maintenanceDatabase = flags.database;
  if (target.user === undefined) target.user = DEFAULT_TARGET_USER;
  if (target.host === undefined) {
    throw inputError(
      'TARGET_REQUIRED',
      'target',
      'target: no target server given; use --target-host H [--target-port P] or --target-url, or put the target in the properties file',
    );
  }
  return target;
}

/** Maps a parsed properties file and the flags to the input of parseMigrationSpec. */
export function mapProperties(body: unknown, flags: PropertyFlags = {}): MappedProperties {
  if (!isObject(body)) throw inputError('INVALID_INPUT', '(file)', '(file): must be a JSON object');
  const isAzure = Object.keys(body).some((k) => k.toLowerCase() === 'properties');
  return isAzure ? mapAzure(body, flags) : mapPlain(body, flags);
}

/** Renames a spec error's field to the one the user wrote (longest matching prefix). */
export function renameField(error: PgferryError, fieldNames: Readonly<Record<string, string>>): PgferryError {
  const field = error.field;
  if (!field) return error;
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const mapped = fieldNames[parts.slice(0, n).join('.')];
    if (mapped === undefined || mapped === field) continue;
    const rest = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
    // Say which spec field a composite key (SourceDBServerResourceId → source.port) failed on.
    const same = mapped.split('.').pop()!.replace(/^--/, '').toLowerCase() === field.split('.').pop()!.toLowerCase();
    const message = same ? `${mapped}: ${rest}` : `${mapped} (${field}): ${rest}`;
    return new PgferryError(error.code, message, { category: error.category, field: mapped, fix: error.fix, cause: error });
  }
  return error;
}

/** The properties file and flags, validated into a frozen MigrationSpec; errors name the user's field. */
export function specFromProperties(body: unknown, flags: PropertyFlags = {}): MigrationSpec {
  const mapped = mapProperties(body, flags);
  if (mapped.input.migrationName === undefined) {
    throw inputError('NAME_REQUIRED', '--name', '--name: required (letters, digits and hyphens, not starting with a hyphen)');
  }
  try {
    return parseMigrationSpec(mapped.input);
  } catch (error) {
    if (error instanceof PgferryError) throw renameField(error, mapped.fieldNames);
    throw error;
  }
}

/** The target server alone: from the properties file (if any) and the flags. */
export function targetFromInputs(body: unknown | undefined, flags: TargetFlags): ServerSpec {
  let raw: Record<string, unknown>;
  let fieldNames: Readonly<Record<string, string>> = {};
  if (body === undefined) {
    raw = applyTargetFlags({}, flags);
  } else {
    const mapped = mapProperties(body, { target: flags });
    raw = mapped.input.target as Record<string, unknown>;
    fieldNames = mapped.fieldNames;
  }
  const parsed = serverSpecSchema.safeParse(raw);
  if (!parsed.success) throw renameField(zodToInputError(parsed.error, 'target'), fieldNames);
  return Object.freeze({ ...parsed.data });
}

/** Parses the file's text; a syntax error names the line and column, never the content (it may hold passwords). */
export function parsePropertiesText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String((error as Error).message));
    let where = '';
    if (position) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    } else if (/end of JSON input/i.test(String((error as Error).message))) {
      where = ' (it ends early)';
    }
    throw inputError('INVALID_JSON', '--properties', `--properties: ${file} is not valid JSON${where}`);
  }
}
