// The migrations declared in stack config, as PgMigration resources in the lab's runtime: they
// target the lab's server and wait for what makes it reachable and ready (the server and its
// parameters, the VPN gateway) and, when it is their source, for the source VM.
import * as pulumi from '@pulumi/pulumi';
import type { PgMigrationArgs } from '../provider/resource';
import { migrationPooled, type LabConfig, type MigrationConfig } from './config';
import { POOLER_CONFIG_FILE } from './poolerCloudInit';
import { POOLER_ADMIN_SECRET } from './poolerConfig';
import type { LabSecrets } from './stackConfig';
import { childOptions, type LabScope } from './options';

/** What the lab reads back from a migration (PgMigration has more; tests pass stand-ins). */
export interface MigrationResource extends pulumi.Resource {
  readonly state: pulumi.Output<string | undefined>;
}

export type MigrationFactory = (name: string, args: PgMigrationArgs, opts: pulumi.CustomResourceOptions) => MigrationResource;

/** Where the lab's pieces are, for building each migration's endpoints. */
export interface MigrationContext {
  readonly targetHost: pulumi.Input<string>;
  readonly targetUser: string;
  readonly adminPassword: pulumi.Input<string>;
  /** The source VM's static address, when the lab has one. */
  readonly sourceVmIp?: string;
  /** The lab's PgBouncer (pooler.enabled): the address its admin console listens on. */
  readonly pooler?: { readonly host: string; readonly port: number };
  readonly secrets: LabSecrets;
}

/** The lab-wide migration options (config keys), which an entry may override. */
type LabMigrationOptions = Pick<LabConfig, 'allowReplicaIdentityFull' | 'tableJobs' | 'indexJobs'>;

/**
 * Who runs a migration: its own `runtime`; else the lab's agents when it has a migration runtime
 * (one through the lab's PgBouncer too: the first VM's agent holds the pooler's credentials).
 */
export function migrationRuntimeOf(migration: MigrationConfig, config: Pick<LabConfig, 'migrationRuntime'>): 'local' | 'agents' {
  if (migration.runtime) return migration.runtime;
  return config.migrationRuntime.enabled ? 'agents' : 'local';
}

/** One migration's arguments from its config entry (pure: no resources are created). */
function migrationArgs(
  migration: MigrationConfig,
  context: MigrationContext,
  options: LabMigrationOptions & Pick<LabConfig, 'migrationRuntime' | 'pooler'>,
): PgMigrationArgs {
  const source = migration.source;
  const sourceHost = source?.host ?? context.sourceVmIp;
  if (sourceHost === undefined) {
    // config.ts refuses this combination; kept as a guard for callers that build LabConfig themselves.
    throw new Error(`migration ${migration.name}: no source host and no lab source VM`);
  }
  const passwordKey = source?.passwordSecret ?? 'sourcePassword';
  const sourcePassword = context.secrets.passwords[passwordKey];
  if (sourcePassword === undefined) throw new Error(`migration ${migration.name}: secret config key ${passwordKey} is not set`);
  return {
    migrationName: migration.name,
    source: {
      host: sourceHost,
      port: source?.port ?? 5432,
      user: source?.user ?? 'postgres',
      password: pulumi.secret(sourcePassword),
      sslMode: source?.sslMode ?? 'prefer',
    },
    target: {
      host: context.targetHost,
      port: 5432,
      user: context.targetUser,
      password: pulumi.secret(context.adminPassword),
      sslMode: 'require', // Flexible Server enforces TLS by default (require_secure_transport=on)
    },
    databases: [...migration.databases],
    mode: migration.mode,
    option: migration.option,
    overwriteDbsInTarget: migration.overwriteDbsInTarget,
    cutover: migration.cutover,
    allowReplicaIdentityFull: migration.allowReplicaIdentityFull ?? options.allowReplicaIdentityFull,
    // 0 (the default) leaves them to PgMigration: the CPU count of the machine running pulumi.
    tableJobs: migration.tableJobs ?? (options.tableJobs || undefined),
    indexJobs: migration.indexJobs ?? (options.indexJobs || undefined),
    dropTargetDatabasesOnDelete: migration.dropTargetDatabasesOnDelete,
    allowReplaceAfterCutover: migration.allowReplaceAfterCutover,
    ...(migration.fenceWriters === undefined ? {} : { fenceWriters: migration.fenceWriters }),
    ...(migration.fallbackWindow === undefined ? {} : { fallbackWindow: migration.fallbackWindow }),
    // Only when agents run it: a lab without the runtime sends what it always sent.
    ...(migrationRuntimeOf(migration, options) === 'agents' ? { runtime: 'agents' as const } : {}),
    ...(migrationPooled(migration, options) ? { pooler: poolerArgs(migration, context, options) } : {}),
  };
}

