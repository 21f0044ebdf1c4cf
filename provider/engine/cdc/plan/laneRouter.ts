// Which apply session (lane) takes a whole source transaction under parallel apply
// (docs/safety.md#parallel-apply-applysessions-issue-65). Within a batch (the source transactions
// one group commit covers) a transaction goes to the lane of any earlier transaction it depends
// on, so two that write one row run on one session, in commit order. Most tables are weighed by
// row (their key): transactions writing other rows of one table run side by side. A table is
// weighed whole when a row key cannot tell what it touches: linked to others by a foreign key or a
// partition tree (its group of tables is then one unit, so each group commits on one session), a
// unique index or exclusion constraint beside its key, or no key sent. A transaction whose writes
// depend on two lanes cannot be routed: the lanes holding its writes commit their parts, and the
// first session takes it (routeFirst). Pure: no IO.
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

/** One write of a transaction as the router weighs it: its target table and, where known, the row's key. */
export interface LaneWrite {
  /** Target table OID. */
  readonly table: number;
  /** The row's key (its key columns' values); undefined when the server did not send them all. */
  readonly row?: string;
}

export class LaneRouter {
  private readonly groups: TableGroups;
  /** Tables weighed whole whatever their rows: in a group of several, or with a unique index beside their key. */
  private readonly whole = new Set<number>();
  /** The lane each row key (`table/row`) or whole group (`#group`) was given in this batch. */
  private readonly bound = new Map<string, number>();
  /** The lanes that wrote in each group in this batch: a write weighing the group whole must follow all of them. */
  private readonly groupLanes = new Map<number, Set<number>>();
  /** Rows given to each lane in this batch: an unbound transaction goes to the least loaded. */
  private readonly load: number[];
  /**
   * What each lane wrote in each ended batch whose commits have not all returned yet (the first
   * session's COMMIT returns last), oldest first: rows (`table/row`) and whole groups (`#group`),
   * and the lanes that wrote in each group. A statement of another lane on one of them must wait
   * for those commits, or it would not see what was written; others need not.
   */
  private readonly unseen: { readonly keys: Map<string, number>; readonly groups: Map<number, Set<number>> }[] = [];

  /**
   * `links`: pairs of target table OIDs that must share a lane (foreign keys, partitions);
   * `wholeTables`: tables never weighed by row (a unique index or exclusion constraint beside the key).
   */
  constructor(
    readonly lanes: number,
    links: Iterable<readonly [number, number]>,
    wholeTables: Iterable<number> = [],
  ) {
    if (!Number.isInteger(lanes) || lanes < 1) throw new Error(`lanes must be a whole number from 1, not ${lanes}`);
    const pairs = [...links];
    this.groups = new TableGroups(pairs);
    for (const [a, b] of pairs) this.whole.add(a).add(b);
    for (const t of wholeTables) this.whole.add(t);
    this.load = new Array<number>(lanes).fill(0);
  }

  /**
   * The lane of a transaction with these writes and `rows` row changes, its writes then bound to
   * that lane for the batch; undefined when they depend on two lanes already. A transaction free
   * to go anywhere goes to the least loaded lane, unless it touches what sessions wrote in batches
   * whose commits have not all returned: then to that session if one, else to the first, whose
   * statements follow those commits in its own pipeline, so nothing waits for them.
   */
  route(writes: readonly LaneWrite[], rows: number): number | undefined {
    const keys: { key: string; group: number }[] = [];
    let lane: number | undefined;
    const need = (on: number | undefined): boolean => {
      if (on === undefined || on === lane) return true;
      if (lane !== undefined) return false;
      lane = on;
      return true;
    };
    for (const w of writes) {
      const group = this.groups.groupOf(w.table);
      const whole = w.row === undefined || this.whole.has(w.table);
      const key = whole ? `#${group}` : `${w.table}/${w.row!}`;
      keys.push({ key, group });
      if (whole) {
        for (const on of this.groupLanes.get(group) ?? []) if (!need(on)) return undefined;
      } else if (!need(this.bound.get(key) ?? this.bound.get(`#${group}`))) return undefined;
    }
    if (lane === undefined) {
      const wrote = this.unseenWriters(writes);
      lane = wrote.size === 0 ? this.leastLoaded() : wrote.size === 1 ? [...wrote][0]! : 0;
    }
    for (const k of keys) {
      this.bound.set(k.key, lane);
      let lanes = this.groupLanes.get(k.group);
      if (!lanes) this.groupLanes.set(k.group, (lanes = new Set()));
      lanes.add(lane);
    }
    this.load[lane]! += rows;
    return lane;
  }

