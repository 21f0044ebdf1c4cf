// What the console shows of a migration, shaped from its status: the grid's row, the migration's
// page and which buttons may be pressed. Pure: a status in, plain data out. Only fields named here
// reach the browser; the spec (servers, users) and anything else the catalog holds stay behind.
import {
  closeFallbackRefusal,
  databaseCopy,
  describeFence,
  fallBackRefusal,
  etaSeconds,
  isFinalState,
  type DatabaseDetails,
  type FallbackStatus,
  type PoolerPause,
  type MigrationStatus,
  type TableProgress,
  type ValidationResult,
  type VerificationReport,
} from '../engine';
import type { Series } from './watch';

export interface GridRow {
  readonly name: string;
  readonly mode: MigrationStatus['mode'];
  readonly state: MigrationStatus['state'];
  readonly subState: MigrationStatus['subState'];
  readonly databases: readonly string[];
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
}

export function gridRow(s: MigrationStatus): GridRow {
  return {
    name: s.name,
    mode: s.mode,
    state: s.state,
    subState: s.subState,
    databases: s.databases.map((d) => d.database),
    createdAt: s.createdAt,
    ...(s.startedAt === undefined ? {} : { startedAt: s.startedAt }),
    ...(s.endedAt === undefined ? {} : { endedAt: s.endedAt }),
  };
}

/** A button: whether it may be pressed now, why not, and what pressing it does (the confirmation). */
export interface Action {
  readonly allowed: boolean;
  readonly why?: string;
  readonly effect: string;
}

/**
 * The substates in which the engine accepts a cutover request (apiRequests.ts requestCutover): the
 * console enables its button in these only, and the engine checks again when it is pressed.
 */
const CUTOVER_READY: ReadonlySet<string> = new Set(['WaitingForCutoverTrigger', 'CompletingMigration', 'CancelingRequestedDBMigrations']);

/**
 * A database fell back with the forward stream asked for (`--resume-forward`): it streams from
 * the old source again, and its next cutover is a second one (docs/fallback.md).
 */
function cutOverBefore(s: MigrationStatus): boolean {
  return s.databases.some((d) => d.fallback?.state === 'FellBack' && d.fallback.forwardLsn !== undefined);
}

/**
 * What the next cutover will do, as its runner's spec says (MigrationStatus.cutoverPlan): the
 * fallback window it opens or that there is none, and where the applications are moved.
 */
function cutoverPlanWords(s: MigrationStatus): string {
  const plan = s.cutoverPlan;
  if (!plan) {
    return 'Changes written on the source after the cutover are not migrated; point the applications at the target. A migration created with fallbackWindow opens its window then.';
  }
  const moved = plan.pooler
    ? 'The applications connected through the pooler (PgBouncer) pause instead of getting errors: their statements wait while it is paused (about as long as the cutover), then run on the target on the connections they hold, the pooler switched to the target and resumed. Those that bypass it are not moved, and a write of theirs past the cutover point rolls the cutover back.'
    : plan.fenceWriters
      ? 'The source is fenced first: its sessions are ended and its writes refused (read-only) from then on, so no write is lost there; point the applications at the target.'
      : 'Changes written on the source after the cutover are not migrated; point the applications at the target.';
  const window = plan.fallbackWindow
    ? `It opens a fallback window of ${plan.fallbackWindow}: until it ends, or you fall back or close it, the target's writes are applied to the old source, which stays fenced.`
    : 'It opens no fallback window: once cut over there is no falling back to the old source.';
  return `${moved} ${window}`;
}

