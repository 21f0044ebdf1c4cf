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
