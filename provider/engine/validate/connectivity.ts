// Reaching and logging in to each server with its sslMode; a failure names the server and user
// (never the password) and says what to change.
import { closeSession } from '../connect/session';
import { INVALID_AUTHORIZATION, INVALID_CATALOG_NAME, INVALID_PASSWORD, sqlState } from '../connect/sqlstate';
import type { ValidationResult } from '../core/model';
import { isAzureHost, isUncheckedTls, tlsNameOf } from '../input/azureHosts';
import type { ServerSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning, type ServerRole } from './result';
import { openReadOnly, readServerInfo, type ServerSession } from './readOnlySessions';
import { maskSecrets } from '../core/secrets';
import { displayIdent } from '../connect/quote';

const TLS_ERRNOS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export interface ConnectOutcome {
  readonly result: ValidationResult;
  readonly session?: ServerSession;
}

/** The line for a TLS handshake that failed: the mode, the roots it checked against, the server, the cause. */
function tlsFailure(role: ServerRole, server: ServerSpec, text: string): string {
  const name = tlsNameOf(server);
  const azureRoots = !server.sslRootCert && isAzureHost(name) && !isUncheckedTls(server.sslMode);
  const roots = server.sslRootCert ? ` against ${role}.sslRootCert` : azureRoots ? " against Azure's root CAs" : '';
  const where = name === server.host ? `${server.host}:${server.port}` : `${name} (at ${server.host}:${server.port})`;
  return `TLS with sslMode ${server.sslMode}${roots} failed on the ${role} ${where}: ${text}`;
}

function tlsFix(role: ServerRole, server: ServerSpec): string {
  if (server.sslMode !== 'verify-full' && server.sslMode !== 'verify-ca') return `set ${role}.sslMode to prefer or require`;
  if (!server.sslRootCert && isAzureHost(tlsNameOf(server))) {
    return `an Azure server's certificate chains to Azure's root CAs, so something else answered for ${tlsNameOf(server)}: check the address it resolves to (PGFERRY_SERVER_HOSTS, DNS); for a server of yours under an Azure name, set ${role}.sslRootCert to the CA (PEM) that signed its certificate`;
  }
  return `set ${role}.sslRootCert to the CA bundle (PEM) that signed the server certificate, or use sslMode require`;
}

/** Whether a connection error is the TLS handshake's (a certificate, a protocol). */
function isTlsError(error: unknown, text: string): boolean {
  const errno = (error as { code?: unknown } | null)?.code;
  return (typeof errno === 'string' && TLS_ERRNOS.has(errno)) || /certificate|self[- ]signed|SSL routines/i.test(text);
}

/** The one line and fix for a connection whose TLS handshake failed, else undefined: for callers outside validation (the CLI). */
export function tlsFailureOf(role: ServerRole, server: ServerSpec, error: unknown): { message: string; fix: string } | undefined {
  const text = maskSecrets(String((error as Error | null)?.message ?? error), [server.password]);
  if (/does not support SSL/i.test(text) || !isTlsError(error, text)) return undefined;
  return { message: tlsFailure(role, server, text), fix: tlsFix(role, server) };
}

/** Sorts a connection error into the check's codes. Pure: unit-testable without a server. */
export function classifyConnectError(role: ServerRole, server: ServerSpec, error: unknown): ValidationResult {
  const type = CHECK_TYPES.connectivity;
  const scope = { server: role };
  const who = `${role} ${server.host}:${server.port} as user ${displayIdent(server.user)}`;
  const state = sqlState(error);
  const text = maskSecrets(String((error as Error | null)?.message ?? error), [server.password]);
  if (state === INVALID_PASSWORD || /password must be a string|password authentication failed|SASL/i.test(text)) {
    return failed(
      CODES.AUTHENTICATION,
      type,
      `authentication failed on the ${who}: ${text}`,
      `check ${role}.user and ${role}.password (or PGPASSWORD / ~/.pgpass) for ${displayIdent(server.user)} on ${server.host}`,
      scope,
    );
  }
  if (state === INVALID_AUTHORIZATION) {
    return failed(
      CODES.AUTHENTICATION,
      type,
      `the ${who} was refused: ${text}`,
      `make sure role ${displayIdent(server.user)} exists with LOGIN and that pg_hba.conf on ${server.host} allows it from this machine`,
      scope,
    );
  }
  if (state === INVALID_CATALOG_NAME) {
    return failed(
      CODES.MAINTENANCE_DATABASE,
      type,
      `maintenance database ${displayIdent(server.maintenanceDatabase)} does not exist on the ${role} ${server.host}:${server.port}`,
      `set ${role}.maintenanceDatabase to an existing database the user can connect to (usually postgres)`,
      scope,
    );
  }
  if (/does not support SSL/i.test(text)) {
    return failed(
      CODES.SSL_MODE,
      type,
      `the ${role} ${server.host}:${server.port} does not accept TLS, but ${role}.sslMode is ${server.sslMode}`,
      `set ${role}.sslMode to prefer (or disable), or enable ssl on the ${role} server`,
      scope,
    );
  }
  if (isTlsError(error, text)) {
    return failed(CODES.SSL_MODE, type, tlsFailure(role, server, text), tlsFix(role, server), scope);
  }
  return failed(
    CODES.CONNECTIVITY,
    type,
    `cannot reach the ${role} ${server.host}:${server.port}: ${text}`,
    `check ${role}.host and ${role}.port, that the server is running and listening on that address, and that firewalls/NSGs allow this machine`,
    scope,
  );
}

/**
 * A warning for an Azure server whose sslMode does not check its certificate (the user chose
 * prefer, require or disable over the verify-full default): whoever answers for its address (a
 * spoofed DNS record, a hop on the path) is taken for the server and is sent the password and the
 * data. Undefined when the mode checks it, or the server is not Azure's.
 */
export function uncheckedTlsWarning(role: ServerRole, server: ServerSpec): ValidationResult | undefined {
  const name = tlsNameOf(server);
  if (!isAzureHost(name) || !isUncheckedTls(server.sslMode)) return undefined;
  return warning(
    CODES.SSL_MODE,
    CHECK_TYPES.connectivity,
    `the ${role} ${name} is an Azure server and ${role}.sslMode ${server.sslMode} does not check its certificate: whoever answers for its address (a spoofed DNS record, a machine on the path) is sent the password and the data`,
    `leave ${role}.sslMode unset (verify-full with Azure's root CAs, the default for Azure servers) or set it to verify-full`,
    { server: role },
  );
}

/** Connects to a server's maintenance database and reads who we are there. */
export async function checkConnectivity(role: ServerRole, server: ServerSpec): Promise<ConnectOutcome> {
  let client;
  try {
    client = await openReadOnly(server);
    const info = await readServerInfo(client);
    const result = succeeded(
      CODES.CONNECTIVITY,
      CHECK_TYPES.connectivity,
      `connected to the ${role} ${server.host}:${server.port} as ${displayIdent(info.user)} (PostgreSQL ${info.version}, ${info.ssl ? 'TLS' : 'no TLS'}, sslMode ${server.sslMode})`,
      { server: role },
    );
    return { result, session: { role, spec: server, client, info } };
  } catch (error) {
    await closeSession(client);
    return { result: classifyConnectError(role, server, error) };
  }
}
