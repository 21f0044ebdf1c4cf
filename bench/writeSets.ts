// What a backlog's transactions share (issue 65): each source transaction's write-set, the rows it
// writes as (table, key), read in commit order from a test_decoding slot made beside the drains'
// slots, and what a per-transaction dependency schedule could gain from it. A transaction depends
// on the last one before it that wrote one of its rows. The report gives the longest chain of such
// dependencies, how much of a window of consecutive transactions one group joined by shared rows
// holds (what a batch of that size must run on one session to wait for no commit), and a model of
// the schedule itself: each transaction on the session where it can start first, a dependency on a
// transaction of another session costing one commit seen across sessions. The model counts no
// CPU: on a machine of few cores, the CPUs of the target and of this process bound it further.
import type { Cluster } from '../provider/localpg/cluster';

/** One source transaction's rows, as `table/key` strings. */
type WriteSet = readonly string[];

/** test_decoding's row line: the table, then the first column's value, the key of the lab's tables and sysbench's. */
const ROW_LINE = /^table ([^:]+): (?:INSERT|UPDATE|DELETE): [^[]+\[[^\]]+\]:('(?:[^']|'')*'|\S+)/;

/** Each transaction's write-set, in commit order, from a test_decoding slot `slot` of `database`. */
export async function readWriteSets(source: Cluster, database: string, slot: string): Promise<WriteSet[]> {
  const rows = await source.query<{ data: string }>(
    `SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0')`,
    [slot],
    database,
  );
  return writeSetsOf(rows.map((r) => r.data));
}

/** Each transaction's write-set from test_decoding's lines, in their order; a transaction that wrote no row is left out. */
export function writeSetsOf(lines: readonly string[]): WriteSet[] {
  const sets: WriteSet[] = [];
  let open: string[] | undefined;
  for (const data of lines) {
    if (data.startsWith('BEGIN')) open = [];
    else if (data.startsWith('COMMIT')) {
      if (open && open.length > 0) sets.push([...new Set(open)]);
      open = undefined;
    } else {
      const m = ROW_LINE.exec(data);
      if (m && open) open.push(`${m[1]}/${m[2]}`);
    }
  }
  return sets;
}

/** For each transaction, the transactions before it it depends on: the last writer of each of its rows. */
function dependencies(sets: readonly WriteSet[]): number[][] {
  const lastWriter = new Map<string, number>();
  return sets.map((set, i) => {
    const on = new Set<number>();
    for (const key of set) {
      const w = lastWriter.get(key);
      if (w !== undefined) on.add(w);
      lastWriter.set(key, i);
    }
    return [...on];
  });
}

/** The longest chain of dependencies, in transactions. */
function longestChain(deps: readonly (readonly number[])[]): number {
  const depth: number[] = [];
  let longest = 0;
  deps.forEach((on, i) => {
    depth[i] = 1 + Math.max(0, ...on.map((d) => depth[d]!));
    longest = Math.max(longest, depth[i]);
  });
  return longest;
}

/** The share of each window of `size` consecutive transactions that its largest group joined by shared rows holds. */
function largestGroupShares(sets: readonly WriteSet[], size: number): number[] {
  const shares: number[] = [];
  for (let from = 0; from + size <= sets.length; from += size) {
    const parent = Array.from({ length: size }, (_, i) => i);
    const root = (i: number): number => {
      while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
      return i;
    };
    const firstWriter = new Map<string, number>();
    for (let i = 0; i < size; i++)
      for (const key of sets[from + i]!) {
        const w = firstWriter.get(key);
        if (w === undefined) firstWriter.set(key, i);
        else parent[root(i)] = root(w);
      }
    const counts = new Map<number, number>();
    for (let i = 0; i < size; i++) counts.set(root(i), (counts.get(root(i)) ?? 0) + 1);
    shares.push(Math.max(...counts.values()) / size);
  }
  return shares;
}

/**
 * The model's drain time: `sessions` sessions, each running its transactions one after another
 * at `costMs` each; a transaction starts once its session is free and, for each dependency run by
 * another session, `seenMs` after that one finished (its commit returned, then this statement
 * reached the target). Each transaction goes, in commit order, where it can start first, ties to
 * the session of its latest dependency. Commits are not ordered beyond the dependencies.
 */
function modelDrainMs(deps: readonly (readonly number[])[], sessions: number, costMs: number, seenMs: number): number {
  const free = new Array<number>(sessions).fill(0);
  const finish: number[] = [];
  const ranOn: number[] = [];
  deps.forEach((on, i) => {
    let best = 0;
    let bestStart = Infinity;
    const latest = on.length > 0 ? ranOn[on.reduce((a, b) => (finish[a]! >= finish[b]! ? a : b))]! : -1;
    for (let s = 0; s < sessions; s++) {
      let start = free[s]!;
      for (const d of on) start = Math.max(start, finish[d]! + (ranOn[d] === s ? 0 : seenMs));
      if (start < bestStart || (start === bestStart && s === latest)) [best, bestStart] = [s, start];
    }
    finish[i] = bestStart + costMs;
    ranOn[i] = best;
    free[best] = finish[i];
  });
  return Math.max(0, ...finish);
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
};

/** The report's lines for these write-sets; the model costs a transaction `costMs` and a commit seen across sessions each of `seenMs`. */
export function writeSetReport(sets: readonly WriteSet[], sessions: readonly number[], costMs: number, seenMs: readonly number[]): string {
  const deps = dependencies(sets);
  const rows = sets.reduce((n, s) => n + s.length, 0);
  const depending = deps.filter((d) => d.length > 0).length;
  const lines = [
    `write-sets: ${sets.length} transactions, ${rows} rows written (a row once a transaction); ${depending} depend on an earlier one; longest chain ${longestChain(deps)} transactions`,
  ];
  for (const size of [25, 50, 100, 200, 500, 1000]) {
    const shares = largestGroupShares(sets, size);
    if (shares.length === 0) continue;
    lines.push(
      `  windows of ${size} transactions (${shares.length}): the largest group joined by shared rows holds ${(100 * median(shares)).toFixed(0)}% (median; least ${(100 * Math.min(...shares)).toFixed(0)}%)`,
    );
  }
  for (const seen of seenMs) {
    const one = modelDrainMs(deps, 1, costMs, seen);
    const each = sessions.map((s) => modelDrainMs(deps, s, costMs, seen));
    lines.push(
      `  model, ${costMs} ms a transaction, ${seen} ms to see another session's commit: ${sessions.map((s, i) => `${s} sessions ${(each[i]! / 1000).toFixed(2)} s (${(one / each[i]!).toFixed(2)} x)`).join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
