// The cutover of an online migration: mark the cutover point in every database's stream, apply
// everything up to it, copy sequence values, verify every table, then drop slot, publication and
// apply progress. Downtime is measured from the moment the cutover first began to completion (a
// resumed cutover keeps the first start). This is a step of the flow, started by the online
// supervisor's cutover handler (handleCutover.ts) once the user asks: the mechanisms it runs (the
// marker, sequence sync and recheck, the large objects) are switchover/'s, and ranked below it; the
// hold (the pooler paused, the writers fenced, the lag gate, the writes past the point read, all
// given back at a roll-back) is hold.ts's; the target's guard of a held cutover, from the pin to the
// switch, is targetGuardAtCutover.ts's.
import { retryPhase } from './outage';
import { applierResult, lateArrivals, lateArrivalWords, markCutoverPoint } from '../switchover/marker';
import { withSessionPair } from '../connect/session';
import { configRowsMessages, syncExtensionConfigRows } from '../switchover/extensionConfigSync';
import { startStream, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { classifyStreamFailure } from '../cdc/apply/applyStop';
import { releaseDatabase } from '../footprint/release';
import { reverseStream } from '../footprint/reverseStream';
import { reversePosition } from '../footprint/reversePosition';
import { followPartitionTree } from '../cdc/apply/partitionTree';
import type { MigrationRun } from '../run/migrationRun';
import { verifyDatabases, type VerifyOptions } from '../verify/verifyTables';
import type { VerificationReport } from '../core/model';
import { sideBySide } from '../util/sideBySide';
import { checkSchemaFollowing } from './schemaFollow';
import { knownObjects } from '../control/knownObjects';
import { configRowsLedger, extensionConfigRows } from '../control/extensionConfigRows';
import { copiedParents } from '../control/copyItems';
import {
  schemaCheckSummary,
  schemaDifferenceMessage,
  schemaMismatchError,
  withSchemaCheck,
  type SchemaCheck,
} from '../verify/schema/checkSchema';
import { syncSequences } from '../switchover/sequenceSync';
import { keptLargeObjectsMessage, syncLargeObjects, type LargeObjectDelta } from '../switchover/largeObjectDelta';
import { recheckMovedSequences } from '../switchover/sequenceRecheck';
import { failpoint } from '../util/failpoints';
import { stepClock, type StepClock } from '../util/stepClock';
import { unfencedWindowRefusal } from '../input/fallbackWindow';
import { openFallbackWindows, requestedWindow } from './fallback';
import { describeFirings } from '../footprint/targetFiring';
import { notStreamedTables, type NotStreamedTable } from '../control/sourceTables';
import { forgetTableVerifications, recordTableVerifications } from '../control/tableVerification';
import { wholeSchemaCheck } from './wholeSchemaCheck';
import { recheckPlan } from '../switchover/recheckPlan';
import { errorMessage, PgferryError } from '../core/errors';
import { clearCutoverOptions, cutoverOptionsOf } from '../control/cutoverOptions';
import { keepFence } from '../footprint/writerFence';
import { switchPooler } from '../footprint/poolerPause';
import type { PinnedBeforePause } from '../switchover/pinBeforePause';
import { dropGuardAtSwitch, dropTargetGuard, writtenOnTarget } from './targetGuardAtCutover';
import type { ApplyRateMeter } from '../switchover/lagGate';
import {
  CUTOVER_HOLD,
  cutoverGate,
  endSessionsAheadOfHold,
  givenBack,
  holdAtCutover,
  keptFences,
  liftHold,
  writesPastThePoint,
  type Gate,
} from './hold';
import {
  clearMessage,
  get,
  recordEvent,
  setCutoverStep,
  setMigrationDowntime,
  setState,
  setVerification,
  updateDatabase,
} from '../control/store';
import { clearCutover, clearCutoverStart, markCutoverStarted } from '../control/migrationRequests';
import { recordCutOver } from '../control/cutoverCount';
import { closeFellBackRecord } from '../control/fallbackWindows';
import { trace } from '../util/trace';
import { displayIdent } from '../connect/quote';

/** Marks the cutover point of one database and waits until its applier has applied up to it. */
async function drainDatabase(run: MigrationRun, stream: OnlineStream, began: number): Promise<void> {
  await again(run, `the cutover marker of ${displayIdent(stream.database)}`, () => markCutoverPoint(run, stream, began));
  await applierResult(run, stream);
}

/**
 * A cutover step tried again while a server is away (a restart, a network drop): every step is
 * idempotent, and failing the migration at its last minute for a blip would throw the copy away.
 */
function again<T>(run: MigrationRun, what: string, step: () => Promise<T>): Promise<T> {
  return retryPhase(run, `cutover: ${what}`, step);
}

/**
 * What is left of a database's cutover once its changes are applied and verified: everything the
 * migration changed given back (releaseDatabase: triggers and rules, foreign keys, slot,
 * publication and origin, row-level security, replica identities), Succeeded. Idempotent:
 * a runner killed after recording 'released' does it again on resume (the stream is never
 * restarted for it).
 *
 * `began`: when the cutover's downtime began (undefined for a release a resumed runner finishes):
 * the database's downtime is recorded with its Succeeded, in one statement.
 */
export async function finishCutover(run: MigrationRun, database: string, began?: number): Promise<void> {
  await switchAtCutover(run, database);
  await releaseAfterSwitch(run, database, began);
}

/**
 * The first part of finishCutover, the applications' side of the point of no return: the writer
 * fence kept, the target's guard dropped and the pooler pointed at the target and resumed. Apart
 * from the release so that the cutover gives every database's applications the target before it
 * releases any, and clocks the switch as its own step of the pause.
 */
async function switchAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec, store } = run;
  // 'released' is recorded: a runner stopped here leaves the fence to a resume or a cancel, which keep it too
  failpoint(`cutover-point-of-no-return:${database}`);
  // past the point of no return: a writer fence stays (writes on the source would be lost), and no
  // cancel or failure lifts it from here on
  await keepFence(store, spec.migrationName, database);
  trace('switch: fence kept');
  // the target's guard goes while the applications are still held: its DDL queues behind none of them
  await dropGuardAtSwitch(run, database);
  trace('switch: guard dropped');
  // the pooler's held queries go to the target from here on (a resumed runner does it again: idempotent)
  await switchPooler(run, database);
}

