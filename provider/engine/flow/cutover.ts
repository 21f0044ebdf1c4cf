// The cutover of an online migration: mark the cutover point in every database's stream, apply
// everything up to it, copy sequence values, verify every table, then drop slot, publication and
// apply progress. Downtime is measured from the moment the cutover first began to completion (a
// resumed cutover keeps the first start). This is a step of the flow, started by the online
// supervisor's cutover handler (handleCutover.ts) once the user asks: the mechanisms it runs (the
// writer fence, the lag gate, sequence sync and recheck) are switchover/'s, and ranked below it; the
// target's guard of a held cutover, from the pin to the switch, is targetGuardAtCutover.ts's.
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { outageRetry } from '../run/outage';
import { applierResult, markCutoverPoint } from '../switchover/marker';
import { withSession } from '../connect/session';
import { appliedUpTo, startStream, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { lateWrites, lateWritesMessage } from '../switchover/lateWrites';
import { fenceNamesOf } from '../core/names';
import { classifyStreamFailure } from '../cdc/apply/applyStop';
import { releaseDatabase } from '../footprint/release';
import { followPartitionTree } from '../cdc/apply/partitionTree';
import type { MigrationRun } from '../run/migrationRun';
import { verifyDatabases } from '../verify/verifyTables';
import { checkSchemaFollowing } from './schemaFollow';
import { knownObjects, knownWithIdentities } from '../control/knownObjects';
import {
  checkSchema,
  schemaCheckSummary,
  schemaDifferenceMessage,
  schemaMismatchError,
  withSchemaCheck,
  type SchemaCheck,
} from '../verify/schema/checkSchema';
import { syncSequences } from '../switchover/sequenceSync';
import { keptLargeObjectsMessage, syncLargeObjects, type LargeObjectDelta } from '../switchover/largeObjectDelta';
import { recheckMovedSequences } from '../switchover/sequenceRecheck';
import { failpoint, holdpoint } from '../util/failpoints';
import { unfencedWindowRefusal } from '../input/fallbackWindow';
import { openFallbackWindows, requestedWindow } from './fallback';
import { describeFirings } from '../footprint/targetFiring';
import { notStreamedTables } from '../control/sourceTables';
import { forgetTableVerifications, recordTableVerification } from '../control/tableVerification';
import { leftOutForeignKeys } from '../footprint/targetForeignKeys';
import { recheckPlan } from '../switchover/recheckPlan';
import { errorMessage, PgferryError } from '../core/errors';
import { clearCutoverOptions, cutoverOptionsOf } from '../control/cutoverOptions';
import { fenceOf, keepFence, liftStatements } from '../footprint/writerFence';
import { checkFenceRights, fenceDatabase, liftWriterFence } from '../footprint/writerFence';
import { pausePooler, poolerPause, switchPooler } from '../footprint/poolerPause';
import { NOTHING_PINNED, type PinnedBeforePause } from '../switchover/pinBeforePause';
import { dropGuardAtSwitch, dropTargetGuard, pinUnderGuard, writtenOnTarget } from './targetGuardAtCutover';
import {
  DEFAULT_FENCED_LAG_BUDGET_SECONDS,
  measureCatchUp,
  overBudget,
  overBudgetMessage,
  type ApplyRateMeter,
} from '../switchover/lagGate';
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

/** Marks the cutover point of one database and waits until its applier has applied up to it. */
async function drainDatabase(run: MigrationRun, stream: OnlineStream, began: number): Promise<void> {
  await again(run, `the cutover marker of "${stream.database}"`, () =>
    withSession(run.spec.source, { database: stream.database, purpose: 'cutover', writable: true }, (client) =>
      markCutoverPoint(client, run, stream, began),
    ),
  );
  await applierResult(run, stream);
}

/**
 * A cutover step tried again while a server is away (a restart, a network drop): every step is
 * idempotent, and failing the migration at its last minute for a blip would throw the copy away.
 */
function again<T>(run: MigrationRun, what: string, step: () => Promise<T>): Promise<T> {
  return retrying(RETRY_POLICIES.phase, step, outageRetry(run, `cutover: ${what}`));
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
  const { spec, store } = run;
  // 'released' is recorded: a runner stopped here leaves the fence to a resume or a cancel, which keep it too
  failpoint(`cutover-point-of-no-return:${database}`);
  // past the point of no return: a writer fence stays (writes on the source would be lost), and no
  // cancel or failure lifts it from here on
  await keepFence(store, spec.migrationName, database);
  // the target's guard goes while the applications are still held: its DDL queues behind none of them
  await dropGuardAtSwitch(run, database);
  // the pooler's held queries go to the target from here on (a resumed runner does it again: idempotent)
  await switchPooler(run, database);
  const firings = await releaseDatabase(run, database, 'throw', { cutOver: true });
  const restored = firings && describeFirings(firings);
  if (restored) run.onProgress({ kind: 'info', message: `cutover: ${restored} set back as on the source`, database });
  failpoint(`cutover-released:${database}`);
  // the second look, with everything given back: what was set aside must come back whole
  const leftOutKeys = await leftOutForeignKeys(store, spec.migrationName, database);
  // what the target alone has (a DBA's table, index, column) is kept and listed, as at the first look
  const known = spec.followSchemaChanges ? await knownWithIdentities(store, spec.migrationName, database) : {};
  const check = await checkSchema(spec, database, { whileSetAside: false, leftOutKeys, ...known }).catch(async (error: unknown) => {
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

/** Each cutover step's seconds, for the completion event: where a cutover's downtime goes. */
function stepClock() {
  const steps: string[] = [];
  let start = Date.now();
  return {
    done(step: string): void {
      steps.push(`${step} ${((Date.now() - start) / 1000).toFixed(2)} s`);
      start = Date.now();
    },
    steps: () => steps.join(', '),
  };
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
  const whole = streams.length === all.length;
  if (await unfencedWindow(run)) return false;
  const gate = await gateOf(run);
  const began = (await markCutoverStarted(store, name)).getTime();
  await setState(store, name, 'InProgress', 'CompletingMigration');
  const which = whole ? '' : ` of ${streams.map((s) => `"${s.database}"`).join(', ')}`;
  await recordEvent(
    store,
    name,
    'info',
    `cutover${which} started: ${gate.pooler ? 'pausing the pooler, then ' : ''}${gate.fence ? 'fencing the writers, then ' : ''}applying the last changes`,
  );
  const clock = stepClock();
  const pinned = await fenceAndGate(run, streams, meter, gate, clock);
  if (!pinned) return false;
  const drains = await Promise.allSettled(streams.map((s) => drainDatabase(run, s, began)));
  const failedDrain = drains.find((d) => d.status === 'rejected');
  if (failedDrain) {
    // A stream stopped on an error the user can fix: the cutover waits for the fix, streaming on.
    const stopped = streams.filter((s) => s.failure && classifyStreamFailure(s.failure).kind === 'stop');
    if (run.signal.aborted || stopped.length === 0) throw failedDrain.reason;
    await resumeAfterStop(run, all, databases, stopped);
    return false;
  }
  clock.done('drain');
  for (const s of streams) {
    await updateDatabase(store, name, s.database, {
      ...streamCounts(s),
      latencySeconds: 0,
      pendingBytes: 0,
    });
    const count = await again(run, `the sequences of "${s.database}"`, () => {
      failpoint(`cutover-sequences:${s.database}`);
      return syncSequences(spec.source, spec.target, s.database, spec);
    });
    run.onProgress({ kind: 'info', message: `cutover: ${count} sequence value(s) copied`, database: s.database });
    await followPartitionsAtCutover(run, s.database);
    await setCutoverStep(store, name, s.database, 'drained');
    failpoint(`cutover-drained:${s.database}`);
  }
  clock.done('sequences');
  const keptLargeObjects = await largeObjectsAtCutover(run, all, databases, streams);
  if (!keptLargeObjects) return false;
  clock.done('large objects');
  if (!(await checkSchemaAtCutover(run, all, databases, streams))) return false;
  clock.done('schema check');
  // behind a pooler too, a write past the point (a writer that bypassed it) rolls the cutover back
  if (!(await verifiedAndUnwritten(run, all, databases, streams, { keptLargeObjects, pinned }, gate, clock))) return false;
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
    await again(run, `the release of "${s.database}"`, () => finishCutover(run, s.database, began));
  }
  clock.done('release');
  // each database's own downtime went with its Succeeded; the migration's is the longest
  const downtime = (Date.now() - began) / 1000;
  await setMigrationDowntime(store, name);
  const fenced = await keptFences(run, streams);
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
  const result = await again(run, `the partitions of "${database}"`, () =>
    withSession(spec.source, { database, purpose: 'cutover' }, (source) =>
      withSession(spec.target, { database, purpose: 'cutover', writable: true }, (target) => followPartitionTree(source, target)),
    ),
  );
  for (const { step, error } of result.refused) {
    await run.warn(`cutover: ${step.kind} of partition ${step.table} refused on the target: ${error}`, database);
  }
  if (result.done.length === 0) return;
  const what = result.done.map((d) => `${d.kind === 'detach' ? 'detached' : 'attached'} ${d.table}`).join(', ');
  await announce(run, `cutover: partitions followed in "${database}" as on the source: ${what}`);
}

/**
 * Large objects the source created, wrote or unlinked while changes streamed, brought level after
 * the drain (inside the fence when there is one) and before the schema check and the verification,
 * which compares their content again (switchover/largeObjectDelta.ts). Its seconds are the 'large
 * objects' step of the downtime. A statement the target refuses stops the cutover, nothing changed,
 * streaming on; false then. Else the objects made on the target alone, kept, by database: the
 * verification leaves them out.
 */
async function largeObjectsAtCutover(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
): Promise<ReadonlyMap<string, readonly string[]> | false> {
  const kept = new Map<string, readonly string[]>();
  for (const s of streams) {
    let delta: LargeObjectDelta;
    try {
      delta = await again(run, `the large objects of "${s.database}"`, () => {
        failpoint(`cutover-large-objects:${s.database}`);
        return syncLargeObjects(run.spec, s.database, run.store);
      });
    } catch (error) {
      if (run.signal.aborted || !(error instanceof PgferryError) || error.code !== 'CUTOVER_LARGE_OBJECTS') throw error;
      await resumeAfterMismatch(run, all, databases, `${error.message} (fix: ${error.fix})`, 'the large objects');
      return false;
    }
    kept.set(s.database, delta.kept);
    if (delta.kept.length > 0) await announce(run, keptLargeObjectsMessage('cutover', s.database, delta.kept, 'the target'));
    if (delta.compared === 0 && delta.unlinked === 0) continue;
    const stand = delta.deliberate > 0 ? `; ${delta.deliberate} keep the owner or grants the restore gave them on the target` : '';
    await announce(
      run,
      `cutover: large objects of "${s.database}": ${delta.compared} compared, ${delta.created} created, ${delta.rewritten} rewritten, ${delta.unlinked} unlinked, ${delta.metadataSet} given their owner, grants or comment (${delta.bytes} bytes) in ${delta.seconds.toFixed(2)} s${stand}`,
    );
  }
  return kept;
}

/** What the verification leaves out or reads only in part: the large objects kept, the tables pinned before a pooler's pause. */
interface AtVerification {
  readonly keptLargeObjects: ReadonlyMap<string, readonly string[]>;
  readonly pinned: PinnedBeforePause;
}

/** The cutover's verification of the databases it cuts over; false when it found a mismatch (streaming resumed). */
async function verifyCutover(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  { keptLargeObjects, pinned }: AtVerification,
): Promise<boolean> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const cutOver = streams.map((s) => s.database);
  const notStreamed = await notStreamedTables(store, name, cutOver);
  // verify: true re-reads only what changed since each table's background verification; 'full' every table whole
  const recheck = spec.verify === 'full' ? undefined : await recheckPlan(run, streams, pinned);
  // what the target alone has (a DBA's table or column) is kept, not a mismatch
  const known = spec.followSchemaChanges
    ? { known: new Map(await Promise.all(cutOver.map(async (d) => [d, await knownObjects(store, name, d)] as const))) }
    : {};
  const verified = await again(run, 'the verification', () =>
    verifyDatabases(spec, {
      signal: run.signal,
      onProgress: run.onProgress,
      databases: cutOver,
      notStreamed,
      recheck,
      keptLargeObjects: (database) => keptLargeObjects.get(database) ?? [],
      ...known,
      // inside the fence, every change applied: a view refreshed now holds the rows the source's query gives
      materializedViews: spec.staleMaterializedViews,
    }),
  );
  for (const t of verified.tables) {
    if (!t.method) continue;
    await recordTableVerification(store, name, {
      ...t,
      method: `cutover-${t.method}`,
    });
  }
  const report = await again(run, 'the second look at sequences', () =>
    recheckMovedSequences(spec, verified, known.known, (database, count) => {
      const why = 'a source restart, or nextval without a write';
      // fire and forget (the callback is synchronous): a run's warn never rejects
      void run.warn(`cutover: sequences moved on the source after they were copied (${why}): ${count} value(s) copied again`, database);
    }),
  );
  // the schema check's entries stay beside the rows' (recordSchemaCheck)
  const schema = (await get(store, name))?.verification?.schema;
  await setVerification(store, name, { ...report, ...(schema ? { schema } : {}) });
  if (!report.ok) {
    // a write past the cutover point is named as such, not guessed at
    const late = await writesPastThePoint(run, streams).catch(() => undefined);
    if (late) await rollBackLateWrites(run, all, databases, late, givenBack(true, run.spec.pooler !== undefined));
    else await resumeAfterMismatch(run, all, databases, report.firstMismatch, 'verification');
    return false;
  }
  return true;
}

/** The verification (verify) and, with a fence, its second line; false when either rolled the cutover back. */
async function verifiedAndUnwritten(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  at: AtVerification,
  gate: Gate,
  clock: ReturnType<typeof stepClock>,
): Promise<boolean> {
  if (run.spec.verify) {
    if (!(await verifyCutover(run, all, databases, streams, at))) return false;
    clock.done('verification');
  }
  if (!(gate.fence || gate.pooler)) return true;
  if (!(await nothingPastTheFence(run, all, databases, streams, gate))) return false;
  return nothingWrittenOnTarget(run, all, databases, streams);
}

/**
 * The target's guard read inside the hold (targetGuardAtCutover.ts), the last check before
 * anything irreversible: a write on the target by a session that is not pgferry's since the pin
 * before the hold stops the cutover, naming the table and who wrote, the pooler resumed on the old
 * source. False then.
 */
async function nothingWrittenOnTarget(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
): Promise<boolean> {
  const written = await writtenOnTarget(run, streams);
  if (written === undefined) return true;
  await resumeAfterMismatch(run, all, databases, written, "the target's guard");
  return false;
}

/**
 * The fence's second line (switchover/lateWrites.ts), after the drain, the schema check and the
 * verification and before anything irreversible: a transaction the source committed after the
 * cutover point in a fenced database rolls the cutover back, naming who wrote. False then.
 */
async function nothingPastTheFence(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  gate: Gate,
): Promise<boolean> {
  const late = await writesPastThePoint(run, streams);
  if (late === undefined) return true;
  await rollBackLateWrites(run, all, databases, late, givenBack(gate.fence, gate.pooler));
  return false;
}

/** The writes committed on the source after each stream's cutover point, one line per database with any; undefined: none. */
async function writesPastThePoint(run: MigrationRun, streams: readonly OnlineStream[]): Promise<string | undefined> {
  const found: string[] = [];
  for (const s of streams) {
    const prefix = fenceNamesOf(run.spec.migrationName, s.database).prefix;
    const after = appliedUpTo(s.applier.stats());
    await holdpoint(`cutover-late-writes:${s.database}`);
    const writes = await again(run, `the writes past the cutover point of "${s.database}"`, () =>
      withSession(run.spec.source, { database: s.database, purpose: 'cutover', writable: true }, (client) =>
        lateWrites(client, s.slot, s.publication, after, prefix, run.sourceMajor),
      ),
    );
    if (writes.length > 0) found.push(lateWritesMessage(s.database, writes));
  }
  return found.length > 0 ? found.join('; ') : undefined;
}

/** Writes past the cutover point: the fences lifted and the pooler resumed (`lifted` says which), streaming on (it carries those writes to the target), the request cleared naming them. */
async function rollBackLateWrites(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  late: string,
  lifted: string,
): Promise<void> {
  const name = run.spec.migrationName;
  const message = `cutover rolled back: ${late}; ${lifted} and changes stream on (those writes reach the target): stop that writer on the source or point it at the target, then request the cutover again`;
  await recordEvent(run.store, name, 'error', message);
  await liftFences(run, [...databases]);
  await restartStreams(run, all, databases);
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message);
}

/**
 * The schema of every database it cuts over, compared after the drain (inside the fence when there
 * is one) and before anything irreversible: a difference stops the cutover, streaming resumes, and
 * the message names each object and its fix. What streaming sets aside on the target is compared
 * once given back (finishCutover).
 */
async function checkSchemaAtCutover(
  run: MigrationRun,
  all: OnlineStream[],
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
): Promise<boolean> {
  for (const s of streams) {
    let check: SchemaCheck;
    try {
      // what the schema watch could follow and had not yet is followed now, every row being applied
      check = await again(run, `the schema check of "${s.database}"`, () => checkSchemaFollowing(run, s.database));
    } catch (error) {
      if (run.signal.aborted) throw error;
      const why = `could not read the catalog of "${s.database}": ${errorMessage(error)}`;
      await resumeAfterMismatch(run, all, databases, why, 'the schema check');
      return false;
    }
    await recordSchemaCheck(run, check);
    if (check.differences.length === 0) continue;
    // whatever fixes it, the tables that differed are read whole at the next cutover
    const tables = [...new Set(check.differences.flatMap((d) => (d.table ? [d.table] : [])))];
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
  }
}

/** Why a check inside the hold stops the cutover, and what the user does about it. */
const STOP_CAUSES = {
  verification: 'writes still running on the source?',
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
  const { store } = run;
  const name = run.spec.migrationName;
  const pooler = run.spec.pooler ? ', the pooler resumed on the old source' : '';
  const what = check === "the target's guard" ? mismatch : `${check} failed: ${mismatch}`;
  const message = `cutover stopped: ${what}; streaming resumed${pooler}, request the cutover again once the cause is fixed (${STOP_CAUSES[check]})`;
  await recordEvent(store, name, 'error', message);
  await liftFences(run, [...databases]);
  await restartStreams(run, streams, databases);
  await clearCutoverOptions(store, name);
  await clearCutover(store, name, message);
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
  const name = run.spec.migrationName;
  const dbs = stopped.map((s) => `"${s.database}"`).join(', ');
  const message = `cutover stopped: streaming of ${dbs} stopped on an error before the cutover point (see the database's message); request the cutover again once it is fixed and streams`;
  await recordEvent(run.store, name, 'error', message);
  await liftFences(run, [...databases]);
  await restartStreams(run, streams, databases);
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message, 'WaitingForApplyFix');
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

/** Whether this cutover fences the writers or pauses the pooler, and the lag budget it must fit (undefined: no gate). */
interface Gate {
  readonly fence: boolean;
  /** The pooler in front of the source is paused before the marker (spec.pooler). */
  readonly pooler: boolean;
  readonly budget: number | undefined;
  /** The budget is the default of a fenced cutover (none was given), for the roll-back's message. */
  readonly defaulted: false | 'fenceWriters' | 'a pooler';
}

/**
 * The cutover request's own options (update --cutover --fence-writers ...) over the spec's. The
 * budget defaults to DEFAULT_FENCED_LAG_BUDGET_SECONDS with a fence: the applications wait for the
 * whole catch-up then. Without a fence there is no gate unless one is asked for: the applications
 * keep writing, and the cutover drains whatever the lag is, as it always has.
 */
async function gateOf(run: MigrationRun): Promise<Gate> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  // a window asked with the request fences that cutover's writers (docs/fallback.md)
  const fence = options.fenceWriters ?? (options.fallbackWindow !== undefined || run.spec.fenceWriters);
  const pooler = run.spec.pooler !== undefined;
  const given = options.cutoverLagBudgetSeconds ?? run.spec.cutoverLagBudgetSeconds;
  if (given !== undefined) return { fence, pooler, budget: given, defaulted: false };
  // paused, the applications wait for the whole catch-up as behind a fence
  const held = fence || pooler;
  return {
    fence,
    pooler,
    budget: held ? DEFAULT_FENCED_LAG_BUDGET_SECONDS : undefined,
    defaulted: fence ? 'fenceWriters' : pooler ? 'a pooler' : false,
  };
}

