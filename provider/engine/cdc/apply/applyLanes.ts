// Parallel apply's other sessions (docs/safety.md#parallel-apply-applysessions-issue-65):
// the lanes 1..N-1 beside the first apply session (lane 0), each a target connection with its own
// open transaction, and the batch commit that ends a group commit: every lane commits its part
// with its record of that batch (positionCommit.ts lanePosition), and only then does the first
// session commit the applied position. A lane holds no apply lock: it commits only inside the first session's
// commit, which holds it, and each of its COMMITs checks the runner's lease as the first's do.
import type pg from 'pg';
import { requestCancel } from '../../connect/interrupt';
import { closeSession, openSession } from '../../connect/session';
import { PgferryError } from '../../core/errors';
import { CONTROL_SCHEMA } from '../../core/names';
import { failpoint, holdpoint } from '../../util/failpoints';
import { leaseGuardSql } from './leaseGuard';
import { takeLaneLock } from './applyTarget';
import { keyOf } from '../plan/changeTracker';
import { LaneRouter, type LaneWrite } from '../plan/laneRouter';
import { createLaneTable, lanePosition } from './positionCommit';
import type { ParallelBatches } from './applyState';
import type { SessionConfig } from './sessionConfig';
import type { SessionConnections } from './sessionConnections';
import type { TargetTransaction } from './targetTransaction';
import type { RowChange, TargetTable } from '../plan/types';
import type { Tuple } from '../decode/tuple';
import { qualified } from '../../connect/quote';

/**
 * Pairs of target tables that must share a lane: a foreign key's two tables, and a partition and
 * its parent (a key on a partitioned table reaches its partitions). pgferry's own catalog is left out.
 */
const LINKS_SQL = `
SELECT k.conrelid::int8 AS a, k.confrelid::int8 AS b FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'f' AND n.nspname <> $1
UNION ALL
SELECT i.inhrelid::int8, i.inhparent::int8 FROM pg_inherits i`;