function cutoverAction(s: MigrationStatus): Action {
  const open = s.databases.filter((d) => d.state !== 'Succeeded' && d.state !== 'Canceled').map((d) => d.database);
  const again = cutOverBefore(s)
    ? " This cuts over again after a fall-back: the old source is fenced again and the release lifts the target's fence, so the applications move to the target."
    : '';
  const effect =
    `pgferry stops taking changes for ${open.join(', ') || 'no database'}: it drains the last changes, syncs sequences, ` +
    'compares source and target (schema and rows), then releases the replication slot and publication on the source. ' +
    cutoverPlanWords(s) +
    again;
  if (s.mode !== 'Online') return { allowed: false, why: 'an offline migration has no cutover', effect };
  if (isFinalState(s.state)) return { allowed: false, why: `the migration is ${s.state}`, effect };
  if (s.cutoverRequested) return { allowed: false, why: 'a cutover is already requested', effect };
  if (!CUTOVER_READY.has(s.subState)) return { allowed: false, why: `allowed once changes stream (now ${s.subState})`, effect };
  return { allowed: true, effect };
}

function cancelAction(s: MigrationStatus): Action {
  const effect =
    s.mode === 'Online'
      ? 'The migration stops: its replication slot, publication and origin are released on the source; what was copied stays on the target. It cannot be resumed.'
      : 'The migration stops; what was copied stays on the target. It cannot be resumed.';
  if (isFinalState(s.state)) return { allowed: false, why: `the migration is ${s.state}`, effect };
  if (s.cancelRequested) return { allowed: false, why: 'a cancel is already requested', effect };
  return { allowed: true, effect };
}

const FALL_BACK_EFFECT =
  'pgferry fences writers on the target (its sessions ended), applies its last writes to the old source, moves the sequences back, ' +
  "compares both servers (schema and rows) and lifts the old source's fence: the old source is the primary again, " +
  'the target stays fenced. Point the applications back at the old source.';

/**
 * Fall back (docs/fallback.md): the engine's own guard (fallBackRefusal, the one requestFallBack
 * applies), so the button is off exactly when `pgferry update --fall-back` is refused, with its words.
 */
function fallBackAction(s: MigrationStatus): Action {
  const why = fallBackRefusal(s, false);
  return why === undefined ? { allowed: true, effect: FALL_BACK_EFFECT } : { allowed: false, why, effect: FALL_BACK_EFFECT };
}

/** Fall back with the forward stream again (`--fall-back --resume-forward`): the same guard. */
function resumeForwardAction(s: MigrationStatus): Action {
  const effect =
    `${FALL_BACK_EFFECT} Then the target follows the old source again from the fall-back point (a replication slot on the old source keeps its WAL ` +
    'until the target applies it; the target stays fenced for the applications), so you can cut over again later without a new copy.';
  const why = fallBackRefusal(s, true);
  return why === undefined ? { allowed: true, effect } : { allowed: false, why, effect };
}

/** Close the window (`--close-fallback`): the engine's own guard, closeFallbackRefusal. */
function closeWindowAction(s: MigrationStatus): Action {
  const effect =
    'The reverse stream stops and its replication slot and publication are dropped on the target; the old source keeps its fence ' +
    'and no longer follows the target, so falling back is no longer possible. The target stays the primary.';
  const refused = closeFallbackRefusal(s);
  return refused === undefined ? { allowed: true, effect } : { allowed: false, why: refused.why, effect };
}

/** A cutover's steps as the catalog records them: done, under way, or still to come. */
interface CutoverStepView {
  readonly step:
    'pooler paused' | 'fence' | 'drain and sequences' | 'verification' | 'pooler switched to the target' | 'pooler resumed' | 'release';
  readonly state: 'done' | 'now' | 'next';
}

/**
 * The steps of a database's cutover while one is asked or under way, and once done, in the order
 * the cutover takes them: the pooler paused (with a pooler, once its pause is recorded), the fence
 * (with fenceWriters, once put on), the drain and the sequences (recorded together, as `drained`),
 * the verification, the pooler switched to the target and resumed (past the point of no return),
 * the release (the database Succeeded).
 */
