// A real PgBouncer (Debian's package) in front of a suite's source, for the cutover through a
// pooler: started by provider/localpg/pgbouncer.ts, the one home of a local PgBouncer (the demo's
// too), and what the suites add around it: a source database an application writes through it, and
// the migration's `pooler` input naming it.
import type { Cluster } from '../../provider/localpg/cluster';
import type { LocalPgBouncer } from '../../provider/localpg/pgbouncer';

export { startPgBouncer, type LocalPgBouncer as PgBouncer } from '../../provider/localpg/pgbouncer';

/**
 * A source database an application writes through the pooler: `items` (rows the application never
 * writes) and `writes` (its own, with the port each write landed on), `appUser` granted what it writes.
 */
export async function createPooledDatabase(source: Cluster, db: string, appUser: string, rows = 2000): Promise<void> {
  await source.query(`CREATE DATABASE ${db}`);
  await source.query(
    `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
     INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;
     CREATE TABLE writes (n int PRIMARY KEY, at_port int NOT NULL);
     GRANT SELECT, INSERT ON writes TO ${appUser};`,
    [],
    db,
  );
}

/** The migration's `pooler` input for this PgBouncer: its address, admin user and file. */
export function poolerInputOf(pooler: LocalPgBouncer) {
  return { host: pooler.host, port: pooler.port, user: pooler.adminUser, password: pooler.adminPassword, configFile: pooler.configFile };
}