/** The target's tables, by name: the router groups target OIDs, and a stream's relations carry the source's. */
const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname <> $1`;

/**
 * Tables with a unique index or exclusion constraint beside the one their key is: rows with other
 * keys may still collide there, so the router weighs such a table whole.
 */
const WHOLE_TABLES_SQL = `
SELECT i.indrelid::int8 AS oid FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE (i.indisunique OR i.indisexclusion) AND n.nspname <> $1 GROUP BY i.indrelid HAVING count(*) > 1`;

const noop = (): void => undefined;

/** The target connection given this long to finish its release when the session ends. */
const RELEASE_MS = 2_000;

interface Lane {
  readonly client: pg.Client;
  readonly txn: TargetTransaction;
  /** The source transactions (their commit records' positions) this lane applies in the open batch. */
  transactions: bigint[];
  /** Those of the batch whose commit is being sent: its record's. */
  committing: readonly bigint[];
  /** Settles once the lane's last COMMIT is queued: a row of the next batch is added only then. */
  sent: Promise<void> | undefined;
  /** Settles once the lane's last COMMIT has returned; rejects when it failed. */
  returned: Promise<void>;
  failure?: Error;
}

export class ApplyLanes {
  /** Lanes 1..N-1 (index 0 unused: lane 0 is the first session's own transaction). */
  private readonly lanes: (Lane | undefined)[] = [undefined];
  /** The end of each batch whose first session's COMMIT has not returned yet, oldest first. */
  private readonly unreturned: bigint[] = [];
  /** The end of the last batch whose first session's COMMIT returned: lane records up to it prove nothing more. */
  private recorded = 0n;

  private constructor(
    readonly router: LaneRouter,
    private readonly first: TargetTransaction,
    /** Target table OIDs by qualified name, read when the lanes opened. */
    private readonly oids: ReadonlyMap<string, number>,
    private readonly batches: ParallelBatches,
  ) {}

  /**
   * The target OID the router groups `table` by; a table the target did not have when the lanes
   * opened (created since) is a group of its own, keyed apart from every target OID.
   */
  targetOid(table: TargetTable): number {
    return this.oids.get(qualified(table.schema, table.name)) ?? -table.oid;
  }

  /** What a row change writes, as the router weighs it: its table, and its row's old and new keys where they tell it. */
  writesOf(table: TargetTable, identity: Tuple | undefined, values: Tuple | undefined): LaneWrite[] {
    const oid = this.targetOid(table);
    // a table made since the lanes opened: its unique indexes were not read, so it is weighed whole
    if (oid < 0) return [{ table: oid }];
    const before = identity && keyOf(table, identity);
    const after = values && keyOf(table, values);
    if (before === null || after === null || (before === undefined && after === undefined)) return [{ table: oid }];
    const writes: LaneWrite[] = [];
    if (before !== undefined) writes.push({ table: oid, row: before });
    if (after !== undefined && after !== before) writes.push({ table: oid, row: after });
    return writes;
  }

  /**
   * Opens lanes 1..count-1 beside the first session (which must apply under replica role: no
   * trigger or foreign key may look across lanes), and hooks the batch commit into its commits.
   */
  static async open(config: SessionConfig, connections: SessionConnections, batches: ParallelBatches): Promise<ApplyLanes> {
    const target = connections.target;
    await createLaneTable(target);
    const { rows } = await target.query<{ a: string; b: string }>(LINKS_SQL, [CONTROL_SCHEMA]);
    const { rows: tables } = await target.query<{ oid: string; schema: string; name: string }>(TABLES_SQL, [CONTROL_SCHEMA]);
    const { rows: whole } = await target.query<{ oid: string }>(WHOLE_TABLES_SQL, [CONTROL_SCHEMA]);
    const lanes = new ApplyLanes(
      new LaneRouter(
        config.applySessions,
        rows.map((r) => [Number(r.a), Number(r.b)] as const),
        whole.map((r) => Number(r.oid)),
      ),
      connections.txn,
      new Map(tables.map((t) => [qualified(t.schema, t.name), Number(t.oid)])),
      batches,
    );
    try {
      for (let i = 1; i < config.applySessions; i++) lanes.lanes.push(await lanes.openLane(config, connections, i));
    } catch (error) {
      await lanes.close();
      throw error;
    }
    connections.txn.commitsAfter(
      (endLsn, commitTimeMs) => lanes.commitBatch(endLsn, commitTimeMs),
      () => lanes.batchReturned(),
    );
    return lanes;
  }

  private async openLane(config: SessionConfig, connections: SessionConnections, index: number): Promise<Lane> {
    const client = await openSession(config.target, {
      database: config.database,
      purpose: `apply session ${index + 1}`,
      writable: true,
      settings: { synchronous_commit: 'on', jit: 'off' },
      pipeline: true,
    });
    try {
      await client.query('SET session_replication_role = replica');
      await takeLaneLock(client, config.fenceKey);
    } catch (cause) {
      await closeSession(client);
      throw new PgferryError(
        'CDC_APPLY',
        `apply session ${index + 1} could not take session_replication_role = replica on ${config.words.target}`,
        {
          category: 'target',
          field: 'applySessions',
          fix: 'set applySessions to 1, or apply as a user that may set session_replication_role',
          cause,
        },
      );
    }
    const lane: Lane = {
      client,
      transactions: [],
      committing: [],
      sent: undefined,
      returned: Promise.resolve(),
      txn: connections.laneTransaction(
        client,
        lanePosition(client, config.progressKey, leaseGuardSql(config.leaseSessionPid), {
          lane: index,
          transactions: () => lane.committing,
          recorded: () => this.recorded,
        }),
        () => {
          if (lane.failure) throw lane.failure;
        },
      ),
    };
    client.on('error', (e: Error) => (lane.failure ??= e));
    return lane;
  }

  /**
   * Adds a row change of a source transaction routed to `lane` (from 1); a promise only when a
   * statement was sent. A transaction that touches what another session wrote in a batch not yet
   * returned never comes here (LaneRouter.dependsOnUnseen): the first session takes it.
   */
  add(lane: number, change: RowChange): Promise<void> | undefined {
    const l = this.lanes[lane]!;
    // the batch before is still being flushed and committed: this row belongs to the next one
    if (l.sent) return l.sent.then(() => l.txn.add(change));
    return l.txn.add(change);
  }

  /** A source transaction routed to `lane` (from 1) ended; `finalLsn`: its commit record's position, for the lane's record. */
  sourceCommitted(lane: number, finalLsn: bigint, endLsn: bigint, commitTimeMs: number): void {
    const l = this.lanes[lane]!;
    l.transactions.push(finalLsn);
    l.txn.sourceCommitted(endLsn, commitTimeMs);
  }

  /** Row changes held by every session in the open batch: what the group commit weighs. */
  get rowCount(): number {
    let rows = this.first.rowCount;
    for (const l of this.lanes) rows += l?.txn.rowCount ?? 0;
    return rows;
  }

  /** Throws the first failure of any lane's statements. */
  check(): void {
    for (const l of this.lanes) l?.txn.check();
  }

  /** The first session's COMMIT of the oldest batch not returned yet returned (they return in order). */
  private batchReturned(): void {
    this.router.batchReturned();
    this.recorded = this.unreturned.shift() ?? this.recorded;
  }

  /**
   * The batch commit, started by the first session's commit before it records `endLsn`, without
   * waiting: each lane's part is flushed and committed with its record of this batch at once,
   * whether or not the first session's COMMITs before have returned (a lane's records are one a
   * batch: none replaces another); what it gives settles once every lane's COMMIT has returned, and
   * the first session's record and COMMIT wait for it in its pipeline (TargetTransaction.commit).
   * Meanwhile the apply goes on with the next batch: a lane's next rows wait only until its COMMIT
   * is queued. Undefined when no lane had a part.
   */
  private commitBatch(endLsn: bigint, commitTimeMs: number): Promise<void> | undefined {
    // a lane has a part in this batch once a transaction routed to it ended (its commit before may still be on its way)
    const open = this.lanes.filter((l): l is Lane => l !== undefined && l.transactions.length > 0);
    this.router.batchEnded();
    this.unreturned.push(endLsn);
    this.batches.committed += 1;
    // a batch no lane took commits as one session's does
    if (open.length === 0) return undefined;
    // the kill points of test/cdc/parallelApply: before, between and after the lanes' commits
    const gate = Promise.resolve().then(() => failpoint('apply-lanes-commit'));
    void gate.catch(noop); // a failure reaches the lanes' pipelines, and through them the first session's
    const committed = open.map((l) => this.commitPart(l, gate, { endLsn, commitTimeMs }).then(() => failpoint('apply-lane-committed')));
    // the hold point lets a test kill the applier while lanes commit batches past the first session's
    return Promise.all(committed).then(async () => {
      failpoint('apply-lanes-committed');
      await holdpoint('apply-first-commit');
    });
  }

  /**
   * Commits the open part of each of `lanes` (from 1) now, before its batch ends, its record naming
   * the lane's last transaction's end: a transaction touching their rows is then run by the first
   * session after what this gives, which settles once each of their last COMMITs has returned.
   */
  commitParts(lanes: Iterable<number>): Promise<void> {
    const returned: Promise<void>[] = [];
    for (const i of lanes) {
      const l = this.lanes[i]!;
      if (l.transactions.length > 0) {
        this.batches.parts += 1;
        const committed = this.commitPart(l, Promise.resolve()).then(() => failpoint('apply-lane-part-committed'));
        void committed.catch(noop); // the first session's pipeline waits for it and fails with it
        l.returned = committed;
      }
      returned.push(l.returned);
    }
    return Promise.all(returned).then(noop);
  }

  /**
   * Commits a lane's open part once its commit before is queued, with its record (of the batch
   * ending at `end`, else of its last transaction) behind `gate`; settles once the COMMIT returned.
   */
  private commitPart(l: Lane, gate: Promise<void>, end?: { endLsn: bigint; commitTimeMs: number }): Promise<void> {
    const transactions = l.transactions;
    l.transactions = [];
    // after the lane's commit before is queued (a transaction whose rows were all left out waits for nothing)
    const queued = (l.sent ?? Promise.resolve()).then(() => {
      l.committing = transactions;
      if (end) l.txn.sourceCommitted(end.endLsn, end.commitTimeMs);
      return l.txn.commit(gate);
    });
    const sent = queued.then(noop);
    l.sent = sent;
    void sent.then(() => {
      if (l.sent === sent) l.sent = undefined;
    }, noop);
    const returned = queued.then(async (commit) => {
      await commit?.finished;
      l.txn.check();
    });
    l.returned = returned;
    void returned.catch(noop);
    return returned;
  }

  /** Ends every lane: what it had not committed is lost on purpose (streamed again). */
  async close(): Promise<void> {
    await Promise.all(
      this.lanes.map(async (l) => {
        if (!l) return;
        if (l.txn.inFlight > 0) requestCancel(l.client);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([l.txn.release().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, RELEASE_MS)))]);
        clearTimeout(timer);
        await closeSession(l.client);
      }),
    );
  }
}
