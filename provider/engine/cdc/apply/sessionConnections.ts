// The connections of one apply session and what is built on them: the target session with its
// applied position and open transaction, the replication stream from the source and the queue it
// fills, and a source session opened when a catalog must be read. start() keeps each one as soon as
// it is open, so stop() closes whatever start() got to, after a failure too. The apply loop that
// uses them is applySession.ts; the shape follow (shapeFollower.ts) and the DDL follow
// (ddlFollower.ts) are given them too.
import type pg from 'pg';
import { requestCancel } from '../../connect/interrupt';
import { closeSession, openSession, serverMajor } from '../../connect/session';
import { maxLsn } from '../../core/lsn';
import { ChangeNormalizer } from '../decode/normalizer';
import { BatchPlanner } from '../plan/planner';
import { openAppliedPosition, readLaneRecords, withTransactionId, type AppliedPosition } from './positionCommit';
import { openApplyTarget } from './applyTarget';
import { readTargetTablesAhead, type TableFactsRead } from './targetTables';
import { qualified } from '../../connect/quote';
import { RecordQueue } from '../receive/recordQueue';
import { ReplicationStream, type ReplicationConnection } from '../receive/stream';
import { publishedAttributes, type PublishedAttributes } from './sourceColumns';
import type { SourceAttribute } from './shapeFollow';
import { trace } from '../../util/trace';
import { failpoint, holdpoint } from '../../util/failpoints';
import { StatementPipeline } from './statementPipeline';
import { TargetTransaction } from './targetTransaction';
import { LaneCatchUp } from '../plan/laneRouter';
import type { PlannerLimits } from '../plan/types';
import type { ApplyState } from './applyState';
import type { SessionConfig, SourceCatalog } from './sessionConfig';
import type { ServerSpec } from '../../input/migrationSpec';

/**
 * Statements queued for the target and not yet finished, and the bytes they may hold together, in
 * received-queue budgets (statementPipeline.ts): enough for this process to decode and plan the
 * next batch while the target runs this one (two budgets: 16 MiB by default), and bounded by the
 * same setting as the queue, so a stalled target holds at most about three budgets of changes
 * before the stream pauses. Each statement holds at most PlannerLimits.maxBytes. The count must
 * cover the statements the target runs during one round trip: on a far link a session sends
 * only that many per round trip, and a bound of a few dozen held one session to about that many
 * row changes per round trip whatever the target could do (docs/bench.md#parallel-apply-applysessions).
 */
const MAX_IN_FLIGHT = 2048;
const IN_FLIGHT_BUDGETS = 2;

/**
 * Update and delete groups from this many rows on go through a staging table (see
 * stagedStatements): below it the extra COPY costs more than the parameters it saves.
 */
const STAGE_MIN_ROWS = 100;

/** The target connection is given this long to answer the release (statements in flight canceled first) when the session ends. */
const RELEASE_MS = 2_000;

/**
 * The received queue's budget until the session's first commit has returned. A resumed stream's
 * walsender sends the whole backlog at once, and reading it takes this process's one thread: on a
 * busy machine the first batch's COMMIT, sent only once its statements have answered, waited behind
 * megabytes being read and queued (docs/bench.md, the restart lab's statement log). The first batch
 * is one source transaction (commitPolicy.ts); a larger one still streams, the stream pausing and
 * resuming as the apply takes its records.
 */
const START_BUDGET_BYTES = 256 * 1024;

/** PGFERRY_TRACE marks this process's first change received (util/trace.ts). */
let firstXlogTraced = false;

/**
 * Opens the source session that reads its catalog, in `database`, and reads the server's major
 * version on it: a session's own (SessionConnections.sourceSession), or one a resume opens ahead.
 */
export async function openSourceCatalog(source: ServerSpec, database: string): Promise<SourceCatalog> {
  const client = await openSession(source, { database, purpose: 'cdc catalog' });
  try {
    return { client, major: await serverMajor(client) };
  } catch (error) {
    await closeSession(client);
    throw error;
  }
}

/**
 * Ends the target session the facts were read on, when they had one of their own
 * (SessionConnections.readTablesAhead); the hold point of test/cdc/runnerResume comes first, so
 * that the sessions are read from the server while that one is open.
 */
async function heldThenClosed(client: pg.Client | undefined): Promise<void> {
  await holdpoint('apply-tables-ahead-read');
  await closeSession(client);
}

