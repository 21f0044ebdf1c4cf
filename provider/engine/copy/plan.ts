// The copy plan (pure): which tables are split, into which ranges, in which order.
import type { SourceTable } from '../catalog';

/** A WHERE clause selecting one part of a split table; built only from numbers we computed. */
interface CopyPart {
  readonly index: number;
  readonly count: number;
  readonly where: string;
}

export interface CopyJob {
  readonly table: SourceTable;
  /** Absent: the whole table in one job. */
  readonly part?: CopyPart;
}

/** How many parts a table of `bytes` gets. */
export function partCount(bytes: number, threshold: number, maxParts: number): number {
  if (threshold <= 0 || bytes <= threshold) return 1;
  return Math.max(2, Math.min(maxParts, Math.ceil(bytes / threshold)));
}

/**
 * Splits [lo, hi] of an integer key into `parts` half-open ranges. The first part is unbounded
 * below and the last unbounded above, so rows outside the sampled bounds are never missed.
 */
export function integerRangeWheres(quotedKey: string, lo: bigint, hi: bigint, parts: number): string[] {
  const span = hi - lo + 1n;
  const n = BigInt(parts);
  if (span < n * 2n) return ['TRUE'];
  const wheres: string[] = [];
  for (let i = 0n; i < n; i++) {
    const from = lo + (span * i) / n;
    const to = lo + (span * (i + 1n)) / n;
    const lower = i === 0n ? null : `${quotedKey} >= ${from.toString()}::int8`;
    const upper = i === n - 1n ? null : `${quotedKey} < ${to.toString()}::int8`;
    wheres.push([lower, upper].filter(Boolean).join(' AND ') || 'TRUE');
  }
  return wheres;
}

/** Splits a heap of `pages` blocks into `parts` CTID block ranges; the last is open-ended. */
export function ctidRangeWheres(pages: number, parts: number): string[] {
  if (pages < parts * 2) return ['TRUE'];
  const wheres: string[] = [];
  for (let i = 0; i < parts; i++) {
    const from = Math.floor((pages * i) / parts);
    const to = Math.floor((pages * (i + 1)) / parts);
    const lower = i === 0 ? null : `ctid >= '(${from},0)'::tid`;
    const upper = i === parts - 1 ? null : `ctid < '(${to},0)'::tid`;
    wheres.push([lower, upper].filter(Boolean).join(' AND ') || 'TRUE');
  }
  return wheres;
}

/** Jobs in the order they should run: biggest tables first, a split table's parts together. */
export function orderJobs(jobs: readonly CopyJob[]): CopyJob[] {
  return [...jobs].sort((a, b) => b.table.bytes - a.table.bytes || (a.part?.index ?? 0) - (b.part?.index ?? 0));
}

export function jobsForTable(table: SourceTable, wheres: readonly string[]): CopyJob[] {
  if (wheres.length <= 1) return [{ table }];
  return wheres.map((where, index) => ({ table, part: { index, count: wheres.length, where } }));
}
