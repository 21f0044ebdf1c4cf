// The PgMigration resource: typed args and outputs over the dynamic provider. Passwords are made
// Pulumi secrets here whatever the caller passed, so state never holds one in plain text; the rest
// of each server (host, port, user, TLS) stays plain, so a preview says which of them changed.
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
import type { AzureCurrentStatus } from '../azure/shape';
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
  /** The databases to migrate (azure-native: dbsToMigrate; give one of the two). */
  readonly databases?: pulumi.Input<pulumi.Input<string>[]>;
  /** azure-native's name of `databases`. */
  readonly dbsToMigrate?: pulumi.Input<pulumi.Input<string>[]>;
  /** Offline (default) or Online. */
  readonly mode?: pulumi.Input<MigrationMode>;
  /** azure-native's name of `mode`. */
  readonly migrationMode?: pulumi.Input<MigrationMode>;
  /** Validate, Migrate or ValidateAndMigrate (default). */
  readonly option?: pulumi.Input<MigrationOption>;
  /** azure-native's name of `option`. */
  readonly migrationOption?: pulumi.Input<MigrationOption>;
  /** azure-native's name of `cutover`. */
  readonly triggerCutover?: pulumi.Input<boolean>;
  /** Online: cut over these databases only; the others stream on (set `cutover` for the rest later). */
  readonly dbsToTriggerCutoverOn?: pulumi.Input<pulumi.Input<string>[]>;
  /** true cancels the migration (slots and publications released; target databases kept). */
  readonly cancel?: pulumi.Input<boolean>;
  /** Online: cancel these databases only; the others stream on. */
  readonly dbsToCancelMigrationOn?: pulumi.Input<pulumi.Input<string>[]>;
  /** The copy starts no earlier than this instant (UTC, e.g. 2026-05-01T22:00:00Z). */
  readonly migrationWindowStartTimeInUtc?: pulumi.Input<string>;
  /** The copy must have started by this instant (UTC). */
  readonly migrationWindowEndTimeInUtc?: pulumi.Input<string>;
  /** Online: set wal_level=logical (and slots, senders) with ALTER SYSTEM on the source if needed, then wait for its restart. */
  readonly setupLogicalReplicationOnSourceDbIfNeeded?: pulumi.Input<boolean>;
  /** false: validate, then wait (WaitingForDataMigrationScheduling) until an update sets it true. */
  readonly startDataMigration?: pulumi.Input<boolean>;
  /** A target database exists and overwriteDbsInTarget is false: wait for the overwrite to be allowed instead of failing. */
  readonly waitForOverwriteConfirmation?: pulumi.Input<boolean>;
  /** Accepted and recorded (azure-native: the runtime server); pgferry runs where Pulumi runs. */
  readonly migrationInstanceResourceId?: pulumi.Input<string>;
  /** Accepted and recorded (azure-native: OnPremises, AWS_RDS, AzureVM…). */
  readonly sourceType?: pulumi.Input<string>;
  /** azure-native's name of `source.sslMode` (Prefer, Require, VerifyCA, VerifyFull, any case; docs/azure-names.md). */
  readonly sslMode?: pulumi.Input<string>;
  readonly overwriteDbsInTarget?: pulumi.Input<boolean>;
  readonly migrateRoles?: pulumi.Input<boolean>;
  readonly allowReplicaIdentityFull?: pulumi.Input<boolean>;
  /**
   * What moves (pg_dump patterns; README "Choosing what moves"). Changing any of these replaces
   * the migration: what moves is part of which migration it is.
   */
  readonly includeSchemas?: pulumi.Input<pulumi.Input<string>[]>;
  readonly excludeSchemas?: pulumi.Input<pulumi.Input<string>[]>;
  readonly includeTables?: pulumi.Input<pulumi.Input<string>[]>;
  readonly excludeTables?: pulumi.Input<pulumi.Input<string>[]>;
  readonly schemaOnlyTables?: pulumi.Input<pulumi.Input<string>[]>;
  readonly dataOnlyTables?: pulumi.Input<pulumi.Input<string>[]>;
  /** Online: set true and run `pulumi up` again to cut over. Cannot go back to false. */
  readonly cutover?: pulumi.Input<boolean>;
  /** local (default): a runner on the machine that runs `pulumi up`; agents: only registered, `pgferry agent` processes near the target run it. */
  readonly runtime?: pulumi.Input<'local' | 'agents'>;
  readonly tableJobs?: pulumi.Input<number>;
  readonly indexJobs?: pulumi.Input<number>;
  readonly splitTablesLargerThan?: pulumi.Input<number>;
  readonly pgBinDir?: pulumi.Input<string>;
  readonly verify?: pulumi.Input<boolean | 'full'>;
  /**
   * Online: at cutover, make the source databases read-only for new transactions and end their
   * sessions before the cutover point, so no write lands on the source after it (default false).
   * Lifted on a roll-back, cancel or failure; kept after the cutover (README, "Fencing writers").
   */
  readonly fenceWriters?: pulumi.Input<boolean>;
  /**
   * Online: roll the cutover back (lifting the fence, streaming on) when its predicted catch-up is
   * over this many seconds. Default 30 with fenceWriters; without, no gate unless set.
   */
  readonly cutoverLagBudgetSeconds?: pulumi.Input<number>;
  /**
   * `pulumi destroy` also drops the migrated databases on the target (default: kept). Once the
   * migration has cut over, only when PGFERRY_ALLOW_DROP_AFTER_CUTOVER names it for that command.
   */
  readonly dropTargetDatabasesOnDelete?: pulumi.Input<boolean>;
  /**
   * Let a change of migrationName, source, target, databases, mode or option replace a migration
   * that has cut over (Succeeded); without it such a change is refused at preview. Default false.
   */
  readonly allowReplaceAfterCutover?: pulumi.Input<boolean>;
}

