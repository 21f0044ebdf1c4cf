// Test fixtures that make a local cluster look like a managed server: an Azure-like target with
// a non-superuser admin (pgadmin ∈ azure_pg_admin) and an azure.extensions allow-list, and a
// non-superuser replication user on a source.
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { ident, literal } from '../../provider/engine/connect/quote';
import type { Cluster } from '../../provider/localpg/cluster';
import { scramSecret, THROWAWAY_SCRAM_ITERATIONS } from '../../provider/localpg/scramSecret';
import { serverSpec } from './servers';

export const DEFAULT_ALLOW_LIST = 'PLPGSQL,TABLEFUNC,UUID-OSSP,HSTORE,CITEXT,PGCRYPTO,PG_TRGM,BTREE_GIST';

export interface ManagedTargetOptions {
  /** Value of azure.extensions; default DEFAULT_ALLOW_LIST. */
  readonly allowList?: string;
  readonly user?: string;
  readonly password?: string;
}

/** Creates a role unless it exists (fixtures may run twice on one cluster). */
async function ensureRole(cluster: Cluster, name: string, attributes: string): Promise<void> {
  const rows = await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  const verb = rows.length ? 'ALTER' : 'CREATE';
  await cluster.query(`${verb} ROLE ${ident(name)} ${attributes}`);
}

/** A role's PASSWORD clause, stored as the test servers store their superuser's (localpg/scramSecret.ts). */
function passwordClause(password: string): string {
  return `PASSWORD ${literal(scramSecret(password, THROWAWAY_SCRAM_ITERATIONS) ?? password)}`;
}

/** Sets azure.extensions on the cluster (ALTER SYSTEM + reload), as the portal does on Azure. */
export async function setAllowList(cluster: Cluster, allowList: string): Promise<void> {
  const client = await cluster.connect();
  try {
    // PostgreSQL 15 refuses ALTER SYSTEM for a placeholder the session has not seen: SET it first.
    await client.query(`SET "azure.extensions" = ${literal(allowList)}`);
    await client.query(`ALTER SYSTEM SET "azure.extensions" = ${literal(allowList)}`);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
  // The reload is asynchronous: wait until new sessions see the value.
  for (let i = 0; i < 100; i++) {
    const [row] = await cluster.query<{ v: string | null }>(`SELECT current_setting('azure.extensions', true) AS v`);
    if (row?.v === allowList) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('azure.extensions did not take effect after pg_reload_conf()');
}

/** Turns a test cluster into an Azure-like target; returns the ServerSpec of its non-superuser admin. */
export async function makeManagedTarget(cluster: Cluster, opts: ManagedTargetOptions = {}): Promise<ServerSpec> {
  const user = opts.user ?? 'pgadmin';
  const password = opts.password ?? 'pgadmin-test-pw';
  await ensureRole(cluster, 'azure_pg_admin', 'NOLOGIN');
  await ensureRole(cluster, user, `LOGIN ${passwordClause(password)} CREATEDB CREATEROLE NOSUPERUSER`);
  await cluster.query(`GRANT azure_pg_admin TO ${ident(user)}`);
  // The control catalog lives in the maintenance database.
  await cluster.query(`GRANT CREATE ON DATABASE postgres TO ${ident(user)}`);
  await setAllowList(cluster, opts.allowList ?? DEFAULT_ALLOW_LIST);
  return serverSpec(cluster, { user, password });
}

export interface ReplicationUserOptions {
  readonly user?: string;
  readonly password?: string;
  /** Grant membership in the owners of the database's tables (default true). */
  readonly memberOfOwners?: boolean;
  /** Give the REPLICATION attribute (default true). */
  readonly replication?: boolean;
}

const TABLE_OWNERS_SQL = `
SELECT DISTINCT r.rolname AS owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'`;

/** A non-superuser source user with LOGIN REPLICATION, member of the owners of db's tables. */
export async function makeReplicationSourceUser(cluster: Cluster, db: string, opts: ReplicationUserOptions = {}): Promise<ServerSpec> {
  const user = opts.user ?? 'migrator';
  const password = opts.password ?? 'migrator-test-pw';
  const replication = opts.replication ?? true;
  await ensureRole(cluster, user, `LOGIN ${passwordClause(password)} NOSUPERUSER ${replication ? 'REPLICATION' : 'NOREPLICATION'}`);
  if (opts.memberOfOwners ?? true) {
    const owners = await cluster.query<{ owner: string }>(TABLE_OWNERS_SQL, [], db);
    for (const { owner } of owners) {
      if (owner !== user) await cluster.query(`GRANT ${ident(owner)} TO ${ident(user)}`);
    }
  }
  return serverSpec(cluster, { user, password });
}
