// A trial at a reverse-stream or fall-back phase, after its cutover (asked with a fallback window)
// is Succeeded: the application moves to the new server and writes there while the reverse stream
// applies its writes to the old source, then the user falls back (`update --fall-back`, the
// application writing on into the new server's fence), resuming a dead runner and asking again
// after a fall-back that stopped, until every window is FellBack (or, where the reverse stream
// stopped with a fix that would touch a bystander's object, closing the windows and staying on the
// new server: stopped safely, the old source left behind by the user's choice). A fall-back stopped
// on the application's column or table of the window (windowChange.ts) is answered as drawn: the
// printed fix run and the fall-back asked again, or the windows closed. The judge then
// compares the old source with the new server, where everything the application wrote on both
// sides is (the new server is fenced from the fall-back on), and the application writes on the old
// source again: no key or sequence value may be drawn twice there.
import { type FallbackStatus, get, type MigrationStatus } from '../provider/engine';
import { type CatalogConnection, PRIOR_SETTING_SQL } from '../provider/engine/internal';
import type { Cluster } from '../test/support';
import { CampaignWorkload } from './campaignWorkload';
import { type BystanderActor } from './bystander';
import { BYSTANDER_MARK } from './bystanderMark';
import type { ArmedFault } from './faults';
import type { FixtureSize } from './fixture';
import { judgeDatabase, SEQUENCE_CRASH_SLACK, type BystanderObjects } from './judge';
import { findLeftovers, passesTableIn } from './leftovers';
import type { FallbackReport, TrialResult } from './outcome';
import type { Phase } from './phases';
import type { Rng } from './rng';
import { PHASE_WAIT_MS, POLL_MS, RunnerWatch, STUCK_MS, type TrialUser } from './user';
import { POOLED_TABLE } from './poolerTrial';
import { stoppedOnNewServerObject, stoppedOnReverseStream, type WindowStop } from './printedFix';
import type { WindowChangeActor } from './windowChange';

/** The window a trial's cutover asks for: long enough never to pass during a trial. */
export const TRIAL_FALLBACK_WINDOW = '1h';

/** A fall-back that stopped is asked again, at most this many times in all. */
const MAX_REQUESTS = 3;
/** The application writes again on the old source this long after the fall-back. */
const WRITES_AGAIN_MS = 4000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FallbackDriveArgs {
  readonly name: string;
  readonly store: CatalogConnection;
  readonly user: TrialUser;
  readonly fault: ArmedFault;
  readonly phase: Phase;
  readonly clusters: { readonly source: Cluster; readonly target: Cluster };
  readonly databases: readonly [string, string];
  readonly size: FixtureSize;
  readonly rng: Rng;
  readonly result: TrialResult;
  readonly deadline: number;
  /** When the source's application started (the trial's fault window counts from it). */
  readonly workloadStartedAt: number;
  /** Another actor: a DBA on the new server in the window (bystander.ts). */
  readonly bystander: BystanderActor | undefined;
  /** The application's column or table made on the new server in the window, and the user's answer to the stop on it (windowChange.ts). */
  readonly windowChange: WindowChangeActor | undefined;
  /** Behind a pooler: the failpoint is the fault, the drawn one is never armed; the application's table is the pooler's judge's. */
  readonly pooled: boolean;
}

type Step = 'opening' | 'writing' | 'asking' | 'falling-back' | 'closing';

