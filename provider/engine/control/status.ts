// Shaping control-catalog rows into the MigrationStatus that `show`, the CLI and Pulumi read:
// the rows come from store.ts, this is pure.
import type {
  ApplyStop,
  AzureContext,
  CutoverPlan,
  CutoverStep,
  TargetDatabaseAction,
  DatabaseDetails,
  DatabaseState,
  MigrationState,
  MigrationStatus,
  MigrationSubState,
  NotStreamed,
  RunnerInfo,
  ValidationResult,
  VerificationReport,
} from '../core/model';
import { displayName, ident } from '../connect/quote';
import { CUTOVER_PLAN_KEY } from '../input/publicSpec';
import { CONTROL_SCHEMA, streamNamesOf } from '../core/names';

const S = ident(CONTROL_SCHEMA);

/** Runner heartbeats older than this are stale even if a lock looks held. */
const RUNNER_STALE_SECONDS = 30;

/** A migration's databases with their table counters, in the order they were given. */
export const SELECT_DATABASES = `
SELECT d.*,
       count(t.table_name) AS t_total,
       count(*) FILTER (WHERE t.state = 'Queued') AS t_queued,
       count(*) FILTER (WHERE t.state = 'Loading') AS t_loading,
       count(*) FILTER (WHERE t.state = 'Completed') AS t_completed,
       count(*) FILTER (WHERE t.state = 'Errored') AS t_errored,
       (SELECT jsonb_agg(jsonb_build_object('schema', s.schema_name, 'name', s.table_name, 'reason', s.not_streamed)
                         ORDER BY s.schema_name, s.table_name)
          FROM ${S}.source_table s
         WHERE s.migration = d.migration AND s.database = d.database AND s.not_streamed IS NOT NULL) AS not_streamed
  FROM ${S}.migration_database d
  LEFT JOIN ${S}.migration_table t ON t.migration = d.migration AND t.database = d.database
 WHERE d.migration = $1
 GROUP BY d.migration, d.database
 ORDER BY d.ordinal`;

export interface MigrationRow {
  name: string;
  mode: 'Offline' | 'Online';
  option: 'Validate' | 'Migrate' | 'ValidateAndMigrate';
  spec: Record<string, unknown>;
  state: MigrationState;
  sub_state: MigrationSubState;
  message: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  source_version: string | null;
  target_version: string | null;
  validation: ValidationResult[];
  verification: VerificationReport | null;
  downtime_seconds: number | null;
  runner: { host: string; pid: number; agent?: string; heartbeatAt: string; cutoverPlan?: CutoverPlan } | null;
  runner_locked: boolean;
  apply_retry_requests: number | null;
  cutover_requested_at: Date | null;
  cancel_requested: boolean | null;
  /** Absent on a catalog older than version 5 (the row is `m.*`). */
  azure_context?: AzureContext | null;
  /** Absent on a catalog older than version 9: local. */
  runtime?: 'local' | 'agents';
  /** runtime agents: the spec its runners start from, without passwords (the pooler's address is there, not in `spec`). */
  run_spec?: Record<string, unknown> | null;
  /** Null for migrations registered before instances existed (their names are the legacy ones). */
  instance: string | null;
  /** Absent on a catalog older than version 12. */
  overwrite_confirmed_at?: Date | null;
  replication_setup_requested_at?: Date | null;
  data_migration_start_requested_at?: Date | null;
}

export interface DatabaseRow {
  database: string;
  state: DatabaseState;
  message: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  rows_copied: string;
  bytes_copied: string;
  inserts: string;
  updates: string;
  deletes: string;
  latency_seconds: number | null;
  pending_bytes: string | null;
  slot_retained_bytes: string | null;
  target_database_action: TargetDatabaseAction | null;
  target_database_oid: string | null;
  cutover_step: CutoverStep | null;
  t_total: string;
  t_queued: string;
  t_loading: string;
  t_completed: string;
  t_errored: string;
  not_streamed: { schema: string; name: string; reason: string }[] | null;
  apply_stop: ApplyStop | null;
  /** Absent on a catalog older than version 7 (the row is `d.*`). */
  cutover_requested_at?: Date | null;
  cancel_requested_at?: Date | null;
  /** Absent on a catalog older than version 12. */
  downtime_seconds?: number | null;
  /** Absent on a catalog older than version 24. */
  cutovers?: number | null;
}

const iso = (d: Date | null | undefined): string | undefined => (d ? d.toISOString() : undefined);
const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