function cutoverSteps(s: MigrationStatus, d: DatabaseDetails): CutoverStepView[] | undefined {
  const asked = s.cutoverRequested === true || s.subState === 'CompletingMigration' || d.cutoverStep !== undefined;
  if (!asked || d.state === 'Canceled') return undefined;
  const reached = ['drained', 'verified', 'released'].indexOf(d.cutoverStep ?? '') + 1;
  // neither the pooler nor fenceWriters is in the catalog's public spec: their steps show once recorded
  const pause = d.poolerPause?.state;
  const done: [CutoverStepView['step'], boolean][] = [
    ...(pause ? [['pooler paused', pause !== 'resumedOnSource'] as [CutoverStepView['step'], boolean]] : []),
    ...(d.writerFence ? [['fence', true] as [CutoverStepView['step'], boolean]] : []),
    ['drain and sequences', reached >= 1],
    ['verification', reached >= 2],
    ...(pause
      ? ([
          ['pooler switched to the target', pause === 'switched' || pause === 'resumed'],
          ['pooler resumed', pause === 'resumed'],
        ] as [CutoverStepView['step'], boolean][])
      : []),
    ['release', reached >= 3 && d.state === 'Succeeded'],
  ];
  const first = done.findIndex(([, ok]) => !ok);
  return done.map(([step, ok], i) => ({ step, state: ok ? 'done' : i === first ? 'now' : 'next' }));
}

export interface DatabaseView {
  readonly database: string;
  readonly state: DatabaseDetails['state'];
  readonly message?: string;
  readonly tables: DatabaseDetails['tables'];
  readonly rowsCopied: number;
  readonly bytesCopied: number;
  /** 0..1 of the copy, by size when sizes are known. */
  readonly fraction?: number;
  readonly totalBytes: number;
  readonly etaSeconds?: number;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly latencySeconds?: number;
  readonly pendingBytes?: number;
  readonly downtimeSeconds?: number;
  readonly cutoverStep?: DatabaseDetails['cutoverStep'];
  readonly applyStop?: { readonly code: string; readonly table?: string; readonly error: string; readonly fix: string };
  readonly notStreamed: readonly { readonly table: string; readonly reason: string }[];
  readonly cutoverSteps?: readonly CutoverStepView[];
  /** The database's fallback window after its cutover (docs/fallback.md), as show prints it. */
  readonly fallback?: FallbackView;
  /** The writer fences on it, the source's of a cutover and the target's of a fall-back, each in the words show prints. */
  readonly fences: readonly FenceView[];
}

interface FenceView {
  readonly server: 'source' | 'target';
  readonly line: string;
}

/** The database's writer fences as show lists them: the source's first, then the target's. */
function fencesView(d: DatabaseDetails): FenceView[] {
  const fences: FenceView[] = [];
  if (d.writerFence) fences.push({ server: 'source', line: describeFence(d.writerFence, 'source') });
  if (d.targetFence) fences.push({ server: 'target', line: describeFence(d.targetFence, 'target') });
  return fences;
}

export interface FallbackView {
  readonly state: FallbackStatus['state'];
  readonly endsAt: string;
  readonly latencySeconds?: number;
  readonly pendingBytes?: number;
  readonly retainedBytes?: number;
  readonly message?: string;
  readonly closedAt?: string;
  readonly fellBackAt?: string;
  readonly downtimeSeconds?: number;
  /** Through a pooler, its pause at the fall-back: since when, and once resumed, for how long and on which server. */
  readonly poolerPause?: PoolerPauseView;
}

interface PoolerPauseView {
  readonly pausedAt: string;
  /** Where the applications' queries run: still paused, or resumed on the old source or the new server. */
  readonly resumedOn: 'paused' | 'old source' | 'new server';
  readonly resumedAt?: string;
  readonly pauseSeconds?: number;
}

