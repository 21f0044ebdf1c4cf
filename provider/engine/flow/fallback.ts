// The fallback window (docs/fallback.md): at a cutover that asks for one, the reverse stream is
// opened on the target at the cutover point (openFallbackWindows, before the forward release); once
// the migration is Succeeded, the runner goes on applying the target's writes to the old source
// with the same apply engine as the forward stream (streamBack), exactly once (the position commits
// on the old source with the rows), until the window is closed by the user or passes: then the
// reverse slot, publication and position are given back (footprint/release.ts releaseFallback)
// and the old source keeps the fence the cutover left. A reverse stream that stops on an error is
// Stopped and tried again, as a forward stream is; `update --fall-back` makes the old source the
// primary again (fallBackStep.ts). The reverse streams are supervised as the forward ones are: a
// table of (condition -> handler) rows run by the same loop (watchLoop.ts), its wait cut short by
// the user's requests.
import { Applier } from '../cdc/apply/applier';
import { knownColumns } from '../control/knownObjects';
import { appliedUpTo } from '../cdc/apply/onlineStream';
import { formatLsn, parseLsn } from '../cdc/decode/lsn';
import { openReverseStream, publishedTables } from '../footprint/reverseStream';
import { fallBackMessagePrefix, reverseStreamNamesOf } from '../core/names';
import { serverMajor, withSession } from '../connect/session';
import { listTables } from '../catalog/introspect';
import { ChangeTracker } from '../cdc/plan/changeTracker';
import { errorMessage } from '../core/errors';
import { fallBack, type FallbackRun, type ReverseStream } from './fallBackStep';
import { fallbackWindowSeconds } from '../input/fallbackWindow';
import {
  fallbackWindows,
  markFallbackClosed,
  markFallbackOpen,
  markFallbackStopped,
  markFallbackStreaming,
  recordFallbackProgress,
  recordFallbackWindow,
  reopenForward,
  type FallbackWindow,
} from '../control/fallbackWindows';
import { cutoverOptionsOf } from '../control/cutoverOptions';
import { failpoint } from '../util/failpoints';
import { releaseFallback } from '../footprint/release';
import type { MigrationRun } from '../run/migrationRun';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { RequestWakeup } from '../control/requestWakeup';
import { retryDelayMs, row, watchLoop, type Handoff, type Watched, type WatchRow } from './watchLoop';

/** The window this cutover asks for: its request's own, else the spec's; undefined: none. */
export async function requestedWindow(run: MigrationRun): Promise<string | undefined> {
  return (await cutoverOptionsOf(run.store, run.spec.migrationName)).fallbackWindow ?? run.spec.fallbackWindow;
}

/**
 * Opens the reverse stream of each database cut over, after its forward drain and verification and
 * before its release (the forward publication names the tables; the writer fence is on). Recorded
 * first; idempotent, so a cutover resumed after a crash opens them again without harm.
 */
export async function openFallbackWindows(run: MigrationRun, streams: readonly OnlineStream[], window: string): Promise<void> {
  const { spec, store } = run;
  for (const s of streams) {
    await recordFallbackWindow(store, spec.migrationName, s.database, fallbackWindowSeconds(window));
    const names = reverseStreamNamesOf(spec.migrationName, s.database, run.instance);
    const lsn = await openReverseStream(spec.source, spec.target, s.database, s.publication, names);
    await markFallbackOpen(store, spec.migrationName, s.database, lsn);
    run.onProgress({ kind: 'info', database: s.database, message: `fallback window open for ${window}: reverse stream from ${lsn}` });
  }
}

/** Between two looks at the windows (cut short by a request: a close, a fall-back). */
const POLL_MS = 1000;
/** A stream tried again that has run this long without failing is streaming, even with nothing to apply past its stop. */
const STREAMING_AFTER_MS = 10_000;

