// What outlives one apply session: its counters, positions and the relations it saw, kept by the
// applier across sessions. What a session is started with, fixed for its life, is sessionConfig.ts.
import type { Relation } from '../decode/changeEvents';
import type { ApplyLag } from './applyLag';
import type { ChangeTracker } from '../plan/changeTracker';
import type { PinRequest } from '../pin/pinRequest';
import type { SourceAttribute } from './shapeFollow';

/** What outlives a session: counters, positions and the relation shapes seen. */
export interface ApplyState {
  inserts: number;
  updates: number;
  deletes: number;
  /** End LSN of the last source transaction committed on the target. */
  appliedLsn: bigint;
  /** Confirmed to the slot: appliedLsn, or further when idle (keepalive position). */
  confirmedLsn: bigint;
  receivedLsn: bigint;
  /** Transactions received and not yet applied: the reported latency. */
  readonly lag: ApplyLag;
  progressMode?: 'origin' | 'table';
  /**
   * Where the first session of this applier started (its target's recorded position, else the
   * slot's): every change past it went through this state's tracker, so keys it counts from there are all.
   */
  firstStartLsn?: bigint;
  relations: ReadonlyMap<number, Relation>;
  /** Cutover marker content to stop at; undefined: none requested. */
  markerToken?: string;
  /**
   * Sources before PG14 cannot stream logical messages: stop once everything committed before this
   * source WAL position is applied (a keepalive at or past it proves nothing earlier is pending).
   */
  stopAtLsn?: bigint;
  /** Largest number of bytes the in-memory queue held (the memory bound, observable). */
  peakQueuedBytes: number;
  /** Parallel apply: how its batches ended and what waited (observable, for the bench). */
  readonly batches: ParallelBatches;
  /** Warnings to surface once (e.g. triggers would fire on the target). */
  warnings: string[];
  /** A verifier's request to hold the apply at a source position (pin/pinRequest.ts). */
  pin?: PinRequest;
  /**
   * Someone wants the stream's position brought up to the source's WAL end (the cutover's lag
   * gate): the session asks the walsender for a keepalive, which an idle stream then confirms.
   */
  positionWanted?: boolean;
  /** The keys changed per pinned table since its pin (outlives appliers: a restarted stream keeps it). */
  readonly tracker: ChangeTracker;
  /** Wakes the session's loop when it waits for changes (a pin request arrived). */
  wake?: () => void;
  /**
   * Cancels the statements the session has in flight on the target, so that a stop ends the session
   * now and not once a lock someone holds there is let go (what they did was not committed, and is
   * streamed again).
   */
  interrupt?: () => void;
  /**
   * Commit the open batch before the source transaction that ends at or after this position, so
   * that a stream stopping on that transaction's change of shape stops exactly before it
   * (SettleBeforeStop in shapeStops.ts).
   */
  commitBefore?: bigint;
  /**
   * The final position of the last source transaction a session began. A batch holds several
   * source transactions, and a change the target refuses rolls back every one of them: the session
   * started again at once takes each transaction up to here in a batch of its own (aloneUntil), so
   * that it commits all those before the refused one and stops on that one alone. Otherwise the fix
   * the refused change needs (an enum label renamed on the target as on the source) would then be
   * refused by the earlier ones, which need the target as it was: a stop no fix ends.
   */
  begunLsn?: bigint;
  /** Each source transaction whose final position is at or before this one is committed alone (begunLsn). */
  aloneUntil?: bigint;
  /**
   * Per source relation OID, each streamed column's source attnum with the shapes the target had,
   * oldest first (attnumRecords.ts: recordedFor picks the one of the target's shape now) (shapeFollow.ts: a rename keeps its attnum, a drop and an add do not); read for every
   * published table at the first relation message of a runner, checked against that message.
   */
  sourceAttnums?: Map<number, ReadonlyMap<string, number>[]>;
  /**
   * The online flow may change the target's tables from now on (its first tick: renames and drops
   * followed, tables made again, the schema followed): the target's facts read ahead of relation
   * messages (sessionConnections.ts readTablesAhead) are no longer used, and none is read again.
   */
  tablesAheadGivenUp?: boolean;
  /** The source's columns read with the first relation message, before each table's own is checked against them. */
  sourceColumnsAtStart?: Map<number, readonly SourceAttribute[]>;
  /** Per source relation OID, the target's NOT NULL columns as last read: a re-sent relation message drops what the source dropped. */
  targetNotNull?: Map<number, ReadonlySet<string>>;
  /**
   * NOT NULL set on the source, to be set on the target before the first source transaction that
   * commits at or past `at` (notNullFollower.ts setLater); undefined when none is pending.
   */
  notNullSets?: { readonly oid: number; readonly schema: string; readonly table: string; readonly column: string; readonly at: bigint }[];
  /** Told each change of shape followed on the target (an info event). */
  onFollowed?: (what: string) => void;
  /** Told at once what the stream shows and pgferry does not follow (a table dropped, told by the event trigger): a warning. */
  onNotFollowed?: (what: string) => void;
  /**
   * Records a resync of the table (control/tableResyncs.ts) and resolves once recorded: a change of
   * shape the stream cannot order with the rows (a column dropped and added again under its name).
   */
  requestResync?: (schema: string, table: string, why: string) => Promise<void>;
  /**
   * The table's columns among the migration's known objects (control/knownObjects.ts), by name,
   * with the source attnum each was known with; undefined where the migration keeps no such record.
   * A target column not streamed and not known is the target's own: kept (shapeFollow.ts).
   */
  knownColumns?: (schema: string, table: string) => Promise<ReadonlyMap<string, number | null> | undefined>;
  /**
   * The reverse stream's rule for a streamed column the old source (its target) lacks: added there
   * only if this gives it (the table's known columns, as knownColumns). One the migration does not
   * know is the new server's own (a DBA's, made there while streaming or in the window): left out
   * of every row and never added, as the fall-back keeps it there and does not carry it back
   * (docs/fallback.md). Undefined in the forward stream, and without a record to tell by.
   */
  carriedBack?: (schema: string, table: string) => Promise<ReadonlyMap<string, number | null> | undefined>;
  /**
   * The partitioned tables the copy made on the target, by source OID (control/copyItems.ts
   * copiedParents): a partition whose parent the source renamed is left where it is until the
   * rename is followed (partitionTree.ts). Undefined: no such record, the partition tree is
   * followed by name.
   */
  parentsCopied?: () => Promise<ReadonlyMap<string, string>>;
  /**
   * The target OIDs recorded for the migration's known objects of their own (a type, a sequence
   * ...): those pgferry made there, or a look found equal to the source's (control/knownObjects.ts).
   * A type the source renamed before the stream told its old name is renamed on the target only if
   * it is one of them (unseenTypeRenames.ts). Undefined where the migration keeps no such record.
   */
  madeOnTarget?: () => Promise<ReadonlySet<string>>;
  /** Records columns of the source the apply makes on the target as known, before it makes them. */
  recordKnownColumns?: (schema: string, table: string, columns: readonly { name: string; attnum: number }[]) => Promise<void>;
}

/** Parallel apply's batches, counted while it runs (applySession.ts): what makes it wait. */
export interface ParallelBatches {
  /** Group commits of the first session while lanes were open: one a batch. */
  committed: number;
  /**
   * Transactions the first session took after other sessions' parts committed: their rows sat on
   * two sessions, or on another's not yet committed.
   */
  crossed: number;
  /** Lanes' parts committed before their batch ended, for those transactions. */
  parts: number;
}