function pauseView(p: PoolerPause): PoolerPauseView {
  const resumedOn = p.resumedOn === undefined ? 'paused' : p.resumedOn === 'source' ? 'old source' : 'new server';
  const { resumedAt, pauseSeconds } = p;
  return {
    pausedAt: p.pausedAt,
    resumedOn,
    ...(resumedAt === undefined ? {} : { resumedAt }),
    ...(pauseSeconds === undefined ? {} : { pauseSeconds }),
  };
}

function fallbackView(f: FallbackStatus, pause: PoolerPause | undefined): FallbackView {
  const { state, endsAt, latencySeconds, pendingBytes, retainedBytes, message, closedAt, fellBackAt, downtimeSeconds } = f;
  const optional = { latencySeconds, pendingBytes, retainedBytes, message, closedAt, fellBackAt, downtimeSeconds };
  return {
    state,
    endsAt,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    ...(pause ? { poolerPause: pauseView(pause) } : {}),
  };
}

function databaseView(s: MigrationStatus, d: DatabaseDetails, tables: readonly TableProgress[], rate: number | undefined): DatabaseView {
  const copy = databaseCopy(d, tables);
  const steps = cutoverSteps(s, d);
  const stop = d.applyStop;
  return {
    database: d.database,
    state: d.state,
    ...(d.message === undefined ? {} : { message: d.message }),
    tables: d.tables,
    rowsCopied: d.rowsCopied,
    bytesCopied: d.bytesCopied,
    ...(copy.fraction === undefined ? {} : { fraction: copy.fraction }),
    totalBytes: copy.totalSize,
    ...(d.state === 'InProgress' && copy.fraction !== undefined && copy.fraction < 1
      ? { etaSeconds: etaSeconds(copy.totalSize - copy.doneSize, rate) }
      : {}),
    inserts: d.inserts,
    updates: d.updates,
    deletes: d.deletes,
    ...(d.latencySeconds === undefined ? {} : { latencySeconds: d.latencySeconds }),
    ...(d.pendingBytes === undefined ? {} : { pendingBytes: d.pendingBytes }),
    ...(d.downtimeSeconds === undefined ? {} : { downtimeSeconds: d.downtimeSeconds }),
    ...(d.cutoverStep === undefined ? {} : { cutoverStep: d.cutoverStep }),
    ...(stop ? { applyStop: { code: stop.code, ...(stop.table ? { table: stop.table } : {}), error: stop.error, fix: stop.fix } } : {}),
    notStreamed: d.notStreamed ?? [],
    ...(steps ? { cutoverSteps: steps } : {}),
    ...(d.fallback ? { fallback: fallbackView(d.fallback, d.poolerPauseBack) } : {}),
    fences: fencesView(d),
  };
}

function validationView(v: ValidationResult) {
  return {
    code: v.code,
    type: v.type,
    status: v.status,
    ...(v.database === undefined ? {} : { database: v.database }),
    message: v.message,
    ...(v.fix === undefined ? {} : { fix: v.fix }),
  };
}

/** The verification report without every matching table: the page lists what did not match. */
function verificationView(r: VerificationReport) {
  return {
    ok: r.ok,
    tablesCompared: r.tables.length,
    mismatches: r.tables.filter((t) => !t.matches).slice(0, 50),
    ...(r.firstMismatch === undefined ? {} : { firstMismatch: r.firstMismatch }),
    schema: (r.schema ?? []).map((s) => ({
      database: s.database,
      objects: s.objects,
      differences: s.differences.slice(0, 50),
      expected: s.expected.length,
      kept: (s.kept ?? []).slice(0, 50),
    })),
    leftOut: (r.leftOut ?? []).length,
  };
}

function runtimeView(s: MigrationStatus) {
  return {
    runtime: s.runtime ?? 'local',
    ...(s.runner ? { runner: { host: s.runner.host, pid: s.runner.pid, heartbeatAt: s.runner.heartbeatAt, alive: s.runner.alive } } : {}),
    agents: (s.agents ?? []).map((a) => ({
      name: a.name,
      host: a.host,
      alive: a.alive,
      heartbeatAt: a.heartbeatAt,
      itemsHeld: a.itemsHeld,
      items: a.items.slice(0, 20),
    })),
    ...(s.waiting === undefined ? {} : { waiting: s.waiting }),
  };
}

