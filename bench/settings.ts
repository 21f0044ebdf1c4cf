// Server settings shared by every benchmark run, and how the apply labs name a local cluster.
import type { Cluster } from '../provider/localpg/cluster';

/** The apply labs' stream: their database, slot, publication and the names the Applier records under. */
export const LAB_STREAM = {
  database: 'lab',
  slot: 'drain',
  publication: 'labpub',
  origin: 'pgferry_lab',
  migration: 'lab',
  cutoverPrefix: 'pgferry-lab',
} as const;

/** A lab cluster as the engine's server spec (its superuser, no TLS). */
export const labServer = (c: Cluster) => ({
  host: c.host,
  port: c.port,
  user: c.user,
  password: c.password,
  sslMode: 'disable' as const,
  maintenanceDatabase: 'postgres',
});

/**
 * The same settings on both clusters and for every tool. Durability as users run PostgreSQL
 * (fsync, synchronous_commit, full_page_writes and wal_init_zero on, overriding startCluster's test
 * defaults) unless the run asks for the labelled --fsync-off extra. Autovacuum is off so no
 * background vacuum lands in one tool's run and not another's; every offline tool's timed run ends
 * with the same VACUUM ANALYZE work (bench/tools.ts). The online part turns autovacuum back on
 * (onlineScenarios.ts).
 */
export function benchSettings(fsyncOff: boolean): Readonly<Record<string, string>> {
  const durability = fsyncOff ? 'off' : 'on';
  return {
    shared_buffers: "'512MB'",
    max_wal_size: "'8GB'",
    checkpoint_timeout: "'30min'",
    maintenance_work_mem: "'256MB'",
    wal_buffers: "'16MB'",
    autovacuum: 'off',
    fsync: durability,
    synchronous_commit: durability,
    full_page_writes: durability,
    wal_init_zero: durability,
  };
}
