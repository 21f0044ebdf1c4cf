// An offline migration declared in code: `pulumi up` copies the databases (schema, data, indexes,
// sequences, large objects), verifies them and finishes; connection details come from stack config.
import * as pulumi from '@pulumi/pulumi';
import { PgMigration, type SslMode } from 'pgferry';

const cfg = new pulumi.Config();

const migration = new PgMigration(
  'offline',
  {
    migrationName: cfg.get('migrationName') ?? 'offline-migration',
    source: {
      host: cfg.require('sourceHost'),
      port: cfg.getNumber('sourcePort') ?? 5432,
      user: cfg.get('sourceUser') ?? 'postgres',
      password: cfg.requireSecret('sourcePassword'),
      sslMode: (cfg.get('sourceSslMode') ?? 'prefer') as SslMode,
    },
    target: {
      host: cfg.require('targetHost'),
      port: cfg.getNumber('targetPort') ?? 5432,
      user: cfg.require('targetUser'),
      password: cfg.requireSecret('targetPassword'),
      sslMode: (cfg.get('targetSslMode') ?? 'require') as SslMode,
    },
    databases: cfg.requireObject<string[]>('databases'),
    mode: 'Offline',
    option: 'ValidateAndMigrate',
    overwriteDbsInTarget: cfg.getBoolean('overwriteDbsInTarget') ?? false,
    tableJobs: cfg.getNumber('tableJobs'),
  },
  {
    // Enforced by the provider: past it, `pulumi up` returns and the migration is left resumable.
    customTimeouts: { create: cfg.get('createTimeout') ?? '6h' },
  },
);

export const state = migration.state;
export const subState = migration.subState;
export const databaseDetails = migration.databaseDetails;
export const validation = migration.validation;
export const verification = migration.verification;
