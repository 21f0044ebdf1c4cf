// One apply session: a replication stream from the source and one connection to the target
// database, applying decoded changes in commit order until stopped, cut over, or broken.
//
// Exactly once, and why it holds:
// * Statements run inside an open target transaction, which is committed ONLY right after a
//   source COMMIT has been fully applied, never inside a source transaction. A 200k-row source
//   transaction therefore streams into the target in many statements but one target transaction,
//   and memory holds only the planner's open group and the bounded queue.
// * Each target commit carries the end LSN of the last source transaction it contains, recorded in
//   the same transaction (replication origin or progress table): data and position commit together
//   (for the origin, only because its setup is sent with the COMMIT: see appliedPosition.ts).
// * The slot's flush position is confirmed to the source only after that commit returned (with
//   synchronous_commit = on, so it is durable), so the source keeps everything not yet committed.
// * On start the session reads the recorded LSN P, streams from P, and skips every transaction whose
//   commit record starts before P: commit records do not overlap, so those are exactly the ones
//   already applied (their end ≤ P) and no later one is skipped.
// A SIGKILL anywhere loses the open target transaction and nothing else; it is streamed again.
import { qualified } from '../../connect/quote';
import { maxLsn } from '../../core/lsn';
import { decodePgoutput } from '../decode/pgoutput';
import { CommitPolicy } from './commitPolicy';
import { ApplyLanes } from './applyLanes';
import { truncateStatement } from '../plan/statements';
import type { QueuedRecord, RecordQueue } from '../receive/recordQueue';
import type { TargetTransaction } from './targetTransaction';
import { DdlFollower } from './ddlFollower';
import { SessionConnections } from './sessionConnections';
import { ShapeFollower } from './shapeFollower';
import { TargetDdl } from './targetDdl';
import type { CurrentTransaction } from './shapeStops';
import type { ApplyState } from './applyState';
import type { SessionConfig } from './sessionConfig';
import { ALL_TABLES } from '../pin/pinRequest';
import { holdpoint } from '../../util/failpoints';
import { traceOnce } from '../../util/trace';
import type { ChangeEvent, Relation, RowEvent } from '../decode/changeEvents';
import type { LaneWrite } from '../plan/laneRouter';

/** What the apply loop handles: a change from the stream, or a keepalive carrying the server's WAL position. */
type SessionItem = ChangeEvent | Extract<QueuedRecord, { kind: 'keepalive' }>;

/**
 * Planned rows sent at a source commit although their statement is not full, when the target has
 * nothing left to do: it starts on them while this process decodes the next rows. A resumed apply
 * otherwise left the target idle for its first full group, while this process's code is still cold
 * (docs/bench.md#the-applys-settings); on a busy target statements stay full.
 */
const EAGER_FLUSH_ROWS = 200;

/** How a session ends when it does not fail: stopped, or at the cutover point. */
export type SessionEnd = 'cutover' | 'stopped';

/** What handling one queued item gives: a session end, or nothing; a promise only when it had to wait. */
type Step = SessionEnd | undefined | Promise<SessionEnd | undefined>;

const noEnd = (): undefined => undefined;

/** Queue items handled between two yields to the event loop (see run()). */
const YIELD_EVERY = 32;

/** Runs one session until it is stopped ('stopped'), reaches the cutover point ('cutover') or fails. */
export async function runSession(config: SessionConfig, state: ApplyState, isStopped: () => boolean): Promise<SessionEnd> {
  const session = new ApplySession(config, state);
  try {
    await session.start();
    return await session.run(isStopped);
  } catch (error) {
    state.pin?.abandon(error as Error);
    state.pin = undefined;
    throw error;
  } finally {
    state.pin?.abandon(new Error('the apply session ended before the pinned position'));
    state.pin = undefined;
    state.wake = undefined;
    await session.stop();
  }
}

/**
 * The apply loop over a session's connections (sessionConnections.ts, which opens and closes them),
 * with its tables' shapes followed (shapeFollower.ts) and the event trigger's DDL messages (ddlFollower.ts).
 */
