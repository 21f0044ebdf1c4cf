// A migration's status in the shape `az postgres flexible-server migration show` prints (the ARM
// resource Microsoft.DBforPostgreSQL/flexibleServers/migrations), with pgferry's own status, whole,
// under properties.pgferry. Pure: scripts written for az read the same keys from pgferry.
import type { DatabaseDetails, DatabaseState, MigrationStatus, MigrationSubState, ValidationResult, ValidationStatus } from '../engine';
import { statusJson } from './statusJson';

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

const trueFalse = (value: boolean | undefined): string | null => (value === undefined ? null : value ? 'True' : 'False');

function databaseMessage(d: DatabaseDetails): string | null {
  if (d.applyStop) return `${d.applyStop.error} (fix: ${d.applyStop.fix})`;
  return d.message ?? null;
}

export function azureDbDetails(d: DatabaseDetails, mode: MigrationStatus['mode']): Record<string, unknown> {
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

/** Azure's ValidationSummaryItem list: one item per check type, its state the worst of its results. */
function summaryItems(results: readonly ValidationResult[]): Record<string, unknown>[] {
  const types = [...new Set(results.map((r) => r.type))];
  return types.map((type) => {
    const mine = results.filter((r) => r.type === type);
    return { type, state: worst(mine), messages: mine.map((r) => ({ state: r.status, message: r.message })) };
  });
}

function azureValidationDetails(status: MigrationStatus): Record<string, unknown> | null {
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

const AZURE_SSL: Record<string, string> = {
  disable: 'Disable',
  prefer: 'Prefer',
  require: 'Require',
  'verify-ca': 'VerifyCA',
  'verify-full': 'VerifyFull',
};

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

/** The migration as the Azure resource; `scope` from the command line wins over the recorded one. */
export function toAzureResource(status: MigrationStatus, scope: ArmScope = {}, fallbackServer = 'unknown'): Record<string, unknown> {
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
  const error = status.message ?? '';
  return {
    id: `${serverResourceId(resolved, server)}/migrations/${status.name}`,
    name: status.name,
    type: MIGRATION_RESOURCE_TYPE,
    properties: {
      migrationId: status.instance ?? null,
      currentStatus: {
        state: status.state,
        error,
        currentSubStateDetails: {
          currentSubState: azureSubState(status.subState),
          dbDetails: Object.fromEntries(status.databases.map((d) => [d.database, azureDbDetails(d, status.mode)])),
          validationDetails: azureValidationDetails(status),
        },
      },
      migrationMode: status.mode,
      migrationOption: status.option,
      sourceType: recorded.sourceType ?? null,
      sslMode: source.sslMode ? (AZURE_SSL[source.sslMode] ?? source.sslMode) : null,
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
/** Azure's MigrationNameAvailabilityResource. */
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
