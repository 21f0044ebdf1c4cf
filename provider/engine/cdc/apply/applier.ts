// The applier of one database: runs apply sessions, reconnecting with back-off when the source or
// the target drops (restart, failover, network), until stopped or cut over. Exposes the counters
// and positions the online flow reports.
import type { DdlFollowing } from './ddlFollow';
import { isRetryable, NEW_SESSION_CODES, sqlStateWithin } from '../../connect/sqlstate';
import { errorMessage } from '../../core/errors';
import type { ServerSpec } from '../../input/migrationSpec';
import { applyLockKey } from '../../core/names';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import { runSession, type SessionEnd } from './applySession';
import { SettleBeforeStop, typesAwaitedBy } from './shapeStops';
import { ApplyFencedError } from './applyTarget';
import { ApplyLag } from './applyLag';
import { maxLsn } from '../../core/lsn';
import { DEFAULT_LIMITS } from '../plan/planner';
import { StreamLostError } from '../receive/stream';
import type { ApplyState, ParallelBatches } from './applyState';
import type { PlannerLimits } from '../plan/types';
import type { OpenedAhead, SessionConfig } from './sessionConfig';
import { ChangeTracker } from '../plan/changeTracker';
import { PinRequest, type AtPin } from '../pin/pinRequest';
import { describeRefusing, loosenedOnSource, LOOSENING_POLL_MS, LOOSENING_WAIT_MS, refusingConstraint } from './looseningWait';
import { displayIdent } from '../../connect/quote';
import { awaitedTable, heldUntilMade, LabelsRenamed, WATCH_WAIT_MS } from './watchWait';
import { namedFromCatalog } from './truncateRefusal';

/**
 * The received-changes queue's default budget. Small on purpose: a consumer that reads every byte
 * as soon as it arrives makes the walsender send each message on its own (it flushes whenever the
 * socket is writable), and both sides then pay a system call per row. Pausing the socket at this
 * budget lets the walsender's sends fill the socket buffer and go out in bulk, which saved CPU on
 * both sides against a larger budget and stalled less than a smaller one
 * (docs/bench.md#the-applys-settings).
 */
const DEFAULT_QUEUE_BUDGET_BYTES = 8 * 1024 * 1024;

export interface ApplierOptions {
  readonly source: ServerSpec;
  readonly target: ServerSpec;
  /** How its messages name the two servers (default: the source and the target): SessionConfig. */
  readonly words?: StreamWords;
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  readonly origin: string;
  readonly migration: string;
  readonly cutoverPrefix: string;
  /** The slot's consistent point: where a first session starts. */
  readonly initialLsn?: bigint;
  readonly preferProgressTable?: boolean;
  /** Changes held in memory before the stream is paused (default DEFAULT_QUEUE_BUDGET_BYTES). */
  readonly queueBudgetBytes?: number;
  readonly limits?: PlannerLimits;
  readonly commitRows?: number;
  readonly commitMs?: number;
  /**
   * How long to keep waiting while another session holds this database's apply lock (default: for
   * as long as it does: a runner that lost its lease gives the lock up when its session ends).
   * 0 refuses at once.
   */
  readonly fenceWaitMs?: number;
  /** Called for reconnects and warnings. */
  readonly log?: (level: 'info' | 'warning' | 'event', message: string) => void;
  /** Keys changed per pinned table: given to a restarted stream so it keeps counting (default: a new one). */
  readonly tracker?: ChangeTracker;
  /** The runner's lease session: every apply COMMIT checks it still holds its lock (leaseGuard.ts). */
  readonly leaseSessionPid?: number;
  /** Follow columns dropped, renamed, retyped and NOT NULL dropped on the source (default true): SessionConfig. */
  readonly followSchemaChanges?: boolean;
  /**
   * A schema watch makes the source's types and enum labels on the target while this stream runs
   * (the online flow's, following schema changes): a change refused for want of one is held for it
   * (heldForWatch). Default false: nothing would make them, the stream stops at once.
   */
  readonly schemaWatched?: boolean;
  /** Rename the target table when the source renames a streamed one (default false: the stream stops): SessionConfig. */
  readonly followTableRenames?: boolean;
  /** Records a resync of a table whose change of shape the stream cannot order with its rows (ApplyState.requestResync). */
  readonly requestResync?: (schema: string, table: string, why: string) => Promise<void>;
  /** The migration's known columns of a table, and their record (ApplyState.knownColumns, recordKnownColumns). */
  readonly knownColumns?: ApplyState['knownColumns'];
  readonly recordKnownColumns?: ApplyState['recordKnownColumns'];
  /** The target OIDs of the migration's known objects of their own (ApplyState.madeOnTarget). */
  readonly madeOnTarget?: ApplyState['madeOnTarget'];
  /** The partitioned tables the copy made on the target, by source OID (ApplyState.parentsCopied). */
  readonly parentsCopied?: ApplyState['parentsCopied'];
  /** The reverse stream's columns it may add on the old source (ApplyState.carriedBack). */
  readonly carriedBack?: ApplyState['carriedBack'];
  /** schemaChangeCapture eventTrigger: the source's DDL messages followed where they stand (ddlFollow.ts). */
  readonly ddlFollowing?: DdlFollowing;
  /** Target sessions applying the stream (default 1; the spec's applySessions): SessionConfig. */
  readonly applySessions?: number;
  /** Connections a resume opened ahead for the first session: SessionConfig. */
  readonly openedAhead?: OpenedAhead;
}

