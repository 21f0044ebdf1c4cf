// A trial's result and the rule that turns what was observed into an outcome: passed (a fault
// really happened, then Succeeded, the judge found both sides equal, every invariant held),
// stopped safely (a fault happened, then a final non-success state with a message, nothing left
// behind, no invariant broken: never counted as success), or failed (anything lost, extra,
// changed or left behind, two runners writing at once, WAL past the bound, stuck, a monitor that
// never sampled, a bystander's object harmed or stopping the migration, an error the source's
// application saw that the fault does not explain, or a migration that stopped with no fault at
// all). A trial whose fault never happened is neither
// passed nor stopped: `not-reached` when its phase's trigger never matched, `no-fault` when the
// injection did nothing (no runner alive to signal, nothing to reset, the injection threw); the
// campaign reports those and draws another trial in their place.
import { BYSTANDER_MARK } from './bystanderMark';
import type { DatabaseJudgement } from './judge';
import type { FenceState, Leftovers } from './leftovers';
import { leftoverLines } from './leftovers';
import type { MonitorReport } from './monitor';
import type { UserAction } from './user';

export type Outcome = 'passed' | 'stopped-safely' | 'failed' | 'not-reached' | 'no-fault';

/** An error the source's application (the trial's workload) saw. */
export interface WorkloadError {
  /** Milliseconds since the workload started. */
  readonly at: number;
  /** What the transaction did: 'transaction', 'large', 'truncate', or 'connect'. */
  readonly op: string;
  /** SQLSTATE, or the Node.js error code (ECONNREFUSED ...), when there is one. */
  readonly code?: string;
  readonly message: string;
}

export interface WorkloadReport {
  transactions: number;
  failures: number;
  largeTransactionRows: number;
  truncates: number;
  /** The errors, in order, up to a bound (failures counts them all). */
  errors: WorkloadError[];
  /** Milliseconds since the start when the cutover was requested with the writers fenced (fenceWriters). */
  fencedFrom?: number;
}

/** When a fault was in place, in milliseconds since the workload started (WorkloadError.at's clock). */
export interface FaultWindow {
  readonly from: number;
  readonly to: number;
}

export interface TrialResult {
  readonly index: number;
  readonly seed: number;
  readonly fault: string;
  readonly faultKind: string;
  readonly phase: string;
  /** The phase's trigger matched, so the fault was injected. */
  fired: boolean;
  /** The injected fault really did something (a runner signalled, a server restarted, connections reset ...). */
  faulted: boolean;
  faultDetail?: string;
  /** When the fault was in place (injected to taken away), in the workload's clock. */
  faultWindow?: FaultWindow;
  /** When the workload started, in milliseconds since the epoch: the origin of the workload's clock. */
  origin?: number;
  /** The schema change the application made while streaming, and how the trial's user answered it. */
  schemaChange?: SchemaChangeReport;
  outcome: Outcome;
  readonly reasons: string[];
  /** From the end of the fault to the first progress a live runner made after it. */
  recoveryMs?: number;
  totalMs: number;
  finalState?: string;
  message?: string;
  lostRows: number;
  extraRows: number;
  changedRows: number;
  rowsCompared: number;
  /** Large objects read back and compared on both servers (the judge's). */
  largeObjectsCompared?: number;
  resumes: number;
  actions: UserAction[];
  monitor?: MonitorReport;
  leftovers?: Leftovers;
  /** The cutover fenced the source's writers (fenceWriters). */
  fenceWriters?: boolean;
  /** Target sessions applying each stream, when more than one (applySessions: parallel apply). */
  applySessions?: number;
  /** Each source database's writer fence after the end (judged: kept when cut over, gone otherwise). */
  fences?: FenceState[];
  judgements: DatabaseJudgement[];
  workload?: WorkloadReport;
  /** A trial whose cutover opened a fallback window: what happened in it and at the fall-back. */
  fallback?: FallbackReport;
  /** What another actor made or wrote that pgferry does not own, and what became of it (bystander.ts). */
  bystander?: BystanderReport;
  /** The application's schema change in a fallback window, and the user's answer to the fall-back's stop on it (windowChange.ts). */
  windowChange?: WindowChangeReport;
}

/** The application's column and/or table made on the new server in a fallback window (windowChange.ts). */
export interface WindowChangeReport {
  /** Per trial database: column (on docs, on notes), table (app_events) or both. */
  readonly kinds: string[];
  /** fix (the printed statements run, the fall-back asked again) or close (the windows closed). */
  readonly answer: string;
  /** The application made it (the window opened, making it worked). */
  made: boolean;
  /** Why it was not made. */
  error?: string;
  /** The statements the user ran, as the stop's message printed them, by database and server. */
  readonly fixesRun: string[];
  /** After the fall-back: the column's values on the new server and on the old source, both databases. */
  columnValues?: [number, number];
  /** After the fall-back: the table's rows on the new server and on the old source, both databases. */
  tableRows?: [number, number];
}

