// A migration's status in the shape `az postgres flexible-server migration show` prints (the ARM
// resource Microsoft.DBforPostgreSQL/flexibleServers/migrations), with pgferry's own status, whole,
// under properties.pgferry. Pure: scripts written for az read the same keys from pgferry, and the
// Pulumi resource's currentStatus output is this shape's, as azure-native's Migration outputs it.
import {
  recommendedServerParameters,
  type DatabaseDetails,
  type DatabaseState,
  type MigrationState,
  type MigrationStatus,
  type MigrationSubState,
  type ValidationResult,
  type ValidationStatus,
} from '../engine';
import { azureSpelling } from './names';

const MIGRATION_RESOURCE_TYPE = 'Microsoft.DBforPostgreSQL/flexibleServers/migrations';
/** Placeholders for an ARM id segment nobody gave (not at create, not on this command line). */
export const UNKNOWN_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
export const UNKNOWN_RESOURCE_GROUP = 'pgferry';

export interface ArmScope {
  readonly subscription?: string;
  readonly resourceGroup?: string;
  readonly server?: string;
}

function serverResourceId(scope: ArmScope, server: string): string {
  const subscription = scope.subscription ?? UNKNOWN_SUBSCRIPTION;
  const group = scope.resourceGroup ?? UNKNOWN_RESOURCE_GROUP;
  return `/subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${server}`;
}

/**
 * Database states as Azure names them where Azure has one with the same meaning. A queued database
 * is InProgress (the migration has it in hand); ApplyStopped keeps pgferry's name: Azure's Failed is
 * final and InProgress would hide that the stream waits for the user's fix.
 */
export function azureDatabaseState(state: DatabaseState): string {
  return state === 'Queued' ? 'InProgress' : state;
}

/**
 * The substate as Azure names it. WaitingForApplyFix has no Azure counterpart and keeps its name:
 * WaitingForCutoverTrigger would invite a cutover that cannot run, MigratingData would hide the wait.
 */
export function azureSubState(subState: MigrationSubState): string {
  return subState;
}

/** What a database is doing now, in a word (Azure's free-text migrationOperation). */
export function migrationOperation(d: DatabaseDetails, mode: MigrationStatus['mode']): string {
  switch (d.state) {
    case 'Queued':
      return 'Queued';
    case 'InProgress':
      if (d.cutoverStep) return 'Cutover';
      return d.tables.total > 0 && d.tables.completed + d.tables.errored >= d.tables.total && mode === 'Online' ? 'CDC' : 'FullLoad';
    case 'WaitingForCutoverTrigger':
      return 'CDC';
    case 'ApplyStopped':
      return 'ApplyStopped';
    default:
      return d.state;
  }
}

const stringOf = (value: unknown): string | null => (typeof value === 'string' ? value : null);

const trueFalse = (value: boolean | undefined): TrueFalse | null => (value === undefined ? null : value ? 'True' : 'False');

function databaseMessage(d: DatabaseDetails): string | null {
  if (d.applyStop) return `${d.applyStop.error} (fix: ${d.applyStop.fix})`;
  return d.message ?? null;
}

/** One database in Azure's dbDetails (DbMigrationStatus). */
export interface AzureDbDetails {
  readonly databaseName: string;
  readonly migrationState: string;
  readonly migrationOperation: string;
  readonly startedOn: string | null;
  readonly endedOn: string | null;
  readonly fullLoadQueuedTables: number;
  readonly fullLoadErroredTables: number;
  readonly fullLoadLoadingTables: number;
  readonly fullLoadCompletedTables: number;
  readonly cdcUpdateCounter: number | null;
  readonly cdcDeleteCounter: number | null;
  readonly cdcInsertCounter: number | null;
  readonly appliedChanges: number | null;
  readonly incomingChanges: null;
  readonly latency: number | null;
  readonly message: string | null;
}

export function azureDbDetails(d: DatabaseDetails, mode: MigrationStatus['mode']): AzureDbDetails {
  const online = mode === 'Online';
  return {
    databaseName: d.database,
    migrationState: azureDatabaseState(d.state),
    migrationOperation: migrationOperation(d, mode),
    startedOn: d.startedAt ?? null,
    endedOn: d.endedAt ?? null,
    fullLoadQueuedTables: d.tables.queued,
    fullLoadErroredTables: d.tables.errored,
    fullLoadLoadingTables: d.tables.loading,
    fullLoadCompletedTables: d.tables.completed,
    cdcUpdateCounter: online ? d.updates : null,
    cdcDeleteCounter: online ? d.deletes : null,
    cdcInsertCounter: online ? d.inserts : null,
    appliedChanges: online ? d.inserts + d.updates + d.deletes : null,
    // pgferry measures what waits in bytes (properties.pgferry: pendingBytes), not in changes.
    incomingChanges: null,
    latency: online ? (d.latencySeconds ?? null) : null,
    message: databaseMessage(d),
  };
}

const WORST: readonly ValidationStatus[] = ['Failed', 'Warning', 'Succeeded'];

