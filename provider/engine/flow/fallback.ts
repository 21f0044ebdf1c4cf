// The fallback window (docs/fallback.md): at a cutover that asks for one, the reverse stream is
// opened on the target at the cutover point (openFallbackWindows, before the forward release); once
// the migration is Succeeded, the runner goes on applying the target's writes to the old source
// with the same apply engine as the forward stream (streamBack), exactly once (the position commits
// on the old source with the rows), until the window is closed by the user or passes: then the
// reverse slot, publication and position are given back (footprint/release.ts releaseFallback)
// and the old source keeps the fence the cutover left.
import { Applier } from '../cdc/apply/applier';
import { appliedUpTo } from '../cdc/apply/onlineStream';
import { formatLsn, parseLsn } from '../cdc/decode/lsn';
import { openReverseStream } from '../cdc/prepare/reverseStream';
import { reverseStreamNamesOf } from '../core/names';
import { withSession } from '../connect/session';
import { errorMessage } from '../core/errors';
import { fallbackWindowSeconds } from '../input/fallbackWindow';
import {
  fallbackWindows,
  markFallbackClosed,
  markFallbackOpen,
  recordFallbackProgress,
  recordFallbackWindow,
  type FallbackWindow,
} from '../control/fallbackWindows';
import { cutoverOptionsOf } from '../control/writerFences';
import { releaseFallback } from '../footprint/release';
import type { MigrationRun } from '../run/migrationRun';
import type { OnlineStream } from '../cdc/apply/onlineStream';

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

/** What the reverse stream needs of a run: a resumed runner of a Succeeded migration builds no more (resumeFallback). */
type FallbackRun = Pick<MigrationRun, 'spec' | 'store' | 'instance' | 'signal' | 'warn' | 'onProgress'>;

/** One database's reverse applier: from the target (its source) to the old source (its target). */
function reverseApplier(run: FallbackRun, window: FallbackWindow): Applier {
  const names = reverseStreamNamesOf(run.spec.migrationName, window.database, run.instance);
  return new Applier({
    source: run.spec.target,
    target: run.spec.source,
    database: window.database,
    ...names,
    migration: run.spec.migrationName,
    // no marker is emitted on the target yet (the fall-back's drain is not built)
    cutoverPrefix: `pgferry.fallback.${run.spec.migrationName}`,
    initialLsn: window.openedLsn === undefined ? undefined : parseLsn(window.openedLsn),
    // The runner's lease lives on the target; the lease guard checks it on the server it commits
    // to, which is the old source here, so it is not carried (docs/fallback.md: a lease session on
    // the old source is the step still to build).
    leaseSessionPid: undefined,
    log: (level, message) => {
      if (level === 'warning') void run.warn(`reverse stream: ${message}`, window.database);
      else run.onProgress({ kind: 'info', message: `reverse stream: ${message}`, database: window.database });
    },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Once the migration is Succeeded: applies the target's writes to the old source until every open
 * window is closed (asked, or passed) or the run is stopped (the windows stay open for a resume).
 */
export async function streamBack(run: FallbackRun): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const open = (await fallbackWindows(store, name)).filter((w) => w.state === 'Open');
  if (open.length === 0) return;
  const appliers = new Map(open.map((w) => [w.database, reverseApplier(run, w)] as const));
  const done = new Map([...appliers].map(([db, a]) => [db, a.run().catch((error: unknown) => error as Error)] as const));
  try {
    for (;;) {
      if (run.signal.aborted) return;
      const windows = await fallbackWindows(store, name).catch(() => undefined);
      if (windows) {
        for (const w of windows) {
          const applier = appliers.get(w.database);
          if (!applier) continue;
          await recordProgress(run, w.database, applier).catch(() => undefined);
          if (w.closeRequested || Date.now() >= w.endsAt.getTime()) {
            const why = w.closeRequested ? 'closed by the user' : 'the window passed';
            await closeWindow(run, w.database, applier, done.get(w.database)!, why);
            appliers.delete(w.database);
          }
        }
      }
      if (appliers.size === 0) return;
      await sleep(1000);
    }
  } finally {
    for (const a of appliers.values()) a.stop();
    await Promise.all(done.values());
  }
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
async function closeWindow(run: FallbackRun, database: string, applier: Applier, done: Promise<unknown>, why: string): Promise<void> {
  applier.stop();
  const ended = await done;
  if (ended instanceof Error) await run.warn(`reverse stream ended on an error before the window closed: ${errorMessage(ended)}`, database);
  await releaseFallback({ spec: run.spec, instance: run.instance }, database);
  await markFallbackClosed(run.store, run.spec.migrationName, database, `fallback window ${why}; the old source keeps its fence`);
  run.onProgress({ kind: 'info', database, message: `fallback window ${why}: reverse slot and publication dropped` });
}

/**
 * A runner started for a Succeeded migration (`pgferry resume` after its runner died in a window):
 * the reverse stream goes on from the position the old source committed, exactly once, with the
 * credentials of the resume; nothing else of the migration is run again.
 */
export async function resumeFallback(run: FallbackRun): Promise<void> {
  run.onProgress({ kind: 'info', message: 'fallback window: the reverse stream resumes' });
  await streamBack(run);
}