/** The trial's bystanders (faults/bystander.ts). */
export interface BystanderReport {
  readonly items: BystanderItemReport[];
  /** The migration stopped on a bystander's object (its message or the user's cancel names it). */
  blocked?: string;
  /** The statements the DBA ran, as a fall-back's stop on their column or table printed them, by database and server. */
  fallBackFixes?: string[];
}

export interface BystanderItemReport {
  /** BYSTANDER_KINDS' name. */
  readonly kind: string;
  /** before, streaming, cutover or window. */
  readonly moment: string;
  readonly variant: string;
  readonly database: string;
  /** The bystander made it (the trial reached its moment, and making it worked). */
  made: boolean;
  /** What it made, as read back at once. */
  detail?: string;
  /** Why it was not made (not counted as harm: nothing of it exists to keep). */
  error?: string;
  /** What became of it at the end: dropped, changed, lost, added (empty: intact). */
  readonly harm: string[];
  /** A fallback window's `TRUNCATE notes CASCADE` on the new server (the foreign key table's kind). */
  truncatedOnNewServer?: boolean;
  /** Made on the old source too, by a fall-back's printed fix: read back there after the fall-back. */
  onOldSource?: boolean;
  /** The read-write client's counts. */
  writer?: WriterReport;
}

/** What the `BEGIN READ WRITE` client saw; its successes are the rows it made. */
export interface WriterReport {
  /** Commits it got a success for. */
  committed: number;
  /** Of those, in a session whose default_transaction_read_only was on: through the fence. */
  throughFence: number;
  /** Transactions refused as read-only (25006). */
  refused: number;
  /** Other errors (a session the fence ended, a server restarting), and commits of unknown fate. */
  otherErrors: number;
}

/** The window and the fall-back of a trial at a reverse-stream or fall-back phase (fallbackTrial.ts). */
export interface FallbackReport {
  /** The application on the new server while the window was open, fenced by the fall-back. */
  targetWorkload?: WorkloadReport;
  /** When that application started, in milliseconds after the source's (faultWindow's clock). */
  targetWorkloadFromMs?: number;
  /** `update --fall-back` requests the user made (again after a fall-back that stopped). */
  requests: number;
  /** Stops on the application's column or table of the window that the user fixed with the printed statements (windowChange.ts). */
  fixes?: number;
  /** Every database's window ended FellBack: the old source is the primary again. */
  fellBack: boolean;
  /**
   * The user closed the windows instead (the reverse stream stopped with a fix that touches a
   * bystander's object, which the user refuses to run, or the user's drawn answer to a stop on the
   * application's column or table of the window): why, as the window's message said it.
   */
  closed?: string;
  /** Each database's fall-back downtime, as the status reports it. */
  downtimeSeconds: number[];
  /** The application on the old source after the fall-back: nothing may fail (a key drawn twice would). */
  writesAgain?: WorkloadReport;
}

export interface SchemaChangeReport {
  /** SCHEMA_CHANGES' names of the release's changes, joined by `+`. */
  readonly name: string;
  /** Milliseconds after streaming began before the first, and between each next one and the one before. */
  readonly at: readonly number[];
  /** Every change made on the source (the trial reached streaming). */
  made: boolean;
  /** The stream stopped on it and the user made the same change on the target. */
  repeatedOnTarget?: boolean;
  /** Statements the cutover's schema check printed and the user ran on the target. */
  fixesRun: string[];
  /** Why the user canceled instead, when nothing they could run fixed it. */
  canceled?: string;
}

/** SQLSTATE classes and Node.js codes of a connection the server ended or refused. */
const CONNECTION_LOST = /^(57P0[123]|08...|ECONNREFUSED|ECONNRESET|EPIPE)$/;
const CONNECTION_LOST_TEXT = /Connection terminated|connection error and is not queryable|not queryable|ECONNREFUSED|ECONNRESET/i;

/** A transaction refused because the session's transactions are read-only (the writer fence). */
const READ_ONLY_SQL_TRANSACTION = '25006';

const connectionLost = (e: WorkloadError): boolean =>
  (e.code !== undefined && CONNECTION_LOST.test(e.code)) || CONNECTION_LOST_TEXT.test(e.message);