/** One apply session's connections, opened by start() and read through the accessors below once it returned. */
export class SessionConnections {
  private targetSession: pg.Client | undefined;
  private targetError: Error | undefined;
  private stream: ReplicationStream | undefined;
  /** A source session, opened when a catalog must be read (sourceSession). */
  private source: Promise<pg.Client> | undefined;
  private sourceServerMajor: number | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private changeNormalizer: ChangeNormalizer | undefined;
  private recordQueue: RecordQueue | undefined;
  private transaction: TargetTransaction | undefined;
  private startLsn = 0n;
  private replicaRoleDenied = false;
  private plannerLimits: PlannerLimits | undefined;
  private laneCatchUp: LaneCatchUp | undefined;
  private position: AppliedPosition | undefined;
  private sourceColumns: Promise<Map<number, SourceAttribute[]>> | undefined;
  private publishedTables: Promise<{ schema: string; name: string }[]> | undefined;
  private tablesAhead: Promise<Map<string, TableFactsRead>> | undefined;
  /** A target session of the facts' own (a resume's, OpenedAhead.takeTargetCatalog), until readTablesAhead takes it. */
  private targetCatalog: Promise<pg.Client> | undefined;

  constructor(
    private readonly config: SessionConfig,
    private readonly state: ApplyState,
  ) {}

  /** The target session: the apply's statements and its reads of the target's catalog. */
  get target(): pg.Client {
    return this.targetSession!;
  }

  /** The open target transaction the apply adds to. */
  get txn(): TargetTransaction {
    return this.transaction!;
  }

  /** The received records, in stream order. */
  get queue(): RecordQueue {
    return this.recordQueue!;
  }

  /** The stream's messages made into changes against the relations known so far. */
  get normalizer(): ChangeNormalizer {
    return this.changeNormalizer!;
  }

  /** Source transactions whose commit starts before this were applied by an earlier session. */
  get skipBelow(): bigint {
    return this.startLsn;
  }

  /**
   * Source transactions a parallel apply session committed in a batch the first session did not
   * (plan/laneRouter.ts LaneCatchUp); undefined when none did.
   */
  get catchUp(): LaneCatchUp | undefined {
    return this.laneCatchUp;
  }

  /**
   * A target transaction on another connection of this session (a parallel apply session's),
   * planned and pipelined as the first session's; it records `progress` and no applied position.
   */
  laneTransaction(client: pg.Client, progress: AppliedPosition, checkTarget: () => void): TargetTransaction {
    const planner = new BatchPlanner(this.plannerLimits!);
    const pipeline = new StatementPipeline(client, MAX_IN_FLIGHT, IN_FLIGHT_BUDGETS * this.config.queueBudgetBytes);
    return new TargetTransaction(
      pipeline,
      planner,
      progress,
      this.state,
      { checkTarget, committed: () => undefined },
      this.startLsn,
      true,
      this.config.words,
    );
  }

  /** Applying without replica role: the target's foreign keys act (see TargetTable.cascadedDeletes). */
  get foreignKeysFire(): boolean {
    return this.replicaRoleDenied;
  }

  /**
   * The source session that reads its catalog, opened at its first use; callers at once share one
   * opening (the read started with the session, sourceColumnsAhead, may meet a DDL message's).
   */
  sourceSession(): Promise<pg.Client> {
    this.source ??= openSourceCatalog(this.config.source, this.config.database).then((c) => this.keepSource(c));
    return this.source;
  }

  private keepSource(catalog: SourceCatalog): pg.Client {
    this.sourceServerMajor = catalog.major;
    return catalog.client;
  }

  /** The source's major version, read with its catalog session (sourceSession). */
  get sourceMajor(): number {
    return this.sourceServerMajor!;
  }

  /**
   * Opens the target session, reads the applied position and starts streaming from it. The
   * source's replication connection is opened beside the target's steps, and with the schema
   * followed the source's catalog read the first relation message needs (sourceColumnsAhead): a
   * resumed apply waited for each of them in turn before its first change. Only START_REPLICATION
   * waits for the position, read under the fence (applyTarget.ts); the connection holds nothing of
   * the slot before it, so exactly once and the one applier per database hold as before.
   */
  async start(): Promise<void> {
    // the hold point of test/cdc/resumeAhead: what a resume opened ahead is read from the servers here
    await holdpoint('apply-session-start');
    const { config, state } = this;
    const replication = config.openedAhead?.takeReplication() ?? ReplicationStream.connect(config.source, config.database);
    replication.catch(() => undefined); // awaited below; a rejection is not lost
    const sourceAhead = config.openedAhead?.takeSource();
    this.targetCatalog = config.openedAhead?.takeTargetCatalog();
    if (sourceAhead) {
      this.source = sourceAhead.session.then((c) => this.keepSource(c));
      this.source.catch(() => undefined); // met by each use, as a session's own opening is
    }
    if (config.followSchemaChanges && !state.sourceColumnsAtStart) this.readSourceColumns(sourceAhead?.published);
    let connection: ReplicationConnection;
    try {
      await this.openTarget();
      // the fence held and the position read, so the facts' read does not hold up the position's
      this.readTablesAhead();
      connection = await replication;
      // the kill point of test/cdc/runnerResume: the target read and the stream opened, not started
      failpoint('apply-stream-start');
    } catch (error) {
      await replication.then(
        (c) => c.close(),
        () => undefined,
      );
      throw error;
    }
    const startLsn = this.startLsn;
    const queue = new RecordQueue(
      Math.min(START_BUDGET_BYTES, config.queueBudgetBytes),
      () => this.stream?.pause(),
      () => this.stream?.resume(),
    );
    this.recordQueue = queue;
    state.wake = () => queue.wake();
    state.interrupt = () => this.cancelInFlight();
    const stream = this.startStream(connection, startLsn);
    trace('stream started');
    this.statusTimer = setInterval(() => this.confirm(), stream.statusIntervalMs);
    const planner = new BatchPlanner(this.plannerLimits!);
    const pipeline = new StatementPipeline(this.target, MAX_IN_FLIGHT, IN_FLIGHT_BUDGETS * config.queueBudgetBytes);
    this.transaction = new TargetTransaction(
      pipeline,
      planner,
      this.position!,
      state,
      {
        checkTarget: () => {
          if (this.targetError) throw this.targetError;
        },
        committed: () => {
          queue.setBudget(config.queueBudgetBytes);
          stream.sendStatus(state.confirmedLsn, state.receivedLsn);
          state.lag.appliedBefore(state.appliedLsn);
          // a batch held back while this commit was on its way may go now (see sourceCommit, applySession.ts)
          queue.wake();
        },
      },
      startLsn,
      false,
      config.words,
    );
  }