class ApplySession {
  private readonly connections: SessionConnections;
  private readonly shapes: ShapeFollower;
  private readonly ddl: DdlFollower;
  private readonly commits: CommitPolicy;
  /** The current source transaction was applied before: its changes are skipped. */
  private skipping = false;
  /** The current source transaction's final position (its BEGIN's), and whether earlier ones shared its target batch. */
  private current: CurrentTransaction = { finalLsn: 0n, afterOthers: false };
  /** Inside a source transaction (between its begin and commit). */
  private inSourceTxn = false;
  /** The current source transaction carries the cutover marker. */
  private markerSeen = false;
  private sinceYield = 0;
  /** The current source transaction precedes a pinned position but its snapshot does not see it (pin/pinRequest.ts). */
  private pinStraggler = false;
  /** Parallel apply's other sessions (applyLanes.ts); undefined with one session. */
  private lanes: ApplyLanes | undefined;
  /** Parallel apply: the current source transaction, held whole until its COMMIT routes it. */
  private held: { readonly begin: Extract<ChangeEvent, { kind: 'begin' }>; readonly rows: RowEvent[] } | undefined;
  /** Parallel apply: the current source transaction is applied by the first session alone, between two batch commits. */
  private barrier = false;
  /**
   * Parallel apply: the first session's open batch may hold transactions it applied alone while it
   * caught up (catchingUp), which the lane router never saw: it is committed before the first
   * transaction is routed, or a lane could take one of their tables in the same batch.
   */
  private unroutedBatch = false;
  /**
   * The WAL end of the latest keepalive met between source transactions: everything before it has
   * been received. One that arrived while a batch was open or committing could not be confirmed
   * then; idle() confirms it once everything received is committed.
   */
  private keepaliveEnd = 0n;

  constructor(
    private readonly config: SessionConfig,
    private readonly state: ApplyState,
  ) {
    this.connections = new SessionConnections(config, state);
    const targetDdl = new TargetDdl(this.connections);
    this.shapes = new ShapeFollower(config, state, this.connections, targetDdl, () => this.current);
    this.ddl = new DdlFollower(config, state, this.connections, targetDdl);
    this.commits = new CommitPolicy(config);
  }

  /**
   * Opens the session's connections (sessionConnections.ts) and starts streaming; with
   * applySessions above 1, the lanes beside it, where the target grants replica role.
   */
  async start(): Promise<void> {
    await this.connections.start();
    if (this.config.applySessions <= 1) return;
    if (this.connections.foreignKeysFire) {
      this.state.warnings.push(
        `applySessions ${this.config.applySessions} needs session_replication_role = replica on ${this.config.words.target}, which is not permitted: changes are applied by one session`,
      );
      return;
    }
    this.lanes = await ApplyLanes.open(this.config, this.connections, this.state.batches);
  }

  /** Closes whatever start() opened. */
  async stop(): Promise<void> {
    await this.lanes?.close();
    await this.connections.stop();
  }

  private get txn(): TargetTransaction {
    return this.connections.txn;
  }

  private get queue(): RecordQueue {
    return this.connections.queue;
  }