export interface ApplyStats {
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly appliedLsn: bigint;
  readonly confirmedLsn: bigint;
  readonly receivedLsn: bigint;
  /** Seconds the oldest source transaction received and not yet applied is behind (ApplyLag). */
  readonly latencySeconds: number;
  readonly progressMode?: 'origin' | 'table';
  readonly peakQueuedBytes: number;
  /** Parallel apply's batches (all zero with one session). */
  readonly batches: Readonly<ParallelBatches>;
}

/** Errors a new session can get past: dropped connections, a slot or origin still held by a dead predecessor. */
function transient(error: unknown): boolean {
  return error instanceof StreamLostError || isRetryable(error, NEW_SESSION_CODES);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SQLSTATE classes of a row the target refuses: a data exception (22), an integrity constraint (23). */
const REFUSED_ROW = /^2[23]/;

export class Applier {
  private stopped = false;
  /** Set by fail(): the stream stops and run() throws it (a background verification found a difference). */
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly state: ApplyState;
  private warned = 0;
  /** Since when sessions have been refused by the fence (another session holds the apply lock). */
  private fencedSince: number | undefined;
  /** The source transaction held for a constraint the source dropped (heldForLoosening), since when, and whether it was told. */
  private loosening: { at: bigint; since: number; told: boolean } | undefined;
  /** The source transaction held for a type or enum label the target lacks (heldForWatch), and since when. */
  private awaiting: { at: bigint; since: number; triedAgain: boolean } | undefined;
  /** When the latest look of the schema watch at this database that has ended began (schemaLooked). */
  private schemaLookedAt = 0;
  /** The source OIDs the control catalog records for the migration's enum types, by qualified name, as the watch's latest comparison read them (enumsRecorded). */
  private recordedEnums: ReadonlyMap<string, string> = new Map();

  constructor(private readonly options: ApplierOptions) {
    this.state = {
      inserts: 0,
      updates: 0,
      deletes: 0,
      appliedLsn: 0n,
      confirmedLsn: 0n,
      receivedLsn: 0n,
      lag: new ApplyLag(),
      relations: new Map(),
      peakQueuedBytes: 0,
      batches: { committed: 0, crossed: 0, parts: 0 },
      warnings: [],
      tracker: options.tracker ?? new ChangeTracker(),
      onFollowed: (what) => options.log?.('event', `database ${displayIdent(options.database)}: ${what}`),
      onNotFollowed: (what) => options.log?.('warning', `database ${displayIdent(options.database)}: ${what}`),
      ...(options.requestResync ? { requestResync: options.requestResync } : {}),
      ...(options.knownColumns ? { knownColumns: options.knownColumns } : {}),
      ...(options.recordKnownColumns ? { recordKnownColumns: options.recordKnownColumns } : {}),
      ...(options.madeOnTarget ? { madeOnTarget: options.madeOnTarget } : {}),
      ...(options.carriedBack ? { carriedBack: options.carriedBack } : {}),
      ...(options.parentsCopied ? { parentsCopied: options.parentsCopied } : {}),
    };
  }

  /** Applies until stop() ('stopped') or until the marker set by stopAtMarker() is applied ('cutover'). */
  async run(): Promise<SessionEnd> {
    const o = this.options;
    const config: SessionConfig = {
      source: o.source,
      target: o.target,
      words: o.words ?? FORWARD_STREAM_WORDS,
      database: o.database,
      slot: o.slot,
      publication: o.publication,
      progressKey: { origin: o.origin, migration: o.migration, database: o.database },
      fenceKey: applyLockKey(o.migration, o.database),
      cutoverPrefix: o.cutoverPrefix,
      preferProgressTable: o.preferProgressTable ?? false,
      initialLsn: o.initialLsn ?? 0n,
      queueBudgetBytes: o.queueBudgetBytes ?? DEFAULT_QUEUE_BUDGET_BYTES,
      limits: o.limits ?? DEFAULT_LIMITS,
      commitRows: o.commitRows ?? 20_000,
      commitMs: o.commitMs ?? 500,
      leaseSessionPid: o.leaseSessionPid,
      followSchemaChanges: o.followSchemaChanges ?? true,
      followTableRenames: o.followTableRenames ?? false,
      applySessions: o.applySessions ?? 1,
      ...(o.ddlFollowing ? { ddlFollowing: o.ddlFollowing } : {}),
      ...(o.openedAhead ? { openedAhead: o.openedAhead } : {}),
    };
    let failures = 0;
    for (;;) {
      this.throwIfFailed();
      if (this.stopped) return 'stopped';
      const before = this.state.appliedLsn;
      try {
        const end = await runSession(config, this.state, () => this.stopped);
        this.flushWarnings();
        this.throwIfFailed();
        return end;
      } catch (error) {
        this.flushWarnings();
        this.throwIfFailed();
        if (this.stopped) return 'stopped';
        if (error instanceof SettleBeforeStop) {
          this.state.commitBefore = error.finalLsn;
          continue;
        }
        if (this.refusedInBatch(error)) {
          this.state.aloneUntil = this.state.begunLsn;
          continue;
        }
        if (await this.heldForLoosening(error)) continue;
        if (await this.heldForWatch(error)) continue;
        if (!this.mayRetry(error)) {
          await this.madeBeforeStop(error);
          // a TRUNCATE refused for a foreign key names the keys as the target's catalog has them
          throw await namedFromCatalog(error, o.target, o.database, config.words);
        }
        failures = this.state.appliedLsn > before ? 1 : failures + 1;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6));
        const reason = this.fencedSince
          ? `${(error as Error).message}; trying again`
          : `CDC connection lost (${errorMessage(error)}); reconnecting`;
        o.log?.('warning', `database ${displayIdent(o.database)}: ${reason} in ${(delay / 1000).toFixed(1)}s`);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void sleep(delay).then(resolve); // fire and forget: a sleep never rejects
        });
        this.wake = undefined;
      }
    }
  }

  /**
   * A change the target refused (a value it cannot take, a constraint) in a batch that may hold
   * other source transactions, whose rows it rolled back too: the stream stops only once that
   * change's transaction was tried alone, every one before it committed (ApplyState.begunLsn).
   * Once per refusal: a refusal met again before the apply passed the last such try stops.
   */
  private refusedInBatch(error: unknown): boolean {
    const { begunLsn, aloneUntil, appliedLsn } = this.state;
    if (!REFUSED_ROW.test(sqlStateWithin(error) ?? '') || begunLsn === undefined) return false;
    return aloneUntil === undefined || appliedLsn > aloneUntil;
  }

  /**
   * A row refused alone by a constraint the source has dropped since (looseningWait.ts): held, and
   * tried again a second later, for as long as LOOSENING_WAIT_MS from the first refusal of that
   * source transaction, while the schema watch drops the constraint on the target. Told once.
   */
  private async heldForLoosening(error: unknown): Promise<boolean> {
    const refusing = refusingConstraint(error);
    const at = this.state.begunLsn;
    const o = this.options;
    // only forward streams have a schema watch to wait for
    if (!refusing || at === undefined || this.state.aloneUntil === undefined || o.words?.direction === 'reverse') return false;
    if (this.loosening?.at !== at) this.loosening = { at, since: Date.now(), told: false };
    if (Date.now() - this.loosening.since > LOOSENING_WAIT_MS) return false;
    if (!(await loosenedOnSource(o.source, o.database, refusing).catch(() => false))) return false;
    if (!this.loosening.told) {
      this.loosening.told = true;
      const words = o.words ?? FORWARD_STREAM_WORDS;
      o.log?.(
        'event',
        `database ${displayIdent(o.database)}: a row refused on ${words.target} by ${describeRefusing(refusing)}, which ${words.source} has dropped: held until the schema watch drops it there too`,
      );
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      void sleep(LOOSENING_POLL_MS).then(resolve); // fire and forget: a sleep never rejects
    });
    this.wake = undefined;
    return !this.stopped;
  }

  /**
   * A change refused for want of a type or an enum label the source has (an enum made in the
   * transaction that uses it, a label added and used at once): held, without a stop, until the
   * schema watch has made them on the target, for as long as WATCH_WAIT_MS from the first refusal
   * of that source transaction (watchWait.ts), told as an event. Nothing missing by the time it
   * looks: tried again once, the watch having maybe made it since the refusal. Labels the target
   * lacks while it has others the source has not (a label renamed, or the type made again with one
   * label removed and another added: told apart by the type's OID on the source against the one
   * recorded) stop at once when the type kept its recorded OID (renamed in place, which the watch
   * never follows); else they are held until a look of the watch begun after the refusal has ended:
   * made by then, applied; else it stops. Either stop's fix is the rename (LabelsRenamed), where
   * renames alone make the target's labels the source's.
   */
  private async heldForWatch(error: unknown): Promise<boolean> {
    const o = this.options;
    const table = awaitedTable(error);
    const at = this.state.begunLsn;
    if (!table || at === undefined || o.schemaWatched !== true) return false;
    if (this.awaiting?.at !== at) this.awaiting = { at, since: Date.now(), triedAgain: false };
    const awaiting = this.awaiting;
    const words = o.words ?? FORWARD_STREAM_WORDS;
    const tell = (missing: readonly string[]): void =>
      o.log?.(
        'event',
        `database ${displayIdent(o.database)}: a change of ${table.printed} waits for the schema watch to make on ${words.target} what ${words.source} made for it: ${missing.join(', ')}`,
      );
    const looked = {
      deadline: awaiting.since + WATCH_WAIT_MS,
      stopped: () => this.stopped,
      lookedSince: () => this.schemaLookedAt,
      recordedOid: (type: string) => this.recordedEnums.get(type),
    };
    const held = await heldUntilMade(o, table.field, looked, tell).catch(() => 'unmade' as const);
    // a label renamed in place stops the stream on this refusal, its fix the renames on the target
    if (typeof held === 'object') throw held.renamed.length > 0 ? new LabelsRenamed(held.renamed, error) : error;
    if (held !== 'present') return held === 'made';
    const again = !awaiting.triedAgain;
    awaiting.triedAgain = true;
    return again;
  }

  /**
   * A stop whose printed fix needs a type the source made for it (a column retyped to an enum made
   * in the same source transaction): the schema watch makes it on the target at its next look, and
   * the stop is told only once it has (heldUntilMade, as a held change waits), so that the fix
   * runs as printed the moment it is read. Made or not within WATCH_WAIT_MS, it stops as before.
   */
  private async madeBeforeStop(error: unknown): Promise<void> {
    const o = this.options;
    const table = typesAwaitedBy(error);
    if (table === undefined || o.schemaWatched !== true) return;
    const words = o.words ?? FORWARD_STREAM_WORDS;
    const tell = (missing: readonly string[]): void =>
      o.log?.(
        'event',
        `database ${displayIdent(o.database)}: the stop of ${table.printed} waits for the schema watch to make on ${words.target} what its fix needs: ${missing.join(', ')}`,
      );
    const hold = {
      deadline: Date.now() + WATCH_WAIT_MS,
      stopped: () => this.stopped,
      lookedSince: () => this.schemaLookedAt,
      recordedOid: (type: string) => this.recordedEnums.get(type),
    };
    await heldUntilMade(o, table.field, hold, tell).catch(() => undefined);
  }

  /** The schema watch ended a look at this database begun at `startedAt` (Date.now()): a held change may judge by it. */
  schemaLooked(startedAt: number): void {
    this.schemaLookedAt = Math.max(this.schemaLookedAt, startedAt);
  }

  /**
   * The schema watch compared the database: the source OIDs recorded for the migration's enum types
   * (by qualified name), by which a held change tells a label renamed in place at once (watchWait.ts).
   */
  enumsRecorded(oids: ReadonlyMap<string, string>): void {
    this.recordedEnums = oids;
  }

  /** Whether a failed session is worth another: a transient failure always, a fence for up to fenceWaitMs. */
  private mayRetry(error: unknown): boolean {
    if (!(error instanceof ApplyFencedError)) {
      this.fencedSince = undefined;
      return transient(error);
    }
    this.fencedSince ??= Date.now();
    return Date.now() - this.fencedSince < (this.options.fenceWaitMs ?? Infinity);
  }

  private flushWarnings(): void {
    for (const w of this.state.warnings.slice(this.warned))
      this.options.log?.('warning', `database ${displayIdent(this.options.database)}: ${w}`);
    this.warned = this.state.warnings.length;
  }

  /** Stop at the transaction carrying this cutover marker content (after applying it). */
  stopAtMarker(token: string): void {
    this.state.markerToken = token;
  }

  /** Stop once everything committed on the source before `lsn` is applied (sources before PG14). */
  stopAtLsn(lsn: bigint): void {
    this.state.stopAtLsn = lsn;
  }

  /** Stops the stream now: its loop at the next record, a statement it waits on canceled. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.state.interrupt?.();
  }

  /** A method, not a property read: a read narrowed before an await would not be read again after it. */
  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Stops the stream with this error, as if applying had failed with it (the slot keeps every change). */
  fail(error: Error): void {
    this.failure ??= error;
    this.stop();
  }

  /** What follows the source's DDL messages, given to a stream started again in its place. */
  get ddlFollowing(): DdlFollowing | undefined {
    return this.options.ddlFollowing;
  }

  get tracker(): ChangeTracker {
    return this.state.tracker;
  }

  /**
   * Said before anything else of pgferry's may change the target's tables while this applier runs
   * (the supervisor's tick, a cutover's hand-off): every table is read at its next relation message
   * from then on, as before the facts were read ahead (ApplyState.tablesAheadGivenUp).
   */
  giveUpTablesAhead(): void {
    this.state.tablesAheadGivenUp = true;
  }

  /** Where this applier's first session started; undefined before it started (ApplyState.firstStartLsn). */
  get startedFrom(): bigint | undefined {
    return this.state.firstStartLsn;
  }

  /**
   * Asks the apply to hold at its next source-transaction boundary (pin/pinRequest.ts). The caller awaits
   * `held`, takes its source snapshot, then `release`s the request with the position (always: the
   * apply waits until it does), and awaits `done`. Refused while another pin is under way.
   */
  requestPin(atPin: AtPin): PinRequest {
    if (this.state.pin) throw new Error('a pin is already under way');
    const pin = new PinRequest(atPin);
    this.state.pin = pin;
    this.state.wake?.();
    return pin;
  }

  /**
   * Asks the stream to bring its confirmed position up to the source's WAL end: an idle stream's
   * position otherwise moves only when the walsender sends a keepalive of its own accord, which it
   * may not for WAL that holds nothing published (a setting changed, another database written).
   */
  requestPosition(): void {
    this.state.positionWanted = true;
    this.state.wake?.();
  }

  /** Withdraws a pin request the apply did not take up (no session running, a long transaction). */
  cancelPin(pin: PinRequest): void {
    if (this.state.pin === pin) this.state.pin = undefined;
    pin.abandon(new Error('pin withdrawn'));
  }

  stats(): ApplyStats {
    const s = this.state;
    s.lag.appliedBefore(maxLsn(s.appliedLsn, s.confirmedLsn));
    return {
      inserts: s.inserts,
      updates: s.updates,
      deletes: s.deletes,
      appliedLsn: s.appliedLsn,
      confirmedLsn: s.confirmedLsn,
      receivedLsn: s.receivedLsn,
      latencySeconds: s.lag.seconds(),
      progressMode: s.progressMode,
      peakQueuedBytes: s.peakQueuedBytes,
      batches: { ...s.batches },
    };
  }
}