  /** The lanes other than the first whose part of the open batch holds what these writes touch. */
  lanesHolding(writes: readonly LaneWrite[]): Set<number> {
    const lanes = new Set<number>();
    for (const w of writes) {
      const group = this.groups.groupOf(w.table);
      if (w.row === undefined || this.whole.has(w.table)) {
        for (const on of this.groupLanes.get(group) ?? []) if (on !== 0) lanes.add(on);
      } else {
        const on = this.bound.get(`${w.table}/${w.row}`) ?? this.bound.get(`#${group}`);
        if (on !== undefined && on !== 0) lanes.add(on);
      }
    }
    return lanes;
  }

  /**
   * Binds a transaction's writes to the first session, which runs it after the parts of the lanes
   * holding them (lanesHolding) have committed: what those lanes wrote of them follows it there.
   */
  routeFirst(writes: readonly LaneWrite[], rows: number): 0 {
    for (const w of writes) {
      const group = this.groups.groupOf(w.table);
      if (w.row === undefined || this.whole.has(w.table)) {
        // the group written whole: its rows bound to lanes follow it to the first session
        for (const key of this.bound.keys()) if (this.groupOfKey(key) === group) this.bound.delete(key);
        this.bound.set(`#${group}`, 0);
        this.groupLanes.set(group, new Set([0]));
      } else {
        this.bound.set(`${w.table}/${w.row}`, 0);
        let lanes = this.groupLanes.get(group);
        if (!lanes) this.groupLanes.set(group, (lanes = new Set()));
        lanes.add(0);
      }
    }
    this.load[0]! += rows;
    return 0;
  }

  /** The group of a key of `bound`: `#group`, or `table/row`. */
  private groupOfKey(key: string): number {
    return key.startsWith('#') ? Number(key.slice(1)) : this.groups.groupOf(Number(key.slice(0, key.indexOf('/'))));
  }

  /**
   * Whether a transaction with these writes, routed to `lane`, touches what another lane wrote in
   * a batch whose commits have not all returned: a lane would not see it, so the first session
   * takes it (its statements follow those commits in its own pipeline).
   */
  dependsOnUnseen(writes: readonly LaneWrite[], lane: number): boolean {
    for (const on of this.unseenWriters(writes)) if (on !== lane) return true;
    return false;
  }

  /** The lanes that wrote what these writes touch in batches whose commits have not all returned. */
  private unseenWriters(writes: readonly LaneWrite[]): Set<number> {
    const lanes = new Set<number>();
    if (this.unseen.length === 0) return lanes;
    const add = (on: number | undefined): void => {
      if (on !== undefined) lanes.add(on);
    };
    for (const w of writes) {
      const group = this.groups.groupOf(w.table);
      const whole = w.row === undefined || this.whole.has(w.table);
      for (const batch of this.unseen) {
        if (whole) for (const on of batch.groups.get(group) ?? []) add(on);
        else {
          add(batch.keys.get(`#${group}`));
          add(batch.keys.get(`${w.table}/${w.row!}`));
        }
      }
    }
    return lanes;
  }

  /**
   * The batch ends: rows and groups are free again, and what each lane wrote in it stays unseen by
   * the others until batchReturned() is called for it (the first session's COMMIT returned).
   */
  batchEnded(): void {
    this.unseen.push({ keys: new Map(this.bound), groups: new Map(this.groupLanes) });
    this.bound.clear();
    this.groupLanes.clear();
    this.load.fill(0);
  }

  /** The first session's COMMIT of the oldest ended batch returned: what it and every lane wrote there is visible to all. */
  batchReturned(): void {
    this.unseen.shift();
  }

  private leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.lanes; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }
}

/** A lane's record of a batch it committed: the batch's end position and its part's source transactions. */
export interface LaneRecord {
  readonly lane: number;
  readonly lsn: bigint;
  /** The source transactions the lane committed in that batch, by the position of their commit record (a BEGIN's final LSN). */
  readonly transactions: readonly bigint[];
}

/**
 * After a restart: the source transactions a lane committed in a batch that session 0 (which
 * records the applied position) did not. Every lane record at or before `applied` belongs to a
 * batch committed whole; a later one names the transactions its lane committed.
 */
export class LaneCatchUp {
  /** Source transactions that end at or before this may have been committed by a lane. */
  readonly until: bigint;
  private readonly transactions: ReadonlySet<bigint>;

  private constructor(until: bigint, transactions: ReadonlySet<bigint>) {
    this.until = until;
    this.transactions = transactions;
  }

  /** Undefined when no lane committed past `applied`. */
  static of(records: readonly LaneRecord[], applied: bigint): LaneCatchUp | undefined {
    const ahead = records.filter((r) => r.lsn > applied);
    if (ahead.length === 0) return undefined;
    const until = ahead.reduce((max, r) => (r.lsn > max ? r.lsn : max), 0n);
    return new LaneCatchUp(until, new Set(ahead.flatMap((r) => r.transactions)));
  }

  /** Whether the source transaction whose commit record starts at `finalLsn` was committed by a lane. */
  applied(finalLsn: bigint): boolean {
    return this.transactions.has(finalLsn);
  }
}