/** The second part of finishCutover: everything the migration changed given back, the schema compared once more, Succeeded. */
async function releaseAfterSwitch(run: MigrationRun, database: string, began?: number): Promise<void> {
  const { spec, store } = run;
  const firings = await releaseDatabase(run, database, 'throw', { cutOver: true });
  const restored = firings && describeFirings(firings);
  if (restored) run.onProgress({ kind: 'info', message: `cutover: ${restored} set back as on the source`, database });
  failpoint(`cutover-released:${database}`);
  // the second look, with everything given back: what was set aside must come back whole
  const whole = await wholeSchemaCheck(run, database);
  const check = await whole.check().catch(async (error: unknown) => {
    // the first look passed; one that cannot read now (a lock held past lock_timeout) is told, not fatal
    if (run.signal.aborted) throw error;
    await run.warn(
      `cutover: the schema could not be compared again once the target was given back (${errorMessage(error)}): check it with \`pgferry verify\``,
      database,
    );
    return undefined;
  });
  if (check) await recordSchemaCheck(run, check);
  if (check && check.differences.length > 0) {
    const error = schemaMismatchError(check);
    await updateDatabase(store, spec.migrationName, database, { state: 'Failed', endedAt: true, message: error.message });
    throw error;
  }
  // Succeeded, with its downtime and one more cutover counted (PgMigration's cutoverCount compares with it)
  await recordCutOver(store, spec.migrationName, database, began === undefined ? undefined : (Date.now() - began) / 1000);
  // a second cutover after a fall-back (docs/fallback.md), without a new window: the fall-back's record closes
  await closeFellBackRecord(store, spec.migrationName, database);
}

/** A schema check's figures as progress, and its report beside the verification's rows. */
async function recordSchemaCheck(run: MigrationRun, check: SchemaCheck): Promise<void> {
  const { spec, store } = run;
  run.onProgress({ kind: 'info', database: check.database, message: `cutover: ${schemaCheckSummary(check)}` });
  if (!spec.verify) return; // verify: false records no report (the check still stops on a difference)
  await setVerification(store, spec.migrationName, withSchemaCheck((await get(store, spec.migrationName))?.verification, check));
}

/** Recorded as the migration's event and shown as progress (the bench and `--wait` see it). */
async function announce(run: MigrationRun, message: string): Promise<void> {
  await recordEvent(run.store, run.spec.migrationName, 'info', message);
  run.onProgress({ kind: 'info', message });
}

/**
 * Runs the cutover of `databases` (all streams, or dbsToTriggerCutoverOn); true when they completed
 * (the caller ends the migration once no database streams). Each database's step is recorded before the
 * next irreversible one, so a runner killed anywhere resumes the cutover where it was (flow/online.ts):
 * 'drained' (applied up to the marker, sequences copied), 'verified', then 'released' before its
 * slot is dropped. A verification mismatch stops the cutover: streaming resumes, the cutover
 * request is cleared, and the mismatch (naming the table) is the migration's message, so the user
 * can fix the cause and cut over again.
 */
