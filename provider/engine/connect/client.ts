// Opening connections to a server described by a ServerSpec, with libpq's sslmode semantics,
// and the environment handed to pg_dump/pg_restore (passwords travel in the environment, never
// on a command line).
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { ServerSpec } from '../input/migrationSpec';

export interface OpenOptions {
  /** Database to connect to; the spec's maintenance database by default. */
  readonly database?: string;
  /** Open a logical replication connection (`replication=database`). */
  readonly replication?: boolean;
  readonly applicationName?: string;
  /** Milliseconds to wait for the connection. */
  readonly connectTimeoutMs?: number;
}

const NO_SSL_MESSAGE = /does not support SSL/i;

/** Servers that answered "no SSL" to a `prefer` attempt: later connections skip the TLS try. */
const plainServers = new Set<string>();

function tlsOptions(server: ServerSpec): ConnectionOptions | false {
  const ca = server.sslRootCert ? readFileSync(server.sslRootCert) : undefined;
  switch (server.sslMode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // Chain must verify, the host name is not checked (libpq's verify-ca).
      return { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
    case 'verify-full':
      // pg checks the certificate against the host (as SNI only when it is a name: RFC 6066).
      return { rejectUnauthorized: true, ca };
  }
}

function clientConfig(server: ServerSpec, options: OpenOptions = {}, ssl = tlsOptions(server)): pg.ClientConfig {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    // undefined lets pg fall back to PGPASSWORD and ~/.pgpass
    password: server.password,
    database: options.database ?? server.maintenanceDatabase,
    ssl,
    application_name: options.applicationName ?? 'pgferry',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.replication ? { replication: 'database' } : {}),
  } as pg.ClientConfig;
}

/** Opens a client; `prefer` tries TLS first and falls back to plain when the server has none. */
export async function openClient(server: ServerSpec, options: OpenOptions = {}): Promise<pg.Client> {
  const key = `${server.host}:${server.port}`;
  const preferPlain = server.sslMode === 'prefer' && plainServers.has(key);
  const client = new pg.Client(clientConfig(server, options, preferPlain ? false : tlsOptions(server)));
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    if (server.sslMode === 'prefer' && !preferPlain && NO_SSL_MESSAGE.test(String((error as Error).message))) {
      plainServers.add(key);
      const plain = new pg.Client(clientConfig(server, options, false));
      try {
        await plain.connect();
        return plain;
      } catch (second) {
        await plain.end().catch(() => undefined);
        throw second;
      }
    }
    throw error;
  }
}

/** libpq environment for pg_dump / pg_restore / pg_dumpall: secrets only in the environment. */
export function libpqEnv(server: ServerSpec, database: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: server.host,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGDATABASE: database,
    PGSSLMODE: server.sslMode,
    PGAPPNAME: 'pgferry',
    PGCONNECT_TIMEOUT: '30',
  };
  if (server.password !== undefined) env.PGPASSWORD = server.password;
  if (server.sslRootCert) env.PGSSLROOTCERT = server.sslRootCert;
  return env;
}