/**
 * After a source restart is over, how long the application may still meet its traces: a session
 * that ended in the crash fails at its next use, and the first connections may be told the
 * database system is starting up (57P03).
 */
const RESTART_AFTERMATH_MS = 10_000;

/**
 * The errors the source's application saw that the trial does not explain. pgferry may make no
 * application statement fail, with one exception asked for: once the cutover was requested with
 * the writers fenced (`fencedFrom`), a session the fence ended and a transaction it refused as
 * read-only (25006) are its doing by design. Two kinds are not its doing: a lost or refused
 * connection while the source itself restarted (the trial's fault: only from the crash to a few
 * seconds after the server is back, `sourceRestart`, in the workload's milliseconds), and a
 * TRUNCATE that gave up on its own lock_timeout while the copy held the table (pgferry holds what
 * it copies, as pg_dump does: the application waits, and this one stops waiting after a second).
 */
export function unexpectedWorkloadErrors(
  errors: readonly WorkloadError[],
  sourceRestart: FaultWindow | undefined,
  fencedFrom?: number,
): WorkloadError[] {
  const duringRestart = (e: WorkloadError): boolean =>
    sourceRestart !== undefined && e.at >= sourceRestart.from && e.at <= sourceRestart.to + RESTART_AFTERMATH_MS;
  return errors.filter((e) => {
    if (e.op === 'truncate' && e.code === '55P03') return false;
    if (duringRestart(e) && connectionLost(e)) return false;
    if (fencedFrom !== undefined && e.at >= fencedFrom && (e.code === READ_ONLY_SQL_TRANSACTION || connectionLost(e))) return false;
    return true;
  });
}

/**
 * A duplicate key refused by the DBA's own unique index on the new server: a failed concurrent build
 * that got as far as marking it ready leaves it invalid yet enforcing, so the application's writes
 * there meet the DBA's index, not anything pgferry did.
 */
function byDbaUniqueIndex(e: WorkloadError): boolean {
  return e.code === UNIQUE_VIOLATION && e.message.includes(`constraint "${BYSTANDER_MARK}`);
}

/** A unique violation, the code a DBA's unique index refuses a row with. */
const UNIQUE_VIOLATION = '23505';

/** Too many connections: the target-connections fault fills the new server, where the application writes in a window. */
const TOO_MANY_CONNECTIONS = '53300';

/**
 * A trial with a fallback window fails unless the old source is the primary again, the new server's
 * application saw only what its fault and the fall-back's fence explain, and the application back on
 * the old source saw no error at all (a key or sequence value drawn twice fails it: 23505).
 */
function fallbackReasons(result: TrialResult, reasons: string[]): void {
  const f = result.fallback!;
  if (result.finalState === 'Succeeded' && !f.fellBack && f.closed === undefined)
    reasons.push(`the fall-back did not complete (${f.requests} request(s))`);
  // the fault's window in the new server's application's own clock
  const shift = f.targetWorkloadFromMs ?? 0;
  const faultWindow =
    result.faulted && result.faultWindow ? { from: result.faultWindow.from - shift, to: result.faultWindow.to - shift } : undefined;
  const w = f.targetWorkload;
  if (w) {
    const restart = result.faultKind === 'target-restart' ? faultWindow : undefined;
    const full = result.faultKind === 'target-connections' ? faultWindow : undefined;
    const unexplained = unexpectedWorkloadErrors(w.errors, restart, w.fencedFrom).filter(
      (e) =>
        !(full && e.code === TOO_MANY_CONNECTIONS && e.at >= full.from && e.at <= full.to + RESTART_AFTERMATH_MS) && !byDbaUniqueIndex(e),
    );
    const count = unexplained.length + w.failures - w.errors.length;
    if (count > 0) {
      const shown = unexplained.slice(0, 3).map((e) => `${e.op} ${e.code ?? '-'} ${e.message}`);
      reasons.push(`the new server's application saw ${count} error(s) no fault explains: ${shown.join('; ')}`);
    }
  }
  const again = f.writesAgain;
  if (f.fellBack && (!again || again.transactions === 0)) reasons.push('the old source took no writes after the fall-back');
  if (again && again.failures > 0) {
    const shown = again.errors.slice(0, 3).map((e) => `${e.op} ${e.code ?? '-'} ${e.message}`);
    reasons.push(`the application back on the old source saw ${again.failures} error(s): ${shown.join('; ')}`);
  }
}

/**
 * The trial's own steps on the workload's clock (the fault in place, each command the user ran and
 * when it returned), printed beside a monitor's finding so a sample can be placed among them.
 */
