// Parallel apply's other sessions (docs/safety.md#parallel-apply-applysessions-issue-65):
// the lanes 1..N-1 beside the first apply session (lane 0), each a target connection with its own
// open transaction, and the batch commit that ends a group commit: every lane commits its part
// with its record (positionCommit.ts LanePosition), and only then does the first session commit
// the applied position. A lane holds no apply lock: it commits only inside the first session's
// commit, which holds it, and each of its COMMITs checks the runner's lease as the first's do.
import type pg from 'pg';
import { requestCancel } from '../../connect/interrupt';
import { closeSession, openSession } from '../../connect/session';
import { PgferryError } from '../../core/errors';
import { CONTROL_SCHEMA } from '../../core/names';
import { failpoint } from '../../util/failpoints';
import { leaseGuardSql } from './leaseGuard';
import { takeLaneLock } from './applyTarget';
import { LaneRouter } from '../plan/laneRouter';
import { createLaneTable, LanePosition } from './positionCommit';
import type { SessionConfig } from './sessionConfig';
import type { SessionConnections } from './sessionConnections';
import type { TargetTransaction } from './targetTransaction';
import type { RowChange, TargetTable } from '../plan/types';
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

/** The target connection given this long to finish its release when the session ends. */
const RELEASE_MS = 2_000;

interface Lane {
  readonly client: pg.Client;
  readonly txn: TargetTransaction;
  /** Source relation OIDs this lane wrote in the open batch: its record's. */
  readonly relations: Set<number>;
  failure?: Error;
}

export class ApplyLanes {
  /** Lanes 1..N-1 (index 0 unused: lane 0 is the first session's own transaction). */
  private readonly lanes: (Lane | undefined)[] = [undefined];

  private constructor(
    readonly router: LaneRouter,
    private readonly first: TargetTransaction,
    /** Target table OIDs by qualified name, read when the lanes opened. */
    private readonly oids: ReadonlyMap<string, number>,
  ) {}

  /**
   * The target OID the router groups `table` by; a table the target did not have when the lanes
   * opened (created since) is a group of its own, keyed apart from every target OID.
   */
  targetOid(table: TargetTable): number {
    return this.oids.get(qualified(table.schema, table.name)) ?? -table.oid;
  }

  /**
   * Opens lanes 1..count-1 beside the first session (which must apply under replica role: no
   * trigger or foreign key may look across lanes), and hooks the batch commit into its commits.
   */
  static async open(config: SessionConfig, connections: SessionConnections): Promise<ApplyLanes> {
    const target = connections.target;
    await createLaneTable(target);
    const { rows } = await target.query<{ a: string; b: string }>(LINKS_SQL, [CONTROL_SCHEMA]);
    const { rows: tables } = await target.query<{ oid: string; schema: string; name: string }>(TABLES_SQL, [CONTROL_SCHEMA]);
    const lanes = new ApplyLanes(
      new LaneRouter(
        config.applySessions,
        rows.map((r) => [Number(r.a), Number(r.b)] as const),
      ),
      connections.txn,
      new Map(tables.map((t) => [qualified(t.schema, t.name), Number(t.oid)])),
    );
    try {
      for (let i = 1; i < config.applySessions; i++) lanes.lanes.push(await lanes.openLane(config, connections, i));
    } catch (error) {
      await lanes.close();
      throw error;
    }
    connections.txn.commitsAfter((endLsn, commitTimeMs) => lanes.commitBatch(endLsn, commitTimeMs));
    return lanes;
  }

  private async openLane(config: SessionConfig, connections: SessionConnections, index: number): Promise<Lane> {
    const client = await openSession(config.target, {
      database: config.database,
      purpose: `apply session ${index + 1}`,
      writable: true,
      settings: { synchronous_commit: 'on', jit: 'off' },
    });
    try {
      await client.query('SET session_replication_role = replica');
      await takeLaneLock(client, config.fenceKey);
    } catch (cause) {
      await closeSession(client);
      throw new PgferryError('CDC_APPLY', `apply session ${index + 1} could not take session_replication_role = replica on the target`, {
        category: 'target',
        field: 'applySessions',
        fix: 'set applySessions to 1, or apply as a user that may set session_replication_role',
        cause,
      });
    }
    const relations = new Set<number>();
    const lane: Lane = {
      client,
      relations,
      txn: connections.laneTransaction(
        client,
        new LanePosition(client, config.progressKey, leaseGuardSql(config.leaseSessionPid), index, () => [...relations]),
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
   * statement was sent. A lane's batch starts only once the first session's COMMITs have returned:
   * a group the first session wrote in the batch before may be this lane's now, and a statement
   * run before that commit is visible would not find the rows it inserted.
   */
  add(lane: number, relation: number, change: RowChange): Promise<void> | undefined {
    const l = this.lanes[lane]!;
    l.relations.add(relation);
    if (!l.txn.isOpen) return this.first.commitsReturned().then(() => l.txn.add(change));
    return l.txn.add(change);
  }

  /** A source transaction routed to `lane` (from 1) ended. */
  sourceCommitted(lane: number, endLsn: bigint, commitTimeMs: number): void {
    this.lanes[lane]!.txn.sourceCommitted(endLsn, commitTimeMs);
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

  /**
   * The batch commit, run by the first session's commit before it records `endLsn`: the first
   * session's previous COMMIT has returned (a lane's record must not replace one that still proves
   * a batch the applied position does not cover yet), then every lane commits with `endLsn` as its
   * record, and the first session's COMMIT goes only once all have.
   */
  private async commitBatch(endLsn: bigint, commitTimeMs: number): Promise<boolean> {
    const open = this.lanes.filter((l): l is Lane => l !== undefined && l.txn.isOpen);
    this.router.batchEnded();
    // a batch no lane took commits as one session's does, its COMMIT not waited for
    if (open.length === 0) return false;
    await this.first.idle();
    // the kill points of test/cdc/parallelApply: before, between and after the lanes' commits
    failpoint('apply-lanes-commit');
    await Promise.all(
      open.map(async (l) => {
        l.txn.sourceCommitted(endLsn, commitTimeMs);
        await l.txn.settle();
        failpoint('apply-lane-committed');
        l.relations.clear();
      }),
    );
    failpoint('apply-lanes-committed');
    return true;
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