/** The user's loop in the window: returns undefined once every window fell back, or why the trial is stuck. */
export async function driveFallback(a: FallbackDriveArgs): Promise<string | undefined> {
  const report: FallbackReport = { requests: 0, fellBack: false, downtimeSeconds: [] };
  a.result.fallback = report;
  const workload = new CampaignWorkload(a.clusters.target, a.databases, a.size, a.rng.fork('target workload'), 1);
  report.targetWorkloadFromMs = workload.startedAt - a.workloadStartedAt;
  // the application's time on the new server before the user falls back
  const writeMs = a.rng.fork('window').int(4, 12) * 1000;
  let step: Step = 'opening';
  let writingSince = 0;
  const runner = new RunnerWatch(a.user, a.result);
  let lastSignature = '';
  let lastProgress = Date.now();
  let signatureAtOver: string | undefined;
  try {
    for (;;) {
      await sleep(POLL_MS);
      const now = Date.now();
      if (now > a.deadline) return `the fall-back not finished within the trial deadline (step ${step})`;
      const status = await get(a.store, a.name).catch(() => undefined);
      if (!status) continue; // the new server may be restarting: the user's `show` fails too
      const windows = status.databases.map((d) => d.fallback);
      const sig = signature(status, windows);
      if (sig !== lastSignature) [lastSignature, lastProgress] = [sig, now];
      const faultBusy = a.fault.fired && a.fault.overAt === undefined;
      if (!faultBusy && now - lastProgress > STUCK_MS) return `stuck in the window (step ${step}) for ${STUCK_MS / 1000} s: ${sig}`;
      if (a.fault.overAt !== undefined && a.result.recoveryMs === undefined) {
        signatureAtOver ??= sig;
        if (sig !== signatureAtOver && status.runner?.alive === true) a.result.recoveryMs = now - a.fault.overAt;
      }
      if (windows.every((w) => w?.state === 'FellBack')) {
        // a resumed runner that finished between two polls has exited by now: the end is its progress
        if (a.fault.overAt !== undefined) a.result.recoveryMs ??= now - a.fault.overAt;
        report.fellBack = true;
        report.downtimeSeconds = windows.map((w) => w?.downtimeSeconds ?? -1);
        return undefined;
      }
      if (step === 'closing' && windows.every((w) => w?.state === 'Closed' || w?.state === 'FellBack')) return undefined;
      if (step !== 'closing' && windows.some((w) => w === undefined || w.state === 'Closed')) return `a window missing or closed: ${sig}`;
      // the reverse stream stopped on a bystander's object: its fix (drop the bystander's foreign
      // key) is not the user's to run, so the user stays on the new server and closes the windows;
      // so too for a fall-back stopped on the DBA's filled column of the new server, or on the DBA's
      // table made there in the window with rows, whose fix would make the DBA's object on the old
      // source, unless someone answers it with its fix (stopAnswerer, below); and a fall-back stopped
      // because that reverse stream had stopped (the window Open again, the stream's stop its cause)
      const onBystander = windows.find(
        (w) =>
          (w?.state === 'Stopped' ||
            (w?.state === 'Open' &&
              (stoppedOnReverseStream(w.message) || (stoppedOnNewServerObject(w.message) && answererOf(a, w.message!) === 'close')))) &&
          w.message?.includes(BYSTANDER_MARK),
      );
      if (step !== 'closing' && onBystander) {
        const answer = await a.user.closeFallback();
        if (answer.code === 0) {
          [step, report.closed] = ['closing', onBystander.message!.slice(0, 400)];
          continue;
        }
        // refused while another database's fall-back is under way: a runner killed in it is
        // resumed first, as below, and the close asked again once that fall-back has ended
      }
      const resumed = await runner.look(status.runner?.alive, now);
      if (typeof resumed === 'object') return resumed.failure;
      if (resumed) continue;
      // after a fall-back that stopped in one database and completed in another, the user asks
      // again for those still Open (a request falls back every live window)
      const live = windows.filter((w) => w?.state !== 'FellBack');
      const open = live.length > 0 && live.every((w) => w?.state === 'Open') && status.runner?.alive === true;
      if (step === 'opening' && open) {
        // the application moves to the new server
        workload.start();
        if (!a.pooled) a.fault.arm('window');
        [step, writingSince] = ['writing', now];
      }
      // the DBA works on the new server in the window, before the user falls back
      if (step !== 'opening') await a.bystander?.onWindowPoll();
      // the application's release changes the schema there, before the user falls back
      if (step === 'writing') await a.windowChange?.onWindowPoll();
      const released = a.windowChange?.settled ?? true;
      if (step === 'writing' && now - writingSince >= writeMs && released && faultSettled(a, now - writingSince)) step = 'asking';
      if (step === 'asking' && open) {
        // each stop the user fixed asks once more
        if (report.requests >= MAX_REQUESTS + (report.fixes ?? 0)) return `the fall-back stopped ${report.requests} times: ${sig}`;
        // the application writes on: the fall-back's fence ends its sessions and refuses its writes
        workload.fenceRequested();
        if (!a.pooled) a.fault.arm('fall-back');
        const answer = await a.user.fallBack();
        if (answer.code === 0) {
          report.requests += 1;
          step = 'falling-back';
        }
        continue;
      }
      // a fall-back that stopped before anything irreversible: the window is Open again, asked again,
      // after the user answered a stop on the application's column or table of the window
      if (step === 'falling-back' && open && live.every((w) => !w?.fallBackRequested)) {
        const answered = await answerWindowChange(a, status, report);
        if (typeof answered === 'object') return answered.failure;
        if (answered !== 'wait') step = answered;
      }
    }
  } finally {
    report.targetWorkload = await workload.stop();
  }
}