export async function cutover(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  meter: ApplyRateMeter,
): Promise<boolean> {
  const { spec, store } = run;
  const name = spec.migrationName;
  // dbsToTriggerCutoverOn: only these databases cut over; the others stream on untouched
  const streams = all.filter((s) => databases.has(s.database));
  const cutOver = streams.map((s) => s.database);
  const whole = streams.length === all.length;
  if (await unfencedWindow(run)) return false;
  if (await windowRightsRefused(run, cutOver)) return false;
  const gate = await cutoverGate(run);
  const began = (await markCutoverStarted(store, name)).getTime();
  await setState(store, name, 'InProgress', 'CompletingMigration');
  // an earlier stopped attempt's message would read as this attempt's while it runs
  await clearMessage(store, name);
  const which = whole ? '' : ` of ${streams.map((s) => displayIdent(s.database)).join(', ')}`;
  await recordEvent(
    store,
    name,
    'info',
    `cutover${which} started: ${gate.pooler ? 'pausing the pooler, then ' : ''}${gate.fence ? 'fencing the writers, then ' : ''}applying the last changes`,
  );
  const clock = stepClock();
  try {
    return await heldCutover(run, { all, databases, streams, meter, gate, clock, began });
  } finally {
    // the sessions the hold kept open ahead (hold.ts), whichever way it ended
    await endSessionsAheadOfHold(run, CUTOVER_HOLD, cutOver);
  }
}

/** What the cutover hands its steps from the hold on: the streams, the ones it cuts over, its gate, clock and start. */
interface CutoverUnderWay {
  readonly all: OnlineStream[];
  readonly databases: ReadonlySet<string>;
  readonly streams: readonly OnlineStream[];
  readonly meter: ApplyRateMeter;
  readonly gate: Gate;
  readonly clock: StepClock;
  readonly began: number;
}

/** The cutover from its hold on: see cutover. */
async function heldCutover(run: MigrationRun, { all, databases, streams, meter, gate, clock, began }: CutoverUnderWay): Promise<boolean> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const cutOver = streams.map((s) => s.database);
  const whole = streams.length === all.length;
  const which = whole ? '' : ` of ${streams.map((s) => displayIdent(s.database)).join(', ')}`;
  const held = await holdAtCutover(run, streams, meter, gate, clock);
  if ('refused' in held) {
    await rollBack(run, cutOver, held.refused);
    return false;
  }
  const arrivals = new Map(streams.map((s) => [s.database, drainDatabase(run, s, began)] as const));
  const late = await lateArrivals(arrivals, gate.budget);
  if (late.length > 0) {
    await rollBackLateArrival(run, all, databases, late, gate);
    return false;
  }
  const drains = await Promise.allSettled(arrivals.values());
  const failedDrain = drains.find((d) => d.status === 'rejected');
  if (failedDrain) {
    // A stream stopped on an error the user can fix: the cutover waits for the fix, streaming on.
    const stopped = streams.filter((s) => s.failure && classifyStreamFailure(s.failure).kind === 'stop');
    if (run.signal.aborted || stopped.length === 0) throw failedDrain.reason;
    await resumeAfterStop(run, all, databases, stopped);
    return false;
  }
  clock.done('drain');
  const keptLargeObjects = await sequencesAndLargeObjects(run, all, databases, streams);
  if (!keptLargeObjects) return false;
  clock.done('sequences and large objects');
  // behind a pooler too, a write past the point (a writer that bypassed it) rolls the cutover back
  if (!(await verifiedAndUnwritten(run, all, databases, streams, { keptLargeObjects, pinned: held.pinned }, gate, clock))) return false;
  for (const s of streams) await setCutoverStep(store, name, s.database, 'verified');
  // a fallback window: the reverse stream opens at the cutover point, before the release (fallback.ts)
  const window = await requestedWindow(run);
  if (window !== undefined) {
    await again(run, 'the fallback window', () => openFallbackWindows(run, streams, window));
    clock.done('fallback window');
  }
  // the last databases: the migration shows CleaningUp while slots, publications and origins go
  if (whole) await setState(store, name, 'CleaningUp', 'CompletingMigration');
  for (const s of streams) {
    await setCutoverStep(store, name, s.database, 'released');
    await again(run, `the switch of ${displayIdent(s.database)}`, () => switchAtCutover(run, s.database));
  }
  clock.done('switch');
  for (const s of streams) await again(run, `the release of ${displayIdent(s.database)}`, () => releaseAfterSwitch(run, s.database, began));
  clock.done('release');
  // each database's own downtime went with its Succeeded; the migration's is the longest
  const downtime = (Date.now() - began) / 1000;
  await setMigrationDowntime(store, name);
  const fenced = await keptFences(run, cutOver);
  await announce(run, `cutover${which} completed in ${downtime.toFixed(1)} s (${clock.steps()})${fenced}`);
  // the next cutover of other databases measures its own downtime, with the spec's gate unless asked otherwise
  if (!whole) {
    await clearCutoverStart(store, name);
    await clearCutoverOptions(store, name);
  }
  // an earlier stopped attempt's message no longer applies (setState keeps a message it is not given)
  await clearMessage(store, name);
  return true;
}

