// The --properties body (the Azure migration body, or pgferry's plain form) with the command line's
// flags over it, validated into a MigrationSpec or a target ServerSpec. What an Azure body says is
// read by provider/azure/body.ts (the same reading PgMigration's check gives azure-native's
// inputs); this file adds the flags (--name, --mode, --target-*...) and the field names errors are
// reported under. Pure but for the one read of ~/.pgpass when no flag, body or variable names the
// target's login.
import {
  inputError,
  migrationSpecSchema,
  parseMigrationSpec,
  PgferryError,
  serverSpecSchema,
  unknownFieldError,
  zodToInputError,
  type MigrationSpec,
  type ServerSpec,
} from '../../engine';
import { azureBodyProperties, azureServers, azureSpecFields, azureUpdateOperation, isObject, type UpdateOperation } from '../../azure/body';
import { findTargetLogin, noLoginHint } from '../../azure/targetLogin';
import { TARGET_FIELDS, targetFlagOf, type TargetFlags } from './options';
import { applySpecFlags, specFieldNames, type SpecFlagNames, type SpecFlags } from './specOptions';
import { parseConnectionUrl } from './url';

export { parseSourceResourceId, type UpdateOperation } from '../../azure/body';
export { isObject } from '../../azure/body';
export type { TargetFlags } from './options';

/** What the command line sets over the properties body: the migration's name, spec fields, the target. */
export type PropertyFlags = SpecFlags & {
  readonly name?: string;
  /** The flag that named the migration, for error messages. */
  readonly nameFlag?: string;
  /** The flag that set each spec field, for error messages (the field's first spelling when not given). */
  readonly specFlagNames?: SpecFlagNames;
  readonly target?: TargetFlags;
};

export interface MappedProperties {
  readonly form: 'azure' | 'plain';
  /** The input object for parseMigrationSpec. */
  readonly input: Record<string, unknown>;
  /** Spec field path (`source.port`) → the field as the user wrote it (`properties.SourceDBServerResourceId`). */
  readonly fieldNames: Readonly<Record<string, string>>;
}

/** `target`: only the target server is wanted (show, list, update): an update body (Azure's PATCH) names no source and no databases. */
type Purpose = 'create' | 'target';

/** Maps a parsed properties file and the flags to the input of parseMigrationSpec. */
export function mapProperties(
  body: unknown,
  flags: PropertyFlags = {},
  purpose: Purpose = 'create',
  env: NodeJS.ProcessEnv = process.env,
): MappedProperties {
  if (!isObject(body)) throw inputError('INVALID_INPUT', '(file)', '(file): must be a JSON object');
  return isAzureBody(body) ? mapAzure(body, flags, purpose, env) : mapPlain(body, flags, env);
}

function isAzureBody(body: Record<string, unknown>): boolean {
  return Object.keys(body).some((k) => k.toLowerCase() === 'properties');
}

/** The cutover or cancel an update's Azure body (Azure's PATCH) asks for; none for the plain form. */
export function updateOperationOf(body: unknown): UpdateOperation | undefined {
  if (!isObject(body)) throw inputError('INVALID_INPUT', '(file)', '(file): must be a JSON object');
  return isAzureBody(body) ? azureUpdateOperation(body) : undefined;
}

function mapAzure(body: Record<string, unknown>, flags: PropertyFlags, purpose: Purpose, env: NodeJS.ProcessEnv): MappedProperties {
  const { p, at } = azureBodyProperties(body, purpose);
  const servers = azureServers(p, at, purpose, env);
  const fields = azureSpecFields(p, at);
  const input: Record<string, unknown> = {
    migrationName: flags.name,
    source: servers.source,
    target: applyTargetFlags(servers.target, flags.target ?? {}, env),
    ...fields.input,
  };
  applySpecFlags(input, flags);
  const fieldNames: Record<string, string> = {
    migrationName: flags.nameFlag ?? '--name',
    ...fields.fieldNames,
    ...servers.fieldNames,
    'target.host':
      servers.fieldNames['target.host'] && !flags.target?.host && !flags.target?.url ? servers.fieldNames['target.host'] : 'target.host',
    ...flagFieldNames(flags),
  };
  return { form: 'azure', input, fieldNames };
}

/** pgferry's plain form: the migration spec itself, with `source`/`target` as connection objects or postgres:// URLs. */
const PLAIN_KEYS = Object.keys(migrationSpecSchema.shape);

function mapPlain(body: Record<string, unknown>, flags: PropertyFlags, env: NodeJS.ProcessEnv): MappedProperties {
  const unknown = Object.keys(body).filter((key) => !PLAIN_KEYS.includes(key));
  if (unknown.length > 0) throw unknownFieldError('', unknown, PLAIN_KEYS, 'or give the Azure body, {"properties": {...}}');
  const input: Record<string, unknown> = { ...body };
  if (typeof body.source === 'string') input.source = parseConnectionUrl(body.source, 'source');
  let fileTarget: Record<string, unknown> = {};
  if (typeof body.target === 'string') fileTarget = parseConnectionUrl(body.target, 'target');
  else if (isObject(body.target)) fileTarget = body.target;
  else if (body.target !== undefined)
    throw inputError('INVALID_INPUT', 'target', 'target: must be a connection object or a postgres:// URL');
  input.target = applyTargetFlags(fileTarget, flags.target ?? {}, env);
  if (flags.name !== undefined) input.migrationName = flags.name;
  applySpecFlags(input, flags);
  const fieldNames: Record<string, string> = {
    ...(flags.name !== undefined ? { migrationName: flags.nameFlag ?? '--name' } : {}),
    ...flagFieldNames(flags),
  };
  return { form: 'plain', input, fieldNames };
}

