// The stable result codes of the premigration checks, with the Azure error number each mirrors.
// Tests and callers match on these; the wording of messages may change, these may not.
export const CODES = {
  // AuthenticationAndConnectivityValidation
  CONNECTIVITY: 'CONNECTIVITY', // 603000 (Succeeded when connected)
  AUTHENTICATION: 'AUTHENTICATION', // 603100
  SSL_MODE: 'SSL_MODE', // 603001
  MAINTENANCE_DATABASE: 'MAINTENANCE_DATABASE',
  /** Source and target are one server (system identifier or a lock seen from both). */
  SAME_SERVER: 'SAME_SERVER',
  CHECKS_SKIPPED: 'CHECKS_SKIPPED',
  /** A check itself errored (e.g. a catalog view it needs is not readable). */
  CHECK_ERROR: 'CHECK_ERROR',
  // SourceVersionValidation
  SERVER_VERSION: 'SERVER_VERSION',
  SOURCE_VERSION_UNSUPPORTED: 'SOURCE_VERSION_UNSUPPORTED', // 603400
  TARGET_VERSION_OLDER: 'TARGET_VERSION_OLDER', // 603400 (downgrade)
  // DatabaseValidation
  SOURCE_DATABASE: 'SOURCE_DATABASE',
  SOURCE_DATABASE_MISSING: 'SOURCE_DATABASE_MISSING', // 603102
  SOURCE_DATABASE_NOT_CONNECTABLE: 'SOURCE_DATABASE_NOT_CONNECTABLE',
  TARGET_DATABASE: 'TARGET_DATABASE',
  TARGET_DATABASE_EXISTS: 'TARGET_DATABASE_EXISTS', // 603101
  TARGET_DATABASE_OVERWRITE: 'TARGET_DATABASE_OVERWRITE',
  /** A database overwriteDbsInTarget would drop is live, and overwriteLiveDbsInTarget does not name it. */
  TARGET_DATABASE_LIVE: 'TARGET_DATABASE_LIVE',
  TARGET_DATABASE_NOT_DROPPABLE: 'TARGET_DATABASE_NOT_DROPPABLE', // 603117
  // ClientToolsValidation
  PG_TOOLS: 'PG_TOOLS',
  PG_TOOLS_MISSING: 'PG_TOOLS_MISSING',
  PG_TOOLS_TOO_OLD: 'PG_TOOLS_TOO_OLD',
  // ExtensionsValidation / ServerParametersValidation
  EXTENSIONS: 'EXTENSIONS',
  EXTENSION_UNAVAILABLE: 'EXTENSION_UNAVAILABLE', // 603405
  EXTENSION_NOT_ALLOWED: 'EXTENSION_NOT_ALLOWED', // 603108
  EXTENSION_NOT_PRELOADED: 'EXTENSION_NOT_PRELOADED', // 603109
  UNTRUSTED_EXTENSION: 'UNTRUSTED_EXTENSION',
  /** An extension's configuration table holds rows pg_dump would copy and pgferry leaves behind. */
  EXTENSION_CONFIG_ROWS: 'EXTENSION_CONFIG_ROWS',
  // SchemaValidation / CollationsValidation
  SCHEMA: 'SCHEMA',
  TABLE_WITH_OIDS: 'TABLE_WITH_OIDS', // 603404
  USER_DEFINED_CAST: 'USER_DEFINED_CAST', // 603409
  COLLATIONS: 'COLLATIONS',
  USER_DEFINED_COLLATION: 'USER_DEFINED_COLLATION', // 603403
  DATABASE_COLLATION_MISSING: 'DATABASE_COLLATION_MISSING', // 603401
  COLUMN_COLLATION_MISSING: 'COLUMN_COLLATION_MISSING', // 603402
  COMPRESSION: 'COMPRESSION',
  COMPRESSION_METHOD_MISSING: 'COMPRESSION_METHOD_MISSING',
  TABLESPACE_NOT_KEPT: 'TABLESPACE_NOT_KEPT',
  // managed-target blockers (SchemaValidation) and privileges (PrivilegesValidation)
  MANAGED_TARGET: 'MANAGED_TARGET',
  EVENT_TRIGGER: 'EVENT_TRIGGER',
  UNTRUSTED_LANGUAGE: 'UNTRUSTED_LANGUAGE', // 603413
  C_FUNCTION: 'C_FUNCTION',
  /** skipUnsupportedObjects: an object left behind because it depends on one the target user cannot create. */
  OBJECT_LEFT_BEHIND: 'OBJECT_LEFT_BEHIND',
  /** skipUnsupportedObjects: a table depends on such an object, so leaving it behind would lose the table. */
  TABLE_NEEDS_UNSUPPORTED_OBJECT: 'TABLE_NEEDS_UNSUPPORTED_OBJECT',
  SUPERUSER_OWNED_OBJECT: 'SUPERUSER_OWNED_OBJECT',
  TARGET_PRIVILEGES: 'TARGET_PRIVILEGES',
  TARGET_NO_CREATEDB: 'TARGET_NO_CREATEDB',
  TARGET_NO_CREATEROLE: 'TARGET_NO_CREATEROLE', // 603116
  TARGET_NOT_AZURE_PG_ADMIN: 'TARGET_NOT_AZURE_PG_ADMIN', // 603115
  SOURCE_TABLE_PRIVILEGES: 'SOURCE_TABLE_PRIVILEGES',
  SOURCE_TABLE_NOT_READABLE: 'SOURCE_TABLE_NOT_READABLE', // 603110
  SOURCE_TABLE_NOT_OWNED: 'SOURCE_TABLE_NOT_OWNED', // 603110 (online: publications need ownership)
  /** fenceWriters: the source user may fence the database's writers at cutover (ALTER DATABASE, end sessions). */
  WRITER_FENCE: 'WRITER_FENCE',
  /** fenceWriters: it may not (not the database's owner, or no pg_signal_backend): what to grant. */
  WRITER_FENCE_PRIVILEGES: 'WRITER_FENCE_PRIVILEGES',
  /** pooler: its admin console answers (Succeeded), or not: the address or the credentials to fix. */
  POOLER_CONNECTIVITY: 'POOLER_CONNECTIVITY',
  POOLER_UNREACHABLE: 'POOLER_UNREACHABLE',
  /** pooler: the user is in admin_users (PAUSE, RELOAD, RESUME), or only in stats_users. */
  POOLER_ADMIN: 'POOLER_ADMIN',
  /** pooler: it serves exactly the migrated databases, from the source. */
  POOLER_DATABASES: 'POOLER_DATABASES',
  /** pooler: its configuration file can be written and holds a line for each of its databases. */
  POOLER_CONFIG: 'POOLER_CONFIG',
  /** pooler: what a database's pool mode means for the pause (session: a warning). */
  POOLER_POOL_MODE: 'POOLER_POOL_MODE',
  /** pooler: session pooling without server_reset_query. */
  POOLER_RESET_QUERY: 'POOLER_RESET_QUERY',
  /** Online: the user has the rights a change of the footprint needs on its server (footprint/, rights). */
  FOOTPRINT_RIGHTS: 'FOOTPRINT_RIGHTS',
  /** Online: it has not (a slot without REPLICATION, a publication without CREATE, tables it will not own): what to grant. */
  FOOTPRINT_PRIVILEGES: 'FOOTPRINT_PRIVILEGES',
  /** The source user reads every row of the tables with row-level security (or there are none). */
  ROW_SECURITY_SOURCE: 'ROW_SECURITY_SOURCE',
  /** Policies would hide rows of a copied table from the source user (row_security = off makes the copy fail). */
  ROW_SECURITY_SOURCE_FILTERED: 'ROW_SECURITY_SOURCE_FILTERED',
  /** Row-level security is enabled on the target only once pgferry's work is done: how, and the window it leaves. */
  ROW_SECURITY_TARGET: 'ROW_SECURITY_TARGET',
  /** The target user will lack the owner privileges ENABLE ROW LEVEL SECURITY and CREATE POLICY need. */
  ROW_SECURITY_TARGET_NOT_OWNER: 'ROW_SECURITY_TARGET_NOT_OWNER',
  // online: ServerParametersValidation / ReplicationValidation
  WAL_LEVEL: 'WAL_LEVEL', // 603107
  REPLICATION_SLOTS: 'REPLICATION_SLOTS', // 603105
  WAL_SENDERS: 'WAL_SENDERS', // 603106
  /** max_slot_wal_keep_size unlimited (or unavailable): a stopped stream can fill the source's disk. */
  SLOT_WAL_UNBOUNDED: 'SLOT_WAL_UNBOUNDED',
  REPLICATION_PRIVILEGE: 'REPLICATION_PRIVILEGE', // 603104
  REPLICATION_CONNECTION: 'REPLICATION_CONNECTION',
  /** Whether the target applies with replica role, and what is dropped or disabled while streaming where it cannot. */
  TARGET_REPLICA_ROLE: 'TARGET_REPLICA_ROLE',
  // CdcTableReport
  CDC_TABLE: 'CDC_TABLE',
  NO_REPLICA_IDENTITY: 'NO_REPLICA_IDENTITY',
  UNLOGGED_TABLE: 'UNLOGGED_TABLE',
  LARGE_OBJECT_COLUMN: 'LARGE_OBJECT_COLUMN',
  /**
   * A table matched on the target by its whole old row (REPLICA IDENTITY FULL, no usable unique
   * index) has a column that can be compared neither by an equality operator nor by a stable text form.
   */
  ROW_MATCH_UNSTABLE_COLUMN: 'ROW_MATCH_UNSTABLE_COLUMN',
} as const;
