// The migrations declared in stack config, as PgMigration resources that target the lab's server
// and wait for it, its parameters and (when it is the source) the source VM to be ready.
import * as pulumi from '@pulumi/pulumi';
import type { PgMigrationArgs } from '../provider/resource';
import type { LabConfig, LabSecrets, MigrationConfig } from './config';
import { childOptions, type LabResourceOptions } from './options';

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
  readonly secrets: LabSecrets;
}

/** One migration's arguments from its config entry (pure: no resources are created). */
export function migrationArgs(migration: MigrationConfig, context: MigrationContext): PgMigrationArgs {
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
  };
}

/**
 * PgMigration from provider/resource, required only when a migration is declared, so a lab without
 * migrations never loads the engine and its PostgreSQL driver.
 */
export const pgMigrationFactory: MigrationFactory = (name, args, opts) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PgMigration } = require('../provider/resource') as typeof import('../provider/resource');
  return new PgMigration(name, args, opts);
};

export interface MigrationDependencies {
  /** The server and every parameter: a migration must not start before `azure.extensions` is set. */
  readonly target: pulumi.Resource[];
  /** The source VM's readiness, for migrations whose source is the lab VM. */
  readonly sourceVm?: pulumi.Resource;
}

export function createMigrations(
  config: LabConfig,
  context: MigrationContext,
  dependencies: MigrationDependencies,
  opts: LabResourceOptions,
  factory: MigrationFactory = pgMigrationFactory,
): Map<string, MigrationResource> {
  const migrations = new Map<string, MigrationResource>();
  for (const migration of config.migrations) {
    const usesLabSource = migration.source === undefined && dependencies.sourceVm !== undefined;
    const dependsOn = usesLabSource ? [...dependencies.target, dependencies.sourceVm!] : dependencies.target;
    const resource = factory(`${config.namePrefix}-migration-${migration.name}`, migrationArgs(migration, context), {
      ...childOptions(opts, dependsOn),
      // A bulk copy of a large database outlasts any default; PgMigration enforces these itself.
      customTimeouts: { create: '6h', update: '6h', delete: '30m' },
    });
    migrations.set(migration.name, resource);
  }
  return migrations;
}
