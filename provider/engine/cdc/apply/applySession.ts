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
import type pg from 'pg';
import { openSession, serverMajor } from '../../connect/session';
import { ident, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { formatLsn, maxLsn, parseLsn } from '../decode/lsn';
import { decodePgoutput } from '../decode/pgoutput';
import { CommitPolicy } from './commitPolicy';
import { truncateStatement } from '../plan/statements';
import { planPartitionTree, runPartitionSteps } from './partitionTree';
import type { QueuedRecord } from '../receive/recordQueue';
import { SessionConnections } from './sessionConnections';
import { addColumnPlan, inspectTargetTable, resolveTargetTable, sourceAttributes, sourceColumnDefinitions } from './targetTables';
import { planShapeFollow, readdedColumns, type SourceAttribute, type TargetAttribute } from './shapeFollow';
import type { ApplyState } from './applyState';
import type { TargetTable } from '../plan/types';
import type { SessionConfig } from './sessionConfig';
import { ALL_TABLES } from '../pin/pinRequest';
import type { ChangeEvent, Relation, RowEvent } from '../decode/changeEvents';
import { readFilterPlan, type FilterPlan } from '../../filter/plan';
import { tablePartsSql } from '../prepare/eventTrigger';
import { parseDdlMessage, type DdlFollowing, type TableParts } from './ddlFollow';

/** What the apply loop handles: a change from the stream, or a keepalive carrying the server's WAL position. */
type SessionItem = ChangeEvent | Extract<QueuedRecord, { kind: 'keepalive' }>;

/**
 * Planned rows sent at a source commit although their statement is not full, when the target has
 * nothing left to do: it starts on them while this process decodes the next rows. A resumed apply
 * otherwise left the target idle for its first full group (2,000 source transactions of pgbench,
 * about 0.2 s while this process's code is still cold); on a busy target statements stay full.
 */
const EAGER_FLUSH_ROWS = 200;

/** How a session ends when it does not fail: stopped, or at the cutover point. */
export type SessionEnd = 'cutover' | 'stopped';

/** What handling one queued item gives: a session end, or nothing; a promise only when it had to wait. */
type Step = SessionEnd | undefined | Promise<SessionEnd | undefined>;

const noEnd = (): undefined => undefined;

/** Queue items handled between two yields to the event loop (see run()). */
const YIELD_EVERY = 32;

class SchemaChangeError extends PgferryError {}

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

/** The apply loop over a session's connections (sessionConnections.ts, which opens and closes them). */
/** Attnum records kept per table (ApplySession.recordedFor): a follow not committed still finds the one before it. */
const ATTNUM_RECORDS = 8;

/** The source's WAL insert position (every record inserted so far ends at or before it; a standby's replayed end). */
const SOURCE_WAL_INSERT_SQL = `SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
  ELSE pg_catalog.pg_current_wal_insert_lsn() END)::pg_catalog.text AS lsn`;

class ApplySession extends SessionConnections {
  private readonly commits = new CommitPolicy(this.config);
  private readonly tables = new Map<number, TargetTable>();
  /** Inside a source transaction (between its begin and commit). */
  private inSourceTxn = false;
  /** The current source transaction was applied before: its changes are skipped. */
  private skipping = false;
  /** The current source transaction carries the cutover marker. */
  private markerSeen = false;
  private sinceYield = 0;
  /** The current source transaction precedes a pinned position but its snapshot does not see it (pin/pinRequest.ts). */
  private pinStraggler = false;
  /** The current source transaction's final position (its BEGIN's), and whether earlier ones shared its target batch. */
  private current = { finalLsn: 0n, afterOthers: false };
  /**
   * The WAL end of the latest keepalive met between source transactions: everything before it has
   * been received. One that arrived while a batch was open or committing could not be confirmed
   * then; idle() confirms it once everything received is committed.
   */
  private keepaliveEnd = 0n;
  /** A change of shape was sent in the pipeline since it last settled: the target's catalog is read after it runs. */
  private ddlSent = false;
  /** The source's major version, read with its catalog session. */
  private sourceMajor: number | undefined;
  /** What moves, read at the first DDL message (followDdl). */
  private filterPlan: FilterPlan | undefined;

  /** The apply loop: one queued record at a time, in order, until stopped or cut over. */
  async run(isStopped: () => boolean): Promise<SessionEnd> {
    const txn = this.txn!;
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
    const txn = this.txn!;
    if (!txn.isOpen || this.inSourceTxn) return 500;
    return txn.commitsInFlight === 0 ? 0 : Math.max(1, this.commits.ageLimit() - txn.age);
  }

  private decode(next: QueuedRecord | undefined): SessionItem | undefined {
    return next?.kind === 'xlog' ? this.normalizer.push(decodePgoutput(next.bytes, next.start, next.end)) : next;
  }

  /**
   * Nothing arrived in time, or a COMMIT returned: commit the open batch, confirm a keepalive that
   * had to wait for it, and keep asking for a stop position.
   */
  private async idle(): Promise<undefined> {
    const { state } = this;
    const txn = this.txn!;
    if (txn.isOpen && !this.inSourceTxn) await txn.commit();
    txn.check();
    if (!this.inSourceTxn) await this.pinBoundary({});
    // nothing received is uncommitted: everything before the last keepalive is applied
    if (!this.inSourceTxn && !txn.isOpen && txn.commitsInFlight === 0 && this.keepaliveEnd > state.confirmedLsn) {
      await txn.idle();
      state.confirmedLsn = this.keepaliveEnd;
      this.confirm();
    }
    // waiting for a stop or pinned position, or asked for it: ask the server for a keepalive carrying its current position
    if (state.stopAtLsn !== undefined || state.pin?.phase === 'pinned' || state.positionWanted) {
      state.positionWanted = false;
      this.confirm(true);
    }
    return undefined;
  }

  /**
   * One queued item. Synchronous where nothing has to wait (most rows, begins and commits: a
   * promise is returned only when a statement is sent or a table looked up), because an async
   * step per item allocated several promises per row change: with the garbage collector at 16%
   * of this process's time in bench/drainLab, that was its largest single cost.
   */
  private handle(item: SessionItem): Step {
    switch (item.kind) {
      case 'keepalive':
        return this.keepalive(item.walEnd);
      case 'begin':
        if (this.state.pin || this.state.commitBefore !== undefined || this.state.notNullSets)
          return this.beforeBegin(item).then(() => this.began(item.finalLsn));
        return this.began(item.finalLsn);
      case 'relation':
        return this.relationChanged(item)
          .then(() => this.followPartitions(item.relation))
          .then(noEnd);
      case 'row':
        return this.skipping ? undefined : this.addChange(item);
      case 'truncate':
        return this.skipping ? undefined : this.truncate(item.relations, item.cascade, item.restartIdentity).then(noEnd);
      case 'message':
        if (!this.skipping && this.isCutoverMarker(item.prefix, item.content)) this.markerSeen = true;
        if (this.inSourceTxn && !this.skipping && item.prefix === this.config.ddlFollowing?.prefix)
          return this.followDdl(this.config.ddlFollowing, item.content, item.lsn).then(noEnd);
        // a message outside a transaction (the verifier emits one after its snapshot) is a boundary
        return this.inSourceTxn ? undefined : this.pinBoundary({ walEnd: item.lsn }).then(noEnd);
      case 'commit':
        return this.sourceCommit(item.endLsn, item.commitTimeMs);
    }
  }

  /** Step: a source transaction begins (after any pin boundary before it). */
  private began(finalLsn: bigint): undefined {
    this.inSourceTxn = true;
    this.current = { finalLsn, afterOthers: this.txn!.isOpen };
    this.skipping = finalLsn < this.skipBelow;
    if (this.skipping && this.pinStraggler) this.state.pin?.inexact.add(ALL_TABLES);
    return undefined;
  }

  /**
   * What comes before a source transaction's BEGIN: a pin boundary, and before the transaction a
   * stop was settled for (SettleBeforeStop), the commit of everything that precedes it.
   */
  private async beforeBegin(begin: { finalLsn: bigint; xid: number }): Promise<void> {
    if (this.state.pin) await this.pinBoundary(begin);
    if (this.state.notNullSets) await this.notNullSetsDue(begin.finalLsn);
    const at = this.state.commitBefore;
    if (at === undefined || begin.finalLsn < at) return;
    this.state.commitBefore = undefined;
    await this.txn!.settle();
  }

  /**
   * A source-transaction boundary: where a verifier's pin (pin/pinRequest.ts) holds the apply, and stops it
   * again at the pinned position. `finalLsn` and `xid`: the next transaction's (its BEGIN);
   * `walEnd`: a position everything before which has been received (a keepalive, a message).
   */
  private async pinBoundary(next: { finalLsn?: bigint; xid?: number; walEnd?: bigint }): Promise<void> {
    const pin = this.state.pin;
    if (!pin) return;
    const txn = this.txn!;
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
    const txn = this.txn!;
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
      this.confirm();
    }
    return undefined;
  }

  /** Step: add one row change of the current source transaction to the open target transaction. */
  private addChange(row: RowEvent): Step {
    if (this.state.tracker.resyncing.size > 0 && this.resyncing(row.relation)) return undefined;
    const table = this.tables.get(row.relation.oid);
    if (!table) return this.tableOf(row.relation).then(() => this.addChange(row));
    const change = { op: row.op, table, identity: row.identity, values: row.values };
    this.state.tracker.rowChanged(change);
    if (this.pinStraggler) this.state.pin?.inexact.add(qualified(table.schema, table.name));
    const adding = this.txn!.add(change);
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

  private async truncate(all: readonly Relation[], cascade: boolean, restartIdentity: boolean): Promise<void> {
    const relations = this.state.tracker.resyncing.size > 0 ? all.filter((r) => !this.resyncing(r)) : all;
    if (relations.length === 0) return;
    const targets = await Promise.all(relations.map((r) => this.tableOf(r)));
    this.state.tracker.truncated(targets);
    if (this.pinStraggler) for (const t of targets) this.state.pin?.inexact.add(qualified(t.schema, t.name));
    await this.txn!.flush();
    await this.txn!.exec(truncateStatement(targets, cascade, restartIdentity));
  }

  private isCutoverMarker(prefix: string, content: Uint8Array): boolean {
    const token = this.state.markerToken;
    return prefix === this.config.cutoverPrefix && token !== undefined && Buffer.from(content).toString('utf8') === token;
  }

  /** Step: a source transaction ended; commit the batch when it is due, or stop at the cutover point. */
  private sourceCommit(endLsn: bigint, commitTimeMs: number): Step {
    const { state } = this;
    const txn = this.txn!;
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
    if (this.commits.due(txn, this.queue.isEmpty)) return txn.commit().then(noEnd);
    if (txn.inFlight === 0 && txn.plannedRows >= EAGER_FLUSH_ROWS) return txn.flush().then(noEnd);
    return undefined;
  }

  /** Step: the source transaction at the cutover point ended: everything before it settles. */
  private async cutoverAt(endLsn: bigint): Promise<SessionEnd> {
    const txn = this.txn!;
    if (txn.isOpen) await txn.settle();
    else {
      await txn.idle();
      this.state.appliedLsn = maxLsn(this.state.appliedLsn, endLsn);
    }
    return 'cutover';
  }

  /** The target table a relation's rows are written to, looked up once per relation message. */
  private async tableOf(relation: Relation): Promise<TargetTable> {
    let table = this.tables.get(relation.oid);
    if (!table) {
      table = await resolveTargetTable(this.target!, relation, this.foreignKeysFire);
      this.tables.set(relation.oid, table);
    }
    return table;
  }

  /**
   * Step: a relation message. Columns added on the source are added on the target (inside the
   * open transaction, before any row uses them), so that the target's existing rows get the values
   * the source's have (addColumnPlan); any other change of shape, or a column whose existing
   * values only the source could compute, stops the stream. A table whose shape changed is
   * verified whole at cutover (ChangeTracker.reshaped).
   */
  private async relationChanged(item: ChangeEvent & { kind: 'relation' }): Promise<void> {
    const { relation } = item;
    let { change } = item;
    const name = qualified(relation.schema, relation.name);
    const following = this.config.followSchemaChanges;
    if (change.kind === 'unsupported' && change.from && change.columns && this.config.followTableRenames) {
      await this.followRename(relation, change.from);
      change = change.columns;
    }
    // marked before any stop, so that it stays marked when the stream resumes after a fix
    const reshaped = (partitioned = this.tables.get(relation.oid)?.partitioned): void => this.state.tracker.reshaped(name, partitioned);
    if (following) await this.recordAttnums(relation);
    if (change.kind === 'unsupported' && (!following || change.table)) {
      reshaped();
      this.stopWith(name, change.description, following);
    }
    // pgoutput re-sends a Relation message after every relcache invalidation on the source (a
    // VACUUM or ANALYZE is enough): an unchanged shape needs no new look at the target. The
    // bench traced up to 0.8 s of such catalog round trips before the first batch of a backlog.
    // Followed, an ALTER TABLE ... DROP NOT NULL is one such invalidation: the source's NOT NULL
    // columns are read (one source round trip) and the target's dropped before the next row.
    // A column dropped and added again under its name, type and place sends the same message: the
    // source's attnums tell it (readdedColumns), and it is followed as any other change below.
    let readded = false;
    if (change.kind === 'none' && this.tables.has(relation.oid)) {
      if (!following) return;
      const attributes = await this.sourceAttributesOf(relation);
      readded = readdedColumns(this.recordedFor(relation.oid, relation.columns), attributes).length > 0;
      if (!readded) return this.followNotNull(relation, attributes, reshaped);
    }
    const target = this.target!;
    // the target's catalog is read on the apply's connection, beside the pipeline: a change of
    // shape sent before (followed at an earlier message) has run first
    if (this.ddlSent) await this.settled();
    const inspected = await inspectTargetTable(target, relation, this.foreignKeysFire);
    const { extra, retyped, table } = inspected;
    let { missing } = inspected;
    this.state.targetNotNull ??= new Map();
    this.state.targetNotNull.set(relation.oid, new Set(inspected.columns.filter((c) => c.notNull).map((c) => c.name)));
    if (following && (readded || extra.length > 0 || retyped.length > 0 || change.kind === 'unsupported')) {
      reshaped();
      missing = await this.followShape(relation, inspected.columns);
    } else {
      if (extra.length > 0) {
        reshaped();
        this.stopWith(name, `column ${JSON.stringify(extra[0])} was dropped or renamed`, following);
      }
      if (retyped.length > 0) {
        reshaped();
        this.stopWith(name, `column ${JSON.stringify(retyped[0])} changed type`, following);
      }
      if (table) {
        if (change.kind !== 'none') reshaped(table.partitioned);
        this.tables.set(relation.oid, table);
        return;
      }
    }
    // none of the streamed columns: no such table on the target (resolving it names that), or another table
    if (missing.length === relation.columns.length) await resolveTargetTable(target, relation, this.foreignKeysFire);
    if (missing.length > 0) await this.addColumns(relation, missing, reshaped);
    const resolved = await resolveTargetTable(target, relation, this.foreignKeysFire);
    reshaped(resolved.partitioned);
    this.tables.set(relation.oid, resolved);
  }

  /**
   * A streamed table renamed or moved on the source (same OID, new name in its relation message):
   * the target table renamed in the open transaction, before any row under the new name, so that
   * every row lands once, in the table that had it. IF EXISTS: a target table renamed already (a
   * runner stopped after this commit, the stream sending the message again) is left as it is, and
   * one missing under both names stops the stream as a missing table does.
   */
  private async followRename(relation: Relation, from: { readonly schema: string; readonly name: string }): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const statements: string[] = [];
    if (from.schema !== relation.schema)
      statements.push(`ALTER TABLE IF EXISTS ${qualified(from.schema, from.name)} SET SCHEMA ${ident(relation.schema)}`);
    if (from.name !== relation.name)
      statements.push(`ALTER TABLE IF EXISTS ${qualified(relation.schema, from.name)} RENAME TO ${ident(relation.name)}`);
    await this.txn!.flush();
    await this.sendDdl(name, statements);
    this.tables.delete(relation.oid);
    this.state.tracker.reshaped(name, undefined);
    this.state.onFollowed?.(
      `source table ${qualified(from.schema, from.name)} renamed to ${name} while streaming, followed on the target at its position in the stream`,
    );
  }

  /** Columns added on the source, added on the target so its existing rows get the source's values (addColumnPlan). */
  private async addColumns(relation: Relation, missing: readonly string[], reshaped: () => void): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const target = this.target!;
    await this.settled();
    const source = await this.sourceSession();
    const columns = await sourceColumnDefinitions(source, relation.oid, missing);
    if (columns.length < missing.length) {
      reshaped();
      const gone = missing.find((m) => !columns.some((c) => c.name === m));
      this.stopWith(
        name,
        `column ${JSON.stringify(gone)} was added, and the source's catalog no longer has it (renamed or dropped since)`,
        this.config.followSchemaChanges,
      );
    }
    // the target's rows so far, this open transaction's included (same connection, after the flush)
    const { rows } = await target.query<{ has: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${name}) AS has`);
    const hasRows = rows[0]?.has === true;
    const plans = columns.map((column) => ({ column, plan: addColumnPlan(relation.schema, relation.name, column, hasRows) }));
    // nothing is changed on the target before every column is known to be reproducible, or the
    // table's copy at a pin, which brings the source's values, is recorded
    const perRow = plans.filter((p) => p.plan.kind === 'per-row');
    const unreproducible = perRow.find((p) => p.plan.kind === 'per-row' && (!p.plan.statements || !this.state.requestResync));
    if (unreproducible && unreproducible.plan.kind === 'per-row') {
      reshaped();
      this.stopPerRow(name, unreproducible.column.name, unreproducible.plan.why);
    }
    if (perRow.length > 0)
      await this.resyncPerRow(
        relation,
        perRow.map((p) => p.column.name),
      );
    for (const { plan } of plans) await this.sendDdl(name, plan.statements ?? []);
  }

  /**
   * Columns added with a default the source evaluated row by row (gen_random_uuid(), random(),
   * clock_timestamp()): their values exist only on the source, so the table is copied again at a
   * pinned position (flow/tableResync.ts), its changes skipped from here until the pin, as for a
   * column dropped and added again (resyncReadded). The column is added on the target as the source
   * has it; the values the target gives its existing rows meanwhile are replaced by the copy.
   */
  private async resyncPerRow(relation: Relation, columns: readonly string[]): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const which = columns.map((c) => JSON.stringify(c)).join(', ');
    await this.state.requestResync!(relation.schema, relation.name, `column ${which} added with a default evaluated per row`);
    this.state.tracker.resyncing.add(name);
  }

  /**
   * Sends a change of a table's shape in the open transaction, before the rows that need it;
   * remembered so that the next read of the target's catalog waits for it (settled).
   */
  private async sendDdl(table: string, statements: readonly string[]): Promise<void> {
    for (const text of statements) await this.txn!.exec({ op: 'ddl', target: table, text, params: [], rows: 0 });
    this.ddlSent = true;
  }

  /** Everything planned is sent and has run on the target (the open transaction stays open). */
  private async settled(): Promise<void> {
    await this.txn!.flush();
    await this.txn!.idle();
    this.ddlSent = false;
  }

  private async sourceSession(): Promise<pg.Client> {
    this.source ??= await openSession(this.config.source, { database: this.config.database, purpose: 'cdc catalog' });
    this.sourceMajor ??= await serverMajor(this.source);
    return this.source;
  }

  /**
   * The attnums of a table's streamed columns, as the source's catalog has them while it still has
   * this message's shape: every published table's columns are read once, at the runner's first
   * relation message, and each table's are kept when they agree with its first message
   * (shapeFollow.ts decides a rename from a drop and an add by them).
   */
  private async recordAttnums(relation: Relation): Promise<void> {
    const known = (this.state.sourceAttnums ??= new Map());
    if (known.has(relation.oid)) return;
    if (!this.state.sourceColumnsAtStart) {
      const source = await this.sourceSession();
      this.state.sourceColumnsAtStart = await sourceAttributes(source, this.sourceMajor!, { publication: this.config.publication });
    }
    const columns = this.state.sourceColumnsAtStart.get(relation.oid);
    this.state.sourceColumnsAtStart.delete(relation.oid);
    if (!columns) return;
    const live = columns.filter((a) => !a.dropped && !a.generated);
    const agrees =
      live.length === relation.columns.length &&
      live.every((a, i) => {
        const c = relation.columns[i]!;
        return a.name === c.name && a.typeOid === c.typeOid && a.typeMod === c.typeMod;
      });
    if (agrees) known.set(relation.oid, [new Map(live.map((a) => [a.name, a.attnum]))]);
  }

  /**
   * The attnums recorded with the target table's columns as they are (`columns`, by name): the
   * newest record whose names are the target's. A follow's record is kept from when its statements
   * are sent, and a session that fails before their commit leaves the target as it was: the record
   * before it still fits it then, and the change is followed again when the stream brings it again.
   */
  private recordedFor(oid: number, columns: readonly { readonly name: string }[]): ReadonlyMap<string, number> | undefined {
    const versions = this.state.sourceAttnums?.get(oid) ?? [];
    const names = new Set(columns.map((c) => c.name));
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i]!;
      if (v.size === names.size && [...v.keys()].every((k) => names.has(k))) return v;
    }
    return undefined;
  }

  /**
   * A relation message whose columns differ from the target's other than by added columns: the
   * change is decided from the source's catalog by attnum (planShapeFollow) and made on the target
   * in the open transaction, before any row of the new shape; or the stream stops with the
   * statement and the fix. Returns the columns to add (addColumns).
   */
  private async followShape(relation: Relation, targetColumns: readonly TargetAttribute[]): Promise<string[]> {
    const name = qualified(relation.schema, relation.name);
    const attributes = await this.sourceAttributesOf(relation);
    const recorded = this.recordedFor(relation.oid, targetColumns);
    const resync = this.state.requestResync !== undefined;
    const plan = planShapeFollow(relation.schema, relation.name, relation.columns, attributes, targetColumns, recorded, {
      dropNotNull: true,
      resync,
    });
    if (plan.kind === 'stop') this.stopWith(name, plan.description, true, plan.fix);
    if (plan.readded.length > 0) await this.resyncReadded(relation, plan.readded);
    if (plan.underived.length > 0) {
      const which = plan.underived.map((c) => JSON.stringify(c)).join(', ');
      await this.resyncAtPin(relation, `column ${which} retyped to values the target cannot derive`);
    }
    if (plan.reshaped) await this.resyncAtPin(relation, plan.reshaped);
    await this.txn!.flush();
    await this.sendDdl(name, plan.statements);
    // kept with the records before it (recordedFor), the oldest dropped past a few
    const versions = this.state.sourceAttnums?.get(relation.oid);
    if (versions) versions.push(plan.attnums);
    else (this.state.sourceAttnums ??= new Map()).set(relation.oid, [plan.attnums]);
    if (versions && versions.length > ATTNUM_RECORDS) versions.shift();
    if (plan.followed.length > 0)
      this.state.onFollowed?.(
        `source table ${name} changed while streaming, followed on the target at its position in the stream: ${plan.followed.join(', ')}`,
      );
    return [...plan.added];
  }

  /** The source table's columns now, dropped ones included (one source round trip). */
  private async sourceAttributesOf(relation: Relation): Promise<SourceAttribute[]> {
    const source = await this.sourceSession();
    return (await sourceAttributes(source, this.sourceMajor!, { relation: relation.oid })).get(relation.oid) ?? [];
  }

  /**
   * Columns dropped and added again under their name (readdedColumns): which of the stream's rows
   * came before the drop is not in the stream, so the table is copied again at a pinned position
   * (flow/tableResync.ts), its changes skipped from here until the pin. The request is recorded
   * before the target changes, so that a runner stopped in between leaves it to the next one;
   * without a place to record it (an applier outside a migration) the stream stops instead.
   */
  private async resyncReadded(relation: Relation, columns: readonly string[]): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const which = columns.map((c) => JSON.stringify(c)).join(', ');
    const request = this.state.requestResync;
    if (!request)
      this.stopWith(
        name,
        `column ${which} was dropped and added again under its name, which the stream does not place among the rows`,
        true,
        'copy the table again (pgferry update --resync, or restart the migration)',
      );
    await this.resyncAtPin(relation, `column ${which} dropped and added again under its name`);
  }

  /**
   * The table copied again at a pinned position (flow/tableResync.ts), its changes skipped from here
   * until the pin: recorded before the target changes (resyncReadded says why).
   */
  private async resyncAtPin(relation: Relation, why: string): Promise<void> {
    await this.state.requestResync!(relation.schema, relation.name, why);
    this.state.tracker.resyncing.add(qualified(relation.schema, relation.name));
  }

  /**
   * A re-sent relation message of an unchanged shape: NOT NULL the source dropped is dropped on the
   * target before the next row; NOT NULL it set is set once the apply is past it (notNullSetsDue).
   */
  private async followNotNull(relation: Relation, attributes: readonly SourceAttribute[], reshaped: () => void): Promise<void> {
    const notNull = this.state.targetNotNull?.get(relation.oid);
    if (!notNull) return;
    const streamed = new Set(relation.columns.map((c) => c.name));
    const set = attributes.filter((a) => !a.dropped && !a.generated && a.notNull && streamed.has(a.name) && !notNull.has(a.name));
    if (set.length > 0)
      await this.notNullSetLater(
        relation,
        set.map((a) => a.name),
      );
    const dropped = attributes.filter((a) => !a.dropped && !a.notNull && notNull.has(a.name)).map((a) => a.name);
    if (dropped.length === 0) return;
    const name = qualified(relation.schema, relation.name);
    await this.txn!.flush();
    await this.sendDdl(
      name,
      dropped.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} DROP NOT NULL`),
    );
    this.state.targetNotNull!.set(relation.oid, new Set([...notNull].filter((c) => !dropped.includes(c))));
    reshaped();
    this.state.onFollowed?.(
      `source table ${name}: NOT NULL dropped on ${dropped.map((c) => JSON.stringify(c)).join(', ')}, followed on the target at its position in the stream`,
    );
  }

  /**
   * NOT NULL set on the source: set on the target at the first source transaction that commits at
   * or past the source's WAL insert position read after its catalog showed it (P). The source's SET
   * NOT NULL held ACCESS EXCLUSIVE on the table and committed before P, so every transaction that
   * wrote the table before it committed before it too: once the apply is past P the target's rows
   * are the source's after the change (none NULL), and every later row is one the source checked.
   * Set at the relation message instead, a row streamed before the change (a NULL updated away
   * before it) would be refused. The message may have been sent before the change: the catalog is
   * read when the apply reaches it.
   */
  private async notNullSetLater(relation: Relation, columns: readonly string[]): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const fresh = columns.filter((c) => !pending.some((p) => p.oid === relation.oid && p.column === c));
    if (fresh.length === 0) return;
    const source = await this.sourceSession();
    const { rows } = await source.query<{ lsn: string }>(SOURCE_WAL_INSERT_SQL);
    const at = parseLsn(rows[0]!.lsn);
    // every BEGIN looks at the list while it is set (handle): set only with something in it
    this.state.notNullSets = [
      ...pending,
      ...fresh.map((column) => ({ oid: relation.oid, schema: relation.schema, table: relation.name, column, at })),
    ];
  }

  /** Before a source transaction that commits at `finalLsn`: the NOT NULL sets it is past (notNullSetLater). */
  private async notNullSetsDue(finalLsn: bigint): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const due = pending.filter((p) => p.at <= finalLsn);
    if (due.length === 0) return;
    this.state.notNullSets = pending.filter((p) => p.at > finalLsn);
    if (this.state.notNullSets.length === 0) this.state.notNullSets = undefined;
    for (const oid of new Set(due.map((p) => p.oid))) {
      const first = due.find((p) => p.oid === oid)!;
      const name = qualified(first.schema, first.table);
      // still NOT NULL on the source: a DROP NOT NULL since is followed at its own message, after this
      const source = await this.sourceSession();
      const now = (await sourceAttributes(source, this.sourceMajor!, { relation: oid })).get(oid) ?? [];
      const notNull = new Set(this.state.targetNotNull?.get(oid) ?? []);
      const columns = due
        .filter((p) => p.oid === oid && !notNull.has(p.column))
        .map((p) => p.column)
        .filter((c) => now.some((a) => !a.dropped && a.name === c && a.notNull));
      if (columns.length === 0) continue;
      await this.txn!.flush();
      await this.sendDdl(
        name,
        columns.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} SET NOT NULL`),
      );
      for (const column of columns) notNull.add(column);
      this.state.targetNotNull?.set(oid, notNull);
      this.state.tracker.reshaped(name, this.tables.get(oid)?.partitioned);
      this.state.onFollowed?.(
        `source table ${name}: NOT NULL set on ${columns.map((c) => JSON.stringify(c)).join(', ')}, followed on the target once the apply was past it`,
      );
    }
  }

  /**
   * Step: a DDL message of the source's event trigger (ddlFollow.ts). The target table's indexes
   * and constraints are made the source's as they were at the command, in the open transaction,
   * after the rows before it: every row written before it on the source is on the target, none
   * after it. The source checked its constraints at each statement's end, so the deferred ones are
   * checked here first (an ALTER TABLE refuses a table with checks pending), and deferred again after.
   * A table the target does not have (left out, or created since and not there yet) is left to the
   * table watch and the schema watch.
   */
  private async followDdl(following: DdlFollowing, content: Uint8Array, lsn: bigint): Promise<void> {
    const message = parseDdlMessage(content);
    if (!message) return;
    const filter = (this.filterPlan ??= await readFilterPlan(await this.sourceSession(), following.filters));
    if (message.event === 'drop' && message.type === 'table') {
      // tableDropsAndRenames: follow drops the target's table itself once the apply is past the drop
      // (flow/tableDropsFollow.ts): nothing for the user to do
      if (filter.leftOut.has(message.oid) || this.config.followTableRenames) return;
      // told at its exact place, rather than at the table watch's next look; what to do with the
      // target's table stays the user's choice (the cutover's schema check stops on it)
      this.state.onNotFollowed?.(
        `source table ${message.identity} was dropped at source position ${formatLsn(lsn)} (told by the event trigger); its changes end there, and the cutover's schema check stops until the target matches (drop it on the target, or create it again on the source)`,
      );
      return;
    }
    let source: TableParts | undefined;
    let target: TableParts | undefined;
    await this.settled();
    const onTarget = this.target!;
    if (message.event === 'end') {
      if (!message.table) return;
      source = message.table;
      if (filter.leftOut.has(source.oid) || filter.dataOnly.has(source.oid)) return;
      target = await readTargetParts(onTarget, 'pg_catalog.to_regclass($1)', qualified(source.schema, source.name));
    } else {
      if (message.type !== 'index' || !message.schema || !message.name) return;
      const index = message.name;
      target = await readTargetParts(
        onTarget,
        '(SELECT x.indrelid FROM pg_catalog.pg_index x WHERE x.indexrelid = pg_catalog.to_regclass($1))',
        qualified(message.schema, index),
      );
      if (target) source = { ...target, parts: target.parts.filter((p) => !(p.kind === 'index' && p.name === index)) };
    }
    if (!source || !target) return;
    // A table being resynchronised has its shape from the copy too, as its rows: one created on the
    // target for it (a table the source made while streaming, pg_dump -t) is the source's of a later
    // moment than this message (a partition's key then already attached to its parent's, which the
    // message's parts still count as the partition's own). Its parts are left to the schema watch,
    // which compares them once the apply has passed where it saw them.
    if (this.state.tracker.resyncing.has(qualified(target.schema, target.name))) return;
    const { statements, followed } = await following.plan(source, target, message.event === 'end');
    if (statements.length === 0) return;
    const name = qualified(target.schema, target.name);
    await this.sendDdl(name, ['SET CONSTRAINTS ALL IMMEDIATE', ...statements, 'SET CONSTRAINTS ALL DEFERRED']);
    const command = message.event === 'end' ? message.tag : `DROP ${message.type.toUpperCase()}`;
    this.state.onFollowed?.(
      `source table ${name} changed while streaming (${command}), followed on the target at its exact position in the stream: ${followed.join(', ')}`,
    );
  }

  /** A change of shape not followed: the stream stops exactly before the transaction that carries it. */
  private stopWith(name: string, description: string, following: boolean, fix?: string): never {
    this.settleBeforeStop();
    throw new SchemaChangeError('CDC_SCHEMA_CHANGE', `source table ${name} changed while streaming: ${description}; streaming stopped`, {
      category: 'source',
      field: name,
      fix:
        fix ??
        (following
          ? 'make the same change on the target and resume'
          : 'only added columns are followed (followSchemaChanges is off): make the same change on the target and resume'),
    });
  }

  /**
   * Step, after a relation message of a table that is a partition on the target: the target's
   * partition tree made the source's, inside the open transaction and before the change that
   * follows (partitionTree.ts says why this point is exact). A step the target refuses now is
   * tried again at the next such message, and at the cutover.
   */
  private async followPartitions(relation: Relation): Promise<void> {
    if (this.skipping || this.tables.get(relation.oid)?.partition !== true) return;
    await this.txn!.flush();
    await this.txn!.begin();
    this.source ??= await openSession(this.config.source, { database: this.config.database, purpose: 'cdc catalog' });
    const steps = await planPartitionTree(this.source, this.target!);
    if (steps.length === 0) return;
    const { done } = await runPartitionSteps(this.target!, steps);
    // the moved tables' Relation facts (partition or not) are read again at their next message
    for (const step of done) {
      for (const [oid, table] of this.tables) if (qualified(table.schema, table.name) === step.table) this.tables.delete(oid);
    }
  }

  /**
   * A stop on a change of shape must leave the applied position exactly before the transaction
   * that carries it: the user then makes the same change on the target and resumes, and the
   * stream goes on with that transaction. When earlier source transactions share the open target
   * batch, stopping now would roll them back too, and they would come again, in the old shape,
   * after the user's change. So the session starts again (SettleBeforeStop) and commits the batch
   * before this transaction; the stop then comes with nothing before it uncommitted.
   */
  private settleBeforeStop(): void {
    if (this.current.afterOthers) throw new SettleBeforeStop(this.current.finalLsn);
  }

  /**
   * A column added on the source whose existing rows got values only the source could compute (a
   * volatile default evaluated per row while the source rewrote the table, an identity): adding it
   * on the target would give them other values, which would pass for applied. The stream stops,
   * resumable: once the column exists on the target, the relation is followed as it is.
   */
  private stopPerRow(table: string, column: string, why: string): never {
    this.settleBeforeStop();
    throw new SchemaChangeError(
      'CDC_SCHEMA_CHANGE',
      `column ${ident(column)} was added to source table ${table} while streaming and ${why}, so the target cannot reproduce the values of its existing rows; streaming stopped`,
      {
        category: 'source',
        field: table,
        // the stop's message adds the resume step after the fix (flow/streamStops.ts)
        fix:
          "restart the migration, or add the column on the target with the source's values (for example: copy the table's key " +
          `and ${ident(column)} from the source into a temporary table on the target, ALTER TABLE ${table} ADD COLUMN ${ident(column)} ` +
          "with the source's type and default, and UPDATE it from that copy)",
      },
    );
  }
}

/**
 * Not a failure: the session is started again at once, committing its batch before the source
 * transaction that ends at `finalLsn` (ApplyState.commitBefore), so that the stop that comes next
 * stops exactly before it.
 */
export class SettleBeforeStop extends Error {
  constructor(readonly finalLsn: bigint) {
    super('a change of shape: the transactions before it are committed first');
  }
}

/** A target table's indexes and constraints (tablePartsSql), the table given by `rel` over $1; undefined: no such table. */
async function readTargetParts(target: pg.Client, rel: string, name: string): Promise<TableParts | undefined> {
  const { rows } = await target.query<{ parts: TableParts }>(`SELECT (${tablePartsSql(rel)}) AS parts`, [name]);
  return rows[0]?.parts ?? undefined;
}