/**
 * After the drain the target holds what the source held at the marker: partitions attached or
 * detached on the source since the applier last followed them (partitionTree.ts) are followed
 * now, before the schema check, which stops the cutover over any step the target refused.
 */
async function followPartitionsAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec } = run;
  const result = await again(run, `the partitions of ${displayIdent(database)}`, () =>
    withSessionPair(spec.source, { database, purpose: 'cutover' }, spec.target, { database, purpose: 'cutover', writable: true }, (pair) =>
      followPartitionTree(pair.source, pair.target, () => copiedParents(run.store, spec.migrationName, database)),
    ),
  );
  for (const { step, error } of result.refused) {
    await run.warn(`cutover: ${step.kind} of partition ${step.table} refused on the target: ${error}`, database);
  }
  if (result.done.length === 0) return;
  const what = result.done.map((d) => `${d.kind === 'detach' ? 'detached' : 'attached'} ${d.table}`).join(', ');
  await announce(run, `cutover: partitions followed in ${displayIdent(database)} as on the source: ${what}`);
}

/** One database's sequences copied after the drain, and its partitions followed: its step 'drained' recorded then. */
async function sequencesAtCutover(run: MigrationRun, s: OnlineStream): Promise<void> {
  const { spec, store } = run;
  await updateDatabase(store, spec.migrationName, s.database, { ...streamCounts(s), latencySeconds: 0, pendingBytes: 0 });
  const count = await again(run, `the sequences of ${displayIdent(s.database)}`, () => {
    failpoint(`cutover-sequences:${s.database}`);
    return syncSequences(spec.source, spec.target, s.database, spec);
  });
  run.onProgress({ kind: 'info', message: `cutover: ${count} sequence value(s) copied`, database: s.database });
  await configRowsAtCutover(run, s.database);
  await followPartitionsAtCutover(run, s.database);
  await setCutoverStep(store, spec.migrationName, s.database, 'drained');
  failpoint(`cutover-drained:${s.database}`);
}

/**
 * The rows of the extensions' configuration tables copied again after the drain (under the writer
 * fence when there is one): those tables are not published, so what the source changed in them
 * while streaming arrives here, before the verification compares them.
 */
async function configRowsAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec } = run;
  const purpose = 'extension configuration';
  const copied = await again(run, `the extension configuration rows of ${displayIdent(database)}`, () =>
    withSessionPair(spec.source, { database, purpose, readOnly: true }, spec.target, { database, purpose, writable: true }, (p) =>
      syncExtensionConfigRows(p.source, p.target, 'forward', configRowsLedger(run.store, spec.migrationName, database)),
    ),
  );
  for (const c of copied) for (const said of configRowsMessages('cutover', c)) run.onProgress({ ...said, database });
}

/** One database's large objects brought level: the delta, or the target's refusal in one line (which stops the cutover). */
async function largeObjectsOf(run: MigrationRun, database: string): Promise<LargeObjectDelta | { readonly refused: string }> {
  try {
    return await again(run, `the large objects of ${displayIdent(database)}`, () => {
      failpoint(`cutover-large-objects:${database}`);
      return syncLargeObjects(run.spec, database, run.store);
    });
  } catch (error) {
    if (run.signal.aborted || !(error instanceof PgferryError) || error.code !== 'CUTOVER_LARGE_OBJECTS') throw error;
    return { refused: `${error.message} (fix: ${error.fix})` };
  }
}

/**
 * After the drain (inside the fence or the pause when there is one): every database's sequence
 * values copied and its large objects brought level, side by side, since neither reads what the
 * other writes (switchover/sequenceSync.ts, switchover/largeObjectDelta.ts), and both are done before
 * the schema check and the verification, which compare them again. Large objects the source created,
 * wrote or unlinked while changes streamed are what logical decoding does not carry. Each runs to its
 * end before either's outcome is acted on. A statement the target refuses for the large objects
 * stops the cutover, nothing changed, streaming on; false then. Else the objects made on the target
 * alone, kept, by database: the verification leaves them out.
 */