  /** The apply loop: one queued record at a time, in order, until stopped or cut over. */
  async run(isStopped: () => boolean): Promise<SessionEnd> {
    const txn = this.txn;
    // a test holds the loop here while the stream fills the queue, so that its first batches are
    // as full as a backlog makes them whatever the machine's speed
    await holdpoint(`apply-start:${this.config.database}`);
    let firstTaken = false;
    for (;;) {
      if (isStopped()) return 'stopped';
      // While items are queued, each next() resolves at once and this loop runs as one long chain
      // of microtasks: the target's replies would wait until the queue ran dry, and the target
      // would idle although the next statement is ready. Yielding to the event loop now and then
      // lets finished statements hand over to the next one while this loop goes on planning.
      if (++this.sinceYield >= YIELD_EVERY && txn.inFlight > 0) {
        this.sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // a queued record is taken without a promise; only an empty queue is waited for
      const next = this.queue.take() ?? (await this.queue.next(this.waitMs()));
      if (!firstTaken && next) {
        firstTaken = true;
        traceOnce('first item taken');
      }
      const item = this.decode(next);
      if (next && !item) continue; // a pgoutput message with nothing to apply (type, origin)
      let end: SessionEnd | undefined;
      try {
        const step = item ? this.handle(item) : this.idle();
        end = step instanceof Promise ? await step : step;
      } catch (error) {
        throw await txn.firstError(error);
      }
      if (end) return end;
    }
  }

  /**
   * How long to wait for the next record: with a batch held back behind a COMMIT, until it is due
   * or that COMMIT returns (which may have happened already, its wake-up then lost: not at all).
   */
  private waitMs(): number {
    const txn = this.txn;
    if (!txn.isOpen || this.inSourceTxn) return 500;
    return txn.commitsInFlight === 0 ? 0 : Math.max(1, this.commits.ageLimit() - txn.age);
  }

  private decode(next: QueuedRecord | undefined): SessionItem | undefined {
    return next?.kind === 'xlog' ? this.connections.normalizer.push(decodePgoutput(next.bytes, next.start, next.end)) : next;
  }

  /**
   * Nothing arrived in time, or a COMMIT returned: commit the open batch, confirm a keepalive that
   * had to wait for it, and keep asking for a stop position.
   */
  private async idle(): Promise<undefined> {
    const { state } = this;
    const txn = this.txn;
    if (txn.isOpen && !this.inSourceTxn) await txn.commit();
    txn.check();
    if (!this.inSourceTxn) await this.pinBoundary({});
    // nothing received is uncommitted: everything before the last keepalive is applied
    if (!this.inSourceTxn && !txn.isOpen && txn.commitsInFlight === 0 && this.keepaliveEnd > state.confirmedLsn) {
      await txn.idle();
      state.confirmedLsn = this.keepaliveEnd;
      this.connections.confirm();
    }
    // waiting for a stop or pinned position, or asked for it: ask the server for a keepalive carrying its current position
    if (state.stopAtLsn !== undefined || state.pin?.phase === 'pinned' || state.positionWanted) {
      state.positionWanted = false;
      this.connections.confirm(true);
    }
    return undefined;
  }

  /**
   * One queued item. Synchronous where nothing has to wait (most rows, begins and commits: a
   * promise is returned only when a statement is sent or a table looked up), because an async
   * step per item allocated several promises per row change, the largest single cost of the
   * process's garbage collection (docs/bench.md#the-applys-settings).
   */
  private handle(item: SessionItem): Step {
    if (this.held) return this.holding(item);
    switch (item.kind) {
      case 'keepalive':
        return this.keepalive(item.walEnd);
      case 'begin':
        this.shapes.leftOutReadAgain();
        if (this.lanes && !this.catchingUp()) return this.beginParallel(item);
        if (this.lanes) this.unroutedBatch = true;
        if (this.state.pin || this.state.commitBefore !== undefined || this.state.notNullSets)
          return this.beforeBegin(item).then(() => this.began(item.finalLsn));
        return this.began(item.finalLsn);
      case 'relation':
        return this.shapes
          .relationChanged(item)
          .then(() => (this.skipping ? undefined : this.shapes.followPartitions(item.relation)))
          .then(noEnd);
      case 'row':
        return this.skipping ? undefined : this.addChange(item);
      case 'truncate':
        return this.skipping ? undefined : this.truncate(item.relations, item.restartIdentity).then(noEnd);
      case 'message':
        if (!this.skipping && this.isCutoverMarker(item.prefix, item.content)) this.markerSeen = true;
        if (this.inSourceTxn && !this.skipping && item.prefix === this.config.ddlFollowing?.prefix)
          return this.ddl.followDdl(this.config.ddlFollowing, item.content, item.lsn).then(noEnd);
        // a message outside a transaction (the verifier emits one after its snapshot) is a boundary
        return this.inSourceTxn ? undefined : this.pinBoundary({ walEnd: item.lsn }).then(noEnd);
      case 'commit':
        if (this.barrier) return this.afterBarrier(this.sourceCommit(item.endLsn, item.commitTimeMs));
        return this.sourceCommit(item.endLsn, item.commitTimeMs);
    }
  }

  /**
   * Parallel apply waits, after a restart, until the first session has committed past every
   * lane's record: until then the first session applies alone, so no lane's record is replaced
   * while it still proves a transaction applied.
   */
  private catchingUp(): boolean {
    const catchUp = this.connections.catchUp;
    return catchUp !== undefined && this.state.appliedLsn < catchUp.until;
  }

  /**
   * Step, parallel apply: a source transaction begins. Held whole until its COMMIT routes it to a
   * session; one the stream must apply where it stands (at a pin, before a stop, already applied)
   * is a barrier: applied by the first session alone, the batch committed before and after it.
   */
  private beginParallel(begin: Extract<ChangeEvent, { kind: 'begin' }>): Step {
    if (this.unroutedBatch) {
      this.unroutedBatch = false;
      return this.txn.settle().then(() => this.beginParallel(begin));
    }
    const { state } = this;
    const alone =
      state.pin !== undefined ||
      state.commitBefore !== undefined ||
      state.notNullSets !== undefined ||
      state.stopAtLsn !== undefined ||
      begin.finalLsn < this.connections.skipBelow;
    if (!alone) {
      this.held = { begin, rows: [] };
      this.inSourceTxn = true;
      return undefined;
    }
    return this.txn.settle().then(() => {
      this.barrier = true;
      return this.state.pin || state.commitBefore !== undefined || state.notNullSets
        ? this.beforeBegin(begin).then(() => this.began(begin.finalLsn))
        : this.began(begin.finalLsn);
    });
  }

  /**
   * Step, parallel apply, inside a held transaction: rows are held; its COMMIT routes it; anything
   * else (a relation, a TRUNCATE, a message), or more rows than a batch, makes it a barrier.
   */
  private holding(item: SessionItem): Step {
    const held = this.held!;
    switch (item.kind) {
      case 'keepalive':
        return undefined;
      case 'row':
        if (this.shapes.isGone(item.relation.oid)) return undefined;
        held.rows.push(item);
        return held.rows.length > this.config.commitRows ? this.applyAlone() : undefined;
      case 'commit':
        return this.route(item);
      default:
        return this.applyAlone().then(() => this.handle(item));
    }
  }

  /** The held transaction becomes a barrier: the batch commits, then the first session applies what was held. */
  private async applyAlone(): Promise<SessionEnd | undefined> {
    const held = this.held!;
    this.held = undefined;
    this.inSourceTxn = false;
    await this.txn.settle();
    this.barrier = true;
    this.began(held.begin.finalLsn);
    for (const row of held.rows) {
      const adding = this.addChange(row);
      if (adding instanceof Promise) await adding;
    }
    return undefined;
  }

  /** Step, parallel apply: a held transaction's COMMIT; it goes to the session its tables are on. */
  private async route(commit: Extract<ChangeEvent, { kind: 'commit' }>): Promise<SessionEnd | undefined> {
    const held = this.held!;
    const lanes = this.lanes!;
    const writes: LaneWrite[] = [];
    for (const row of held.rows) {
      const table = this.shapes.known(row.relation.oid) ?? (await this.shapes.tableOf(row.relation));
      writes.push(...lanes.writesOf(table, row.identity, row.values));
    }
    let lane = held.rows.length === 0 ? 0 : lanes.router.route(writes, held.rows.length);
    this.held = undefined;
    this.inSourceTxn = false;
    if (lane === undefined || (lane !== 0 && lanes.router.dependsOnUnseen(writes, lane))) {
      // Its writes depend on two sessions, or on rows another session wrote in a batch whose
      // commits may not have returned (a lane would not see them): the lanes holding its rows in
      // this batch commit their parts now, and the first session runs it after those COMMITs (and,
      // in its own pipeline, after the batches before). Nothing waits here, and the batch goes on.
      this.state.batches.crossed += 1;
      await this.txn.begin(); // the first session's commit ends the batch: it must have one to commit
      this.txn.waitFor(lanes.commitParts(lanes.router.lanesHolding(writes)));
      lane = lanes.router.routeFirst(writes, held.rows.length);
    }
    if (lane === 0) {
      this.began(held.begin.finalLsn);
      for (const row of held.rows) {
        const adding = this.addChange(row);
        if (adding instanceof Promise) await adding;
      }
      return this.sourceCommit(commit.endLsn, commit.commitTimeMs);
    }
    await this.txn.begin(); // the first session's commit ends the batch: it must have one to commit
    for (const row of held.rows) await this.addToLane(lane, row);
    lanes.sourceCommitted(lane, held.begin.finalLsn, commit.endLsn, commit.commitTimeMs);
    this.current = { finalLsn: held.begin.finalLsn, afterOthers: true };
    return this.sourceCommit(commit.endLsn, commit.commitTimeMs);
  }

  /** One row change of a transaction routed to a lane other than the first session's. */
  private async addToLane(lane: number, row: RowEvent): Promise<void> {
    if (this.state.tracker.resyncing.size > 0 && this.resyncing(row.relation)) return;
    if (this.shapes.isGone(row.relation.oid)) return;
    const table = this.shapes.known(row.relation.oid)!;
    const change = { op: row.op, table, identity: row.identity, values: row.values };
    this.state.tracker.rowChanged(change);
    const adding = this.lanes!.add(lane, change);
    if (adding) await adding;
  }

  /** A barrier's COMMIT: once handled, the first session commits it alone, ending its batch. */
  private async afterBarrier(step: Step): Promise<SessionEnd | undefined> {
    this.barrier = false;
    const end = step instanceof Promise ? await step : step;
    if (!end) await this.txn.settle();
    return end;
  }

  /** Step: a source transaction begins (after any pin boundary before it). */
  private began(finalLsn: bigint): undefined {
    this.inSourceTxn = true;
    this.current = { finalLsn, afterOthers: this.txn.isOpen };
    if (finalLsn > (this.state.begunLsn ?? 0n)) this.state.begunLsn = finalLsn;
    // after a restart, a transaction a lane committed in a batch the first session did not is applied
    this.skipping = finalLsn < this.connections.skipBelow || this.connections.catchUp?.applied(finalLsn) === true;
    if (this.skipping && this.pinStraggler) this.state.pin?.inexact.add(ALL_TABLES);
    return undefined;
  }

  /**
   * What comes before a source transaction's BEGIN: a pin boundary, and before the transaction a
   * stop was settled for (SettleBeforeStop), the commit of everything that precedes it.
   */
  private async beforeBegin(begin: { finalLsn: bigint; xid: number }): Promise<void> {
    if (this.state.pin) await this.pinBoundary(begin);
    if (this.state.notNullSets) await this.shapes.notNullSetsDue(begin.finalLsn);
    const at = this.state.commitBefore;
    if (at === undefined || begin.finalLsn < at) return;
    this.state.commitBefore = undefined;
    await this.txn.settle();
  }

  /**
   * A source-transaction boundary: where a verifier's pin (pin/pinRequest.ts) holds the apply, and stops it
   * again at the pinned position. `finalLsn` and `xid`: the next transaction's (its BEGIN);
   * `walEnd`: a position everything before which has been received (a keepalive, a message).
   */
  private async pinBoundary(next: { finalLsn?: bigint; xid?: number; walEnd?: bigint }): Promise<void> {
    const pin = this.state.pin;
    if (!pin) return;
    const txn = this.txn;
    if (pin.phase === 'hold') {
      await txn.settle();
      // nothing is taken from the queue while held: the stream pauses once the queue is full
      if (!(await pin.hold())) {
        if (this.state.pin === pin) this.state.pin = undefined;
        return;
      }
    }
    const position = pin.position;
    if (pin.phase !== 'pinned' || !position) return;
    const at = next.finalLsn ?? next.walEnd;
    if (at !== undefined && at >= position.lsn) {
      await txn.settle();
      if (this.state.pin === pin) this.state.pin = undefined;
      await pin.reach();
      return;
    }
    if (next.xid !== undefined) this.pinStraggler = !position.visible(next.xid);
  }

  /**
   * Between source transactions, a keepalive lets the slot move past WAL that held nothing for us,
   * once everything before it is committed. The walsender sends one whenever it waits for WAL and
   * the slot is behind what it sent, so between most transactions of a busy source: waiting here
   * for the open batch to commit would commit every source transaction on its own (an fsync each
   * on a durable target), and the apply would fall behind a few hundred transactions a second.
   * A batch open or a COMMIT on its way will confirm its own position: the keepalive is dropped.
   */
  private async keepalive(walEnd: bigint): Promise<SessionEnd | undefined> {
    if (this.inSourceTxn) return undefined;
    const { state } = this;
    const txn = this.txn;
    if (walEnd > this.keepaliveEnd) this.keepaliveEnd = walEnd;
    await this.pinBoundary({ walEnd });
    if (state.stopAtLsn !== undefined) {
      await txn.settle();
      if (walEnd >= state.stopAtLsn) return 'cutover';
    }
    if (txn.isOpen || txn.commitsInFlight > 0) return undefined;
    await txn.idle();
    if (walEnd > state.confirmedLsn) {
      state.confirmedLsn = walEnd;
      this.connections.confirm();
    }
    return undefined;
  }

  /** Step: add one row change of the current source transaction to the open target transaction. */
  private addChange(row: RowEvent): Step {
    if (this.state.tracker.resyncing.size > 0 && this.resyncing(row.relation)) return undefined;
    if (this.shapes.isGone(row.relation.oid)) return undefined;
    const table = this.shapes.known(row.relation.oid);
    if (!table) return this.shapes.tableOf(row.relation).then(() => this.addChange(row));
    const change = { op: row.op, table, identity: row.identity, values: row.values };
    this.state.tracker.rowChanged(change);
    if (this.pinStraggler) this.state.pin?.inexact.add(qualified(table.schema, table.name));
    const adding = this.txn.add(change);
    return adding ? adding.then(noEnd) : undefined;
  }

  /**
   * The relation is being resynchronised (ChangeTracker.resyncing): its change is not applied, since
   * the copy at the coming pin holds it; a straggler's still makes the pin inexact.
   */
  private resyncing(relation: Relation): boolean {
    const name = qualified(relation.schema, relation.name);
    if (!this.state.tracker.resyncing.has(name)) return false;
    if (this.pinStraggler) this.state.pin?.inexact.add(name);
    return true;
  }

  private async truncate(all: readonly Relation[], restartIdentity: boolean): Promise<void> {
    const applied = all.filter((r) => !this.shapes.isGone(r.oid));
    const relations = this.state.tracker.resyncing.size > 0 ? applied.filter((r) => !this.resyncing(r)) : applied;
    if (relations.length === 0) return;
    const targets = await Promise.all(relations.map((r) => this.shapes.tableOf(r)));
    this.state.tracker.truncated(targets);
    if (this.pinStraggler) for (const t of targets) this.state.pin?.inexact.add(qualified(t.schema, t.name));
    await this.txn.flush();
    await this.txn.exec(truncateStatement(targets, restartIdentity));
  }

  private isCutoverMarker(prefix: string, content: Uint8Array): boolean {
    const token = this.state.markerToken;
    return prefix === this.config.cutoverPrefix && token !== undefined && Buffer.from(content).toString('utf8') === token;
  }

  /** Step: a source transaction ended; commit the batch when it is due, or stop at the cutover point. */
  private sourceCommit(endLsn: bigint, commitTimeMs: number): Step {
    const { state } = this;
    const txn = this.txn;
    this.inSourceTxn = false;
    this.pinStraggler = false;
    if (this.skipping) {
      this.skipping = false;
      return undefined;
    }
    txn.sourceCommitted(endLsn, commitTimeMs);
    if (this.markerSeen || (state.stopAtLsn !== undefined && endLsn >= state.stopAtLsn)) return this.cutoverAt(endLsn);
    if (!txn.isOpen) {
      // Nothing of this transaction reached the target: it counts as applied once all before
      // it is (now, or at the next commit or keepalive if a commit is still on its way).
      if (txn.commitsInFlight === 0) state.lag.appliedBefore(endLsn);
      return undefined;
    }
    // parallel apply: the group commit weighs the whole batch, every session's rows
    this.lanes?.check();
    const batch = this.lanes ? { rowCount: this.lanes.rowCount, age: txn.age, commitsInFlight: txn.commitsInFlight } : txn;
    const alone = state.aloneUntil !== undefined && this.current.finalLsn <= state.aloneUntil;
    if (this.commits.due(batch, this.queue.isEmpty) || alone) return txn.commit().then(noEnd);
    if (txn.inFlight === 0 && txn.plannedRows >= EAGER_FLUSH_ROWS) return txn.flush().then(noEnd);
    return undefined;
  }

  /** Step: the source transaction at the cutover point ended: everything before it settles. */
  private async cutoverAt(endLsn: bigint): Promise<SessionEnd> {
    const txn = this.txn;
    if (txn.isOpen) await txn.settle();
    else {
      await txn.idle();
      this.state.appliedLsn = maxLsn(this.state.appliedLsn, endLsn);
    }
    return 'cutover';
  }
}