/** One database's reverse applier: from the target (its source) to the old source (its target). */
function reverseApplier(run: FallbackRun, window: FallbackWindow, tracker: ChangeTracker): Applier {
  const names = reverseStreamNamesOf(run.spec.migrationName, window.database, run.instance);
  return new Applier({
    tracker,
    source: run.spec.target,
    target: run.spec.source,
    database: window.database,
    ...names,
    migration: run.spec.migrationName,
    // the fall-back's marker on the target (switchover/marker.ts markFallBackPoint)
    cutoverPrefix: fallBackMessagePrefix(run.spec.migrationName),
    initialLsn: window.openedLsn === undefined ? undefined : parseLsn(window.openedLsn),
    // The runner's lease lives on the target; the lease guard checks it on the server it commits
    // to, which is the old source here, so it is not carried (docs/fallback.md: a lease session on
    // the old source is the step still to build).
    leaseSessionPid: undefined,
    // a column the new server alone has is not carried back (ApplyState.carriedBack); known objects
    // are recorded only by a migration that follows schema changes (flow/schemaFollow.ts)
    ...(run.spec.followSchemaChanges
      ? {
          carriedBack: (schema: string, table: string) => knownColumns(run.store, run.spec.migrationName, window.database, schema, table),
        }
      : {}),
    log: (level, message) => {
      if (level === 'warning') void run.warn(`reverse stream: ${message}`, window.database);
      else run.onProgress({ kind: 'info', message: `reverse stream: ${message}`, database: window.database });
    },
  });
}

/**
 * The keys the reverse apply changes, counted from the window's opening for every table the target
 * has then: the cutover verified both servers equal at that point, so the fall-back reads again only
 * those keys and each table's count (switchover/recheckPlan.ts reverseRecheck), when this applier's
 * first session started there. The table list is read before the applier runs, so no change escapes
 * it; a failed read counts nothing (every table is then read whole).
 */
async function trackFromOpening(run: FallbackRun, window: FallbackWindow, tracker: ChangeTracker): Promise<void> {
  if (window.openedLsn === undefined) return;
  const opened = parseLsn(window.openedLsn);
  const { publication } = reverseStreamNamesOf(run.spec.migrationName, window.database, run.instance);
  const tables = await withSession(run.spec.target, { database: window.database, purpose: 'verify', readOnly: true }, async (c) => {
    // only what the reverse publication carries: a table whose changes do not stream (unlogged, not
    // published) has no key counted and must be read whole
    const published = await publishedTables(c, publication);
    return (await listTables(c, await serverMajor(c))).filter((t) => published.has(`${t.schema}\0${t.name}`));
  }).catch(() => []);
  for (const table of tables) tracker.startAt(table.sql, opened, table.isPartition);
}

/** Starts one database's reverse applier; `ended` is set once its run settles (an error: it stopped). */
function startReverse(run: FallbackRun, window: FallbackWindow): ReverseStream {
  const tracker = new ChangeTracker();
  const applier = reverseApplier(run, window, tracker);
  const stream: ReverseStream = { database: window.database, applier, startedAt: Date.now(), done: Promise.resolve('stopped') };
  stream.done = trackFromOpening(run, window, tracker)
    .then(() => applier.run())
    .then(
      (end) => (stream.ended = end),
      (error: unknown) => (stream.ended = error instanceof Error ? error : new Error(String(error))),
    );
  return stream;
}

/** The window states the runner has work in: streaming back, stopped and tried again, falling back. */
const LIVE: ReadonlySet<FallbackWindow['state']> = new Set(['Open', 'Stopped', 'FallingBack']);

/**
 * Once the migration is Succeeded: applies the target's writes to the old source until every open
 * window is closed (asked, or passed) or has fallen back, or the run is stopped (the windows stay
 * open for a resume). Then, when a fall-back asked for it, the migration is switched back to
 * streaming forward (control/fallbackWindows.ts reopenForward; the caller streams it, flow/orchestrator.ts).
 */
export async function streamBack(run: FallbackRun): Promise<void> {
  await applyBack(run);
  if (run.signal.aborted) return;
  const reopened = await reopenForward(run.store, run.spec.migrationName);
  for (const database of reopened) {
    failpoint(`fallback-forward-reopened:${database}`);
    run.onProgress({ kind: 'info', database, message: 'fell back: the forward stream runs again; cut over again when ready' });
  }
}