async function sequencesAndLargeObjects(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
): Promise<ReadonlyMap<string, readonly string[]> | false> {
  const [, deltas] = await sideBySide([
    sideBySide(streams.map((s) => sequencesAtCutover(run, s))),
    sideBySide(streams.map((s) => largeObjectsOf(run, s.database))),
  ]);
  const refused = deltas.find((d) => 'refused' in d);
  if (refused) {
    await resumeAfterMismatch(run, all, databases, refused.refused, 'the large objects');
    return false;
  }
  const kept = new Map<string, readonly string[]>();
  for (const [i, s] of streams.entries()) {
    const delta = deltas[i] as LargeObjectDelta;
    kept.set(s.database, delta.kept);
    if (delta.kept.length > 0) await announce(run, keptLargeObjectsMessage('cutover', s.database, delta.kept, 'the target'));
    if (delta.compared === 0 && delta.unlinked === 0) continue;
    const stand = delta.deliberate > 0 ? `; ${delta.deliberate} keep the owner or grants the restore gave them on the target` : '';
    await announce(
      run,
      `cutover: large objects of ${displayIdent(s.database)}: ${delta.compared} compared, ${delta.created} created, ${delta.rewritten} rewritten, ${delta.unlinked} unlinked, ${delta.metadataSet} given their owner, grants or comment (${delta.bytes} bytes) in ${delta.seconds.toFixed(2)} s${stand}`,
    );
  }
  return kept;
}

/** What the verification leaves out or reads only in part: the large objects kept, the tables pinned before a pooler's pause. */
interface AtVerification {
  readonly keptLargeObjects: ReadonlyMap<string, readonly string[]>;
  readonly pinned: PinnedBeforePause;
}

/** What the cutover's verification read, before anything is recorded of it. */
interface VerificationRead {
  readonly verified: VerificationReport;
  /** The migration's known objects by database (followSchemaChanges), as the verification judged with them. */
  readonly known: VerifyOptions['known'];
  /** The tables recorded as not streamed when it read them. */
  readonly notStreamed: readonly NotStreamedTable[];
}

/** The cutover's verification of the databases it cuts over, read only: what it found is acted on by actOnVerification. */
async function readVerification(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  { keptLargeObjects, pinned }: AtVerification,
  signal: AbortSignal = run.signal,
): Promise<VerificationRead> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const cutOver = streams.map((s) => s.database);
  trace('verification: begun');
  const notStreamed = await notStreamedTables(store, name, cutOver);
  trace('verification: tables not streamed read');
  // verify: true re-reads only what changed since each table's background verification; 'full' every table whole
  const recheck = spec.verify === 'full' ? undefined : await recheckPlan(run, streams, pinned, notStreamed);
  // what the target alone has (a DBA's table or column) is kept, not a mismatch
  const known = spec.followSchemaChanges
    ? new Map(await Promise.all(cutOver.map(async (d) => [d, await knownObjects(store, name, d)] as const)))
    : undefined;
  const configRows = new Map(await Promise.all(cutOver.map(async (d) => [d, await extensionConfigRows(store, name, d)] as const)));
  trace('verification: recheck plan and known objects read');
  const verified = await again(run, 'the verification', () =>
    verifyDatabases(spec, {
      signal,
      onProgress: run.onProgress,
      databases: cutOver,
      notStreamed,
      recheck,
      keptLargeObjects: (database) => keptLargeObjects.get(database) ?? [],
      configRows,
      ...(known ? { known } : {}),
      // inside the fence, every change applied: a view refreshed now holds the rows the source's query gives
      materializedViews: spec.staleMaterializedViews,
    }),
  );
  trace('verification: read');
  return { verified, known, notStreamed };
}