/** A migration's page: `rates` are the copy rates (bytes/s) of its databases, for the ETA. */
export function migrationPage(s: MigrationStatus, tables: readonly TableProgress[], rates: ReadonlyMap<string, number | undefined>) {
  return {
    ...gridRow(s),
    option: s.option,
    ...(s.message === undefined ? {} : { message: s.message }),
    ...(s.sourceVersion === undefined ? {} : { sourceVersion: s.sourceVersion }),
    ...(s.targetVersion === undefined ? {} : { targetVersion: s.targetVersion }),
    ...(s.downtimeSeconds === undefined ? {} : { downtimeSeconds: s.downtimeSeconds }),
    cutoverRequested: s.cutoverRequested === true,
    cancelRequested: s.cancelRequested === true,
    actions: {
      cutover: cutoverAction(s),
      cancel: cancelAction(s),
      fallBack: fallBackAction(s),
      resumeForward: resumeForwardAction(s),
      closeWindow: closeWindowAction(s),
    },
    cutOverBefore: cutOverBefore(s),
    databases: s.databases.map((d) => databaseView(s, d, tables, rates.get(d.database))),
    validation: s.validation.map(validationView),
    ...(s.verification ? { verification: verificationView(s.verification) } : {}),
    runtime: runtimeView(s),
  };
}

/** A database's latency and pending bytes as one reading gives them (undefined: none to end a chart on). */
type Figures = { readonly latency?: number; readonly pending?: number } | undefined;

/** Each database's samples cut at the reading's time and ended on the reading's own figures. */
function endedAtReading(
  samples: Readonly<Record<string, Series>>,
  readAt: number | undefined,
  figuresOf: (database: string) => Figures,
): Record<string, Series> {
  const out: Record<string, Series> = {};
  for (const [database, series] of Object.entries(samples)) {
    const figures = figuresOf(database);
    const keep = readAt === undefined ? series.at.length : series.at.filter((t) => t < readAt).length;
    const at = series.at.slice(0, keep);
    const latency = series.latency.slice(0, keep);
    const pending = series.pending.slice(0, keep);
    if (figures && readAt !== undefined && (figures.latency !== undefined || figures.pending !== undefined)) {
      at.push(readAt);
      latency.push(figures.latency ?? null);
      pending.push(figures.pending ?? null);
    }
    out[database] = { at, latency, pending };
  }
  return out;
}

/**
 * The charts of a migration's databases, ending at the reading its counters show. The runner
 * writes a database's counters every second and a chart sample every few seconds: a chart of the
 * samples alone ends on an older figure than the counter beside it (a backlog drained since reads
 * 0 B in the counter while the chart still climbs). So each chart is cut at the reading's time and
 * ends on the reading's own latency and pending bytes: the chart's last point and the counter are
 * one figure from one reading. `reverse`: the fallback windows' streams back to the old source,
 * ended on the window's figures while it streams back (a window closed or fallen back keeps its
 * samples and no figure of now).
 */
export function chartSeries(
  s: MigrationStatus,
  samples: Readonly<Record<string, Series>>,
  readAt: number | undefined,
  direction: 'forward' | 'reverse' = 'forward',
): Record<string, Series> {
  return endedAtReading(samples, readAt, (database) => {
    const d = s.databases.find((x) => x.database === database);
    if (direction === 'forward') return d && { latency: d.latencySeconds, pending: d.pendingBytes };
    const f = d?.fallback;
    return f && f.state !== 'Closed' && f.state !== 'FellBack' ? { latency: f.latencySeconds, pending: f.pendingBytes } : undefined;
  });
}
