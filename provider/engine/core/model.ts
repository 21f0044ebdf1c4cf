// Shared engine types: states (the Azure service's names), validation results, per-database
// details and the progress events every phase emits. The checks read from a status (a stopped
// runner, a wait that is over) are statusChecks.ts.
import type { QualifiedName } from './names';
export const MIGRATION_STATES = [
  'InProgress',
  'WaitingForUserAction',
  /** Not final: pgferry drops what it created (slots, publications, origins) before the final state. */
  'CleaningUp',
  'Succeeded',
  'Failed',
  'Canceled',
  'ValidationFailed',
] as const;
export type MigrationState = (typeof MIGRATION_STATES)[number];

export const FINAL_STATES: ReadonlySet<MigrationState> = new Set(['Succeeded', 'Failed', 'Canceled', 'ValidationFailed']);

export function isFinalState(state: MigrationState): boolean {
  return FINAL_STATES.has(state);
}

export const MIGRATION_SUB_STATES = [
  'PerformingPreRequisiteSteps',
  /** Online: the source needs wal_level=logical (or more slots/senders) and a restart; re-checked until it has them. */
  'WaitingForLogicalReplicationSetupRequestOnSourceDB',
  /** A target database exists and may not be overwritten: waiting for the user to allow it (waitForOverwriteConfirmation). */
  'WaitingForTargetDBOverwriteConfirmation',
  /** Created without dbsToMigrate: waiting for an update that names the databases (Azure's substate). */
  'WaitingForDBsToMigrateSpecification',
  /** Registered with a migration window: no runner has taken it up yet. */
  'WaitingForDataMigrationScheduling',
  /** Waiting for migrationWindowStartTimeInUtc. */
  'WaitingForDataMigrationWindow',
  'ValidationInProgress',
  'MigratingData',
  'WaitingForCutoverTrigger',
  /** pgferry's own: a database's stream stopped on an error the user can fix; its slot keeps every change. */
  'WaitingForApplyFix',
  'CompletingMigration',
  /** Online: some databases are being canceled (dbsToCancelMigrationOn) while the others stream on. */
  'CancelingRequestedDBMigrations',
  'Completed',
] as const;
export type MigrationSubState = (typeof MIGRATION_SUB_STATES)[number];

export type DatabaseState =
  | 'Queued'
  | 'InProgress'
  | 'WaitingForCutoverTrigger'
  | 'ApplyStopped'
  /** Its cancel was asked for (dbsToCancelMigrationOn): its stream stops and what it holds is released. */
  | 'Canceling'
  | 'Succeeded'
  | 'Failed'
  | 'Canceled';

/**
 * Why a database's stream stopped and has not moved since: a change the target refused (an
 * operator, a constraint, a rule, a missing column, a permission) or a source change that is not
 * followed. The slot and publication stay, so nothing is lost while the user fixes the cause.
 */
export interface ApplyStop extends StopCause {
  /** When the stream first stopped on this error (kept across retries until it moves again). */
  readonly since: string;
  /** When the last attempt that failed began. */
  readonly lastAttemptAt: string;
  readonly attempts: number;
  /** The retry requests (MigrationStatus.applyRetryRequests) counted when that attempt began: a request past it is not tried yet. */
  readonly retryRequestsSeen: number;
  /** The applied position the stream stopped at: it moves past it once the fix works. */
  readonly appliedLsn: string;
}

/** The parts of an ApplyStop that come from the error itself. */
export interface StopCause {
  /** The error code (errorCodes.ts) and the SQLSTATE, when the server gave one. */
  readonly code: string;
  readonly sqlState?: string;
  /** The table the failed statement wrote to, quoted as in SQL. */
  readonly table?: string;
  /** The failed statement's text, without its values (they travel as parameters or COPY data). */
  readonly statement?: string;
  readonly error: string;
  readonly fix: string;
}

/** What the migration did to a target database; 'creating'/'overwriting': the statement may or may not have run. */
export type TargetDatabaseAction = 'creating' | 'created' | 'overwriting' | 'overwritten';

/** How far an online cutover got in a database: applied to the marker, verified, source side released. */
export type CutoverStep = 'drained' | 'verified' | 'released';

export type ValidationStatus = 'Succeeded' | 'Warning' | 'Failed';