/** What the verification read, recorded and judged; false when it found a mismatch (streaming resumed). */
async function actOnVerification(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  { verified, known, notStreamed }: VerificationRead,
): Promise<boolean> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const records = verified.tables.flatMap(({ relation, ...t }) =>
    t.method && relation ? [{ ...t, relation, method: `cutover-${t.method}` as const }] : [],
  );
  await recordTableVerifications(store, name, records);
  trace('verification: tables recorded');
  const report = await again(run, 'the second look at sequences', () =>
    recheckMovedSequences(spec, verified, known, (database, count) => {
      const why = 'a source restart, or nextval without a write';
      // fire and forget (the callback is synchronous): a run's warn never rejects
      void run.warn(`cutover: sequences moved on the source after they were copied (${why}): ${count} value(s) copied again`, database);
    }),
  );
  trace('verification: sequences looked at again');
  // the schema check's entries stay beside the rows' (recordSchemaCheck)
  const schema = (await get(store, name))?.verification?.schema;
  await setVerification(store, name, { ...report, ...(schema ? { schema } : {}) });
  trace('verification: recorded');
  if (!report.ok) {
    // a write past the cutover point is named as such, not guessed at
    const late = await writesPastThePoint(run, streams).catch(() => undefined);
    // a table not streamed differs because nothing carried its changes: its reason names the fix
    const unstreamed = report.tables.find((t) => !t.matches && notStreamed.some((n) => n.database === t.database && n.table === t.table));
    if (late) await rollBackLateWrites(run, all, databases, late, givenBack(true, run.spec.pooler !== undefined));
    else if (unstreamed)
      await resumeAfterMismatch(
        run,
        all,
        databases,
        `database ${displayIdent(unstreamed.database)} table ${unstreamed.table}: ${unstreamed.reason}`,
        'a table not streamed',
      );
    else await resumeAfterMismatch(run, all, databases, report.firstMismatch, 'verification');
    return false;
  }
  return true;
}

/**
 * The schema check and the verification side by side, after the sequences and the large objects:
 * the check reads the catalogs, the verification the rows, and what each finds is acted on in the
 * order they ran before, the schema check first (a difference there stops the cutover whatever the
 * rows say, and forgets the verification of the tables it names). A change the check followed on
 * the target (a column added, a sequence made) is read by a verification made again after it. False
 * when either stopped the cutover.
 */
async function checkedAndVerified(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  at: AtVerification,
): Promise<boolean> {
  // the verification stops with the run, and once the schema check stops the cutover: what it
  // would read then is not looked at, and a lock on the target (which the check waits for no longer
  // than its lock_timeout) must not hold the applications longer than that
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(run.signal.reason);
  run.signal.addEventListener('abort', onAbort, { once: true });
  // a verification that fails to read is told after the schema check, whose difference may be why
  const reading = run.spec.verify
    ? readVerification(run, streams, at, stop.signal).then(
        (read) => ({ read }),
        (error: unknown) => ({ error }),
      )
    : undefined;
  const checking = sideBySide(streams.map((s) => schemaCheckOf(run, s.database))).then(
    (checks) => {
      trace('schema check: read');
      if (checks.some((c) => 'unreadable' in c || c.check.differences.length > 0))
        stop.abort(new Error('the schema check stopped the cutover'));
      return checks;
    },
    (error: unknown) => {
      stop.abort(error);
      throw error;
    },
  );
  let checks: Awaited<typeof checking>;
  let verification: Awaited<typeof reading>;
  try {
    [checks, verification] = await sideBySide([checking, reading]);
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
  if (!(await actOnSchemaChecks(run, all, databases, streams, checks))) return false;
  trace('schema check: recorded');
  if (verification === undefined) return true;
  const followed = checks.some((c) => 'followed' in c && c.followed > 0);
  if (!followed && 'error' in verification) throw verification.error;
  const read = followed || 'error' in verification ? await readVerification(run, streams, at) : verification.read;
  return actOnVerification(run, all, databases, streams, read);
}

/** The schema check, the verification and, with a hold, the writes past the point and the target's guard; false when any stopped the cutover. */
async function verifiedAndUnwritten(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  at: AtVerification,
  gate: Gate,
  clock: StepClock,
): Promise<boolean> {
  if (!(await checkedAndVerified(run, all, databases, streams, at))) return false;
  clock.done(run.spec.verify ? 'schema check and verification' : 'schema check');
  if (!(gate.fence || gate.pooler)) return true;
  if (!(await nothingWrittenPastThePoint(run, all, databases, streams, gate))) return false;
  clock.done('late writes and guard read');
  return true;
}

/**
 * The last checks before anything irreversible, side by side, each reading its own server: the
 * fence's second line (switchover/lateWrites.ts: a transaction the source committed after the
 * cutover point rolls the cutover back, naming who wrote) and the target's guard
 * (targetGuardAtCutover.ts: a write on the target by a session that is not pgferry's since the pin
 * before the hold stops the cutover, naming the table and who wrote, the pooler resumed on the old
 * source). Both run after the schema check and the verification, as late as the switch allows.
 * False when either stopped the cutover.
 */
async function nothingWrittenPastThePoint(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  gate: Gate,
): Promise<boolean> {
  const [late, written] = await sideBySide([writesPastThePoint(run, streams), writtenOnTarget(run, streams)]);
  if (late !== undefined) {
    await rollBackLateWrites(run, all, databases, late, givenBack(gate.fence, gate.pooler));
    return false;
  }
  if (written === undefined) return true;
  await resumeAfterMismatch(run, all, databases, written, "the target's guard");
  return false;
}

/** Writes past the cutover point: the fences lifted and the pooler resumed (`lifted` says which), streaming on (it carries those writes to the target), the request cleared naming them. */
async function rollBackLateWrites(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  late: string,
  lifted: string,
): Promise<void> {
  const message = `cutover rolled back: ${late}; ${lifted} and changes stream on (those writes reach the target): stop that writer on the source or point it at the target, then request the cutover again`;
  await streamOnAfterStop(run, all, databases, message);
}

/**
 * Streams that had not reached the cutover point within the lag budget (switchover/marker.ts
 * lateArrivals): the cutover rolls back before anything irreversible, naming who holds the lock
 * their apply waits for, and they stream on past the marker.
 */
async function rollBackLateArrival(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  late: readonly string[],
  gate: Gate,
): Promise<void> {
  const what = { stream: 'stream', point: 'cutover point', where: 'the target' };
  const why = await lateArrivalWords(run.spec.target, late, what, gate);
  const lifted = givenBack(gate.fence, gate.pooler);
  const message = `cutover rolled back: ${why}; ${lifted ? `${lifted} and ` : ''}changes stream on: request the cutover again once that session is done, or raise cutoverLagBudgetSeconds`;
  await streamOnAfterStop(run, all, databases, message);
}

/**
 * A cutover stopped inside its hold, after its marker: the stop recorded, the hold and the target's
 * guard given back, the streams started again past the marker, the request cleared with `message`.
 */
async function streamOnAfterStop(
  run: MigrationRun,
  streams: OnlineStream[],
  databases: ReadonlySet<string>,
  message: string,
  subState?: 'WaitingForApplyFix',
): Promise<void> {
  const name = run.spec.migrationName;
  await recordEvent(run.store, name, 'error', message);
  await liftHoldAndGuard(run, [...databases]);
  await restartStreams(run, streams, databases);
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message, subState);
}