export function trialTimeline(result: TrialResult): string {
  const at = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const steps: string[] = [];
  const w = result.faultWindow;
  if (w) steps.push(`${result.faultDetail ?? result.fault} from ${at(w.from)} to ${at(w.to)}`);
  const origin = result.origin;
  if (origin !== undefined) {
    for (const a of result.actions) steps.push(`${a.command} returned ${a.code ?? 'killed'} at ${at(a.at - origin)}`);
  }
  return `timeline: ${steps.length > 0 ? steps.join(', ') : 'no fault, no command'}`;
}

/** A trial fails on any difference, leftover (a replica identity left FULL included) or overlap of runners. */
export function classify(result: TrialResult, limits: { walBoundBytes: number; stuck?: string }): Outcome {
  const reasons = result.reasons;
  for (const j of result.judgements) {
    for (const d of j.catalogDiffs.slice(0, 5)) reasons.push(`${j.database}: catalog ${d}`);
    for (const t of j.tables) {
      reasons.push(
        `${j.database}: ${t.table} source ${t.sourceRows} target ${t.targetRows}: lost ${t.lost}, extra ${t.extra}, changed ${t.changed} (${t.samples.join(', ')})`,
      );
    }
  }
  if (result.leftovers) for (const l of leftoverLines(result.leftovers)) reasons.push(`left behind: ${l}`);
  const m = result.monitor;
  if (!m || m.samples === 0) {
    reasons.push(`the monitor took no complete sample (${m?.failedSamples ?? 0} failed): two runners at once would have gone unseen`);
  }
  if (m && m.twoWriterSamples > 0) {
    reasons.push(`two runners wrote at once (${m.twoWriterSamples} samples: ${m.twoWriterDetail}; ${trialTimeline(result)})`);
  }
  if (m && m.twoWorkerSamples > 0) {
    reasons.push(`two runners worked at once (${m.twoWorkerSamples} samples: ${m.twoWorkerDetail}; ${trialTimeline(result)})`);
  }
  if (m && m.longestOverlapMs > 10_000) reasons.push(`two runners alive together for ${(m.longestOverlapMs / 1000).toFixed(0)} s`);
  if (m && m.maxRetainedBytes > limits.walBoundBytes) {
    reasons.push(
      `source retained ${(m.maxRetainedBytes / 1048576).toFixed(0)} MiB of WAL (bound ${(limits.walBoundBytes / 1048576).toFixed(0)} MiB)`,
    );
  }
  if (result.workload) {
    const unexplained = unexpectedWorkloadErrors(
      result.workload.errors,
      result.faulted && result.faultKind === 'source-restart' ? result.faultWindow : undefined,
      result.workload.fencedFrom,
    );
    // Errors past the ones kept are unknown, so they count as unexplained.
    const unrecorded = result.workload.failures - result.workload.errors.length;
    if (unexplained.length + unrecorded > 0) {
      const shown = unexplained.slice(0, 3).map((e) => `${e.op} ${e.code ?? '-'} ${e.message}`);
      reasons.push(`the source's application saw ${unexplained.length + unrecorded} error(s) no fault explains: ${shown.join('; ')}`);
    }
  } else reasons.push('no report from the source workload');
  if (result.fallback) fallbackReasons(result, reasons);
  for (const b of result.bystander?.items ?? []) {
    for (const h of b.harm) reasons.push(`bystander ${b.kind} (${b.variant}, ${b.moment}, ${b.database}): ${h}`);
  }
  if (result.bystander?.blocked) reasons.push(`the migration stopped on a bystander's object: ${result.bystander.blocked}`);
  // first: why the trial stuck explains what the judge found after it
  if (limits.stuck) reasons.unshift(limits.stuck);
  // a cancel the user chose because nothing they could run fixed a schema change is explained
  const userCanceled = result.schemaChange?.canceled !== undefined && result.finalState === 'Canceled';
  if (!result.faulted && result.finalState && result.finalState !== 'Succeeded' && !userCanceled) {
    reasons.push(`ended ${result.finalState} with no fault: ${result.message ?? ''}`);
  }
  if (reasons.length > 0) return 'failed';
  if (!result.fired) return 'not-reached';
  if (!result.faulted) return 'no-fault';
  // the user stayed on the new server rather than touch a bystander's object: safe, not a fall-back
  if (result.fallback?.closed !== undefined) return 'stopped-safely';
  if (result.finalState === 'Succeeded') return 'passed';
  if (result.finalState && result.message) return 'stopped-safely';
  reasons.push(`ended ${result.finalState ?? 'without a final state'} without a message`);
  return 'failed';
}