export interface ValidationResult {
  /** Stable check code, e.g. SOURCE_CONNECTIVITY, EXTENSION_NOT_ALLOWED. */
  readonly code: string;
  /** Azure-style check type, e.g. AuthenticationAndConnectivityValidation. */
  readonly type: string;
  readonly status: ValidationStatus;
  /** Database the check is about, when it is per database. */
  readonly database?: string;
  /** Server the check is about, when it is about one server (the pooler: spec.pooler's PgBouncer). */
  readonly server?: 'source' | 'target' | 'pooler';
  /** Names the object, e.g. `extension "hstore" is not available on the target`. */
  readonly message: string;
  /** How to fix it; absent for Succeeded. */
  readonly fix?: string;
  /** SQL that recreates the object the result is about (an object left behind on the source). */
  readonly definition?: string;
  /** A server parameter that differs between source and target (validate/serverParameters.ts). */
  readonly parameter?: ServerParameterComparison;
}

/** One server parameter the source's administrator set, compared with the target. */
export interface ServerParameterComparison {
  /** Lower case, as Azure names it. */
  readonly name: string;
  /** pg_settings.setting, in the parameter's unit. */
  readonly sourceValue: string;
  /** Absent when the target has no such parameter (an older version, an extension not loaded). */
  readonly targetValue?: string;
  /** pg_settings.unit (8kB, ms, kB ...), when the parameter has one. */
  readonly unit?: string;
  readonly differs: boolean;
  /** In pgferry's allow-list of Azure Flexible Server's user-configurable parameters (validate/azureParameters.ts). */
  readonly azureAllows: boolean;
  /** pg_settings.context is postmaster: takes effect only after a restart. */
  readonly needsRestart: boolean;
}

export interface TableCounters {
  readonly total: number;
  readonly queued: number;
  readonly loading: number;
  readonly completed: number;
  readonly errored: number;
}

/** One table's copy progress, as the control catalog records it. */
export interface TableProgress {
  readonly database: string;
  readonly table: string;
  readonly state: 'Queued' | 'Loading' | 'Completed' | 'Errored';
  readonly rows: number;
  readonly bytes: number;
  readonly parts: number;
  readonly partsDone: number;
  /** The table's size on the source before the copy (pg_table_size); absent for tables registered before it was recorded. */
  readonly sizeBytes?: number;
  readonly message?: string;
}

export interface DatabaseDetails {
  readonly database: string;
  readonly state: DatabaseState;
  readonly tables: TableCounters;
  readonly rowsCopied: number;
  readonly bytesCopied: number;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly message?: string;
  // online
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly latencySeconds?: number;
  readonly pendingBytes?: number;
  readonly slotRetainedBytes?: number;
  /** Online: what the migration creates for this database (slot and publication on the source, origin on the target). */
  readonly names?: { readonly slot: string; readonly publication: string; readonly origin: string };
  /** The target database this migration created (or re-created under overwrite): only it is ever dropped. */
  readonly targetDatabase?: { readonly action: TargetDatabaseAction; readonly oid?: number };
  readonly cutoverStep?: CutoverStep;
  /** Online: seconds from the start of the cutover that included this database to its end. */
  readonly downtimeSeconds?: number;
  /** Online: how many times this database was cut over (a fall-back with --resume-forward, then a cutover again: 2). */
  readonly cutovers?: number;
  /** Online: the slot as the source showed it when `show` read it (withSourceSlots). */
  readonly sourceSlot?: SourceSlotState;
  /** Online: the stream stopped on an error the user can fix (state ApplyStopped). */
  readonly applyStop?: ApplyStop;
  /** Online: source tables whose changes do not reach the target, and why (absent when none). */
  readonly notStreamed?: readonly NotStreamed[];
  /** Online with fenceWriters: the source database is (or may be) read-only for new transactions since the cutover fenced it. */
  readonly writerFence?: WriterFence;
  /** Online with a fallback window: the target database is (or may be) read-only for new transactions since a fall-back fenced it. */
  readonly targetFence?: WriterFence;
  /** Online with a pooler: the pause of the pooler's databases that go to this database at its cutover, as the footprint ledger records it. */
  readonly poolerPause?: PoolerPause;
  /** Through a pooler, the pooler's pause at the fall-back (docs/pooler.md#the-fall-back-through-the-pooler), from PAUSE to RESUME. */
  readonly poolerPauseBack?: PoolerPause;
  /** Online: what of the footprint is still to give back in this database, per change, when `show` read it (absent: nothing). */
  readonly pendingFootprint?: readonly PendingChange[];
  /** Online, cut over with a fallback window (docs/fallback.md): the window and its reverse stream. */
  readonly fallback?: FallbackStatus;
}