/** One database's schema check (checkSchemaFollowing), or why its catalog could not be read. */
async function schemaCheckOf(
  run: MigrationRun,
  database: string,
): Promise<{ readonly check: SchemaCheck; readonly followed: number } | { readonly unreadable: string }> {
  try {
    // what the schema watch could follow and had not yet is followed now, every row being applied
    return await again(run, `the schema check of ${displayIdent(database)}`, () => checkSchemaFollowing(run, database));
  } catch (error) {
    if (run.signal.aborted) throw error;
    return { unreadable: `could not read the catalog of ${displayIdent(database)}: ${errorMessage(error)}` };
  }
}

/**
 * The schema of every database it cuts over, compared after the drain (inside the fence when there
 * is one) and before anything irreversible, acted on database by database: a difference stops the
 * cutover, streaming resumes, and the message names each object and its fix. What streaming sets
 * aside on the target is compared once given back (finishCutover).
 */
async function actOnSchemaChecks(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  checks: readonly Awaited<ReturnType<typeof schemaCheckOf>>[],
): Promise<boolean> {
  for (const [i, s] of streams.entries()) {
    const result = checks[i]!;
    if ('unreadable' in result) {
      await resumeAfterMismatch(run, all, databases, result.unreadable, 'the schema check');
      return false;
    }
    const { check } = result;
    await recordSchemaCheck(run, check);
    if (check.differences.length === 0) continue;
    // whatever fixes it, the tables that differed are read whole at the next cutover
    const tables = check.differences.flatMap((d) => (d.relation ? [d.relation] : []));
    await forgetTableVerifications(run.store, run.spec.migrationName, s.database, tables);
    await resumeAfterMismatch(run, all, databases, schemaDifferenceMessage(check), 'the schema check');
    return false;
  }
  return true;
}

/** Streams that ended at the cutover point (or are draining to it) stream on; failed ones stay for the stop to record. */
async function restartStreams(run: MigrationRun, streams: OnlineStream[], databases: ReadonlySet<string>): Promise<void> {
  for (const [i, s] of streams.entries()) {
    if (s.failure || !databases.has(s.database)) continue;
    s.applier.stop();
    await s.done.catch(() => undefined);
    streams[i] = startStream(run, s.database, undefined, streamCounts(s), s.applier.tracker, s.applier.ddlFollowing);
    // started again while the flow may change the target's tables: each is read at its relation message
    streams[i]!.applier.giveUpTablesAhead();
  }
}

/** Why a check inside the hold stops the cutover, and what the user does about it. */
const STOP_CAUSES = {
  verification: 'writes still running on the source?',
  'a table not streamed': 'run the fix it names on the source: pgferry then copies the table and streams it',
  'the large objects': 'give the target user what the fix says',
  'the schema check': 'run the fixes on the target, or undo the change on the source',
  "the target's guard": 'stop whoever writes on the target before its cutover; the tables written are read whole at the next cutover',
} as const;