/** What the reverse supervisor's rows share during one watch: the streams, their tries, the windows read once per look. */
class ReverseWatch implements Watched {
  private windowsRead: Promise<FallbackWindow[] | undefined> | undefined;

  private constructor(
    readonly run: FallbackRun,
    readonly streams: Map<string, ReverseStream>,
    /** Each database's tries of its stopped stream since it last streamed: the back-off's count (retryDelayMs). */
    readonly tries: Map<string, number>,
    readonly wakeup: RequestWakeup,
  ) {}

  static async open(run: FallbackRun, streams: Map<string, ReverseStream>, tries: Map<string, number>): Promise<ReverseWatch> {
    // a close or a fall-back asked wakes the loop at once instead of at its next look
    return new ReverseWatch(run, streams, tries, await RequestWakeup.listen(run.spec.target, run.spec.migrationName));
  }

  nextLook(): void {
    this.windowsRead = undefined;
  }

  /** The windows this run streams back, read once per look; undefined while the catalog is away (the next look reads again). */
  windows(): Promise<FallbackWindow[] | undefined> {
    this.windowsRead ??= fallbackWindows(this.run.store, this.run.spec.migrationName).then(
      (windows) => windows.filter((w) => this.streams.has(w.database)),
      () => undefined,
    );
    return this.windowsRead;
  }

  close(): Promise<void> {
    return this.wakeup.close();
  }
}

/** Ends the watch with nothing to run: the supervisor looks at its streams and the run again. */
const endWatch = (): Handoff => async () => undefined;

/** A fall-back: every live window at once, once none is stopped (the request is refused then). */
async function fallBackAsked(w: ReverseWatch): Promise<FallbackWindow[] | undefined> {
  const mine = await w.windows();
  if (!mine || !mine.some((x) => x.fallBackRequested || x.state === 'FallingBack')) return undefined;
  return mine.every((x) => x.state !== 'Stopped') ? mine : undefined;
}

const REVERSE_TABLE: readonly WatchRow<ReverseWatch>[] = [
  row('the run is stopped', 'no catalog', (w) => (w.run.signal.aborted ? true : undefined), endWatch),
  row(
    'a fall-back is asked',
    'reads the catalog',
    fallBackAsked,
    (w, windows) => () => fallBack(w.run, windows, w.streams, (x) => startReverse(w.run, x)),
  ),
  row(
    'a window is live',
    'reads the catalog',
    (w) => w.windows(),
    async (w, windows) => {
      for (const x of windows) await lookAt(w, x);
      return undefined;
    },
  ),
  row('every window is closed or fell back', 'no catalog', (w) => (w.streams.size === 0 ? true : undefined), endWatch),
];

/** The reverse streams, each window to its close or fall-back, supervised as the forward streams are (watchLoop.ts). */
async function applyBack(run: FallbackRun): Promise<void> {
  const { spec, store } = run;
  const live = (await fallbackWindows(store, spec.migrationName)).filter((w) => LIVE.has(w.state));
  if (live.length === 0) return;
  const streams = new Map(live.map((w) => [w.database, startReverse(run, w)] as const));
  const tries = new Map<string, number>();
  try {
    while (streams.size > 0 && !run.signal.aborted) {
      const watch = await ReverseWatch.open(run, streams, tries);
      let handoff: Handoff;
      try {
        handoff = await watchLoop(REVERSE_TABLE, watch, POLL_MS);
      } finally {
        await watch.close();
      }
      await handoff();
    }
  } finally {
    for (const s of streams.values()) s.applier.stop();
    await Promise.all([...streams.values()].map((s) => s.done));
  }
}

