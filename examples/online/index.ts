// An online migration declared in code: `pulumi up` copies the databases and leaves changes
// streaming from the source; `pulumi config set cutover true` and `pulumi up` again cut over.
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
  'online',
  {
    migrationName: cfg.get('migrationName') ?? 'online-migration',
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
    mode: 'Online',
    overwriteDbsInTarget: cfg.getBoolean('overwriteDbsInTarget') ?? false,
    // Tables without a primary key get REPLICA IDENTITY FULL so their updates can be replicated.
    allowReplicaIdentityFull: cfg.getBoolean('allowReplicaIdentityFull') ?? false,
    // false → true performs the cutover; it cannot be set back to false.
    cutover: cfg.getBoolean('cutover') ?? false,
  },
  {
    customTimeouts: { create: cfg.get('createTimeout') ?? '6h', update: cfg.get('cutoverTimeout') ?? '1h' },
  },
);

export const state = migration.state;
export const subState = migration.subState;
export const databaseDetails = migration.databaseDetails;
export const verification = migration.verification;
export const downtimeSeconds = migration.downtimeSeconds;
