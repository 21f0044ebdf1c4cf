// The Pulumi side of pgferry: the PgMigration resource and its types.
export {
  PgMigration,
  type PgMigrationAccess,
  type PgMigrationArgs,
  type PgServerArgs,
  type PgPoolerArgs,
  type PgMigrationSecretParameters,
} from './pgMigration';
export { pgMigrationProvider } from './provider';
export {
  getMigration,
  getMigrationOutput,
  type PgMigrationGetArgs,
  type PgMigrationGetOutputArgs,
  type PgMigrationGetResult,
} from './getMigration';
export type { ServerMetadata, SystemData } from './outputs';
