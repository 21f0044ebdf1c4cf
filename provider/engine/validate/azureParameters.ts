// A small allow-list of the server parameters a user can set on Azure Database for PostgreSQL
// Flexible Server (Server parameters blade / `az postgres flexible-server parameter set`). Not
// exhaustive: the common tuning, WAL, replication, logging, autovacuum and planner parameters,
// checked against Azure's own list
// https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-server-parameters
// (and its per-category tables, server-parameters-table-*). A parameter missing here is reported
// as "not known to be settable on Azure" and left out of the recommended settings; add it here
// once Azure's list shows it. Names are lower case, as Azure spells them (TimeZone is timezone).
export const AZURE_USER_PARAMETERS: ReadonlySet<string> = new Set([
  // resource usage
  'shared_buffers',
  'work_mem',
  'maintenance_work_mem',
  'autovacuum_work_mem',
  'temp_buffers',
  'hash_mem_multiplier',
  'effective_cache_size',
  'effective_io_concurrency',
  'max_connections',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'max_worker_processes',
  'max_parallel_workers',
  'max_parallel_workers_per_gather',
  'max_parallel_maintenance_workers',
  'huge_pages',
  // WAL, checkpoints, replication
  'wal_level',
  'wal_buffers',
  'wal_compression',
  'max_wal_size',
  'min_wal_size',
  'checkpoint_timeout',
  'checkpoint_completion_target',
  'synchronous_commit',
  'max_wal_senders',
  'max_replication_slots',
  'max_logical_replication_workers',
  'max_slot_wal_keep_size',
  'wal_sender_timeout',
  // planner
  'random_page_cost',
  'seq_page_cost',
  'default_statistics_target',
  'jit',
  'enable_partitionwise_join',
  'enable_partitionwise_aggregate',
  // statement behaviour
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'default_transaction_isolation',
  'search_path',
  'timezone',
  'default_toast_compression',
  // logging
  'log_min_duration_statement',
  'log_statement',
  'log_connections',
  'log_disconnections',
  'log_lock_waits',
  'log_checkpoints',
  'log_autovacuum_min_duration',
  'track_io_timing',
  'track_activity_query_size',
  // autovacuum
  'autovacuum',
  'autovacuum_max_workers',
  'autovacuum_naptime',
  'autovacuum_vacuum_scale_factor',
  'autovacuum_analyze_scale_factor',
  'autovacuum_vacuum_cost_limit',
  'autovacuum_vacuum_cost_delay',
  // extensions
  'shared_preload_libraries',
  'azure.extensions',
  'pg_stat_statements.track',
  'cron.database_name',
]);