/** A database's fallback window as the runner last recorded it (docs/fallback.md). */
export interface FallbackStatus {
  /**
   * Opening: recorded, the reverse slot may not exist yet; Open: the reverse stream applies;
   * Stopped: it stopped on an error (retried; a fall-back waits for it); FallingBack: `update
   * --fall-back` under way; FellBack: the old source is the primary again, the target fenced;
   * Closed: slot and publication dropped, the old source fenced.
   */
  readonly state: 'Opening' | 'Open' | 'Stopped' | 'FallingBack' | 'FellBack' | 'Closed';
  readonly endsAt: string;
  /** Seconds the oldest target transaction received and not yet applied on the old source is behind. */
  readonly latencySeconds?: number;
  /** WAL written on the target past what the old source has applied. */
  readonly pendingBytes?: number;
  /** WAL the reverse slot keeps on the target. */
  readonly retainedBytes?: number;
  readonly appliedLsn?: string;
  readonly closedAt?: string;
  readonly message?: string;
  /** A fall-back was asked and is not done. */
  readonly fallBackRequested?: boolean;
  readonly fellBackAt?: string;
  /** The fall-back's downtime: from the target fenced to the old source's fence lifted. */
  readonly downtimeSeconds?: number;
  /** FellBack with --resume-forward: the forward stream runs again from this point of the old source. */
  readonly forwardLsn?: string;
}

/** One change of the footprint (engine/footprint/) with what is still to give back: the statements that would. */
export interface PendingChange {
  /** The footprint module: writerFence, targetFiring, targetForeignKeys, slotAndPublication, appliedPosition, replicaIdentity. */
  readonly change: string;
  readonly pending: readonly string[];
  /** `show` could not read it (a server it cannot reach): why. */
  readonly error?: string;
}

/**
 * A writer fence on a database: a cutover's on the source (fenceWriters), or a fall-back's on the
 * target; default_transaction_read_only set on, the sessions connected then ended. Lifted at a
 * roll-back, cancel or failure; kept once the switchover passed its point of no return, since
 * writes on the server it left would no longer reach the other.
 */
export interface WriterFence {
  readonly fencedAt: string;
  /** The database's own default_transaction_read_only before the fence (absent: it had none). */
  readonly priorSetting?: string;
  /** Sessions the fence ended on the server it fences. */
  readonly sessionsEnded?: number;
  /** The database was cut over (or fell back) and the fence stays on purpose. */
  readonly kept: boolean;
  /** The statement that lifts it (to run on the server it fences once nothing writes there by mistake). */
  readonly lift: string;
  /** With it, the statement run in the database itself that takes the fence's triggers away. */
  readonly liftInDatabase: string;
}

/**
 * A cutover's pause of the pooler (spec.pooler, docs/pooler.md) for one database, from the
 * footprint ledger: paused (the applications' queries held), switched (its lines pointed at the
 * target and the pooler reloaded, the queries still held), resumed (running on the target, kept),
 * or resumedOnSource (a roll-back gave the pause back: the queries ran on the old source).
 */
export interface PoolerPause {
  /**
   * paused; switched (its lines pointed where the switchover goes, reloaded, not resumed); resumed
   * there; resumedOnSource: given back where the switchover left, the cutover's source or, at a
   * fall-back, the new server (`resumedOn` says which server either way).
   */
  readonly state: 'paused' | 'switched' | 'resumed' | 'resumedOnSource';
  /** The pooler's databases that go to this database. */
  readonly poolerDatabases: readonly string[];
  readonly pausedAt: string;
  readonly switchedAt?: string;
  /** Once resumed: when, and on which of the migration's servers (the old source or the target). */
  readonly resumedAt?: string;
  readonly resumedOn?: 'source' | 'target';
  /** Once resumed: how long the applications' queries waited, from the PAUSE to the RESUME. */
  readonly pauseSeconds?: number;
}

/**
 * What a cutover of the migration will do, from the spec of the runner that holds it (or last
 * held it), else from the spec it was registered with (a run in its caller's process has no
 * runner): the console's confirmation says it. A cutover request's own options (`update --cutover
 * --fallback-window ...`) apply over it for that cutover.
 */
export interface CutoverPlan {
  /** The fallback window a cutover opens, as written (`24h`); absent: none. */
  readonly fallbackWindow?: string;
  readonly fenceWriters: boolean;
  /** The pooler in front of the source is paused and switched to the target (spec.pooler). */
  readonly pooler: boolean;
}

export interface NotStreamed {
  /** schema.name on the source. */
  readonly table: string;
  readonly reason: string;
}

/** A replication slot read from the source directly; `error` when the source could not be reached. */
export interface SourceSlotState {
  readonly readAt: string;
  readonly exists?: boolean;
  readonly active?: boolean;
  readonly retainedBytes?: number;
  /** PostgreSQL 13+: reserved, extended, unreserved or lost (past max_slot_wal_keep_size). */
  readonly walStatus?: string;
  readonly error?: string;
}

