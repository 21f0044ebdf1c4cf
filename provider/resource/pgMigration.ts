// The PgMigration resource: typed args and outputs over the dynamic provider. Passwords are made
// Pulumi secrets here whatever the caller passed, so state never holds one in plain text.
import * as pulumi from '@pulumi/pulumi';
import type {
  DatabaseDetails,
  MigrationMode,
  MigrationOption,
  MigrationState,
  MigrationSubState,
  SslMode,
  ValidationResult,
  VerificationReport,
} from '../engine';
import { pgMigrationProvider } from './provider';

export interface PgServerArgs {
  readonly host: pulumi.Input<string>;
  /** Default 5432. */
  readonly port?: pulumi.Input<number>;
  readonly user: pulumi.Input<string>;
  /** Always stored as a secret. Omitted: PGPASSWORD or ~/.pgpass on the machine running Pulumi. */
  readonly password?: pulumi.Input<string>;
  /** Default prefer. */
  readonly sslMode?: pulumi.Input<SslMode>;
  /** CA bundle (PEM path) for verify-ca / verify-full. */
  readonly sslRootCert?: pulumi.Input<string>;
  /** Database for connection checks and, on the target, the control catalog. Default postgres. */
  readonly maintenanceDatabase?: pulumi.Input<string>;
}

export interface PgMigrationArgs {
  /** Letters, digits and hyphens, not starting with a hyphen; unique on the target. */
  readonly migrationName: pulumi.Input<string>;
  readonly source: pulumi.Input<PgServerArgs>;
  readonly target: pulumi.Input<PgServerArgs>;
  readonly databases: pulumi.Input<pulumi.Input<string>[]>;
  /** Offline (default) or Online. */
  readonly mode?: pulumi.Input<MigrationMode>;
  /** Validate, Migrate or ValidateAndMigrate (default). */
  readonly option?: pulumi.Input<MigrationOption>;
  readonly overwriteDbsInTarget?: pulumi.Input<boolean>;
  readonly migrateRoles?: pulumi.Input<boolean>;
  readonly allowReplicaIdentityFull?: pulumi.Input<boolean>;
  /** Online: set true and run `pulumi up` again to cut over. Cannot go back to false. */
  readonly cutover?: pulumi.Input<boolean>;
  readonly tableJobs?: pulumi.Input<number>;
  readonly indexJobs?: pulumi.Input<number>;
  readonly splitTablesLargerThan?: pulumi.Input<number>;
  readonly pgBinDir?: pulumi.Input<string>;
  readonly verify?: pulumi.Input<boolean>;
  /** `pulumi destroy` also drops the migrated databases on the target (default: kept). */
  readonly dropTargetDatabasesOnDelete?: pulumi.Input<boolean>;
}

/** Output names that derive from secret inputs (the servers carry passwords). */
const SECRET_OUTPUTS = ['source', 'target'];

export class PgMigration extends pulumi.dynamic.Resource {
  declare readonly migrationName: pulumi.Output<string>;
  declare readonly databases: pulumi.Output<string[]>;
  declare readonly mode: pulumi.Output<MigrationMode | undefined>;
  declare readonly cutover: pulumi.Output<boolean | undefined>;
  /** InProgress, WaitingForUserAction, Succeeded, Failed, Canceled or ValidationFailed. */
  declare readonly state: pulumi.Output<MigrationState>;
  declare readonly subState: pulumi.Output<MigrationSubState>;
  declare readonly message: pulumi.Output<string | undefined>;
  declare readonly createdAt: pulumi.Output<string | undefined>;
  declare readonly startedAt: pulumi.Output<string | undefined>;
  declare readonly endedAt: pulumi.Output<string | undefined>;
  declare readonly sourceVersion: pulumi.Output<string | undefined>;
  declare readonly targetVersion: pulumi.Output<string | undefined>;
  declare readonly validation: pulumi.Output<ValidationResult[]>;
  /** Per database: tables total/copied, rows, bytes, changes applied, latency, pending bytes. */
  declare readonly databaseDetails: pulumi.Output<DatabaseDetails[]>;
  declare readonly verification: pulumi.Output<VerificationReport | undefined>;
  declare readonly downtimeSeconds: pulumi.Output<number | undefined>;
  declare readonly runnerAlive: pulumi.Output<boolean | undefined>;

  constructor(name: string, args: PgMigrationArgs, opts: pulumi.CustomResourceOptions = {}) {
    const props: Record<string, unknown> = {
      ...args,
      // The whole server is made secret: its password is, and a plain string must not slip through.
      source: pulumi.secret(args.source),
      target: pulumi.secret(args.target),
      // The host receives no timeouts, so the provider enforces them from this input.
      customTimeouts: opts.customTimeouts ? { ...opts.customTimeouts } : undefined,
      state: undefined,
      subState: undefined,
      message: undefined,
      createdAt: undefined,
      startedAt: undefined,
      endedAt: undefined,
      sourceVersion: undefined,
      targetVersion: undefined,
      validation: undefined,
      databaseDetails: undefined,
      verification: undefined,
      downtimeSeconds: undefined,
      runnerAlive: undefined,
    };
    const additionalSecretOutputs = [...(opts.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS];
    super(pgMigrationProvider, name, props, { ...opts, additionalSecretOutputs }, 'pgferry', 'PgMigration');
  }
}
