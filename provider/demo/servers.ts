// The demo's two servers behind one shape: its own throwaway ones (a PostgreSQL 15 source and a 16
// target, or 15 when the embedded 16 is missing), or two a user already has (--source-url,
// --target-url), which the demo checks before it changes anything on them.
import type pg from 'pg';
import { parseMigrationSpec, type ServerSpec } from '../engine';
import { openClient } from '../engine';
import { startCluster, type Cluster } from '../localpg/cluster';

export interface DemoServer {
  /** The server as a migration spec takes it (existing servers: no password, PGPASSWORD or ~/.pgpass). */
  readonly input: Readonly<Record<string, unknown>>;
  /** `PostgreSQL 15 on 127.0.0.1:5432`. */
  readonly label: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
}

export interface DemoServers {
  readonly source: DemoServer;
  readonly target: DemoServer;
  /** The user's servers: names must not collide with an earlier run's, and nothing is removed. */
  readonly existing: boolean;
}

function ownServer(cluster: Cluster): DemoServer {
  return {
    input: { host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, sslMode: 'prefer' },
    label: `PostgreSQL ${cluster.major} on ${cluster.host}:${cluster.port}`,
    query: (sql, params, database) => cluster.query(sql, params, database),
  };
}

export async function startOwnServers(): Promise<DemoServers> {
  // The target plays Azure Flexible Server (PostgreSQL 16); the source stays at 15 because the
  // machine's pg_dump is 15 and must be at least the source's major version.
  const source = await startCluster({ major: 15, label: 'demo-src' });
  let target: Cluster;
  try {
    target = await startCluster({ major: 16, label: 'demo-dst' });
  } catch {
    target = await startCluster({ major: 15, label: 'demo-dst' });
  }
  return { source: ownServer(source), target: ownServer(target), existing: false };
}

function existingServer(spec: ServerSpec, version: string): DemoServer {
  return {
    input: spec,
    label: `PostgreSQL ${version} on ${spec.host}:${spec.port}`,
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database?: string): Promise<R[]> {
      const client = await openClient(spec, { database, applicationName: 'pgferry demo' });
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

async function serverVersion(spec: ServerSpec, role: string): Promise<string> {
  try {
    const client = await openClient(spec, { applicationName: 'pgferry demo' });
    try {
      // "15.20 (Debian 15.20-0+deb12u1)": the number is enough
      return (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v.split(' ')[0]!;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    const where = `${spec.host}:${spec.port} (user "${spec.user}", database "${spec.maintenanceDatabase}")`;
    throw new Error(`cannot connect to the ${role} ${where}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

/** The user's two servers, connected to once to read their versions (a failure names the server). */
export async function existingServers(
  source: Record<string, unknown>,
  target: Record<string, unknown>,
  database: string,
): Promise<DemoServers> {
  const spec = parseMigrationSpec({ migrationName: 'demo', source, target, databases: [database] });
  const [sourceVersion, targetVersion] = await Promise.all([serverVersion(spec.source, 'source'), serverVersion(spec.target, 'target')]);
  return { source: existingServer(spec.source, sourceVersion), target: existingServer(spec.target, targetVersion), existing: true };
}

/**
 * Why the demo may not run on the user's servers, read before it changes anything: it creates
 * `database` on the source and lets the migrations create it on the target, so neither may hold
 * one already (the demo never touches a database it did not create); the online half needs
 * logical decoding on the source.
 */
export async function existingServersProblems(servers: DemoServers, database: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [role, server] of [
    ['source', servers.source],
    ['target', servers.target],
  ] as const) {
    if ((await server.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).length > 0) {
      problems.push(
        `the ${role} already has a database "${database}": the demo creates it and never touches one it did not create (an earlier demo's? DROP DATABASE ${database} there, or choose another server)`,
      );
    }
  }
  const [{ wal_level: walLevel }] = (await servers.source.query('SHOW wal_level')) as [{ wal_level: string }];
  if (walLevel !== 'logical') {
    problems.push(
      `the source's wal_level is ${walLevel}: the online half streams changes by logical decoding (ALTER SYSTEM SET wal_level = logical, then restart the source)`,
    );
  }
  return problems;
}