/** A verification mismatch: streaming starts again and the cutover request is cleared. */
async function resumeAfterMismatch(
  run: MigrationRun,
  streams: OnlineStream[],
  databases: ReadonlySet<string>,
  mismatch: string | undefined,
  check: keyof typeof STOP_CAUSES,
): Promise<void> {
  const pooler = run.spec.pooler ? ', the pooler resumed on the old source' : '';
  const what =
    check === "the target's guard"
      ? mismatch
      : check === 'a table not streamed'
        ? `the verification failed: ${mismatch}`
        : `${check} failed: ${mismatch}`;
  const message = `cutover stopped: ${what}; streaming resumed${pooler}, request the cutover again once the cause is fixed (${STOP_CAUSES[check]})`;
  await streamOnAfterStop(run, streams, databases, message);
}

/**
 * A stream stopped during the drain on an error the user can fix: the cutover stops before
 * anything irreversible (no sequence, verification or release has run), the other streams go on,
 * and the stopped one waits for its fix (streamStops.ts) before the cutover can be asked again.
 */
async function resumeAfterStop(
  run: MigrationRun,
  streams: OnlineStream[],
  databases: ReadonlySet<string>,
  stopped: readonly OnlineStream[],
): Promise<void> {
  const dbs = stopped.map((s) => displayIdent(s.database)).join(', ');
  const message = `cutover stopped: streaming of ${dbs} stopped on an error before the cutover point (see the database's message); request the cutover again once it is fixed and streams`;
  await streamOnAfterStop(run, streams, databases, message, 'WaitingForApplyFix');
}

/**
 * A fallback window without the writer fence (a window from one of spec and request, fenceWriters:
 * false from the other) is refused before anything is changed on either server: an application
 * left on the old source would write beside the reverse stream. True when refused.
 */
async function unfencedWindow(run: MigrationRun): Promise<boolean> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  const refusal = unfencedWindowRefusal(run.spec, options);
  if (!refusal) return false;
  await rollBack(run, [], `cutover not started: ${refusal}; nothing was changed on either server, and changes stream on`);
  return true;
}

/**
 * A fallback window asked with the cutover request alone brings changes whose rights validation
 * never checked (the spec did not ask for them): the reverse slot and publication on the target,
 * the applied position on the old source. Their rights are checked here, before anything is
 * changed on either server, and a refusal names what the user lacks and the statement that grants
 * it. Before, the cutover fenced the writers, then failed on the reverse slot (a target user
 * without REPLICATION, as on a managed server) and ended the migration Failed. True when refused.
 */
async function windowRightsRefused(run: MigrationRun, databases: readonly string[]): Promise<boolean> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  if (options.fallbackWindow === undefined || run.spec.fallbackWindow !== undefined) return false;
  const spec = { ...run.spec, fallbackWindow: options.fallbackWindow };
  // the target's writer fence is a fall-back's, which checks its own rights then
  const changes = [reverseStream, reversePosition].filter((c) => c.madeFor(spec) && !c.madeFor(run.spec));
  const refused: string[] = [];
  for (const database of databases) {
    const purpose = 'fallback window rights';
    await withSessionPair(spec.source, { database, purpose, readOnly: true }, spec.target, { purpose, readOnly: true }, async (pair) => {
      for (const change of changes) {
        const refusal = await change.rights.refusal({ spec, database, source: pair.source, target: pair.target });
        if (refusal) refused.push(`${refusal.message} (fix: ${refusal.fix})`);
      }
    });
  }
  if (refused.length === 0) return false;
  await rollBack(run, [], `cutover not started: ${refused.join('; ')}; nothing was changed on either server, and changes stream on`);
  return true;
}

/** A cutover stopped before its marker: the fences lifted, the pooler resumed, the request cleared with `message`; the streams never stopped. */
async function rollBack(run: MigrationRun, databases: readonly string[], message: string): Promise<void> {
  const name = run.spec.migrationName;
  await liftHoldAndGuard(run, databases);
  await recordEvent(run.store, name, 'warning', message);
  run.onProgress({ kind: 'warning', message, recorded: true });
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message);
}

/** The hold given back on these databases (hold.ts liftHold: the fence lifted, the pooler resumed on the old source), then the target's guard dropped. */
async function liftHoldAndGuard(run: MigrationRun, databases: readonly string[]): Promise<void> {
  for (const database of databases) {
    await liftHold(run, CUTOVER_HOLD, database);
    await dropTargetGuard(run, database);
  }
}
