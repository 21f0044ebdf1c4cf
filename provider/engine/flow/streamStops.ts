// Streams stopped on an error the user can fix (cdc/apply/applyStop.ts), while the other databases of the
// migration stream on. A stopped database keeps its slot and publication: nothing is lost while
// the user fixes the cause. Its stream is tried again on its own (watchLoop.ts retryDelayMs, as
// PostgreSQL's apply worker retries a failed subscription), at once when the user asks
// (`pgferry resume`, `pulumi up`), and continues exactly-once from the last applied transaction
// once the fix works. A bound the user sets (maxApplyStopHours) releases the slot of a stream
// stopped for longer, so a forgotten migration cannot fill the source's disk.
//
// One stop record serves both directions (stopRecord, ApplyStop): the forward stream's in
// migration_database.apply_stop, kept by StreamStops below, a fallback window's reverse stream's in
// fallback_window.apply_stop, kept by the window's rows (afterCutover.ts WINDOW). A runner that
// resumes reads either back and goes on from it: the same cause, since, attempts and back-off.
import { formatLsn, maxLsn, parseLsn } from '../core/lsn';
import { classifyStreamFailure, fatalStreamError } from '../cdc/apply/applyStop';
import type { MigrationStatus, StopCause } from '../core/model';
import { REVERSE_STREAM_WORDS } from '../core/streamWords';
import { appliedUpTo, startStream, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { errorMessage, isPgferryError } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';
import type { ApplyStop } from '../core/model';
import { get, recordEvent, setState, updateDatabase } from '../control/store';
import { retryDelayMs } from './watchLoop';
import { displayIdent } from '../connect/quote';
import { holdpoint } from '../util/failpoints';

interface Stopped {
  stop: ApplyStop;
  /** When the stream is tried again on its own. */
  nextTryAt: number;
  /** The retry requests counted when the current attempt began. */
  requestsSeen: number;
  /** The attempt running now began at (Date.now), or undefined while waiting for the next try. */
  trying?: number;
  /** Tried again at once for the cutover request pending (triedForCutover), since it stopped or the last refusal. */
  triedForCutover?: true;
}

/** Where a stream stopped and what it tried: the parts of its record that are not the cause. */
interface Attempt {
  /** How far it has applied: a stream tried again that failed before it read its position has not moved back. */
  readonly applied: bigint;
  /** When the attempt that failed began (Date.now); now when unknown. */
  readonly began?: number;
  /** The retry requests counted when that attempt began. */
  readonly requestsSeen: number;
}

/**
 * A stream's stop as both directions record it, after its first failure or one more: the first
 * stop's `since` kept while it stays stopped, the attempts counted on, where it had applied.
 */
export function stopRecord(earlier: ApplyStop | undefined, cause: StopCause, attempt: Attempt): ApplyStop {
  const now = Date.now();
  const applied = earlier ? maxLsn(attempt.applied, parseLsn(earlier.appliedLsn)) : attempt.applied;
  return {
    since: earlier?.since ?? new Date(now).toISOString(),
    lastAttemptAt: new Date(attempt.began ?? now).toISOString(),
    attempts: (earlier?.attempts ?? 0) + 1,
    retryRequestsSeen: attempt.requestsSeen,
    ...cause,
    appliedLsn: formatLsn(applied),
  };
}

/** Whether a stream tried again applied past where it stopped: the fix worked. */
export function appliedPast(stop: Pick<ApplyStop, 'appliedLsn'>, applied: bigint): boolean {
  return applied > parseLsn(stop.appliedLsn);
}

/**
 * What stopped a fallback window's reverse stream, as its record names it: the failure's cause and
 * fix as for a forward stream, the servers named as they are in this direction. A failure that would end a forward migration (its slot lost, another
 * applier) is a stop too: the migration has cut over, and the window's end bounds the tries.
 */
export function reverseStopCause(ended: Error | string): StopCause {
  if (!(ended instanceof Error)) {
    return { code: 'CDC_APPLY', error: `it ended (${ended})`, fix: 'none known: it is tried again by itself' };
  }
  const failure = classifyStreamFailure(ended, REVERSE_STREAM_WORDS);
  if (failure.kind === 'stop') return failure.cause;
  return {
    code: isPgferryError(ended) ? ended.code : 'CDC_FAILED',
    error: errorMessage(ended),
    fix: 'a reverse slot that is gone cannot stream again: close the window (`pgferry update --close-fallback`)',
  };
}

/** The message a stopped stream leaves on the migration: what failed, the fix and how to go on. */
function stopMessage(name: string, database: string, stop: Pick<ApplyStop, 'error' | 'fix' | 'statement'>): string {
  const statement = stop.statement ? ` [statement: ${stop.statement}]` : '';
  return `database ${displayIdent(database)}: streaming stopped: ${stop.error}${statement}; fix: ${stop.fix}, then \`pulumi up\` or \`pgferry resume --name ${name} --properties FILE\` (it is also tried again by itself); the replication slot keeps every change meanwhile, \`pgferry update --name ${name} --cancel\` releases it`;
}

export class StreamStops {
  private readonly stopped = new Map<string, Stopped>();
  /** Failed streams already recorded (a failure is recorded once). */
  private readonly recorded = new WeakSet<OnlineStream>();
  private requestsSeen = 0;
  /** The streams that applied past their stop since the migration's message last said so. */
  private readonly movedAgain: string[] = [];

  private constructor(private readonly run: MigrationRun) {}

  /**
   * Picks up the stops an earlier runner recorded (their `since` and attempts carry on), from
   * `status` when the caller has just read the migration, else from a read of its own.
   */
  static async load(run: MigrationRun, read?: MigrationStatus): Promise<StreamStops> {
    const stops = new StreamStops(run);
    const status = read ?? (await get(run.store, run.spec.migrationName));
    stops.requestsSeen = status?.applyRetryRequests ?? 0;
    for (const d of status?.databases ?? []) {
      if (d.applyStop)
        stops.stopped.set(d.database, { stop: d.applyStop, nextTryAt: 0, requestsSeen: stops.requestsSeen, trying: Date.now() });
    }
    return stops;
  }

  get any(): boolean {
    return this.stopped.size > 0;
  }

  get databases(): string[] {
    return [...this.stopped.keys()];
  }

  /** A database canceled on its own: its stop, if any, is no longer the migration's. */
  forget(database: string): void {
    this.stopped.delete(database);
  }

  isStopped(database: string): boolean {
    return this.stopped.has(database);
  }

  /** What the stream of `database` is stopped on, if it is. */
  stopOf(database: string): ApplyStop | undefined {
    return this.stopped.get(database)?.stop;
  }

  /**
   * Whether the stopped stream of `database` is being tried again and has not failed since (a
   * `pgferry resume` after a fix, or the back-off): a cutover asked meanwhile waits for it to
   * apply the change that stopped it, instead of being refused.
   */
  isRetrying(database: string, streams: readonly OnlineStream[]): boolean {
    const stopped = this.stopped.get(database);
    const stream = streams.find((s) => s.database === database);
    return stopped?.trying !== undefined && stream !== undefined && !stream.failure;
  }

  /**
   * Handles the streams that failed since the last look: one the user can fix is recorded as
   * stopped (its slot kept); any other failure is thrown, ending the migration.
   */
  async recordFailures(streams: readonly OnlineStream[]): Promise<void> {
    for (const stream of streams) {
      if (!stream.failure || this.recorded.has(stream)) continue;
      const failure = classifyStreamFailure(stream.failure);
      if (failure.kind === 'fatal') throw fatalStreamError(stream.database, stream.failure);
      await this.record(stream, failure.cause);
      this.recorded.add(stream); // recorded: a catalog that failed meanwhile is tried again next time
    }
  }

  private async record(stream: OnlineStream, cause: StopCause): Promise<void> {
    // a test asks for the cutover here: the stream failed, the migration still says it streams
    await holdpoint(`stream-stop:${stream.database}`);
    const { run } = this;
    const name = run.spec.migrationName;
    const earlier = this.stopped.get(stream.database);
    const stop = stopRecord(earlier?.stop, cause, {
      applied: appliedUpTo(stream.applier.stats()),
      ...(earlier?.trying !== undefined ? { began: earlier.trying } : {}),
      requestsSeen: earlier?.requestsSeen ?? this.requestsSeen,
    });
    this.stopped.set(stream.database, {
      stop,
      nextTryAt: Date.now() + retryDelayMs(stop.attempts),
      requestsSeen: stop.retryRequestsSeen,
      ...(earlier?.triedForCutover ? { triedForCutover: true as const } : {}),
    });
    const message = stopMessage(name, stream.database, stop);
    await updateDatabase(run.store, name, stream.database, { state: 'ApplyStopped', applyStop: stop, message });
    await setState(run.store, name, 'WaitingForUserAction', 'WaitingForApplyFix', message);
    if (!earlier) await recordEvent(run.store, name, 'error', message, stream.database);
    run.onProgress({ kind: 'warning', message, database: stream.database, ...(earlier ? {} : { recorded: true as const }) });
  }

  /**
   * Starts again the stopped streams that are due: the user asked (`requests` grew), or their
   * back-off elapsed. Returns whether any was restarted.
   */
  retryDue(streams: OnlineStream[], requests: number): boolean {
    const asked = requests > this.requestsSeen;
    this.requestsSeen = Math.max(this.requestsSeen, requests);
    let restarted = false;
    for (const [i, stream] of streams.entries()) {
      const stopped = this.stopped.get(stream.database);
      if (!stopped || stopped.trying !== undefined || !stream.failure) continue;
      if (!asked && Date.now() < stopped.nextTryAt) continue;
      this.restart(streams, i, stopped);
      restarted = true;
    }
    return restarted;
  }

  /**
   * A cutover is asked while the streams of `databases` are stopped: each one waiting for its next
   * try, not tried yet for this request, is tried again at once, as a resume does. The user may well
   * have run the fix already: the request often comes right after it, before the back-off's try, and
   * may even have been accepted before the stop was recorded (the migration then still said it
   * streamed). Returns whether each of them is now being tried: the request then waits for them,
   * and is refused only once one stops again (cutoverRefused).
   */
  triedForCutover(databases: readonly string[], streams: OnlineStream[]): boolean {
    for (const [i, stream] of streams.entries()) {
      const stopped = this.stopped.get(stream.database);
      if (!stopped || !databases.includes(stream.database) || stopped.trying !== undefined || !stream.failure) continue;
      if (stopped.triedForCutover) continue;
      stopped.triedForCutover = true;
      this.restart(streams, i, stopped);
    }
    return databases.every((d) => this.isRetrying(d, streams));
  }

  /** The cutover asked was refused: a later request tries the stopped streams again at once (triedForCutover). */
  cutoverRefused(): void {
    for (const stopped of this.stopped.values()) delete stopped.triedForCutover;
  }

  private restart(streams: OnlineStream[], i: number, stopped: Stopped): void {
    const stream = streams[i]!;
    stopped.trying = Date.now();
    stopped.requestsSeen = this.requestsSeen;
    streams[i] = startStream(
      this.run,
      stream.database,
      undefined,
      streamCounts(stream),
      stream.applier.tracker,
      stream.applier.ddlFollowing,
    );
    // started again while the flow may change the target's tables: each is read at its relation message
    streams[i]!.applier.giveUpTablesAhead();
  }

  /**
   * Clears the stop of each stream that applied past where it stopped (the fix worked); returns
   * true when none is stopped any more.
   */
  async clearMoved(streams: readonly OnlineStream[]): Promise<boolean> {
    const { run } = this;
    const name = run.spec.migrationName;
    for (const stream of streams) {
      const stopped = this.stopped.get(stream.database);
      if (!stopped || stream.failure || stopped.trying === undefined) continue;
      if (!appliedPast(stopped.stop, appliedUpTo(stream.applier.stats()))) continue;
      this.stopped.delete(stream.database);
      await updateDatabase(run.store, name, stream.database, { state: 'WaitingForCutoverTrigger', applyStop: null, message: null });
      const what = `the change that stopped it is applied (it had stopped ${stopped.stop.attempts} time(s) since ${stopped.stop.since})`;
      const message = `streaming again: ${what}`;
      await recordEvent(run.store, name, 'info', message, stream.database);
      run.onProgress({ kind: 'info', message, database: stream.database });
      this.movedAgain.push(`database ${displayIdent(stream.database)}: ${what}`);
    }
    return this.stopped.size === 0;
  }

  /**
   * What the migration's message says once none is stopped any more, in place of the stop's: the
   * streams that applied past their stop since it was last said, so that `show` tells a stream that
   * stopped and was fixed from one that never stopped, until a newer message.
   */
  streamingAgainMessage(): string {
    const moved = this.movedAgain.splice(0);
    return moved.length > 0 ? `streaming again: ${moved.join('; ')}` : 'streaming again';
  }

  /** A stream stopped for longer than maxApplyStopHours, if any: its slot is then released (the caller fails the migration). */
  overdue(): { database: string; stop: ApplyStop } | undefined {
    const hours = this.run.spec.maxApplyStopHours;
    if (hours === undefined) return undefined;
    for (const [database, { stop }] of this.stopped) {
      if (Date.now() - Date.parse(stop.since) > hours * 3_600_000) return { database, stop };
    }
    return undefined;
  }
}