function worst(results: readonly ValidationResult[]): ValidationStatus | null {
  return WORST.find((s) => results.some((r) => r.status === s)) ?? null;
}

/** Azure's ValidationSummaryItem: one check type, its state the worst of its results. */
interface AzureValidationSummaryItem {
  readonly type: string;
  readonly state: ValidationStatus | null;
  readonly messages: readonly { readonly state: ValidationStatus; readonly message: string }[];
}

/** Azure's ValidationDetails. */
interface AzureValidationDetails {
  readonly status: ValidationStatus | null;
  readonly validationStartTimeInUtc: null;
  readonly validationEndTimeInUtc: null;
  readonly serverLevelValidationDetails: readonly AzureValidationSummaryItem[];
  readonly dbLevelValidationDetails: readonly {
    readonly databaseName: string;
    readonly startedOn: null;
    readonly endedOn: null;
    readonly summary: readonly AzureValidationSummaryItem[];
  }[];
}

/** Azure's MigrationStatus: the resource's currentStatus, the same in `show -o json` and PgMigration's outputs. */
export interface AzureCurrentStatus {
  readonly state: MigrationState;
  readonly error: string;
  readonly currentSubStateDetails: {
    readonly currentSubState: string;
    readonly dbDetails: Readonly<Record<string, AzureDbDetails>>;
    readonly validationDetails: AzureValidationDetails | null;
  };
}

/** Azure's booleans in the resource's JSON: the strings "True" and "False". */
type TrueFalse = 'True' | 'False';

/** The ARM resource of a migration (Microsoft.DBforPostgreSQL/flexibleServers/migrations), as `show` prints it. */
export interface AzureMigrationResource {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  /** As create recorded them (--location, --tags; azure-native's inputs). */
  readonly location: string | null;
  readonly tags: Readonly<Record<string, string>> | null;
  readonly properties: {
    readonly migrationId: string | null;
    readonly currentStatus: AzureCurrentStatus;
    readonly migrationMode: string;
    readonly migrationOption: string;
    readonly sourceType: string | null;
    /** Recorded, not used: Azure's runtime server for private networks. */
    readonly migrationInstanceResourceId: string | null;
    readonly sslMode: string | null;
    readonly sourceDbServerResourceId: string | null;
    readonly sourceDbServerFullyQualifiedDomainName: string | null;
    readonly sourceDbServerMetadata: { readonly version: string | null };
    readonly targetDbServerResourceId: string;
    readonly targetDbServerFullyQualifiedDomainName: string | null;
    readonly targetDbServerMetadata: { readonly version: string | null };
    readonly dbsToMigrate: readonly string[];
    readonly overwriteDbsInTarget: TrueFalse | null;
    readonly migrateRoles: TrueFalse | null;
    readonly setupLogicalReplicationOnSourceDbIfNeeded: TrueFalse | null;
    readonly startDataMigration: TrueFalse | null;
    readonly startedOn: string | null;
    readonly endedOn: string | null;
    readonly migrationWindowStartTimeInUtc: string | null;
    readonly migrationWindowEndTimeInUtc: string | null;
    readonly triggerCutover: TrueFalse | null;
    readonly dbsToTriggerCutoverOn: readonly string[];
    readonly cancel: TrueFalse | null;
    readonly dbsToCancelMigrationOn: readonly string[];
    /** pgferry's own status object, whole (statusJson). */
    readonly pgferry: Record<string, unknown>;
  };
}

function summaryItems(results: readonly ValidationResult[]): AzureValidationSummaryItem[] {
  const types = [...new Set(results.map((r) => r.type))];
  return types.map((type) => {
    const mine = results.filter((r) => r.type === type);
    return { type, state: worst(mine), messages: mine.map((r) => ({ state: r.status, message: r.message })) };
  });
}

function azureValidationDetails(status: MigrationStatus): AzureValidationDetails | null {
  if (status.validation.length === 0) return null;
  const server = status.validation.filter((r) => r.database === undefined);
  const databases = status.databases.map((d) => d.database).filter((db) => status.validation.some((r) => r.database === db));
  return {
    status: worst(status.validation),
    // pgferry does not record when validation ran; the step timings are in `pgferry show`'s events.
    validationStartTimeInUtc: null,
    validationEndTimeInUtc: null,
    serverLevelValidationDetails: summaryItems(server),
    dbLevelValidationDetails: databases.map((db) => ({
      databaseName: db,
      startedOn: null,
      endedOn: null,
      summary: summaryItems(status.validation.filter((r) => r.database === db)),
    })),
  };
}

interface StoredServer {
  host?: string;
  port?: number;
  user?: string;
  sslMode?: string;
}

function storedServer(spec: Record<string, unknown>, key: 'source' | 'target'): StoredServer {
  const value = spec[key];
  return typeof value === 'object' && value !== null ? (value as StoredServer) : {};
}

/** The migration's currentStatus: its state, the error that stopped it, substate and databases. */
export function azureCurrentStatus(status: MigrationStatus): AzureCurrentStatus {
  return {
    state: status.state,
    error: status.message ?? '',
    currentSubStateDetails: {
      currentSubState: azureSubState(status.subState),
      dbDetails: Object.fromEntries(status.databases.map((d) => [d.database, azureDbDetails(d, status.mode)])),
      validationDetails: azureValidationDetails(status),
    },
  };
}