export interface RunnerInfo {
  readonly host: string;
  readonly pid: number;
  /** The agent that started it (runtime agents). */
  readonly agent?: string;
  readonly heartbeatAt: string;
  readonly alive: boolean;
}

/** An agent registered on the target (`pgferry agent`), as `show` lists it. */
export interface AgentInfo {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly heartbeatAt: string;
  readonly alive: boolean;
  /** Work items of this migration it holds now. */
  readonly itemsHeld: number;
  /** Those items: "database: schema.table", with "part i/n" for a part of a split table. */
  readonly items: readonly string[];
  /** Whether it holds the credentials this migration's source needs. */
  readonly hasCredentials: boolean;
  /** Only for a migration with a pooler: whether it holds the pooler's admin credentials (PGFERRY_POOLER_ADMIN_URL). */
  readonly hasPoolerCredentials?: boolean;
}

export interface VerificationTable {
  readonly database: string;
  readonly table: string;
  /** A table's schema and name (a line that is a table's): what its recorded verification is keyed by. */
  readonly relation?: QualifiedName;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly matches: boolean;
  readonly reason?: string;
  /** How an online cutover read the table again: whole, the keys changed since its pinned verification, or its count only. */
  readonly method?: 'full' | 'keys' | 'count';
  /** Keys read again (method 'keys'). */
  readonly keysChecked?: number;
}

export interface VerificationReport {
  readonly ok: boolean;
  readonly tables: readonly VerificationTable[];
  /** First mismatch as one line, naming the table. */
  readonly firstMismatch?: string;
  /** Source objects the target user cannot create, left behind and not compared (skipUnsupportedObjects). */
  readonly leftOut?: readonly LeftOutObject[];
  /** The schema compared object by object, per database (verify/schema); a difference makes `ok` false. */
  readonly schema?: readonly SchemaReport[];
}

/** One database's schema, source against target (verify/schema). */
export interface SchemaReport {
  readonly database: string;
  /** Objects compared (the source's). */
  readonly objects: number;
  readonly differences: readonly SchemaDifference[];
  /** Differences the migration makes on purpose, each with its reason (the README lists them). */
  readonly expected: readonly ExpectedDifference[];
  /**
   * Objects the target alone has, which pgferry did not make and the source never had (a DBA's
   * table, index, column): kept as they are, not differences (DESIGN: what pgferry did not make is
   * not pgferry's). Absent in reports of an older pgferry.
   */
  readonly kept?: readonly KeptObject[];
  readonly seconds: number;
}

/** An object the target alone has, kept: named as the schema check names objects, and why it is kept. */
export interface KeptObject {
  readonly object: string;
  readonly reason: string;
  /**
   * For a column of a table both servers have: where it is and the statement that makes it on the
   * other server (a fall-back refuses to leave its values behind, flow/columnsLeftBehind.ts).
   */
  readonly column?: KeptColumn;
}

/** A column only the target has, of a table the source has too. */
export interface KeptColumn {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  /** `ALTER TABLE ... ADD COLUMN ...`, the target's definition, for the source. */
  readonly add: string;
}

export interface SchemaDifference {
  /** `column public.orders.placed_at`, `index public.orders_placed_idx` ...: prose, each name as displayIdent prints it. */
  readonly object: string;
  /** What differs, in a few words: `only on the source`, `default: source now(), target none`. */
  readonly detail: string;
  /** The statement (or statements) that makes the target match the source. */
  readonly fix: string;
  /** The table it is or belongs to (schema.name, as the verification names tables): its rows are read whole next time. */
  readonly table?: string;
  /** That table's schema and name, by which its recorded verification is forgotten. */
  readonly relation?: QualifiedName;
}

export interface ExpectedDifference {
  readonly object: string;
  readonly reason: string;
}

export interface LeftOutObject {
  readonly database: string;
  /** As pg_describe_object names it: `event trigger audit_ddl`, `trigger t_perl on table public.t`. */
  readonly object: string;
}

/**
 * What an az-style `pgferry create` was told that the engine does not act on, kept so that `show`
 * can print the migration's ARM-like id and properties as Azure names them. Never a secret.
 */
