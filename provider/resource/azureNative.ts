// azure-native Migration's inputs that name servers and Azure resources (API 2025-08-01:
// subscriptionId (2.x and early 3.x), resourceGroupName, serverName, sourceDbServerResourceId, the FQDNs, secretParameters, location,
// tags; azure-native 2.x's targetDbServerName), read at `check` into pgferry's `source` and
// `target` by the reading the CLI gives an Azure body (provider/azure/body.ts), so an azure-native
// program runs with only its class changed. Passwords stay under secretParameters (a Pulumi secret
// in state, PgMigration makes it one) and join the spec only when it is built (toSpecInput).
// Pure: the environment (PGFERRY_SERVER_HOSTS) is an argument.
import { azureServers, isObject, readAzureProperties } from '../azure/body';
import { fromAzureBoolean } from '../azure/names';
import { serverAddress, type ServerAddress } from '../azure/serverName';
import { isPgferryError } from '../engine';
import type { CheckFailure } from './checkFailure';
import { findTargetLogin, noLoginHint, readPgpass, type PgpassReader } from '../azure/targetLogin';

type Props = Record<string, unknown>;

/** azure-native inputs that name the servers: read into source and target, and compared as those. */
const AZURE_NATIVE_SERVER_KEYS = [
  'serverName',
  'targetDbServerName',
  'sourceDbServerResourceId',
  'sourceDbServerFullyQualifiedDomainName',
  'targetDbServerFullyQualifiedDomainName',
  // not azure-native's: the administratorLogin of the server resource serverName came from (pgMigration.ts)
  'targetAdministratorLogin',
] as const;

/**
 * azure-native inputs recorded as given (secretParameters also joins the servers' passwords, and a
 * new one is recorded like a rotated password).
 */
export const AZURE_NATIVE_RECORDED_KEYS = [
  'subscriptionId',
  'resourceGroupName',
  'location',
  'tags',
  'secretParameters',
  'migrationRuntimeResourceId',
] as const;

/** azure-native inputs read into source and target, or recorded; none is a field of the spec. */
export const AZURE_NATIVE_KEYS = [...AZURE_NATIVE_SERVER_KEYS, ...AZURE_NATIVE_RECORDED_KEYS] as const;

/** The inputs that are read as Azure's properties body (its keys, camelCase as azure-native spells them). */
const PROPERTY_KEYS = [
  'sourceDbServerResourceId',
  'sourceDbServerFullyQualifiedDomainName',
  'targetDbServerFullyQualifiedDomainName',
  'secretParameters',
] as const;

/** The server fields that say which server and role; compared when both spellings are given. */
const IDENTITY = ['host', 'port', 'user'] as const;

function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export interface AzureNativeServers {
  readonly inputs: Props;
  readonly failures: CheckFailure[];
  /** Spec path (`source.host`, `target`) → the input the user wrote it as, for messages. */
  readonly fieldNames: Readonly<Record<string, string>>;
}

/** The target server's name: serverName (API 2025-08-01) or targetDbServerName (azure-native 2.x). */
function serverNameOf(inputs: Props, failures: CheckFailure[]): { name?: string; field: string } {
  const a = inputs.serverName;
  const b = inputs.targetDbServerName;
  if (given(a) && given(b) && a !== b) {
    failures.push({
      property: 'serverName',
      reason: `serverName: given as ${JSON.stringify(a)} and targetDbServerName as ${JSON.stringify(b)}; they name one server (azure-native 3.x and 2.x): give one of them`,
    });
  }
  if (given(a)) return typeof a === 'string' ? { name: a, field: 'serverName' } : { field: 'serverName' };
  if (given(b)) return typeof b === 'string' ? { name: b, field: 'targetDbServerName' } : { field: 'targetDbServerName' };
  return { field: 'serverName' };
}

/**
 * Fills `source` and `target` from azure-native's inputs, as the CLI reads the same keys in a body:
 * the source from sourceDbServerResourceId (`host:port@user`, or an Azure resource id of a server
 * or virtual machine found as serverName is: provider/azure/body.ts armSourceAddress), the target
 * from targetDbServerFullyQualifiedDomainName, else from serverName as the CLI reads `--name`
 * (PGFERRY_SERVER_HOSTS, else SERVER.postgres.database.azure.com), its user from
 * secretParameters.targetServerUsername, else as azure/targetLogin.ts finds it (the server resource's
 * administratorLogin, PGFERRY_SERVER_HOSTS, PGUSER, ~/.pgpass). Both spellings of a server given
 * with different values is a failure naming the two; values not known yet are not judged.
 */