export function shapeStatus(
  row: MigrationRow,
  dbs: readonly DatabaseRow[],
  nowMs: number,
  leaseHolder?: { pid: number; host: string },
): MigrationStatus {
  const databases: DatabaseDetails[] = dbs.map((d) => ({
    database: d.database,
    state: d.state,
    tables: {
      total: num(d.t_total),
      queued: num(d.t_queued),
      loading: num(d.t_loading),
      completed: num(d.t_completed),
      errored: num(d.t_errored),
    },
    rowsCopied: num(d.rows_copied),
    bytesCopied: num(d.bytes_copied),
    startedAt: iso(d.started_at),
    endedAt: iso(d.ended_at),
    message: d.message ?? undefined,
    inserts: num(d.inserts),
    updates: num(d.updates),
    deletes: num(d.deletes),
    latencySeconds: d.latency_seconds ?? undefined,
    pendingBytes: d.pending_bytes === null ? undefined : num(d.pending_bytes),
    slotRetainedBytes: d.slot_retained_bytes === null ? undefined : num(d.slot_retained_bytes),
    names: row.mode === 'Online' ? streamNamesOf(row.name, d.database, row.instance ?? undefined) : undefined,
    targetDatabase: d.target_database_action
      ? { action: d.target_database_action, oid: d.target_database_oid === null ? undefined : num(d.target_database_oid) }
      : undefined,
    cutoverStep: d.cutover_step ?? undefined,
    ...(d.downtime_seconds === null || d.downtime_seconds === undefined ? {} : { downtimeSeconds: d.downtime_seconds }),
    ...(row.mode === 'Online' ? { cutovers: num(d.cutovers) } : {}),
    ...(d.not_streamed
      ? { notStreamed: d.not_streamed.map((n): NotStreamed => ({ table: displayName(n.schema, n.name), reason: n.reason })) }
      : {}),
    ...(d.apply_stop ? { applyStop: d.apply_stop } : {}),
  }));
  return shapedStatus(row, dbs, databases, runnerOf(row, nowMs, leaseHolder));
}

/**
 * The runner `show` names: the one holding the lease, read from its lease session, when it is not
 * the one recorded (a successor that took over and has not recorded itself yet: the recorded one
 * is its predecessor, gone); else the recorded one, alive while its lease is held and it heartbeats.
 */
function runnerOf(row: MigrationRow, nowMs: number, leaseHolder: { pid: number; host: string } | undefined): RunnerInfo | undefined {
  const recorded = row.runner;
  if (leaseHolder && (recorded?.pid !== leaseHolder.pid || recorded.host !== leaseHolder.host)) {
    // the lease held this moment is its heartbeat
    return { host: leaseHolder.host, pid: leaseHolder.pid, heartbeatAt: new Date(nowMs).toISOString(), alive: true };
  }
  if (!recorded) return undefined;
  const age = (nowMs - Date.parse(recorded.heartbeatAt)) / 1000;
  return {
    host: recorded.host,
    pid: recorded.pid,
    ...(recorded.agent ? { agent: recorded.agent } : {}),
    heartbeatAt: recorded.heartbeatAt,
    alive: row.runner_locked && age < RUNNER_STALE_SECONDS,
  };
}

function shapedStatus(
  row: MigrationRow,
  dbs: readonly DatabaseRow[],
  databases: MigrationStatus['databases'],
  runner: RunnerInfo | undefined,
): MigrationStatus {
  return {
    name: row.name,
    instance: row.instance ?? undefined,
    state: row.state,
    subState: row.sub_state,
    mode: row.mode,
    option: row.option,
    message: row.message ?? undefined,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    endedAt: iso(row.ended_at),
    sourceVersion: row.source_version ?? undefined,
    targetVersion: row.target_version ?? undefined,
    validation: row.validation,
    databases,
    verification: row.verification ?? undefined,
    downtimeSeconds: row.downtime_seconds ?? undefined,
    applyRetryRequests: row.apply_retry_requests ?? 0,
    cutoverRequested: row.cutover_requested_at !== null && row.cutover_requested_at !== undefined,
    cancelRequested: row.cancel_requested === true,
    // a catalog before version 12 recorded the confirmation in the spec itself
    overwriteAllowed:
      (row.overwrite_confirmed_at !== null && row.overwrite_confirmed_at !== undefined) || row.spec.overwriteDbsInTarget === true,
    replicationSetupRequested: row.replication_setup_requested_at !== null && row.replication_setup_requested_at !== undefined,
    dataMigrationStartRequested: row.data_migration_start_requested_at !== null && row.data_migration_start_requested_at !== undefined,
    dbsToTriggerCutoverOn: dbs.filter((d) => d.cutover_requested_at && d.state !== 'Succeeded').map((d) => d.database),
    dbsToCancelMigrationOn: dbs.filter((d) => d.cancel_requested_at).map((d) => d.database),
    ...(row.azure_context ? { azureContext: row.azure_context } : {}),
    runner,
    runtime: row.runtime ?? 'local',
    ...planAndSpec(row),
  };
}

/**
 * The cutover's plan, the runner's (the spec it runs with) before the creator's kept in the stored
 * spec (one run in its caller's process has no runner), and the spec without it.
 */
function planAndSpec(row: MigrationRow): { cutoverPlan?: CutoverPlan; spec: Record<string, unknown> } {
  const { [CUTOVER_PLAN_KEY]: stored, ...spec } = row.spec;
  const plan = row.runner?.cutoverPlan ?? (isPlan(stored) ? stored : undefined);
  return { ...(plan ? { cutoverPlan: plan } : {}), spec };
}

function isPlan(value: unknown): value is CutoverPlan {
  return typeof value === 'object' && value !== null && typeof (value as { fenceWriters?: unknown }).fenceWriters === 'boolean';
}