/** PgMigration's `pooler`: the lab's PgBouncer, its admin login (the password a secret) and the file pgferry repoints. */
function poolerArgs(migration: MigrationConfig, context: MigrationContext, options: Pick<LabConfig, 'pooler'>): PgMigrationArgs['pooler'] {
  const password = context.secrets.passwords[POOLER_ADMIN_SECRET];
  if (context.pooler === undefined || password === undefined) {
    // config.ts and stackConfig.ts refuse this; kept as a guard for callers that build LabConfig themselves.
    throw new Error(`migration ${migration.name}: the lab's PgBouncer is not there (pooler.enabled, secret ${POOLER_ADMIN_SECRET})`);
  }
  return {
    host: context.pooler.host,
    port: context.pooler.port,
    user: options.pooler.adminUser,
    password: pulumi.secret(password),
    configFile: POOLER_CONFIG_FILE,
    databases: [...migration.databases],
  };
}

/**
 * PgMigration from provider/resource, required only when a migration is declared, so a lab without
 * migrations never loads the engine and its PostgreSQL driver.
 */
const pgMigrationFactory: MigrationFactory = (name, args, opts) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PgMigration } = require('../provider/resource') as typeof import('../provider/resource');
  return new PgMigration(name, args, opts);
};

export interface MigrationDependencies {
  /**
   * What makes the target reachable and ready: the server component (the server, every parameter:
   * a migration must not start before `azure.extensions` is set) and, with the VPN, its component.
   */
  readonly target: pulumi.Resource[];
  /** The source VM's readiness, for migrations whose source is the lab VM. */
  readonly sourceVm?: pulumi.Resource;
  /**
   * The migration runtime's VMs, for migrations the agents run: an agent carries out the cancel
   * when such a migration is deleted, so it is deleted before the VMs.
   */
  readonly agents?: readonly pulumi.Resource[];
}

export function createMigrations(
  config: LabConfig,
  context: MigrationContext,
  dependencies: MigrationDependencies,
  scope: LabScope,
  factory: MigrationFactory = pgMigrationFactory,
): Map<string, MigrationResource> {
  const migrations = new Map<string, MigrationResource>();
  // A bulk copy of a large database outlasts any default; PgMigration enforces these itself.
  const customTimeouts = {
    create: config.migrationCreateTimeout,
    update: config.migrationUpdateTimeout,
    delete: config.migrationDeleteTimeout,
  };
  // In list order, each after the one before: the tutorial runs its offline migration, then its
  // online one over the same database (config.ts allows a database only in such a sequence), and
  // Azure's own service runs one migration per server at a time.
  let previous: MigrationResource | undefined;
  for (const migration of config.migrations) {
    const usesLabSource = migration.source === undefined && dependencies.sourceVm !== undefined;
    const byAgents = migrationRuntimeOf(migration, config) === 'agents' ? (dependencies.agents ?? []) : [];
    const dependsOn = [
      ...dependencies.target,
      ...(usesLabSource ? [dependencies.sourceVm!] : []),
      ...byAgents,
      ...(previous ? [previous] : []),
    ];
    const name = `migration-${migration.name}`;
    const resource = factory(name, migrationArgs(migration, context, config), {
      ...childOptions(scope, name, dependsOn, 'other'),
      customTimeouts,
    });
    migrations.set(migration.name, resource);
    previous = resource;
  }
  return migrations;
}
