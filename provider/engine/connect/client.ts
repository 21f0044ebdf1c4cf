// Opening connections to a server described by a ServerSpec, with libpq's sslmode semantics,
// and the environment handed to pg_dump/pg_restore (passwords travel in the environment, never
// on a command line).
import { readFileSync } from 'node:fs';
import { devNull } from 'node:os';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import pg from 'pg';
import { isAzureHost, tlsNameOf } from '../input/azureHosts';
import type { ServerSpec } from '../input/migrationSpec';
import { azureRootCertificates, azureRootCertificatesFile } from './azureRoots';
import { refuseWhenCutOff, trackClient, untrackClient } from './cutOff';

export interface OpenOptions {
  /** Database to connect to; the spec's maintenance database by default. */
  readonly database?: string;
  /** Open a logical replication connection (`replication=database`). */
  readonly replication?: boolean;
  readonly applicationName?: string;
  /** Milliseconds to wait for the connection. */
  readonly connectTimeoutMs?: number;
  /** pg's pipeline mode: each query is sent at once, without waiting for the answers before it. */
  readonly pipeline?: boolean;
}

const NO_SSL_MESSAGE = /does not support SSL/i;

/** Servers that answered "no SSL" to a `prefer` attempt: later connections skip the TLS try. */
const plainServers = new Set<string>();

/**
 * Logins (host, port, user) this process reaches with no password at all: a source whose stored spec
 * has none while PGPASSWORD is the target's (the CLI's commands that reach it without a body). pg
 * is handed a password callback that fails, and libpq no PGPASSWORD nor password file, so nothing
 * stands in for the missing password: such a server is reached where it asks for none (trust,
 * peer, a client certificate) and refused, with PasswordAsked, where it asks.
 */
const passwordless = new Set<string>();

function loginKey(server: ServerSpec): string {
  return JSON.stringify([server.host, server.port, server.user]);
}

/** From now on this process sends no password to this login unless its spec carries one. */
export function reachWithoutPassword(server: ServerSpec): void {
  passwordless.add(loginKey(server));
}

/** The server asked a login reached without a password for one. */
export class PasswordAsked extends Error {
  constructor(server: ServerSpec) {
    super(`${server.host}:${server.port} asks user "${server.user}" for a password`);
    this.name = 'PasswordAsked';
  }
}

/** What pg is given as the password: the spec's, none at all for a passwordless login, else pg's own fallbacks. */
function passwordOf(server: ServerSpec): pg.ClientConfig['password'] {
  if (server.password !== undefined || !passwordless.has(loginKey(server))) return server.password;
  return () => Promise.reject(new PasswordAsked(server));
}

/**
 * The roots a verifying mode checks the chain against: the user's sslRootCert, else Azure's root CAs
 * for an Azure server (Azure's advice: trust only its roots), else Node's root store.
 */
function trustedRoots(server: ServerSpec): ConnectionOptions['ca'] {
  if (server.sslRootCert) return readFileSync(server.sslRootCert);
  return isAzureHost(tlsNameOf(server)) ? [...azureRootCertificates()] : undefined;
}

function tlsOptions(server: ServerSpec): ConnectionOptions | false {
  switch (server.sslMode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // Chain must verify, the host name is not checked (libpq's verify-ca).
      return { rejectUnauthorized: true, ca: trustedRoots(server), checkServerIdentity: () => undefined };
    case 'verify-full': {
      // pg checks the certificate against the host (as SNI only when it is a name: RFC 6066); a
      // server reached at another address is checked against its own name (sslServerName).
      const name = tlsNameOf(server);
      const identity =
        name === server.host ? {} : { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert) };
      return { rejectUnauthorized: true, ca: trustedRoots(server), ...identity };
    }
  }
}

function clientConfig(server: ServerSpec, options: OpenOptions = {}, ssl = tlsOptions(server)): pg.ClientConfig {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    // undefined lets pg fall back to PGPASSWORD and ~/.pgpass
    password: passwordOf(server),
    database: options.database ?? server.maintenanceDatabase,
    ssl,
    application_name: options.applicationName ?? 'pgferry',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.replication ? { replication: 'database' } : {}),
    ...(options.pipeline ? { pipeline: true } : {}),
  } as pg.ClientConfig;
}

/**
 * A client whose errors outside a query are heard, from before it connects: a connection dropped
 * while idle surfaces on the next query instead of crashing the process. It must be heard before
 * connect returns, because the server's ending of a session that is just becoming ready (the writer
 * fence, a DBA's pg_terminate_backend) can reach the client in the same read as the readiness, and
 * pg reports it at once, before any code awaiting the connection runs.
 */
function listening(client: pg.Client): pg.Client {
  client.on('error', () => undefined);
  // counted from before it connects, so a runner cut off from the servers ends it while it connects too
  return trackClient(client);
}

/** Opens a client; `prefer` tries TLS first and falls back to plain when the server has none. */
export async function openClient(server: ServerSpec, options: OpenOptions = {}): Promise<pg.Client> {
  refuseWhenCutOff();
  const key = `${server.host}:${server.port}`;
  const preferPlain = server.sslMode === 'prefer' && plainServers.has(key);
  const client = listening(new pg.Client(clientConfig(server, options, preferPlain ? false : tlsOptions(server))));
  try {
    await client.connect();
    return client;
  } catch (error) {
    untrackClient(client);
    await client.end().catch(() => undefined);
    refuseWhenCutOff();
    if (server.sslMode === 'prefer' && !preferPlain && NO_SSL_MESSAGE.test(String((error as Error).message))) {
      plainServers.add(key);
      const plain = listening(new pg.Client(clientConfig(server, options, false)));
      try {
        await plain.connect();
        return plain;
      } catch (second) {
        untrackClient(plain);
        await plain.end().catch(() => undefined);
        throw second;
      }
    }
    throw error;
  }
}

/**
 * libpq environment for pg_dump / pg_restore / pg_dumpall: secrets only in the environment. A
 * server reached at another address than its own name is given to libpq as its name (PGHOST, what
 * verify-full checks) and the address (PGHOSTADDR, which libpq takes as a number only).
 */
export async function libpqEnv(server: ServerSpec, database: string): Promise<NodeJS.ProcessEnv> {
  const name = tlsNameOf(server);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: name,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGDATABASE: database,
    PGSSLMODE: server.sslMode,
    PGAPPNAME: 'pgferry',
    PGCONNECT_TIMEOUT: '30',
  };
  if (name !== server.host) env.PGHOSTADDR = isIP(server.host) ? server.host : (await lookup(server.host)).address;
  if (server.password !== undefined) env.PGPASSWORD = server.password;
  else if (passwordless.has(loginKey(server))) {
    delete env.PGPASSWORD;
    env.PGPASSFILE = devNull;
  }
  if (server.sslRootCert) env.PGSSLROOTCERT = server.sslRootCert;
  // only for the verifying modes: with a root file libpq turns require into verify-ca
  else if (isAzureHost(name) && server.sslMode.startsWith('verify-')) env.PGSSLROOTCERT = azureRootCertificatesFile();
  return env;
}