  /** The target's steps of start(): the session and its fence, the applied position read under it, where to start. */
  private async openTarget(): Promise<void> {
    const { config, state } = this;
    const { client: target, replicaRole, asReplica, mayStage } = await openApplyTarget(config, state, (e) => (this.targetError = e));
    this.targetSession = target;
    this.replicaRoleDenied = !replicaRole;
    const opened = await openAppliedPosition(target, config.progressKey, config.preferProgressTable, config.leaseSessionPid);
    const progress = config.applySessions > 1 ? withTransactionId(opened) : opened;
    this.position = progress;
    state.progressMode = progress.mode;
    // both reads sent at once (one round trip on the pipelined session), after the fence and the binding
    // read whatever applySessions is now: a stream applied in parallel before a restart may not be now
    const [recorded, lanes] = await Promise.all([progress.read(), readLaneRecords(target, config.progressKey.origin)]);
    this.laneCatchUp = LaneCatchUp.of(lanes, recorded);
    trace('applied position read');
    const startLsn = recorded > 0n ? recorded : config.initialLsn;
    state.firstStartLsn ??= startLsn;
    state.appliedLsn = maxLsn(state.appliedLsn, startLsn);
    state.confirmedLsn = maxLsn(state.confirmedLsn, startLsn);
    this.startLsn = startLsn;
    this.changeNormalizer = new ChangeNormalizer(state.relations);
    state.relations = this.changeNormalizer.knownRelations();
    // Reordering across tables is safe only when no foreign key or trigger looks across them.
    this.plannerLimits = {
      ...config.limits,
      perTable: (config.limits.perTable ?? true) && asReplica,
      stageMinRows: mayStage ? (config.limits.stageMinRows ?? STAGE_MIN_ROWS) : undefined,
    };
  }

  /**
   * The source's columns of every published table (sourceColumns.ts sourceAttributes), read on the
   * catalog session when the session starts rather than at its first relation message
   * (attnumRecords.ts recordAttnums): either read comes after the message's place in the stream,
   * which is all that message's check needs. The published tables' names come with them, in the
   * same statement, for readTablesAhead. A resume reads them ahead, beside its catalog steps
   * (`ahead`, flow/resumeAhead.ts), on the catalog session it opened then.
   */
  private readSourceColumns(ahead: Promise<PublishedAttributes> | undefined): void {
    const { publication } = this.config;
    const read = (ahead ?? this.sourceSession().then((c) => publishedAttributes(c, this.sourceMajor, publication))).then((published) => {
      trace('source columns read');
      return published;
    });
    this.publishedTables = read.then((p) => p.tables);
    this.publishedTables.catch(() => undefined); // awaited by readTablesAhead
    this.sourceColumns = read.then((p) => p.columns);
    this.sourceColumns.catch(() => undefined); // awaited at the first relation message, which meets any error
  }

