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
import { STATUS_OUTPUTS, type ServerMetadata, type SystemData } from './outputs';
import { pgMigrationProvider } from './provider';

export interface PgServerArgs {
  readonly host: pulumi.Input<string>;
  /** Default 5432. */
  readonly port?: pulumi.Input<number>;
  readonly user: pulumi.Input<string>;
  /** Always stored as a secret. Omitted: PGPASSWORD or ~/.pgpass on the machine running Pulumi. */
  readonly password?: pulumi.Input<string>;
  /** Default verify-full for an Azure server (`*.postgres.database.azure.com`), else prefer (docs/safety.md, "TLS"). */
  readonly sslMode?: pulumi.Input<SslMode>;
  /** CA bundle (PEM path) for verify-ca / verify-full; omitted for an Azure server: Azure's root CAs. */
  readonly sslRootCert?: pulumi.Input<string>;
  /**
   * The server's own name when `host` is another address for it (a tunnel, a private address): the
   * name its certificate must carry. Filled from serverName when PGFERRY_SERVER_HOSTS maps it.
   */
  readonly sslServerName?: pulumi.Input<string>;
  /** Database for connection checks and, on the target, the control catalog. Default postgres. */
  readonly maintenanceDatabase?: pulumi.Input<string>;
}

/**
 * The user's PgBouncer in front of the source (docs/pooler.md): the cutover pauses its databases
 * through its admin console, points them at the target in its configuration file (pgferry runs
 * where it can write it) and resumes them.
 */
export interface PgPoolerArgs {
  /** The admin console's address (listen_addr, listen_port; default port 6432). */
  readonly host: pulumi.Input<string>;
  readonly port?: pulumi.Input<number>;
  /** A user of the pooler's admin_users. */
  readonly user: pulumi.Input<string>;
  /** Always stored as a secret. Omitted: PGPASSWORD or ~/.pgpass on the machine running Pulumi. */
  readonly password?: pulumi.Input<string>;
  /** The pooler's configuration file (absolute path), whose [databases] lines the cutover points at the target. */
  readonly configFile: pulumi.Input<string>;
  /** The pooler's databases to pause and repoint; default one per migrated database, of its name. */
  readonly databases?: pulumi.Input<pulumi.Input<string>[]>;
  /** The target as the pooler reaches it; default the target's host and port. */
  readonly targetHost?: pulumi.Input<string>;
  readonly targetPort?: pulumi.Input<number>;
  /** Roll the cutover back when a PAUSE waits longer for the transactions in flight (default 10). */
  readonly pauseTimeoutSeconds?: pulumi.Input<number>;
}

/** azure-native's secretParameters (MigrationSecretParametersArgs): stored as a Pulumi secret whole. */
export interface PgMigrationSecretParameters {
  readonly adminCredentials?: pulumi.Input<{
    readonly sourceServerPassword?: pulumi.Input<string>;
    readonly targetServerPassword?: pulumi.Input<string>;
  }>;
  /** The source user (need not be an administrator); overrides the user of sourceDbServerResourceId. */
  readonly sourceServerUsername?: pulumi.Input<string | undefined>;
  /**
   * The target user. Omitted (as Azure's examples omit it): the administratorLogin of the server
   * resource whose name is serverName, else PGFERRY_SERVER_HOSTS's USER@, PGUSER, ~/.pgpass (docs/pulumi.md).
   */
  readonly targetServerUsername?: pulumi.Input<string | undefined>;
}

/** "True"/"False" as azure-native types them (any case), or a boolean. */
type AzureBoolean = boolean | string | undefined;

/**
 * PgMigration's inputs: pgferry's own (source, target, databases, mode...) and azure-native
 * dbforpostgresql.Migration's (API 2025-08-01) under their names and types, so a program written
 * for azure-native runs with only its class changed (docs/azure-names.md: the Azure move table).
 */
