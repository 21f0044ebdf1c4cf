// Server settings shared by every benchmark run.
/**
 * Bulk-load settings, identical on both clusters and for every tool. fsync, synchronous_commit
 * and full_page_writes stay off as in the tests (startCluster's defaults): durability costs are
 * then the same (none) for every tool. Autovacuum is off so no background vacuum lands in one
 * tool's run and not another's; the tools that analyze (pgferry, pgcopydb) do it themselves. The
 * online part turns it back on (see onlineScenarios.ts).
 */
export const BENCH_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: "'512MB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'30min'",
  maintenance_work_mem: "'256MB'",
  wal_buffers: "'16MB'",
  autovacuum: 'off',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};