/**
 * Before the cutover point is marked: the pooler paused (spec.pooler), the writers fenced
 * (fenceWriters) and the lag gate passed. The prediction is taken first without a pause or fence
 * (a backlog already over the budget is not worth holding anybody's queries for), then with them,
 * when nothing can add to the backlog. Anything in the way (the budget, a right the source user
 * lacks, a session that cannot be ended, a PAUSE that waits too long) rolls the cutover back: the
 * fences lifted, the pooler resumed on the old source, the request cleared with the reason, the
 * streams untouched. False then; else the tables verified at a pin just before the pause or the
 * fence, the target guarded from before it (pinUnderGuard), which the verification inside the hold
 * reads by their changed keys alone.
 */
async function fenceAndGate(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  meter: ApplyRateMeter,
  gate: Gate,
  clock: ReturnType<typeof stepClock>,
): Promise<PinnedBeforePause | false> {
  // no pause, no fence, no budget: nothing to gate
  if (!gate.fence && !gate.pooler && gate.budget === undefined) return NOTHING_PINNED;
  const databases = streams.map((s) => s.database);
  let pinned = NOTHING_PINNED;
  // whether a fence is (or may be) on the source, or the pooler paused: then a roll-back gives them back, and says so
  let fencing = false;
  let pausing = false;
  const over = async (probe: boolean) => {
    if (gate.budget === undefined) return undefined;
    const late = overBudget(await measureCatchUp(run, streams, meter, { probe, budgetSeconds: gate.budget }), gate.budget);
    const stage = fencing
      ? 'fence lifted'
      : pausing
        ? 'pause lifted'
        : gate.fence
          ? 'before the fence'
          : gate.pooler
            ? 'before the pause'
            : 'no fence';
    return late && overBudgetMessage(late, gate.budget, stage, gate.defaulted);
  };
  let refusal: string | undefined;
  try {
    // a resumed cutover whose fence a killed runner left: the source is fenced already, nothing to spare it
    const fenced = await Promise.all(databases.map((d) => fenceOf(run.store, run.spec.migrationName, d)));
    fencing = fenced.some(Boolean);
    refusal = (gate.fence || gate.pooler) && !fencing ? await over(false) : undefined;
    if (!refusal && (gate.pooler || gate.fence) && !fencing) {
      // the tables verified while the applications still run, the target guarded from before that
      // pin: the pause or the fence reads only what changes after it
      pinned = await pinUnderGuard(run, streams, gate.pooler ? 'pause' : 'fence');
      clock.done('pin');
    }
    if (!refusal && gate.pooler) {
      pausing = true;
      for (const database of databases) {
        await pausePooler(run, database);
      }
    }
    if (!refusal && gate.fence) {
      await checkFenceRights(run, databases);
      fencing = true;
      for (const database of databases) {
        await again(run, `the writer fence of "${database}"`, () => fenceDatabase(run, database));
        failpoint(`cutover-fenced:${database}`);
      }
    }
    refusal ??= await over(true);
  } catch (error) {
    if (run.signal.aborted) throw error;
    refusal =
      fencing || pausing
        ? `cutover rolled back: ${errorMessage(error)}; ${givenBack(fencing, pausing)} and changes stream on`
        : `cutover not started: ${errorMessage(error)}; nothing was changed on the source, and changes stream on`;
  }
  if (refusal === undefined) {
    clock.done(gate.fence ? 'fence' : gate.pooler ? 'pause' : 'lag gate');
    return pinned;
  }
  await rollBack(run, databases, refusal);
  return false;
}