/**
 * The fall-back stopped on the application's column or table of the window, or on the DBA's whose
 * fix the DBA runs (a bystander's stop the DBA does not answer closes the windows above): each
 * database so stopped is fixed as answered and the fall-back asked again, or the windows closed as
 * drawn; `wait` while a close is refused (asked again next poll).
 */
async function answerWindowChange(
  a: FallbackDriveArgs,
  status: MigrationStatus,
  report: FallbackReport,
): Promise<'asking' | 'closing' | 'wait' | { failure: string }> {
  const stops = status.databases.flatMap((d) => {
    const message = d.fallback?.message;
    return d.fallback?.state === 'Open' && stoppedOnNewServerObject(message) ? [{ database: d.database, message: message! }] : [];
  });
  let fixed = false;
  for (const stop of stops) {
    const answer = await answerStop(a, stop);
    if (answer === 'none') continue;
    if (typeof answer === 'object') return answer;
    if (answer === 'fixed') {
      fixed = true;
      continue;
    }
    const closed = await a.user.closeFallback();
    if (closed.code !== 0) return 'wait';
    report.closed = stop.message.slice(0, 400);
    return 'closing';
  }
  if (fixed) report.fixes = (report.fixes ?? 0) + 1;
  return 'asking';
}

/** Who answers a stop that prints a fix for the old source (stopAnswerer). */
export type StopAnswerer = 'release' | 'dba' | 'close' | 'none';

/** What decides who answers a stop: whether the DBA fixes theirs, and the application's release with its drawn answer. */
export interface StopAnswerers {
  /** The DBA runs the fix of a stop on their column or table (a trial whose fault is at a step of the fall-back). */
  readonly dbaFixes: boolean;
  readonly release?: { readonly fixes: boolean; names(message: string): boolean };
}

/**
 * Who answers one database's stop on an object of the new server: the application's release when
 * the stop names the release's column or table (its drawn answer: the whole printed fix run, the
 * DBA's objects in it too, or the windows closed); else, for the DBA's objects alone, the DBA when
 * they fix theirs, or the user who answers `fix` (at whatever phase the stop comes: a person reads
 * the printed statements and runs them); else the windows closed. `none`: neither made what it names.
 */
export function stopAnswerer(message: string, by: StopAnswerers): StopAnswerer {
  const dba = message.includes(BYSTANDER_MARK);
  if (by.release && (!dba || by.release.names(message))) return by.release.fixes ? 'release' : 'close';
  if (!dba) return 'none';
  return by.dbaFixes || by.release?.fixes === true ? 'dba' : 'close';
}

function answererOf(a: FallbackDriveArgs, message: string): StopAnswerer {
  const release = a.windowChange && { fixes: a.windowChange.fixes, names: (m: string) => a.windowChange!.names(m) };
  return stopAnswerer(message, { dbaFixes: a.bystander?.fixesFallBackStops === true, ...(release ? { release } : {}) });
}

/** One database's stop answered as stopAnswerer says: the printed fix run (by the release or the DBA), the windows to close, or nothing. */
async function answerStop(a: FallbackDriveArgs, stop: WindowStop): Promise<'close' | 'fixed' | 'none' | { failure: string }> {
  const who = answererOf(a, stop.message);
  if (who === 'close' || who === 'none') return who;
  const answer = who === 'release' ? await a.windowChange!.answer(stop) : await a.bystander!.answerFallBackStop(stop);
  if (answer === 'fixed' && stop.message.includes(BYSTANDER_MARK)) a.bystander?.fixRun(stop);
  return answer;
}