export function withAzureNativeServers(
  inputs: Props,
  unknown: (value: unknown) => boolean,
  env: NodeJS.ProcessEnv = process.env,
  pgpass: PgpassReader = readPgpass,
): AzureNativeServers {
  const out: Props = { ...inputs };
  const failures: CheckFailure[] = [];
  const fieldNames: Record<string, string> = {};
  const server = serverNameOf(inputs, failures);
  const picked = Object.fromEntries(PROPERTY_KEYS.filter((k) => given(inputs[k])).map((k) => [k, inputs[k]]));
  if (Object.keys(picked).length === 0 && server.name === undefined) return { inputs: out, failures, fieldNames };
  if (unknown(picked) || (given(inputs[server.field]) && unknown(inputs[server.field]))) {
    // not known until up: the servers are judged then
    if (!given(out.source) && given(picked.sourceDbServerResourceId)) out.source = picked.sourceDbServerResourceId;
    if (!given(out.target))
      out.target = unknown(inputs[server.field]) ? inputs[server.field] : picked.targetDbServerFullyQualifiedDomainName;
    return { inputs: out, failures, fieldNames };
  }
  let servers;
  try {
    const { p, at } = readAzureProperties(picked, '');
    servers = azureServers(p, at, 'target', env);
  } catch (error) {
    if (!isPgferryError(error)) throw error;
    failures.push({ property: error.field ?? 'sourceDbServerResourceId', reason: error.message });
    return { inputs: out, failures, fieldNames };
  }
  const fromId = given(picked.sourceDbServerResourceId) || given(picked.sourceDbServerFullyQualifiedDomainName);
  const source = withoutPassword(servers.source);
  if (fromId || given(source.user)) {
    for (const key of IDENTITY) if (servers.fieldNames[`source.${key}`]) fieldNames[`source.${key}`] = servers.fieldNames[`source.${key}`]!;
    fieldNames.source = 'sourceDbServerResourceId';
    merge(out, 'source', source, servers.fieldNames, failures, unknown);
  }

  const target: Props = withoutPassword(servers.target);
  let address;
  try {
    address = server.name === undefined ? undefined : serverAddress(server.name, env);
  } catch (error) {
    if (!isPgferryError(error)) throw error;
    failures.push({ property: server.field, reason: `${server.field}: ${error.message}` });
    return { inputs: out, failures, fieldNames };
  }
  if (!given(target.host) && address !== undefined) {
    target.host = address.host;
    if (address.port !== undefined) target.port = address.port;
    Object.assign(target, mappedTls(address));
    fieldNames['target.host'] = server.field;
    fieldNames['target.port'] = server.field;
    fieldNames.target = server.field;
  } else if (given(target.host)) {
    fieldNames['target.host'] = 'targetDbServerFullyQualifiedDomainName';
    fieldNames.target = 'targetDbServerFullyQualifiedDomainName';
  }
  if (servers.fieldNames['target.user'] && given(servers.target.user)) fieldNames['target.user'] = servers.fieldNames['target.user'];
  if (given(target.host) || given(target.user)) {
    const ours = isObject(inputs.target) ? inputs.target : undefined;
    if (!given(target.user) && !given(ours?.user)) {
      const login = inputs.targetAdministratorLogin;
      if (given(login) && unknown(login)) target.user = login;
      else {
        const found = findTargetLogin(
          {
            administratorLogin: typeof login === 'string' && login !== '' ? login : undefined,
            mappedUser: address?.user,
            host: String(target.host),
            port: typeof target.port === 'number' ? target.port : 5432,
            database: typeof ours?.maintenanceDatabase === 'string' ? ours.maintenanceDatabase : 'postgres',
          },
          env,
          pgpass,
        );
        if (found) target.user = found.user;
        else if (!given(inputs.target)) failures.push(noLogin(server.name, target));
      }
    }
    merge(out, 'target', target, servers.fieldNames, failures, unknown);
  }
  return { inputs: out, failures, fieldNames };
}

/** What PGFERRY_SERVER_HOSTS says of a mapped server's TLS: its own name, and the entry's ?sslmode=. */
function mappedTls(address: ServerAddress): Props {
  return Object.fromEntries(
    Object.entries({ sslServerName: address.sslServerName, sslMode: address.sslMode }).filter(([, v]) => v !== undefined),
  );
}