/** How `PgMigration.get` reaches the target named by the id (host and port come from the id). */
export interface PgMigrationAccess {
  readonly target?: pulumi.Input<Omit<PgServerArgs, 'host' | 'port'>>;
}

/** The server fields besides the password, each sent as its own (non-secret) value. */
const SERVER_KEYS = ['host', 'port', 'user', 'sslMode', 'sslRootCert', 'maintenanceDatabase'] as const;

/** Outputs besides the echoed inputs (declared so a program can read them before the first up). */
const STATUS_OUTPUTS = [
  'state',
  'subState',
  'message',
  'createdAt',
  'startedAt',
  'endedAt',
  'sourceVersion',
  'targetVersion',
  'validation',
  'databaseDetails',
  'verification',
  'downtimeSeconds',
  'runnerAlive',
  'recommendedServerParameters',
  'currentStatus',
] as const;

function isPlainInput(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !pulumi.Output.isInstance(value) &&
    typeof (value as { then?: unknown }).then !== 'function'
  );
}

/**
 * The server with only its password secret. A server given as one Output (built in an apply) is
 * split field by field: lifted whole, the secret password would make the host secret too.
 */
function withSecretPassword(server: pulumi.Input<Partial<PgServerArgs>> | undefined): unknown {
  if (server === undefined) return undefined;
  if (isPlainInput(server)) {
    const plain = server as Partial<PgServerArgs>;
    return plain.password === undefined ? plain : { ...plain, password: pulumi.secret(plain.password) };
  }
  const whole = pulumi.output(server as pulumi.Input<Partial<PgServerArgs>>);
  const open = pulumi.unsecret(whole);
  const split: Record<string, unknown> = Object.fromEntries(SERVER_KEYS.map((key) => [key, open.apply((s) => s[key])]));
  split.password = pulumi.secret(whole.apply((s) => s.password));
  return split;
}

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
  /** Source server parameters to set on the target (README "Server parameters"), name → value. */
  declare readonly recommendedServerParameters: pulumi.Output<Record<string, string>>;
  /** azure-native Migration's status output: state, error, currentSubStateDetails.{currentSubState, dbDetails, validationDetails}. */
  declare readonly currentStatus: pulumi.Output<AzureCurrentStatus>;

  /**
   * `opts.import` (an existing migration's id, `<target host>:<port>/<migrationName>`) adopts that
   * migration: create checks it matches these inputs and never starts a new one. The dynamic
   * provider host cannot serve Pulumi's own import (pulumi/pulumi#16175), so it travels as an input.
   */
  constructor(name: string, args: PgMigrationArgs, opts: pulumi.CustomResourceOptions = {}) {
    const { import: importId, ...rest } = opts;
    const props: Record<string, unknown> =
      opts.id === undefined ? migrationProps(args, rest, importId) : readProps(args as unknown as PgMigrationAccess);
    super(pgMigrationProvider, name, props, opts.id === undefined ? rest : opts, 'pgferry', 'PgMigration');
  }

  /**
   * An existing migration by its id (`<target host>:<port>/<migrationName>`, the `id` output),
   * read from the target's control catalog; `access.target` gives the user and password to reach it.
   */
  static get(
    name: string,
    id: pulumi.Input<pulumi.ID>,
    access: PgMigrationAccess = {},
    opts: pulumi.CustomResourceOptions = {},
  ): PgMigration {
    return new PgMigration(name, access as unknown as PgMigrationArgs, { ...opts, id });
  }
}

function statusPlaceholders(): Record<string, undefined> {
  return Object.fromEntries(STATUS_OUTPUTS.map((key) => [key, undefined]));
}

function migrationProps(args: PgMigrationArgs, opts: pulumi.CustomResourceOptions, importId: pulumi.Input<pulumi.ID> | undefined) {
  return {
    ...args,
    source: withSecretPassword(args.source),
    target: withSecretPassword(args.target),
    // The host receives no timeouts, so the provider enforces them from this input (diff ignores it).
    customTimeouts: opts.customTimeouts ? { ...opts.customTimeouts } : undefined,
    importId,
    ...statusPlaceholders(),
  };
}

function readProps(access: PgMigrationAccess): Record<string, unknown> {
  return { target: withSecretPassword(access.target), ...statusPlaceholders() };
}