  /**
   * The published tables' facts on the target read ahead of their relation messages, in one round
   * trip (targetTables.ts readTargetTablesAhead), once the source has named them, the fence is held
   * (from then on no other applier can change those tables) and the position is read: sent beside
   * the position's read, on the apply's connection or another, the facts' read held it up on a
   * loaded target, and START_REPLICATION with it. On a resume, on the target catalog session
   * opened ahead (OpenedAhead.takeTargetCatalog), ended after the read, so that the first batch's
   * statements do not queue behind it on the apply's connection; otherwise on the apply's
   * connection, where nothing else reads before a relation message. The first lookup of a table
   * waits for this read (targetTableAhead). Not read once the flow may change the target's tables
   * (a session started again after the supervisor's first tick).
   */
  private readTablesAhead(): void {
    const tables = this.publishedTables;
    const own = this.targetCatalog;
    this.targetCatalog = undefined;
    if (!tables || this.state.tablesAheadGivenUp) {
      void own?.then(closeSession, () => undefined);
      return;
    }
    const target = this.target;
    const read = own
      ? own.then((client) => tables.then((t) => readTargetTablesAhead(client, t)).finally(() => void heldThenClosed(client)))
      : tables.then((t) => readTargetTablesAhead(target, t)).finally(() => void heldThenClosed(undefined));
    this.tablesAhead = read.then((facts) => {
      trace('target tables read ahead');
      return facts;
    });
    this.tablesAhead.catch(() => undefined); // a failure only means reading each table at its message
  }

  /**
   * A table's facts read ahead (readTablesAhead), once: a later relation message of the table reads
   * them anew. Undefined when none were read, once this session changed a table's shape on the
   * target (forgetTablesAhead), or once the online flow may change the target's tables
   * (ApplyState.tablesAheadGivenUp): the facts hold only while nothing but this session changes them.
   */
  async targetTableAhead(schema: string, name: string): Promise<TableFactsRead | undefined> {
    const read = this.tablesAhead;
    if (!read) return undefined;
    const ahead = await read.catch(() => undefined);
    // given up meanwhile: the flow may have renamed, dropped or made again a table since the read
    if (this.tablesAhead !== read || !ahead || this.state.tablesAheadGivenUp) return undefined;
    const key = qualified(schema, name);
    const facts = ahead.get(key);
    ahead.delete(key);
    return facts;
  }

  /** The target's tables changed (a shape followed, a partition moved): nothing read ahead is used from now on. */
  forgetTablesAhead(): void {
    this.tablesAhead = undefined;
  }

  /** The source's columns read when the session started (readSourceColumns); undefined when none was started. */
  sourceColumnsAhead(): Promise<Map<number, SourceAttribute[]>> | undefined {
    return this.sourceColumns;
  }

  private startStream(connection: ReplicationConnection, startLsn: bigint): ReplicationStream {
    const { state, queue } = this;
    state.lag.restart();
    const stream = connection.start(
      { slot: this.config.slot, publication: this.config.publication, startLsn },
      {
        keepalive: (walEnd, replyRequested) => {
          state.receivedLsn = maxLsn(state.receivedLsn, walEnd);
          if (replyRequested && state.confirmedLsn > 0n) this.stream?.sendStatus(state.confirmedLsn, state.receivedLsn);
          queue.pushKeepalive(walEnd);
        },
        xlog: (bytes, start, walEnd) => {
          if (walEnd > state.receivedLsn) state.receivedLsn = walEnd;
          // Queued as bytes and decoded by the consumer: decoded rows then live only from decoding to
          // their statement, young enough for cheap garbage collection.
          queue.pushXlog(bytes, start);
          state.lag.received(bytes, start);
          if (queue.bytes > state.peakQueuedBytes) state.peakQueuedBytes = queue.bytes;
          if (!firstXlogTraced) {
            firstXlogTraced = true;
            trace('first xlog queued');
          }
        },
      },
    );
    this.stream = stream;
    stream.ended.catch((e: Error) => queue.fail(e));
    return stream;
  }

  /** Tells the slot how far the target has committed (and how far the stream was received). */
  confirm(requestReply = false): void {
    if (this.state.confirmedLsn > 0n || requestReply)
      this.stream!.sendStatus(this.state.confirmedLsn, this.state.receivedLsn, requestReply);
  }

  /** Step: ends the session; what was not committed is lost on purpose (it is streamed again). */
  /**
   * A statement still running (waiting for a lock someone holds on the target, a long UPDATE) is
   * canceled on the server: what it did was not committed, and is streamed again.
   */
  private cancelInFlight(): void {
    if (this.transaction && this.transaction.inFlight > 0 && this.targetSession) requestCancel(this.targetSession);
  }

  async stop(): Promise<void> {
    this.state.interrupt = undefined;
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.stream?.close();
    await closeSession(await this.source?.catch(() => undefined));
    await closeSession(await this.targetCatalog?.catch(() => undefined));
    // bounded: a target that stopped answering must not hold the session open
    if (this.transaction) {
      // a statement still running would hold the release, and once the connection closed it would
      // run on in its backend, which keeps this session's replication origin busy: a cancel could
      // then not drop it
      this.cancelInFlight();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.transaction.release().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, RELEASE_MS)))]);
      clearTimeout(timer);
    }
    await closeSession(this.targetSession);
  }
}