/**
 * pgferry's own status object, as `show --output json` printed it before the Azure shape: now
 * properties.pgferry of that shape (`--query properties.pgferry` gives it back whole), with
 * start and end always present (null until known).
 */
export function statusJson(status: MigrationStatus): Record<string, unknown> {
  const { name, state, subState, mode, option, message, createdAt, startedAt, endedAt, ...rest } = status;
  return {
    name,
    state,
    subState,
    mode,
    option,
    message: message ?? null,
    createdAt,
    startedAt: startedAt ?? null,
    endedAt: endedAt ?? null,
    ...rest,
    // the lab's server.parameters shape, from the validation's parameter report
    recommendedServerParameters: recommendedServerParameters(status.validation),
  };
}

/** The migration as the Azure resource; `scope` from the command line wins over the recorded one. */
export function toAzureResource(status: MigrationStatus, scope: ArmScope = {}, fallbackServer = 'unknown'): AzureMigrationResource {
  const recorded = status.azureContext ?? {};
  const resolved: ArmScope = {
    subscription: scope.subscription ?? recorded.subscription,
    resourceGroup: scope.resourceGroup ?? recorded.resourceGroup,
  };
  const server = scope.server ?? recorded.server ?? fallbackServer;
  const source = storedServer(status.spec, 'source');
  const target = storedServer(status.spec, 'target');
  const databases = status.databases.map((d) => d.database);
  const online = status.mode === 'Online';
  return {
    id: `${serverResourceId(resolved, server)}/migrations/${status.name}`,
    name: status.name,
    type: MIGRATION_RESOURCE_TYPE,
    location: recorded.location ?? null,
    tags: recorded.tags ?? null,
    properties: {
      migrationId: status.instance ?? null,
      currentStatus: azureCurrentStatus(status),
      migrationMode: status.mode,
      migrationOption: status.option,
      sourceType: recorded.sourceType ?? null,
      migrationInstanceResourceId: recorded.migrationInstanceResourceId ?? null,
      sslMode: source.sslMode ? azureSpelling('sslMode', source.sslMode) : null,
      sourceDbServerResourceId: source.host
        ? `${source.host.includes(':') ? `[${source.host}]` : source.host}:${source.port}@${source.user}`
        : null,
      sourceDbServerFullyQualifiedDomainName: source.host ?? null,
      sourceDbServerMetadata: { version: status.sourceVersion ?? null },
      targetDbServerResourceId: serverResourceId(resolved, server),
      targetDbServerFullyQualifiedDomainName: target.host ?? null,
      targetDbServerMetadata: { version: status.targetVersion ?? null },
      dbsToMigrate: databases,
      // as created, or true once the user allowed it while the migration waited (Azure's PATCH)
      overwriteDbsInTarget: trueFalse(
        typeof status.spec.overwriteDbsInTarget === 'boolean'
          ? status.spec.overwriteDbsInTarget || status.overwriteAllowed === true
          : undefined,
      ),
      migrateRoles: trueFalse(recorded.migrateRoles),
      // as the migration was asked (the stored spec records it when true)
      setupLogicalReplicationOnSourceDbIfNeeded: trueFalse(status.spec.setupLogicalReplicationOnSourceDbIfNeeded === true),
      startDataMigration: trueFalse(status.spec.startDataMigration !== false),
      startedOn: status.startedAt ?? null,
      endedOn: status.endedAt ?? null,
      migrationWindowStartTimeInUtc: stringOf(status.spec.migrationWindowStartTimeInUtc),
      migrationWindowEndTimeInUtc: stringOf(status.spec.migrationWindowEndTimeInUtc),
      triggerCutover: online ? trueFalse(status.cutoverRequested === true) : null,
      // a cutover or cancel of the whole migration names every database, as az sends them
      dbsToTriggerCutoverOn: online ? (status.cutoverRequested ? databases : [...(status.dbsToTriggerCutoverOn ?? [])]) : [],
      cancel: trueFalse(status.cancelRequested === true),
      dbsToCancelMigrationOn: status.cancelRequested ? databases : [...(status.dbsToCancelMigrationOn ?? [])],
      pgferry: statusJson(status),
    },
  };
}

/** `check-name-availability`'s answer, as Azure's MigrationNameAvailabilityResource. */
export interface NameAvailability {
  readonly name: string;
  readonly type: string;
  readonly nameAvailable: boolean;
  readonly reason: 'Invalid' | 'AlreadyExists' | null;
  readonly message: string | null;
}

export function nameAvailability(name: string, taken: boolean, invalid?: string): NameAvailability {
  const reason = invalid ? 'Invalid' : taken ? 'AlreadyExists' : null;
  const message = invalid
    ? `migration name "${name}" ${invalid}`
    : taken
      ? `a migration named "${name}" already exists on this target server`
      : null;
  return { name, type: MIGRATION_RESOURCE_TYPE, nameAvailable: reason === null, reason, message };
}