/**
 * The fields the flags set (the spec's and the target's), each under the flag that set it, so an
 * error about one names the flag rather than the file's field.
 */
function flagFieldNames(flags: PropertyFlags): Record<string, string> {
  const fieldNames = specFieldNames(flags, flags.specFlagNames);
  for (const [key, field] of Object.entries(TARGET_FIELDS)) {
    if (flags.target?.[key as keyof typeof TARGET_FIELDS] !== undefined) {
      fieldNames[`target.${field.specKey}`] = targetFlagOf(key as keyof typeof TARGET_FIELDS);
    }
  }
  return fieldNames;
}

/**
 * Target fields from the file, overridden by --target-url, then by the single --target-* flags;
 * with no host from any of them, the server named on the command line (its port and user too,
 * when PGFERRY_SERVER_HOSTS gives them and nothing else does). With no user from any of them, the
 * login is found as PgMigration's check finds it (azure/targetLogin.ts): PGUSER, then ~/.pgpass.
 */
export function applyTargetFlags(
  fileTarget: Record<string, unknown>,
  flags: TargetFlags,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  let target: Record<string, unknown> = { ...fileTarget };
  if (flags.url !== undefined) target = { ...target, ...parseConnectionUrl(flags.url, '--target-url', { onCommandLine: true }) };
  for (const [key, field] of Object.entries(TARGET_FIELDS)) {
    const value = flags[key as keyof typeof TARGET_FIELDS];
    if (value !== undefined) target[field.specKey] = value;
  }
  if (target.host === undefined && flags.server) {
    target.host = flags.server.host;
    if (target.port === undefined && flags.server.port !== undefined) target.port = flags.server.port;
    if (target.sslServerName === undefined && flags.server.sslServerName !== undefined) target.sslServerName = flags.server.sslServerName;
    if (target.sslMode === undefined && flags.server.sslMode !== undefined) target.sslMode = flags.server.sslMode;
  }
  if (target.host === undefined) {
    throw inputError(
      'TARGET_REQUIRED',
      'target',
      "target: no target server given; use --name SERVER with --migration-name, --server-name SERVER, --target-host H [--target-port P] or --target-url, or put the target in the properties file (without --migration-name, --name names the migration, as in az 2.86+; az before 2.86 read `--name SERVER` alone as the server and named the migration with a new UUID, azure-cli's migration_create_func: pgferry does not guess which you meant)",
    );
  }
  if (target.user === undefined) target.user = targetLogin(target, flags, env);
  return target;
}

/** The login no flag or body gave: the server's PGFERRY_SERVER_HOSTS user, then PGUSER, then ~/.pgpass. */
function targetLogin(target: Record<string, unknown>, flags: TargetFlags, env: NodeJS.ProcessEnv): string {
  const host = String(target.host);
  const port = typeof target.port === 'number' ? target.port : 5432;
  const database = typeof target.maintenanceDatabase === 'string' ? target.maintenanceDatabase : 'postgres';
  const mappedUser = flags.server && flags.server.host === host ? flags.server.user : undefined;
  const found = findTargetLogin({ mappedUser, host, port, database }, env);
  if (found) return found.user;
  throw inputError(
    'TARGET_LOGIN_REQUIRED',
    targetFlagOf('user'),
    `${targetFlagOf('user')}: no login found for the target ${host}:${port}; give --target-user (or the user in --target-url or the properties file), or ${noLoginHint(flags.server?.name ?? 'SERVER', host, port)}`,
  );
}

/** Renames a spec error's field to the one the user wrote (longest matching prefix). */
function renameField(error: PgferryError, fieldNames: Readonly<Record<string, string>>): PgferryError {
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
export function specFromProperties(body: unknown, flags: PropertyFlags = {}, env: NodeJS.ProcessEnv = process.env): MigrationSpec {
  const mapped = mapProperties(body, flags, 'create', env);
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
export function targetFromInputs(body: unknown, flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): ServerSpec {
  let raw: Record<string, unknown>;
  let fieldNames: Readonly<Record<string, string>> = {};
  if (body === undefined) {
    raw = applyTargetFlags({}, flags, env);
  } else {
    const mapped = mapProperties(body, { target: flags }, 'target', env);
    raw = mapped.input.target as Record<string, unknown>;
    fieldNames = mapped.fieldNames;
  }
  const parsed = serverSpecSchema.safeParse(raw);
  if (!parsed.success) throw renameField(zodToInputError(parsed.error, 'target'), fieldNames);
  return Object.freeze({ ...parsed.data });
}
