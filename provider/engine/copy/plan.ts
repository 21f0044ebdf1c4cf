// The copy plan (pure): which tables are split, into which ranges, in which order.
import type { SourceTable } from '../catalog/introspect';
import { ident } from '../connect/quote';

/**
 * The bounds of one part as numbers: what the control catalog records of a part (never SQL text),
 * so a resumed copy rebuilds exactly the same ranges with rangeWhere. Absent ends are open.
 */
export type RangeBounds =
  | { readonly by: 'key'; readonly from?: string; readonly to?: string }
  | { readonly by: 'ctid'; readonly fromPage?: number; readonly toPage?: number };

/** A WHERE clause selecting one part of a split table; built only from numbers we computed. */
interface CopyPart {
  readonly index: number;
  readonly count: number;
  readonly where: string;
  /** The numbers `where` was built from (absent only for hand-made parts in unit tests). */
  readonly bounds?: RangeBounds;
}

export interface CopyItem {
  readonly table: SourceTable;
  /** Absent: the whole table in one item. */
  readonly part?: CopyPart;
}

/** How many parts a table of `bytes` gets. */
export function partCount(bytes: number, threshold: number, maxParts: number): number {
  if (threshold <= 0 || bytes <= threshold) return 1;
  return Math.max(2, Math.min(maxParts, Math.ceil(bytes / threshold)));
}

/** The split threshold when the spec sets none. */
const DEFAULT_SPLIT_BYTES = 256 * 1024 * 1024;

/**
 * With no threshold set, a table over the default one is split only when it is more than this
 * many times an even share of the copy (all tables' bytes over the table items): copied whole it
 * would still be streaming long after the other items ran out of tables. Below that, one COPY FREEZE
 * of the whole table costs the target less than parts do (no VACUUM pass over its heap, no hint
 * bits set by the first reader) and the other items' tables and index builds keep the CPUs busy
 * meanwhile; measured in docs/bench.md (2026-11-25).
 */
const SPLIT_SHARE_FACTOR = 1.5;

/**
 * Parts per table: the spec's threshold as it is when set (0: never split); else the default
 * threshold, for a table that is also over SPLIT_SHARE_FACTOR even shares of the copy. Under
 * runtime agents the default threshold alone decides: other agents copy parts beside this runner's
 * items, so its own item count says nothing of how many streams a table's parts get.
 */
export function tableParts(
  tables: readonly { readonly bytes: number }[],
  options: {
    readonly splitTablesLargerThan?: number;
    readonly splitMaxParts: number;
    readonly tableJobs: number;
    readonly runtime?: 'local' | 'agents';
  },
): number[] {
  const threshold = options.splitTablesLargerThan ?? DEFAULT_SPLIT_BYTES;
  const total = tables.reduce((sum, t) => sum + t.bytes, 0);
  const share = total / Math.max(1, options.tableJobs);
  const byShare = options.splitTablesLargerThan === undefined && options.runtime !== 'agents';
  return tables.map((t) => {
    if (byShare && t.bytes <= SPLIT_SHARE_FACTOR * share) return 1;
    return partCount(t.bytes, threshold, options.splitMaxParts);
  });
}

/**
 * Splits [lo, hi] of an integer key into `parts` half-open ranges. The first part is unbounded
 * below and the last unbounded above, so rows outside the sampled bounds are never missed.
 */
export function integerRangeWheres(quotedKey: string, lo: bigint, hi: bigint, parts: number): string[] {
  return integerRanges(lo, hi, parts).map((b) => rangeWhere(b, quotedKey));
}

/** integerRangeWheres' ranges as numbers; one open range when the span is too small to split. */
export function integerRanges(lo: bigint, hi: bigint, parts: number): RangeBounds[] {
  const span = hi - lo + 1n;
  const n = BigInt(parts);
  if (span < n * 2n) return [{ by: 'key' }];
  const ranges: RangeBounds[] = [];
  for (let i = 0n; i < n; i++) {
    const from = lo + (span * i) / n;
    const to = lo + (span * (i + 1n)) / n;
    ranges.push({ by: 'key', ...(i === 0n ? {} : { from: from.toString() }), ...(i === n - 1n ? {} : { to: to.toString() }) });
  }
  return ranges;
}

/** Splits a heap of `pages` blocks into `parts` CTID block ranges; the last is open-ended. */
export function ctidRangeWheres(pages: number, parts: number): string[] {
  return ctidRanges(pages, parts).map((b) => rangeWhere(b));
}

export function ctidRanges(pages: number, parts: number): RangeBounds[] {
  if (pages < parts * 2) return [{ by: 'ctid' }];
  const ranges: RangeBounds[] = [];
  for (let i = 0; i < parts; i++) {
    const from = Math.floor((pages * i) / parts);
    const to = Math.floor((pages * (i + 1)) / parts);
    ranges.push({ by: 'ctid', ...(i === 0 ? {} : { fromPage: from }), ...(i === parts - 1 ? {} : { toPage: to }) });
  }
  return ranges;
}

/**
 * The WHERE clause of a range. Bounds are re-checked as integers here, since a resumed copy reads
 * them back from the control catalog: nothing but digits ever reaches the SQL text.
 */
export function rangeWhere(bounds: RangeBounds, quotedKey?: string): string {
  const int = (v: string | number): string => {
    const text = String(v);
    if (!/^-?\d+$/.test(text)) throw new Error(`a copy range bound is not an integer: ${JSON.stringify(text)}`);
    return text;
  };
  let lower: string | null = null;
  let upper: string | null = null;
  if (bounds.by === 'key') {
    if (quotedKey === undefined) throw new Error('a key range needs its key column');
    if (bounds.from !== undefined) lower = `${quotedKey} >= ${int(bounds.from)}::int8`;
    if (bounds.to !== undefined) upper = `${quotedKey} < ${int(bounds.to)}::int8`;
  } else {
    if (bounds.fromPage !== undefined) lower = `ctid >= '(${int(bounds.fromPage)},0)'::tid`;
    if (bounds.toPage !== undefined) upper = `ctid < '(${int(bounds.toPage)},0)'::tid`;
  }
  return [lower, upper].filter(Boolean).join(' AND ') || 'TRUE';
}

/** An item's key in the control catalog: the table's OID, and its part's number when split. */
export function itemKey(item: CopyItem): string {
  return item.part ? `${item.table.oid}/${item.part.index}` : item.table.oid;
}

/** Items in the order they should run: biggest tables first, a split table's parts together. */
export function orderItems(items: readonly CopyItem[]): CopyItem[] {
  return [...items].sort((a, b) => b.table.bytes - a.table.bytes || (a.part?.index ?? 0) - (b.part?.index ?? 0));
}

export function itemsForTable(table: SourceTable, wheres: readonly string[]): CopyItem[] {
  if (wheres.length <= 1) return [{ table }];
  return wheres.map((where, index) => ({ table, part: { index, count: wheres.length, where } }));
}

/** A table's items from range bounds (a fresh plan, or the one a resumed copy read back). */
export function itemsForRanges(table: SourceTable, ranges: readonly RangeBounds[]): CopyItem[] {
  if (ranges.length <= 1) return [{ table }];
  const key = table.splitKey === undefined ? undefined : ident(table.splitKey);
  return ranges.map((bounds, index) => ({ table, part: { index, count: ranges.length, where: rangeWhere(bounds, key), bounds } }));
}