export interface PgMigrationArgs {
  /** Letters, digits and hyphens, not starting with a hyphen; unique on the target. Required (optional in azure-native's type only). */
  readonly migrationName?: pulumi.Input<string | undefined>;
  /** The source server; or azure-native's sourceDbServerResourceId ("host:port@user") and secretParameters. */
  readonly source?: pulumi.Input<PgServerArgs>;
  /** The target server; or azure-native's serverName / targetDbServerFullyQualifiedDomainName and secretParameters. */
  readonly target?: pulumi.Input<PgServerArgs>;
  /** azure-native 2.x and early 3.x: the target server's subscription; recorded (the ARM ids of the outputs). */
  readonly subscriptionId?: pulumi.Input<string>;
  /** azure-native: the target server's resource group; recorded (the ARM ids of the outputs). */
  readonly resourceGroupName?: pulumi.Input<string>;
  /**
   * azure-native: the target server's name. The target is SERVER.postgres.database.azure.com (or
   * PGFERRY_SERVER_DOMAIN's), or the USER@HOST:PORT that PGFERRY_SERVER_HOSTS maps it to, unless
   * targetDbServerFullyQualifiedDomainName or `target` says where it is.
   */
  readonly serverName?: pulumi.Input<string>;
  /** azure-native 2.x's name of serverName. */
  readonly targetDbServerName?: pulumi.Input<string | undefined>;
  /** azure-native: recorded; the target server metadata's location output. */
  readonly location?: pulumi.Input<string | undefined>;
  /** azure-native: recorded (echoed). */
  readonly tags?: pulumi.Input<{ [key: string]: pulumi.Input<string> } | undefined>;
  /**
   * azure-native: "host:port@user" of the source. An Azure resource id (/subscriptions/…/servers/NAME)
   * only with sourceDbServerFullyQualifiedDomainName and secretParameters.sourceServerUsername.
   */
  readonly sourceDbServerResourceId?: pulumi.Input<string | undefined>;
  /** azure-native: the source's host, used instead of the one of sourceDbServerResourceId. */
  readonly sourceDbServerFullyQualifiedDomainName?: pulumi.Input<string | undefined>;
  /** azure-native: the target's host (port 5432), used instead of serverName's. */
  readonly targetDbServerFullyQualifiedDomainName?: pulumi.Input<string | undefined>;
  /** azure-native: the passwords (and users); always stored as a Pulumi secret. */
  readonly secretParameters?: pulumi.Input<PgMigrationSecretParameters | undefined>;
  /** The databases to migrate (azure-native: dbsToMigrate; give one of the two). */
  readonly databases?: pulumi.Input<pulumi.Input<string>[]>;
  /** azure-native's name of `databases`. */
  readonly dbsToMigrate?: pulumi.Input<pulumi.Input<string>[] | undefined>;
  /** Offline (default) or Online. */
  readonly mode?: pulumi.Input<MigrationMode>;
  /** azure-native's name of `mode` (Offline or Online, any case). */
  readonly migrationMode?: pulumi.Input<string | undefined>;
  /** Validate, Migrate or ValidateAndMigrate (default). */
  readonly option?: pulumi.Input<MigrationOption>;
  /** azure-native's name of `option` (any case). */
  readonly migrationOption?: pulumi.Input<string | undefined>;
  /** azure-native's name of `cutover` ("True"/"False" or a boolean). */
  readonly triggerCutover?: pulumi.Input<AzureBoolean>;
  /** Online: cut over these databases only; the others stream on (set `cutover` for the rest later). */
  readonly dbsToTriggerCutoverOn?: pulumi.Input<pulumi.Input<string>[] | undefined>;
  /** true ("True") cancels the migration (slots and publications released; target databases kept). */
  readonly cancel?: pulumi.Input<AzureBoolean>;
  /** Online: cancel these databases only; the others stream on. */
  readonly dbsToCancelMigrationOn?: pulumi.Input<pulumi.Input<string>[] | undefined>;
  /** The copy starts no earlier than this instant (UTC, e.g. 2026-05-01T22:00:00Z). */
  readonly migrationWindowStartTimeInUtc?: pulumi.Input<string | undefined>;
  /** The copy must have started by this instant (UTC). */
  readonly migrationWindowEndTimeInUtc?: pulumi.Input<string | undefined>;
  /** Online: set wal_level=logical (and slots, senders) with ALTER SYSTEM on the source if needed, then wait for its restart. */
  readonly setupLogicalReplicationOnSourceDbIfNeeded?: pulumi.Input<AzureBoolean>;
  /** false: validate, then wait (WaitingForDataMigrationScheduling) until an update sets it true. */
  readonly startDataMigration?: pulumi.Input<AzureBoolean>;
  /** A target database exists and overwriteDbsInTarget is false: wait for the overwrite to be allowed instead of failing. */
  readonly waitForOverwriteConfirmation?: pulumi.Input<boolean>;
  /** Recorded, not used (azure-native: the private endpoint migration runtime server); pgferry runs where Pulumi runs, or agents near the target. */
  readonly migrationInstanceResourceId?: pulumi.Input<string | undefined>;
  /** Older API's name of migrationInstanceResourceId; recorded likewise. */
  readonly migrationRuntimeResourceId?: pulumi.Input<string | undefined>;
  /** Recorded, not used (azure-native: OnPremises, AWS_RDS, AzureVM…). */
  readonly sourceType?: pulumi.Input<string | undefined>;
  /** azure-native's name of `source.sslMode` (Prefer, Require, VerifyCA, VerifyFull, any case; docs/azure-names.md). */
  readonly sslMode?: pulumi.Input<string | undefined>;
  readonly overwriteDbsInTarget?: pulumi.Input<AzureBoolean>;
  /**
   * Target databases overwriteDbsInTarget may drop although they are live (other clients' sessions
   * in them, or an online migration recorded in the target's catalog cut over into them): without
   * its name here, a live database is refused, and both servers are left as they were.
   */
  readonly overwriteLiveDbsInTarget?: pulumi.Input<pulumi.Input<string>[]>;
  readonly migrateRoles?: pulumi.Input<AzureBoolean>;
  readonly allowReplicaIdentityFull?: pulumi.Input<boolean>;
  /** Online: follow the source's column changes on the target (default true; docs/limits.md); false stops and tells. */
  readonly followSchemaChanges?: pulumi.Input<boolean>;
  /** Online: `follow` a streamed table dropped or renamed on the source on the target, or `report` it (the default). */
  readonly tableDropsAndRenames?: pulumi.Input<'follow' | 'report'>;
  /** A materialized view whose source rows are not its query's at the end: `stop` (default) or `refresh` (keep the target's refreshed rows). */
  readonly staleMaterializedViews?: pulumi.Input<'stop' | 'refresh'>;
  /**
   * Online, with followSchemaChanges: `catalog` (default) compares catalogs; `eventTrigger` places an
   * event trigger in each source database that writes each DDL into the stream, ordering it exactly
   * among the rows (superuser on the source; dropped at the end). README, "Schema changes while streaming".
   */
  readonly schemaChangeCapture?: pulumi.Input<'catalog' | 'eventTrigger'>;
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
  /** local: a runner on the machine that runs `pulumi up`; agents: only registered, `pgferry agent` processes near the target run it. Unset: agents when a live agent on the target holds the source's credentials, else local (chosen at the first preview, kept in state). */
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
   * Online with fenceWriters: after the cutover, keep the old source up to date with the target's
   * writes for this long (`30m`, `24h`, `7d`), so a fall-back loses no write (docs/fallback.md).
   */
  readonly fallbackWindow?: pulumi.Input<string>;
  /**
   * true, once cut over with a fallbackWindow: `pulumi up` falls back, making the old source the
   * primary again without losing a write (as `pgferry update --fall-back --wait`); never taken back.
   */
  readonly fallBack?: pulumi.Input<boolean>;
  /** Online: the PgBouncer in front of the source, which the cutover pauses, repoints and resumes (docs/pooler.md). */
  readonly pooler?: pulumi.Input<PgPoolerArgs>;
  /**
   * With fallBack: true (as `--resume-forward`): after the fall-back the forward stream starts again
   * from its point, the target fenced and following the old source, so a later cutover needs no new
   * copy. Fixed once the fall-back is asked.
   */
  readonly resumeForward?: pulumi.Input<boolean>;
  /**
   * The cutovers asked for (default 1). After a fall-back with resumeForward, raise it by one (and set
   * fallBack and resumeForward false) to cut over again at the next `pulumi up`; `pulumi up` never
   * cuts over again by itself. Never lowered (docs/pulumi.md).
   */
  readonly cutoverCount?: pulumi.Input<number>;
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
  /** `user` may be left out when the id is an ARM id whose server PGFERRY_SERVER_HOSTS maps with a user. */
  readonly target?: pulumi.Input<Omit<PgServerArgs, 'host' | 'port' | 'user'> & { readonly user?: pulumi.Input<string> }>;
}

