// Server settings shared by every benchmark run.
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