/** One database's look: a stop recorded or tried again, the figures for `show`, the window closed when asked or passed. */
async function lookAt(watch: ReverseWatch, w: FallbackWindow): Promise<void> {
  const { run, streams, tries } = watch;
  const s = streams.get(w.database)!;
  // closed when asked or passed, a stopped stream too: the window's end bounds the WAL the target keeps
  if (w.closeRequested || Date.now() >= w.endsAt.getTime()) {
    const why = w.closeRequested ? 'closed by the user' : 'the window passed';
    await closeWindow(run, w.database, s, why);
    streams.delete(w.database);
    return;
  }
  if (s.ended !== undefined && w.state === 'Open') {
    const why = s.ended instanceof Error ? errorMessage(s.ended) : `it ended (${s.ended})`;
    const applied = formatLsn(appliedUpTo(s.applier.stats()));
    await markFallbackStopped(run.store, run.spec.migrationName, w.database, `the reverse stream stopped: ${why}`, applied);
    await run.warn(
      `the reverse stream stopped: ${why}; it is tried again by itself (after ${retryDelayMs(1) / 1000} s, then at doubling intervals up to ${retryDelayMs(Infinity) / 60_000} min), and a fall-back waits for it`,
      w.database,
    );
    tries.set(w.database, 1);
    s.retryAt = Date.now() + retryDelayMs(1);
    return;
  }
  if (s.ended !== undefined && w.state === 'Stopped') {
    // a stream tried again that failed again waits longer before the next try, as a forward one does
    if (s.retryAt === undefined) {
      const attempts = (tries.get(w.database) ?? 0) + 1;
      tries.set(w.database, attempts);
      s.retryAt = Date.now() + retryDelayMs(attempts);
    }
    if (Date.now() < s.retryAt) return;
    streams.set(w.database, startReverse(run, w));
    return;
  }
  if (w.state === 'Stopped' && s.ended === undefined) {
    const past = w.stoppedLsn !== undefined && appliedUpTo(s.applier.stats()) > parseLsn(w.stoppedLsn);
    if (past || Date.now() - s.startedAt >= STREAMING_AFTER_MS) {
      await markFallbackStreaming(run.store, run.spec.migrationName, w.database);
      tries.delete(w.database);
      run.onProgress({ kind: 'info', database: w.database, message: 'the reverse stream applies again' });
    }
  }
  await recordProgress(run, w.database, s.applier).catch(() => undefined);
}

/** The reverse stream's figures for `show`: the old source's applied position and lag, the target's WAL pending and kept by the slot. */
async function recordProgress(run: FallbackRun, database: string, applier: Applier): Promise<void> {
  const stats = applier.stats();
  const applied = appliedUpTo(stats);
  const slot = reverseStreamNamesOf(run.spec.migrationName, database, run.instance).slot;
  const wal = await withSession(run.spec.target, { database, purpose: 'show', readOnly: true }, async (client) => {
    const { rows } = await client.query<{ now: string; restart: string | null }>(
      `SELECT pg_current_wal_lsn()::text AS now, (SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1) AS restart`,
      [slot],
    );
    return rows[0]!;
  });
  const now = parseLsn(wal.now);
  await recordFallbackProgress(run.store, run.spec.migrationName, database, {
    appliedLsn: formatLsn(applied),
    latencySeconds: stats.latencySeconds,
    ...(applied > 0n && now >= applied ? { pendingBytes: Number(now - applied) } : {}),
    ...(wal.restart ? { retainedBytes: Number(now - parseLsn(wal.restart)) } : {}),
  });
}

/** Stops one database's reverse applier and gives back its slot, publication and position. */
async function closeWindow(run: FallbackRun, database: string, s: ReverseStream, why: string): Promise<void> {
  s.applier.stop();
  const ended = await s.done;
  if (ended instanceof Error) await run.warn(`reverse stream ended on an error before the window closed: ${errorMessage(ended)}`, database);
  await releaseFallback({ spec: run.spec, instance: run.instance }, database);
  await markFallbackClosed(run.store, run.spec.migrationName, database, `fallback window ${why}; the old source keeps its fence`);
  run.onProgress({ kind: 'info', database, message: `fallback window ${why}: reverse slot and publication dropped` });
}

/**
 * A runner started for a Succeeded migration (`pgferry resume` after its runner died in a window):
 * the reverse stream goes on from the position the old source committed, exactly once, with the
 * credentials of the resume (a fall-back under way goes on too); nothing else of the migration is
 * run again.
 */
export async function resumeFallback(run: FallbackRun): Promise<void> {
  run.onProgress({ kind: 'info', message: 'fallback window: the reverse stream resumes' });
  await streamBack(run);
}