/** Whether the window's writes may end: the reverse-stream phase waits for its fault to be over (or not to come). */
function faultSettled(a: FallbackDriveArgs, writingMs: number): boolean {
  if (a.phase !== 'reverse-stream') return true;
  return a.fault.overAt !== undefined || (!a.fault.fired && writingMs > PHASE_WAIT_MS);
}

function signature(status: MigrationStatus, windows: readonly (FallbackStatus | undefined)[]): string {
  const w = windows.map((f) => `${f?.state}:${f?.appliedLsn ?? '-'}:${f?.fallBackRequested ? 'asked' : '-'}:${f?.message ?? ''}`);
  return `${status.state}/${status.subState}/${w.join(',')}`;
}

/**
 * After the fall-back: the old source against the new server, which holds every write the
 * application made on either side (the new server as the judge's "source": a row it holds that the
 * old source lacks is lost, a sequence of the old source behind it would hand out a value twice);
 * then the fences (the old source's lifted, the new server's kept) and the application on the old
 * source again.
 */
export async function judgeFallback(a: FallbackDriveArgs, bystanders?: BystanderObjects): Promise<void> {
  const { result, clusters } = a;
  result.leftovers = await findLeftovers(clusters, a.databases);
  // A new server restarted after the fall-back read its sequences comes back with each one moved on
  // by up to 32 values it never handed out (SEQ_LOG_VALS): the old source is then behind harmlessly.
  const sequenceSlack = result.faultKind === 'target-restart' ? SEQUENCE_CRASH_SLACK : 0;
  for (const db of a.databases) {
    const apart = a.pooled ? { rowsJudgedApart: [POOLED_TABLE] } : {};
    const j = await judgeDatabase(clusters.target, clusters.source, db, { sequenceSlack, bystanders, ...apart });
    result.judgements.push(j);
    result.rowsCompared += j.rowsCompared;
    result.largeObjectsCompared = (result.largeObjectsCompared ?? 0) + j.largeObjectsCompared;
    for (const t of j.tables) {
      result.lostRows += t.lost;
      result.extraRows += t.extra;
      result.changedRows += t.changed;
    }
    for (const problem of await fenceProblems(a, db)) result.reasons.push(`writer fence: ${problem}`);
  }
  // the window's column values and table rows, read back on both servers
  for (const difference of (await a.windowChange?.judgeCarried()) ?? []) result.reasons.push(difference);
  const again = new CampaignWorkload(clusters.source, a.databases, a.size, a.rng.fork('writes again'), 2);
  again.start();
  await sleep(WRITES_AGAIN_MS);
  result.fallback!.writesAgain = await again.stop();
}

/** After a fall-back: no fence on the old source and none recorded; the new server fenced (its passes table too), recorded as kept. */
async function fenceProblems(a: FallbackDriveArgs, database: string): Promise<string[]> {
  const out: string[] = [];
  const setting = async (c: Cluster): Promise<string | undefined> =>
    (await c.query<{ prior: string | null }>(PRIOR_SETTING_SQL, [database]))[0]?.prior ?? undefined;
  const onSource = await setting(a.clusters.source);
  if (onSource !== undefined) out.push(`${database}: the old source's default_transaction_read_only is ${onSource} after the fall-back`);
  const onTarget = await setting(a.clusters.target);
  if (onTarget !== 'on') out.push(`${database}: the new server is not fenced after the fall-back (${onTarget ?? 'not set'})`);
  if (await passesTableIn(a.clusters.source, a.name, database)) out.push(`${database}: the old source's fence left its passes table`);
  if (!(await passesTableIn(a.clusters.target, a.name, database))) out.push(`${database}: the new server's fence has no passes table`);
  const rows = await a.store.query<{ change: string; kept: boolean }>(
    `SELECT change, kept_at IS NOT NULL AS kept FROM pgferry.footprint
      WHERE migration = $1 AND database = $2 AND change IN ('writerFence', 'targetFence') AND undone_at IS NULL`,
    [a.name, database],
  );
  for (const r of rows) {
    if (r.change === 'writerFence') out.push(`${database}: the old source's fence still recorded after the fall-back`);
    else if (!r.kept) out.push(`${database}: the new server's fence recorded and not kept`);
  }
  if (!rows.some((r) => r.change === 'targetFence')) out.push(`${database}: the new server's fence not recorded`);
  return out;
}
