// The engine's public API: what the CLI, the Pulumi provider and library users call. Nothing
// here imports Pulumi. pgferry's own tools reach what else they need through internal.ts.
export * from './core/errors';
export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from './core/errorCodes';
export { AUTHENTICATION_FAILED, INVALID_CATALOG_NAME, NETWORK_ERRNOS, INVALID_PASSWORD, sqlState } from './connect/sqlstate';
export * from './core/model';
export * from './core/statusChecks';
export { describeFence } from './core/fenceWords';
export * from './core/transitions';
export { maskSecrets } from './core/secrets';
// the one quoting helper, for programs that build SQL over user names as the engine does
export { displayIdent, displayName, ident, qualified, identList, literal, conninfoDbname } from './connect/quote';
export { openClient, PasswordAsked, reachWithoutPassword } from './connect/client';
export { catchUp, copyRatio, databaseCopy, etaSeconds, RateMeter, tableFraction, type DatabaseCopy } from './core/progress';
export { parseMigrationSpec, zodToInputError, describeIssue, unknownFieldError } from './input/parse';
export {
  migrationSpecSchema,
  serverSpecSchema,
  TUNING_KEYS,
  MIGRATION_NAME_PATTERN,
  SSL_MODES,
  MIGRATION_MODES,
  RUNTIMES,
  STALE_MATERIALIZED_VIEWS,
  TABLE_DROPS_AND_RENAMES,
  SCHEMA_CHANGE_CAPTURES,
  MIGRATION_OPTIONS,
  type CutoverOptions,
  type MigrationSpec,
  type MigrationSpecInput,
  type ServerSpec,
  type PoolerSpec,
  type SslMode,
  type MigrationMode,
  type MigrationOption,
  type Runtime,
  type StaleMaterializedViews,
  type TableDropsAndRenames,
  type SchemaChangeCapture,
} from './input/migrationSpec';
export { POOLER_PASSWORD_VARIABLE } from './switchover/pooler';
export { sameMigration } from './input/publicSpec';
export { defaultSslMode } from './input/azureHosts';
export { tlsFailureOf } from './validate/connectivity';
export { FALLBACK_WINDOW_RULE, isFallbackWindow } from './input/fallbackWindow';
export { CONTROL_SCHEMA_VERSION } from './control/schemaVersions';
export { PGFERRY_VERSION } from './control/version';
export {
  // the control catalog held open by a caller that reads it again and again, and its reads
  openControlCatalog,
  type ControlCatalog,
  get,
  list,
  events,
  tables,
  streamSamples,
  setAzureContext,
  runMigration,
  startMigration,
  resumeMigration,
  cleanupSource,
  dropTargetDatabases,
  removeMigration,
  showMigration,
  agentsAbleToRun,
  migrationResourceOwner,
  adoptMigration,
  withPendingFootprint,
  listMigrations,
  leftWait,
  verifyMigration,
  waitForMigration,
  type DroppedDatabases,
} from './api';
export type { RunOptions } from './run/migrationRun';
export {
  cancelMigration,
  requestCutover,
  confirmOverwrite,
  requestReplicationSetup,
  requestDataMigrationStart,
  nameDatabasesToMigrate,
  moveMigrationWindow,
  requestResync,
  closeFallbackWindow,
  closeFallbackRefusal,
  requestFallBack,
  fallBackRefusal,
  fenceLiftRefusal,
  liftKeptFences,
  type FenceLiftReport,
  type FencedServer,
} from './apiRequests';
export { withSourceSlots } from './runner/stoppedRunner';
export { FILTER_KEYS, type TableFilters } from './input/patterns';
export { recommendedServerParameters } from './validate/serverParameters';

export { runAgent, type AgentOptions } from './runner/agent';
export type { SourceCredential } from './input/runSpec';
export { poolerKey, serverKey } from './control/agents';
