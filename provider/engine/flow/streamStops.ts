// Streams stopped on an error the user can fix (cdc/apply/applyStop.ts), while the other databases of the
// migration stream on. A stopped database keeps its slot and publication: nothing is lost while
// the user fixes the cause. Its stream is tried again on its own (watchLoop.ts retryDelayMs, as
// PostgreSQL's apply worker retries a failed subscription), at once when the user asks
// (`pgferry resume`, `pulumi up`), and continues exactly-once from the last applied transaction
// once the fix works. A bound the user sets (maxApplyStopHours) releases the slot of a stream
// stopped for longer, so a forgotten migration cannot fill the source's disk.
import { formatLsn, parseLsn } from '../core/lsn';
import { classifyStreamFailure } from '../cdc/apply/applyStop';
import type { StopCause } from '../core/model';
import { appliedUpTo, startStream, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { errorMessage, PgferryError } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';
import type { ApplyStop } from '../core/model';
import { get, recordEvent, setState, updateDatabase } from '../control/store';
import { retryDelayMs } from './watchLoop';

interface Stopped {
  stop: ApplyStop;
  /** When the stream is tried again on its own. */
  nextTryAt: number;
  /** The retry requests counted when the current attempt began. */
  requestsSeen: number;
  /** The attempt running now began at (Date.now), or undefined while waiting for the next try. */
  trying?: number;
}

/** The message a stopped stream leaves on the migration: what failed, the fix and how to go on. */
function stopMessage(name: string, database: string, stop: Pick<ApplyStop, 'error' | 'fix' | 'statement'>): string {
  const statement = stop.statement ? ` [statement: ${stop.statement}]` : '';
  return `database "${database}": streaming stopped: ${stop.error}${statement}; fix: ${stop.fix}, then \`pulumi up\` or \`pgferry resume --name ${name} --properties FILE\` (it is also tried again by itself); the replication slot keeps every change meanwhile, \`pgferry update --name ${name} --cancel\` releases it`;
}

export class StreamStops {
  private readonly stopped = new Map<string, Stopped>();
  /** Failed streams already recorded (a failure is recorded once). */
  private readonly recorded = new WeakSet<OnlineStream>();
  private requestsSeen = 0;

  private constructor(private readonly run: MigrationRun) {}

  /** Picks up the stops an earlier runner recorded (their `since` and attempts carry on). */
  static async load(run: MigrationRun): Promise<StreamStops> {
    const stops = new StreamStops(run);
    const status = await get(run.store, run.spec.migrationName);
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
      if (failure.kind === 'fatal') {
        throw new PgferryError('CDC_FAILED', `database "${stream.database}": ${errorMessage(stream.failure)}`, {
          category: 'source',
          cause: stream.failure,
        });
      }
      await this.record(stream, failure.cause);
      this.recorded.add(stream); // recorded: a catalog that failed meanwhile is tried again next time
    }
  }

  private async record(stream: OnlineStream, cause: StopCause): Promise<void> {
    const { run } = this;
    const name = run.spec.migrationName;
    const now = Date.now();
    const earlier = this.stopped.get(stream.database);
    const attempts = (earlier?.stop.attempts ?? 0) + 1;
    const applied = appliedUpTo(stream.applier.stats());
    const stop: ApplyStop = {
      since: earlier?.stop.since ?? new Date(now).toISOString(),
      lastAttemptAt: new Date(earlier?.trying ?? now).toISOString(),
      attempts,
      retryRequestsSeen: earlier?.requestsSeen ?? this.requestsSeen,
      ...cause,
      appliedLsn: formatLsn(applied),
    };
    const delay = retryDelayMs(attempts);
    this.stopped.set(stream.database, { stop, nextTryAt: now + delay, requestsSeen: stop.retryRequestsSeen });
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
      restarted = true;
    }
    return restarted;
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
      const applied = appliedUpTo(stream.applier.stats());
      if (applied <= parseLsn(stopped.stop.appliedLsn)) continue;
      this.stopped.delete(stream.database);
      await updateDatabase(run.store, name, stream.database, { state: 'WaitingForCutoverTrigger', applyStop: null, message: null });
      const message = `streaming again: the change that stopped it is applied (it had stopped ${stopped.stop.attempts} time(s) since ${stopped.stop.since})`;
      await recordEvent(run.store, name, 'info', message, stream.database);
      run.onProgress({ kind: 'info', message, database: stream.database });
    }
    return this.stopped.size === 0;
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
