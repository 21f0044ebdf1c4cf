// Read-only sessions for the checks: every connection the validator opens refuses writes, so a
// validation run cannot change either server even by mistake.
import type pg from 'pg';
import { closeSession, openSession, serverMajor } from '../connect/session';
import type { ServerSpec } from '../input/migrationSpec';
import type { ServerRole } from './result';

/** Connect timeout for checks: long enough for a WAN hop, short enough to report a dead host. */
export const VALIDATION_CONNECT_TIMEOUT_MS = 15_000;

const SESSION_INFO_SQL = `
SELECT current_setting('server_version') AS version,
       r.rolname AS user_name,
       r.rolsuper AS superuser,
       r.rolcreatedb AS createdb,
       r.rolcreaterole AS createrole,
       r.rolreplication AS replication,
       (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl
FROM pg_roles r
WHERE r.rolname = current_user`;

export interface ServerInfo {
  readonly major: number;
  readonly version: string;
  readonly user: string;
  readonly superuser: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  readonly replication: boolean;
  readonly ssl: boolean;
}

export interface ServerSession {
  readonly role: ServerRole;
  readonly spec: ServerSpec;
  readonly client: pg.Client;
  readonly info: ServerInfo;
}

/** Opens a client whose transactions are all READ ONLY. */
export async function openReadOnly(server: ServerSpec, database?: string): Promise<pg.Client> {
  return openSession(server, { database, purpose: 'validate', readOnly: true, connectTimeoutMs: VALIDATION_CONNECT_TIMEOUT_MS });
}

export async function readServerInfo(client: pg.Client): Promise<ServerInfo> {
  const major = await serverMajor(client);
  const { rows } = await client.query(SESSION_INFO_SQL);
  const row = rows[0] as Record<string, unknown>;
  return {
    major,
    version: String(row.version),
    user: String(row.user_name),
    superuser: row.superuser === true,
    createdb: row.createdb === true,
    createrole: row.createrole === true,
    replication: row.replication === true,
    ssl: row.ssl === true,
  };
}

/** Closes clients, ignoring errors (validation's cleanup must not mask its findings). */
export async function closeAll(clients: readonly (pg.Client | undefined)[]): Promise<void> {
  await Promise.all(clients.map(closeSession));
}
