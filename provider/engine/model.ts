// Shared engine types: states (the Azure service's names), validation results, per-database
// details and the progress events every phase emits.

export const MIGRATION_STATES = ['InProgress', 'WaitingForUserAction', 'Succeeded', 'Failed', 'Canceled', 'ValidationFailed'] as const;
export type MigrationState = (typeof MIGRATION_STATES)[number];

export const FINAL_STATES: ReadonlySet<MigrationState> = new Set(['Succeeded', 'Failed', 'Canceled', 'ValidationFailed']);

export const MIGRATION_SUB_STATES = [
  'PerformingPreRequisiteSteps',
  'ValidationInProgress',
  'MigratingData',
  'WaitingForCutoverTrigger',
  'CompletingMigration',
  'Completed',
] as const;
export type MigrationSubState = (typeof MIGRATION_SUB_STATES)[number];

export type DatabaseState = 'Queued' | 'InProgress' | 'WaitingForCutoverTrigger' | 'Succeeded' | 'Failed' | 'Canceled';

export type ValidationStatus = 'Succeeded' | 'Warning' | 'Failed';

export interface ValidationResult {
  /** Stable check code, e.g. SOURCE_CONNECTIVITY, EXTENSION_NOT_ALLOWED. */
  readonly code: string;
  /** Azure-style check type, e.g. AuthenticationAndConnectivityValidation. */
  readonly type: string;
  readonly status: ValidationStatus;
  /** Database the check is about, when it is per database. */
  readonly database?: string;
  /** Server the check is about, when it is about one server. */
  readonly server?: 'source' | 'target';
  /** Names the object, e.g. `extension "hstore" is not available on the target`. */
  readonly message: string;
  /** How to fix it; absent for Succeeded. */
  readonly fix?: string;
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
  /** Online: source tables whose changes do not reach the target, and why (absent when none). */
  readonly notStreamed?: readonly NotStreamed[];
}

export interface NotStreamed {
  /** schema.name on the source. */
  readonly table: string;
  readonly reason: string;
}

export interface RunnerInfo {
  readonly host: string;
  readonly pid: number;
  readonly heartbeatAt: string;
  readonly alive: boolean;
}

export interface VerificationTable {
  readonly database: string;
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly matches: boolean;
  readonly reason?: string;
}

export interface VerificationReport {
  readonly ok: boolean;
  readonly tables: readonly VerificationTable[];
  /** First mismatch as one line, naming the table. */
  readonly firstMismatch?: string;
}

/** What `show` returns: one object, the same for the CLI's JSON and the Pulumi outputs. */
export interface MigrationStatus {
  readonly name: string;
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
  readonly downtimeSeconds?: number;
  readonly runner?: RunnerInfo;
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
  | { readonly kind: 'table-error'; readonly database: string; readonly table: string; readonly message: string }
  | { readonly kind: 'warning'; readonly message: string; readonly database?: string }
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
