// An offline migration declared in code: `pulumi up` copies the databases (schema, data, indexes,
// sequences, large objects), verifies them and finishes; connection details come from stack config.
import * as pulumi from '@pulumi/pulumi';
import { PgMigration, type SslMode } from 'pgferry';

const cfg = new pulumi.Config();
// The lab stack (lab-stack/ or the root program), e.g. organization/pgferry-lab/lab: its outputs name
// the server (serverFqdn, adminLogin) and the source VM (sourceVmPrivateIp). The lab's server name
// carries a random suffix, so it is read from there rather than written here; targetHost,
// targetUser and sourceHost override them, or stand alone without a lab.
const labStack = cfg.get('labStack');
const lab = labStack ? new pulumi.StackReference(labStack) : undefined;
const fromLab = (key: string, output: string): pulumi.Input<string> => {
  const value = cfg.get(key);
  if (value !== undefined) return value;
  if (!lab) throw new Error(`set ${key} or labStack (the lab stack whose ${output} output it is)`);
  return lab.requireOutput(output) as pulumi.Output<string>;
};

const migration = new PgMigration(
  'offline',
  {
    migrationName: cfg.get('migrationName') ?? 'offline-migration',
    source: {
      host: fromLab('sourceHost', 'sourceVmPrivateIp'),
      port: cfg.getNumber('sourcePort') ?? 5432,
      user: cfg.get('sourceUser') ?? 'postgres',
      password: cfg.requireSecret('sourcePassword'),
      sslMode: (cfg.get('sourceSslMode') ?? 'prefer') as SslMode,
    },
    target: {
      host: fromLab('targetHost', 'serverFqdn'),
      port: cfg.getNumber('targetPort') ?? 5432,
      user: fromLab('targetUser', 'adminLogin'),
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
