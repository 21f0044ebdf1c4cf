// The fallback window's reverse stream (docs/fallback.md), its mechanisms: at a cutover that asks
// for a window, the reverse stream is opened on the target at the cutover point (openFallbackWindows,
// before the forward release); once the migration is Succeeded, a reverse applier per database
// applies the target's writes to the old source with the same apply engine as the forward stream
// (startReverse), exactly once (the position commits on the old source with the rows), its figures
// recorded for `show` (recordProgress), until the window is closed by the user or passes: then the
// reverse slot, publication and position are given back (closeWindow, over footprint/release.ts
// releaseFallback) and the old source keeps the fence the cutover left. When each of these runs,
// the window's states and what moves them, is afterCutover.ts's.
import { Applier } from '../cdc/apply/applier';
import { knownColumns } from '../control/knownObjects';
import { appliedUpTo } from '../cdc/apply/onlineStream';
import { formatLsn, parseLsn } from '../core/lsn';
import { openReverseStream, publishedTables } from '../footprint/reverseStream';
import { targetTableOids } from '../switchover/windowTables';
import { freeStandingPairs } from '../switchover/sequenceSync';
import { sequencesMadeByMigration } from './cutoverSync';
import { REVERSE_STREAM_WORDS } from '../core/streamWords';
import { fallBackMessagePrefix, qualifiedKey, reverseStreamNamesOf } from '../core/names';
import { pendingIdentityChanges } from '../footprint/replicaIdentity';
import { serverMajor, withSession } from '../connect/session';
import { listTables } from '../catalog/introspect';
import { ChangeTracker } from '../cdc/plan/changeTracker';
import { errorMessage } from '../core/errors';
import type { ReverseStream } from './fallBackStep';
import { fallbackWindowSeconds } from '../input/fallbackWindow';
import {
  markFallbackClosed,
  markFallbackOpen,
  recordFallbackProgress,
  recordFallbackWindow,
  type FallbackWindow,
} from '../control/fallbackWindows';
import { recordStreamSample } from '../control/streamSamples';
import { cutoverOptionsOf } from '../control/cutoverOptions';
import { releaseFallback } from '../footprint/release';
import type { MigrationRun, SwitchoverRun } from '../run/migrationRun';
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
    const madeFull = (await pendingIdentityChanges(store, spec.migrationName, s.database)).map((c) => qualifiedKey(c.schema, c.name));
    const lsn = await openReverseStream(spec.source, spec.target, s.database, s.publication, names, new Set(madeFull));
    // the applications still point at the fenced old source: every table the target has now was
    // there before the window (a DBA's own among them), one made later is the window's
    const tables = await withSession(spec.target, { database: s.database, purpose: 'fallback window' }, targetTableOids);
    // the free-standing sequences as the cutover just found them alike, paired by OID at a fall-back
    const mine = await sequencesMadeByMigration(run, s.database);
    const sequences = await freeStandingPairs(spec.source, spec.target, s.database, mine);
    await markFallbackOpen(store, spec.migrationName, s.database, lsn, tables, sequences);
    run.onProgress({ kind: 'info', database: s.database, message: `fallback window open for ${window}: reverse stream from ${lsn}` });
  }
}

/** One database's reverse applier: from the target (its source) to the old source (its target). */
function reverseApplier(run: SwitchoverRun, window: FallbackWindow, tracker: ChangeTracker): Applier {
  const names = reverseStreamNamesOf(run.spec.migrationName, window.database, run.instance);
  return new Applier({
    tracker,
    source: run.spec.target,
    target: run.spec.source,
    // its messages name the servers as they are in this direction: the new server, the old source
    words: REVERSE_STREAM_WORDS,
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
async function trackFromOpening(run: SwitchoverRun, window: FallbackWindow, tracker: ChangeTracker): Promise<void> {
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

/**
 * Starts one database's reverse applier (at the window's opening, or its stop tried again), the
 * retry requests counted then in hand; `ended` is set once its run settles (an error: it stopped).
 */
export function startReverse(run: SwitchoverRun, window: FallbackWindow, requestsSeen: number): ReverseStream {
  const tracker = new ChangeTracker();
  const applier = reverseApplier(run, window, tracker);
  const stream: ReverseStream = {
    database: window.database,
    applier,
    startedAt: Date.now(),
    requestsSeen,
    done: Promise.resolve('stopped'),
  };
  stream.done = trackFromOpening(run, window, tracker)
    .then(() => applier.run())
    .then(
      (end) => (stream.ended = end),
      (error: unknown) => (stream.ended = error instanceof Error ? error : new Error(String(error))),
    );
  return stream;
}

/** The reverse stream's figures for `show`: the old source's applied position and lag, the target's WAL pending and kept by the slot. */
export async function recordProgress(run: SwitchoverRun, database: string, applier: Applier): Promise<void> {
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
  const figures = {
    appliedLsn: formatLsn(applied),
    latencySeconds: stats.latencySeconds,
    ...(applied > 0n && now >= applied ? { pendingBytes: Number(now - applied) } : {}),
    ...(wal.restart ? { retainedBytes: Number(now - parseLsn(wal.restart)) } : {}),
  };
  await recordFallbackProgress(run.store, run.spec.migrationName, database, figures);
  // the console's chart of the window: the same reading as the figures, one row every few seconds
  await recordStreamSample(run.store, run.spec.migrationName, database, figures, { direction: 'reverse' });
}

/** Stops one database's reverse applier and gives back its slot, publication and position. */
export async function closeWindow(run: SwitchoverRun, database: string, s: ReverseStream, why: string): Promise<void> {
  s.applier.stop();
  const ended = await s.done;
  if (ended instanceof Error) await run.warn(`reverse stream ended on an error before the window closed: ${errorMessage(ended)}`, database);
  await releaseFallback(run, database);
  await markFallbackClosed(run.store, run.spec.migrationName, database, `fallback window ${why}; the old source keeps its fence`);
  run.onProgress({ kind: 'info', database, message: `fallback window ${why}: reverse slot and publication dropped` });
}