/** The one line naming the ways to give the target's login (docs/pulumi.md, "The target's login"). */
function noLogin(name: string | undefined, target: Props): CheckFailure {
  const where = `${String(target.host)}:${typeof target.port === 'number' ? target.port : 5432}`;
  const server = name === undefined ? `"${where}"` : `server "${name}" (${where})`;
  return {
    property: 'secretParameters.targetServerUsername',
    reason: `secretParameters.targetServerUsername: required: no login found for ${server}; give it here, or pass the azure-native server resource's name as serverName (its administratorLogin is used), or ${noLoginHint(name ?? 'NAME', String(target.host), typeof target.port === 'number' ? target.port : 5432)}`,
  };
}

function withoutPassword(server: Props): Props {
  const { password: _password, ...rest } = server;
  void _password;
  return rest;
}

/** `side` from azure-native's inputs, or pgferry's own `side` when given: the two must agree. */
function merge(
  out: Props,
  side: 'source' | 'target',
  mapped: Props,
  names: Readonly<Record<string, string>>,
  failures: CheckFailure[],
  unknown: (value: unknown) => boolean,
): void {
  const ours = out[side];
  if (!isObject(ours)) {
    if (!given(ours)) out[side] = mapped;
    return;
  }
  const merged: Props = { ...ours };
  for (const key of IDENTITY) {
    const a = mapped[key];
    const b = ours[key];
    if (!given(a)) continue;
    if (!given(b)) merged[key] = a;
    else if (!unknown(b) && a !== b) {
      const azure = names[`${side}.${key}`] ?? (side === 'source' ? 'sourceDbServerResourceId' : 'serverName');
      failures.push({
        property: azure,
        reason: `${azure}: gives ${side}.${key} ${JSON.stringify(a)} and ${side}.${key} is ${JSON.stringify(b)}; they are one server under two names (azure-native's and pgferry's): give one of them`,
      });
    }
  }
  // the server's own name, when the address it was mapped to is the one given
  if (!given(ours.host) || ours.host === mapped.host) {
    for (const key of ['sslServerName', 'sslMode']) if (given(mapped[key]) && !given(ours[key])) merged[key] = mapped[key];
  }
  out[side] = merged;
}

/** An ARM id of a Single Server (Microsoft.DBforPostgreSQL/servers, not flexibleServers). */
const SINGLE_SERVER_ID = /\/providers\/Microsoft\.DBforPostgreSQL\/servers\/[^/]+$/i;

/**
 * Whether Azure would migrate roles from this source: only from a Single Server (Microsoft Learn,
 * "Migration of user roles, ownerships, and privileges": users, roles, ownerships and permissions
 * move only when the source is a Single Server); undefined while not known.
 */
function rolesMoveFrom(inputs: Props, unknown: (value: unknown) => boolean): boolean | undefined {
  const type = inputs.sourceType;
  const id = inputs.sourceDbServerResourceId;
  if (given(type)) return unknown(type) ? undefined : String(type).toLowerCase() === 'postgresqlsingleserver';
  if (unknown(id)) return undefined;
  return SINGLE_SERVER_ID.test(String(id));
}

/**
 * Azure's defaults where pgferry's differ, for a program written as azure-native writes one (its
 * source named by sourceDbServerResourceId): roles move only from a Single Server, and a target
 * database that exists waits for the overwrite to be confirmed (azure-native's overwriteDbsInTarget:
 * "If set to 'False' ... it will wait for a confirmation"). An existing migration keeps the values
 * it was created with, so a new default never changes one under way.
 */
export function withAzureDefaults(olds: Props, inputs: Props, unknown: (value: unknown) => boolean): Props {
  if (!given(inputs.sourceDbServerResourceId)) return inputs;
  const out: Props = { ...inputs };
  const created = Object.keys(olds ?? {}).length > 0;
  const defaults: Props = {
    migrateRoles: created ? fromAzureBoolean(olds.migrateRoles) : rolesMoveFrom(inputs, unknown),
    waitForOverwriteConfirmation: created ? olds.waitForOverwriteConfirmation : true,
  };
  for (const [key, value] of Object.entries(defaults)) if (!given(inputs[key]) && given(value)) out[key] = value;
  return out;
}

/** The passwords of secretParameters.adminCredentials, for the spec (never stored anywhere else). */
export function withSecretParameters(inputs: Props): Props {
  const secrets = inputs.secretParameters;
  if (!isObject(secrets)) return inputs;
  const admin = isObject(secrets.adminCredentials) ? secrets.adminCredentials : {};
  const out: Props = { ...inputs };
  for (const [side, key] of [
    ['source', 'sourceServerPassword'],
    ['target', 'targetServerPassword'],
  ] as const) {
    const password = admin[key];
    const server = out[side];
    if (typeof password === 'string' && isObject(server) && !given(server.password)) out[side] = { ...server, password };
  }
  return out;
}
