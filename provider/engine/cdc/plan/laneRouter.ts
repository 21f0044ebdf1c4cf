// Which apply session (lane) takes a whole source transaction under parallel apply
// (docs/safety.md#parallel-apply-applysessions-issue-65). A table and every table linked
// to it by a foreign key or a partition tree form one group; within a batch (the source
// transactions one group commit covers) a group belongs to the lane that first took it, so two
// transactions on a common group run on one session, in commit order. A transaction whose groups
// already sit on two lanes cannot be routed: the caller ends the batch first. Pure: no IO.

/** Union-find over target table OIDs: the groups that must share a lane. */
class TableGroups {
  private readonly parent = new Map<number, number>();

  constructor(links: Iterable<readonly [number, number]>) {
    for (const [a, b] of links) this.join(a, b);
  }

  /** The group's representative table. */
  groupOf(table: number): number {
    let root = table;
    for (let up = this.parent.get(root); up !== undefined && up !== root; up = this.parent.get(root)) root = up;
    // path compression: the next look-up of a table of this chain is one step
    for (let t = table; t !== root;) {
      const up = this.parent.get(t)!;
      this.parent.set(t, root);
      t = up;
    }
    return root;
  }

  private join(a: number, b: number): void {
    const ra = this.groupOf(a);
    const rb = this.groupOf(b);
    if (ra !== rb) this.parent.set(Math.max(ra, rb), Math.min(ra, rb));
  }
}

export class LaneRouter {
  private readonly groups: TableGroups;
  /** The lane each group was given in this batch. */
  private readonly bound = new Map<number, number>();
  /** Rows given to each lane in this batch: an unbound transaction goes to the least loaded. */
  private readonly load: number[];

  /** `links`: pairs of target table OIDs that must share a lane (foreign keys, partitions). */
  constructor(
    readonly lanes: number,
    links: Iterable<readonly [number, number]>,
  ) {
    if (!Number.isInteger(lanes) || lanes < 1) throw new Error(`lanes must be a whole number from 1, not ${lanes}`);
    this.groups = new TableGroups(links);
    this.load = new Array<number>(lanes).fill(0);
  }

  /**
   * The lane of a transaction writing `tables` (target OIDs) with `rows` row changes, its groups
   * then bound to that lane for the batch; undefined when its groups sit on two lanes already.
   */
  route(tables: Iterable<number>, rows: number): number | undefined {
    const groups = new Set<number>();
    for (const t of tables) groups.add(this.groups.groupOf(t));
    let lane: number | undefined;
    for (const g of groups) {
      const on = this.bound.get(g);
      if (on === undefined) continue;
      if (lane !== undefined && lane !== on) return undefined;
      lane = on;
    }
    lane ??= this.leastLoaded();
    for (const g of groups) this.bound.set(g, lane);
    this.load[lane]! += rows;
    return lane;
  }

  /** Every lane committed: groups are free again. */
  batchEnded(): void {
    this.bound.clear();
    this.load.fill(0);
  }

  private leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.lanes; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }
}

/** A lane's record of a batch it committed: the batch's end position and the source relations it wrote. */
export interface LaneRecord {
  readonly lane: number;
  readonly lsn: bigint;
  readonly relations: readonly number[];
}

/**
 * After a restart: the source transactions a lane committed in a batch that session 0 (which
 * records the applied position) did not. Every lane record at or before `applied` belongs to an
 * batch committed whole; a later one proves its relations' transactions of that batch applied,
 * since in one batch a relation is written by one lane only.
 */
export class LaneCatchUp {
  /** Source transactions that end at or before this may have been committed by a lane. */
  readonly until: bigint;
  private readonly relations: ReadonlySet<number>;

  private constructor(until: bigint, relations: ReadonlySet<number>) {
    this.until = until;
    this.relations = relations;
  }

  /** Undefined when no lane committed past `applied`. */
  static of(records: readonly LaneRecord[], applied: bigint): LaneCatchUp | undefined {
    const ahead = records.filter((r) => r.lsn > applied);
    if (ahead.length === 0) return undefined;
    const until = ahead.reduce((max, r) => (r.lsn > max ? r.lsn : max), 0n);
    return new LaneCatchUp(until, new Set(ahead.flatMap((r) => r.relations)));
  }

  /**
   * Whether the source transaction whose commit starts at `finalLsn` and that writes `relation`
   * (any one of its relations) was committed by a lane.
   */
  applied(finalLsn: bigint, relation: number): boolean {
    return finalLsn < this.until && this.relations.has(relation);
  }
}