/** The server fields besides the password, each sent as its own (non-secret) value. */
const SERVER_KEYS = ['host', 'port', 'user', 'sslMode', 'sslRootCert', 'sslServerName', 'maintenanceDatabase'] as const;
/** The pooler's fields besides the password, the same way. */
const POOLER_KEYS = ['host', 'port', 'user', 'configFile', 'databases', 'targetHost', 'targetPort', 'pauseTimeoutSeconds'] as const;

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
function withSecretPassword<T extends { readonly password?: pulumi.Input<string> }>(
  server: pulumi.Input<Partial<T>> | undefined,
  keys: readonly (keyof T & string)[] = SERVER_KEYS as unknown as (keyof T & string)[],
): unknown {
  if (server === undefined) return undefined;
  if (isPlainInput(server)) {
    const plain = server as Partial<T>;
    return plain.password === undefined ? plain : { ...plain, password: pulumi.secret(plain.password) };
  }
  const whole = pulumi.output(server as pulumi.Input<Partial<T>>) as pulumi.Output<Record<string, unknown>>;
  const open = pulumi.unsecret(whole);
  const split: Record<string, unknown> = Object.fromEntries(keys.map((key) => [key, open.apply((s) => s[key])]));
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
  /** Online: the cutovers made; a cutoverCount above it cuts over again. */
  declare readonly completedCutovers: pulumi.Output<number | undefined>;
  /** Online with fallbackWindow: the windows' state (Open, Stopped, FallingBack, FellBack, Closed; per database when they differ). */
  declare readonly fallbackState: pulumi.Output<string | undefined>;
  /** When the earliest open fallback window ends (ISO 8601). */
  declare readonly fallbackWindowEndsAt: pulumi.Output<string | undefined>;
  /** azure-native's migrationId: the migration's own random identifier. */
  declare readonly migrationId: pulumi.Output<string | undefined>;
  /** azure-native's targetDbServerResourceId (an ARM-shaped id; the subscription is 00000000-… as pgferry knows none). */
  declare readonly targetDbServerResourceId: pulumi.Output<string>;
  /** azure-native's `id`: the migration as an ARM-shaped id (PgMigration's own id is `<host>:<port>/<migrationName>`). */
  declare readonly azureId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly type: pulumi.Output<string>;
  /** sku and storageMb always absent: Azure's records of a server, which pgferry never reads. */
  declare readonly sourceDbServerMetadata: pulumi.Output<ServerMetadata>;
  /** location as the program gave it; sku and storageMb always absent (Azure's records). */
  declare readonly targetDbServerMetadata: pulumi.Output<ServerMetadata>;

  // azure-native Migration's other outputs (3.x, API 2025-08-01), under its names and types: the
  // inputs as Azure spells them back ("True"/"False", Online, VerifyFull), whichever name the
  // program gave them under; docs/pulumi.md, "From azure-native Migration to PgMigration".
  /** The Azure API whose Migration PgMigration follows (2025-08-01). */
  declare readonly azureApiVersion: pulumi.Output<string>;
  /** createdAt only: who created or changed the migration is Azure's record. */
  declare readonly systemData: pulumi.Output<SystemData>;
  declare readonly cancel: pulumi.Output<string | undefined>;
  declare readonly dbsToCancelMigrationOn: pulumi.Output<string[] | undefined>;
  declare readonly dbsToMigrate: pulumi.Output<string[] | undefined>;
  declare readonly dbsToTriggerCutoverOn: pulumi.Output<string[] | undefined>;
  /** As the program gave it (Azure gives the server's own location when none is given). */
  declare readonly location: pulumi.Output<string | undefined>;
  declare readonly migrateRoles: pulumi.Output<string | undefined>;
  declare readonly migrationInstanceResourceId: pulumi.Output<string | undefined>;
  declare readonly migrationMode: pulumi.Output<string | undefined>;
  declare readonly migrationOption: pulumi.Output<string | undefined>;
  declare readonly migrationWindowEndTimeInUtc: pulumi.Output<string | undefined>;
  declare readonly migrationWindowStartTimeInUtc: pulumi.Output<string | undefined>;
  declare readonly overwriteDbsInTarget: pulumi.Output<string | undefined>;
  declare readonly setupLogicalReplicationOnSourceDbIfNeeded: pulumi.Output<string | undefined>;
  declare readonly sourceDbServerFullyQualifiedDomainName: pulumi.Output<string | undefined>;
  declare readonly sourceDbServerResourceId: pulumi.Output<string | undefined>;
  declare readonly sourceType: pulumi.Output<string | undefined>;
  declare readonly sslMode: pulumi.Output<string | undefined>;
  declare readonly startDataMigration: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<{ [key: string]: string } | undefined>;
  declare readonly targetDbServerFullyQualifiedDomainName: pulumi.Output<string | undefined>;
  declare readonly triggerCutover: pulumi.Output<string | undefined>;

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
   * An existing migration by its id (`<target host>:<port>/<migrationName>`, the `id` output, or
   * azure-native's ARM id), read from the target's control catalog: Pulumi's signature, resource
   * options third. The target's user and password come from `access.target` when given, else as
   * for any libpq client (PGUSER, PGPASSWORD, ~/.pgpass; an ARM id's server by PGFERRY_SERVER_HOSTS).
   */
  static get(
    name: string,
    id: pulumi.Input<pulumi.ID>,
    opts: pulumi.CustomResourceOptions = {},
    access: PgMigrationAccess = {},
  ): PgMigration {
    return new PgMigration(name, access as unknown as PgMigrationArgs, { ...opts, id });
  }
}

/** azure-native's outputs that echo its inputs: declared above, so each needs a property even when not given. */
export const ECHOED_AZURE_OUTPUTS = [
  'cancel',
  'dbsToCancelMigrationOn',
  'dbsToMigrate',
  'dbsToTriggerCutoverOn',
  'location',
  'migrateRoles',
  'migrationInstanceResourceId',
  'migrationMode',
  'migrationOption',
  'migrationWindowEndTimeInUtc',
  'migrationWindowStartTimeInUtc',
  'overwriteDbsInTarget',
  'setupLogicalReplicationOnSourceDbIfNeeded',
  'sourceDbServerFullyQualifiedDomainName',
  'sourceDbServerResourceId',
  'sourceType',
  'sslMode',
  'startDataMigration',
  'tags',
  'targetDbServerFullyQualifiedDomainName',
  'triggerCutover',
] as const satisfies readonly (keyof PgMigration & keyof PgMigrationArgs)[];

function statusPlaceholders(): Record<string, undefined> {
  return Object.fromEntries(STATUS_OUTPUTS.map((key) => [key, undefined]));
}

/** A property for each declared output the inputs may leave out (an undefined input is not sent). */
function echoPlaceholders(): Record<string, undefined> {
  return Object.fromEntries(['mode', 'cutover', 'databases', ...ECHOED_AZURE_OUTPUTS].map((key) => [key, undefined]));
}

/** azure-native's flexible server, by the type token its own `isInstance` compares (any API version's module). */
const AZURE_SERVER_TYPE = /^azure-native:dbforpostgresql(\/v[0-9a-z]+)?:Server$/;

/**
 * The administratorLogin of the azure-native server resource the program named the target by
 * (`serverName: server.name`, or its FQDN): an Output knows the resources it came from, as Pulumi
 * records them for dependencies. Read at check only when no user is given (azure/targetLogin.ts).
 */
function administratorLoginOf(args: PgMigrationArgs): pulumi.Output<string | undefined> | undefined {
  for (const input of [args.serverName, args.targetDbServerName, args.targetDbServerFullyQualifiedDomainName]) {
    if (!pulumi.Output.isInstance(input)) continue;
    const resources = (input as unknown as { resources?: () => Set<pulumi.Resource> }).resources?.() ?? new Set();
    for (const resource of resources) {
      const { __pulumiType: type, administratorLogin } = resource as unknown as { __pulumiType?: unknown; administratorLogin?: unknown };
      if (typeof type === 'string' && AZURE_SERVER_TYPE.test(type) && pulumi.Output.isInstance(administratorLogin)) {
        return administratorLogin as pulumi.Output<string | undefined>;
      }
    }
  }
  return undefined;
}

function migrationProps(args: PgMigrationArgs, opts: pulumi.CustomResourceOptions, importId: pulumi.Input<pulumi.ID> | undefined) {
  return {
    ...echoPlaceholders(),
    ...args,
    targetAdministratorLogin: administratorLoginOf(args),
    source: withSecretPassword(args.source),
    target: withSecretPassword(args.target),
    pooler: withSecretPassword<PgPoolerArgs>(args.pooler, POOLER_KEYS),
    // azure-native's passwords: the whole object secret (its users with them), as azure-native stores it
    secretParameters: args.secretParameters === undefined ? undefined : pulumi.secret(args.secretParameters),
    // The host receives no timeouts, so the provider enforces them from this input (diff ignores it).
    customTimeouts: opts.customTimeouts ? { ...opts.customTimeouts } : undefined,
    importId,
    ...statusPlaceholders(),
  };
}

function readProps(access: PgMigrationAccess): Record<string, unknown> {
  return { ...echoPlaceholders(), migrationName: undefined, target: withSecretPassword(access.target), ...statusPlaceholders() };
}
