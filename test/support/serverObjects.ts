// What a server holds beside its data, one line per object, to tell what a migration left behind:
// in each database its schemas (with their comments), the control schema's relations, functions,
// triggers, event triggers, publications, the database's settings and replica identities; in the
// cluster its slots, replication origins, roles and databases' comments.
import type { Cluster } from '../../provider/localpg/cluster';

/** One database's objects outside PostgreSQL's own schemas, one line each. */
export async function databaseObjects(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ line: string }>(
    `SELECT 'schema ' || n.nspname || coalesce(' comment ' || obj_description(n.oid, 'pg_namespace'), '') AS line
       FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
     UNION ALL
     SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'pgferry' AND c.relkind IN ('r', 'p', 'v', 'S')
     UNION ALL
     SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
     UNION ALL
     SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text || ' ' || t.tgenabled::text FROM pg_trigger t WHERE NOT t.tgisinternal
     UNION ALL
     SELECT 'event trigger ' || e.evtname FROM pg_event_trigger e
     UNION ALL
     SELECT 'publication ' || p.pubname FROM pg_publication p
     UNION ALL
     SELECT 'setting ' || array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
      WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.setrole = 0
     UNION ALL
     SELECT 'identity ' || c.relname || ' ' || c.relreplident::text FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relreplident <> 'd'
     ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => `${db}: ${r.line}`);
}

/** A cluster's own objects: replication slots and origins, roles, the databases' comments. */
async function clusterObjects(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ line: string }>(
    `SELECT 'slot ' || slot_name || ' in ' || coalesce(database, '-') AS line FROM pg_replication_slots
     UNION ALL SELECT 'origin ' || roname FROM pg_replication_origin
     UNION ALL SELECT 'role ' || rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'
     UNION ALL SELECT 'database ' || datname || ' comment ' || shobj_description(oid, 'pg_database') FROM pg_database
      WHERE shobj_description(oid, 'pg_database') IS NOT NULL
     ORDER BY 1`,
  );
  return rows.map((r) => r.line);
}

/** Everything listed on one server: the cluster's objects, then each of `databases` (and postgres) that exists there. */
export async function serverObjects(cluster: Cluster, databases: readonly string[]): Promise<string[]> {
  const present = await cluster.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1', [
    ['postgres', ...databases],
  ]);
  const lines = await clusterObjects(cluster);
  for (const { datname } of present) lines.push(...(await databaseObjects(cluster, datname)));
  return lines;
}