/** What a roll-back gave back, in words. */
function givenBack(fenced: boolean, paused: boolean): string {
  const parts = [...(fenced ? ['the writer fence is lifted'] : []), ...(paused ? ['the pooler is resumed on the old source'] : [])];
  return parts.join(', ');
}

/** A cutover stopped before its marker: the fences lifted, the pooler resumed, the request cleared with `message`; the streams never stopped. */
async function rollBack(run: MigrationRun, databases: readonly string[], message: string): Promise<void> {
  const name = run.spec.migrationName;
  await liftFences(run, databases);
  await recordEvent(run.store, name, 'warning', message);
  run.onProgress({ kind: 'warning', message, recorded: true });
  await clearCutoverOptions(run.store, name);
  await clearCutover(run.store, name, message);
}

/**
 * Lifts the writer fences recorded for these databases, then resumes the pooler on the old source
 * (its lines pointed where they were, nothing recorded: nothing to do): the fence first, so the
 * pooler's held queries do not meet a read-only source.
 */
async function liftFences(run: MigrationRun, databases: readonly string[]): Promise<void> {
  for (const database of databases) {
    await again(run, `lifting the writer fence of "${database}"`, () => liftWriterFence(run, database));
    await again(run, `resuming the pooler on the source for "${database}"`, () => poolerPause.undo(run, database));
    await dropTargetGuard(run, database);
  }
}

/** The completion event's word on the fences that stay, with the statement that lifts each. */
async function keptFences(run: MigrationRun, streams: readonly OnlineStream[]): Promise<string> {
  const lifts: string[] = [];
  for (const s of streams) {
    const fence = await fenceOf(run.store, run.spec.migrationName, s.database);
    if (fence?.kept) lifts.push(liftStatements(run.spec.migrationName, s.database, fence.priorSetting));
  }
  if (lifts.length === 0) return '';
  return `; the source stays fenced (new transactions read-only) so no write is lost there: once no application writes to it, lift with ${lifts.join('; ')}`;
}