export interface AzureContext {
  readonly subscription?: string;
  readonly resourceGroup?: string;
  /** The target server's name (`--name` beside `--migration-name`). */
  readonly server?: string;
  readonly sourceType?: string;
  readonly migrateRoles?: boolean;
  /** Azure's runtime server for private networks (migrationInstanceResourceId): recorded, not used. */
  readonly migrationInstanceResourceId?: string;
  /** The target server's location and tags as the Pulumi program gave them (azure-native's inputs). */
  readonly location?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** What `show` returns: one object, the same for the CLI's JSON and the Pulumi outputs. */
export interface MigrationStatus {
  readonly name: string;
  /** Random, drawn at registration; the names of what the migration creates derive from it. */
  readonly instance?: string;
  readonly state: MigrationState;
  readonly subState: MigrationSubState;
  readonly mode: 'Offline' | 'Online';
  readonly option: 'Validate' | 'Migrate' | 'ValidateAndMigrate';
  readonly message?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly sourceVersion?: string;
  readonly targetVersion?: string;
  readonly validation: readonly ValidationResult[];
  readonly databases: readonly DatabaseDetails[];
  readonly verification?: VerificationReport;
  /**
   * Online: the longest cutover downtime of any database (each database's own is in
   * databases[].downtimeSeconds; databases cut over on their own have their own).
   */
  readonly downtimeSeconds?: number;
  /** How many times a user asked stopped streams to try again now (`pgferry resume`, `pulumi up`). */
  readonly applyRetryRequests?: number;
  /** A cutover was asked for (and not cleared by a cutover that stopped). */
  readonly cutoverRequested?: boolean;
  readonly cancelRequested?: boolean;
  /**
   * Overwriting existing target databases is allowed: asked at create (overwriteDbsInTarget) or
   * confirmed while the migration waited (WaitingForTargetDBOverwriteConfirmation).
   */
  readonly overwriteAllowed?: boolean;
  /** The user let pgferry set up logical replication on the source (update --setup-replication). */
  readonly replicationSetupRequested?: boolean;
  /** The data migration of a migration created with startDataMigration: False was started. */
  readonly dataMigrationStartRequested?: boolean;
  /** Online: databases whose own cutover was asked for (dbsToTriggerCutoverOn), not yet cut over. */
  readonly dbsToTriggerCutoverOn?: readonly string[];
  /** Databases whose own cancel was asked for (dbsToCancelMigrationOn). */
  readonly dbsToCancelMigrationOn?: readonly string[];
  readonly azureContext?: AzureContext;
  readonly runner?: RunnerInfo;
  /** local: its own runner; agents: run by `pgferry agent` processes. */
  readonly runtime?: 'local' | 'agents';
  /** runtime agents: the agents registered on the target. */
  readonly agents?: readonly AgentInfo[];
  /** runtime agents, in progress, and no live agent can run it: why nothing runs. */
  readonly waiting?: string;
  /** What a cutover will do, as its runner's spec says, else as the spec it was created with (absent: created before either was recorded). */
  readonly cutoverPlan?: CutoverPlan;
  readonly spec: Record<string, unknown>;
}

/** Progress events: phases emit them, the control catalog and the CLI/Pulumi subscribe. */
export type ProgressEvent =
  | { readonly kind: 'step'; readonly step: string; readonly index: number; readonly total: number; readonly database?: string }
  | { readonly kind: 'step-done'; readonly step: string; readonly seconds: number; readonly database?: string }
  | { readonly kind: 'table-start'; readonly database: string; readonly table: string; readonly part?: number; readonly parts?: number }
  | {
      readonly kind: 'table-progress';
      readonly database: string;
      readonly table: string;
      /** The table's schema and name, which its progress row is keyed by (`table` is how it prints). */
      readonly relation: QualifiedName;
      /** Rows of finished parts (COPY counts rows only at its end). */
      readonly rows: number;
      /** Bytes moved so far, finished parts and parts in flight. */
      readonly bytes: number;
      /** Set when a part of a split table finished. */
      readonly partsDone?: number;
    }
  | {
      readonly kind: 'table-done';
      readonly database: string;
      readonly table: string;
      readonly rows: number;
      readonly bytes: number;
      readonly seconds: number;
    }
  | {
      readonly kind: 'table-error';
      readonly database: string;
      readonly table: string;
      readonly relation: QualifiedName;
      readonly message: string;
    }
  | {
      readonly kind: 'warning';
      readonly message: string;
      readonly database?: string;
      /** Already among the migration's events (its step recorded it itself): shown, not recorded again. */
      readonly recorded?: true;
    }
  | { readonly kind: 'info'; readonly message: string; readonly database?: string };

export type ProgressListener = (event: ProgressEvent) => void;

/** Calls a listener so that its exceptions never break the engine. */
export function safeEmit(listener: ProgressListener | undefined, event: ProgressEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // a listener's failure must not stop a migration
  }
}
