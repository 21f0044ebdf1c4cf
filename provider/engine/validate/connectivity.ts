// Reaching and logging in to each server with its sslMode; a failure names the server and user
// (never the password) and says what to change.
import { closeSession } from '../connect/session';
import { INVALID_AUTHORIZATION, INVALID_CATALOG_NAME, INVALID_PASSWORD, sqlState } from '../connect/sqlstate';
import type { ValidationResult } from '../core/model';
import type { ServerSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, type ServerRole } from './result';
import { openReadOnly, readServerInfo, type ServerSession } from './readOnlySessions';
import { maskSecrets } from '../core/secrets';

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

/** Sorts a connection error into the check's codes. Pure: unit-testable without a server. */
export function classifyConnectError(role: ServerRole, server: ServerSpec, error: unknown): ValidationResult {
  const type = CHECK_TYPES.connectivity;
  const scope = { server: role };
  const who = `${role} ${server.host}:${server.port} as user "${server.user}"`;
  const state = sqlState(error);
  const errno = (error as { code?: unknown } | null)?.code;
  const text = maskSecrets(String((error as Error | null)?.message ?? error), [server.password]);
  if (state === INVALID_PASSWORD || /password must be a string|password authentication failed|SASL/i.test(text)) {
    return failed(
      CODES.AUTHENTICATION,
      type,
      `authentication failed on the ${who}: ${text}`,
      `check ${role}.user and ${role}.password (or PGPASSWORD / ~/.pgpass) for "${server.user}" on ${server.host}`,
      scope,
    );
  }
  if (state === INVALID_AUTHORIZATION) {
    return failed(
      CODES.AUTHENTICATION,
      type,
      `the ${who} was refused: ${text}`,
      `make sure role "${server.user}" exists with LOGIN and that pg_hba.conf on ${server.host} allows it from this machine`,
      scope,
    );
  }
  if (state === INVALID_CATALOG_NAME) {
    return failed(
      CODES.MAINTENANCE_DATABASE,
      type,
      `maintenance database "${server.maintenanceDatabase}" does not exist on the ${role} ${server.host}:${server.port}`,
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
  if ((typeof errno === 'string' && TLS_ERRNOS.has(errno)) || /certificate|self[- ]signed|SSL routines/i.test(text)) {
    return failed(
      CODES.SSL_MODE,
      type,
      `TLS with sslMode ${server.sslMode} failed on the ${role} ${server.host}:${server.port}: ${text}`,
      server.sslMode === 'verify-full' || server.sslMode === 'verify-ca'
        ? `set ${role}.sslRootCert to the CA bundle (PEM) that signed the server certificate, or use sslMode require`
        : `set ${role}.sslMode to prefer or require`,
      scope,
    );
  }
  return failed(
    CODES.CONNECTIVITY,
    type,
    `cannot reach the ${role} ${server.host}:${server.port}: ${text}`,
    `check ${role}.host and ${role}.port, that the server is running and listening on that address, and that firewalls/NSGs allow this machine`,
    scope,
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
      `connected to the ${role} ${server.host}:${server.port} as "${info.user}" (PostgreSQL ${info.version}, ${info.ssl ? 'TLS' : 'no TLS'}, sslMode ${server.sslMode})`,
      { server: role },
    );
    return { result, session: { role, spec: server, client, info } };
  } catch (error) {
    await closeSession(client);
    return { result: classifyConnectError(role, server, error) };
  }
}
