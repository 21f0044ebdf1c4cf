// The one progress model: what the CLI's progress view and the Pulumi resource's progress lines
// compute from the catalog's figures: how far each table and database is (sizes recorded before
// the copy starts), rates smoothed over polls, and ETAs: to the end of the copy, and online to
// caught-up. Pure: a view feeds it samples with their times.
import type { DatabaseDetails, TableProgress } from './model';

/**
 * COPY text and the table on disk differ in size (tuple headers, free space, text encoding): the
 * bytes copied per byte on disk so far, over the finished tables that had a size, clamped so a few
 * tiny tables (one 8 kB page holding a few rows) cannot skew it. 1 until a table finished.
 */
export function copyRatio(tables: readonly TableProgress[]): number {
  let moved = 0;
  let size = 0;
  for (const t of tables) {
    if (t.state !== 'Completed' || !t.sizeBytes) continue;
    moved += t.bytes;
    size += t.sizeBytes;
  }
  return size > 0 ? Math.min(4, Math.max(0.25, moved / size)) : 1;
}

/** How far one table is, 0..1; undefined when its size was not recorded. A loading table stays below 1 until done. */
export function tableFraction(t: TableProgress, ratio: number): number | undefined {
  if (t.state === 'Completed' || t.state === 'Errored') return 1;
  if (t.state === 'Queued') return 0;
  if (t.sizeBytes === undefined) return undefined;
  if (t.sizeBytes === 0) return 0.99;
  return Math.min(0.99, t.bytes / (t.sizeBytes * ratio));
}

export interface DatabaseCopy {
  /** Bytes on disk of every table to copy (their recorded sizes). */
  readonly totalSize: number;
  /** Of those, how many are copied (a loading table counts by its fraction). */
  readonly doneSize: number;
  /** 0..1, by size when sizes are known, else by tables; undefined when the tables are not listed yet. */
  readonly fraction?: number;
  /** COPY bytes moved so far: finished tables and those in flight. */
  readonly movedBytes: number;
}

/** A database's copy progress from its tables (all of them, queued too). */
export function databaseCopy(d: DatabaseDetails, tables: readonly TableProgress[]): DatabaseCopy {
  const mine = tables.filter((t) => t.database === d.database);
  const ratio = copyRatio(mine);
  let totalSize = 0;
  let doneSize = 0;
  let inFlight = 0;
  for (const t of mine) {
    if (t.state === 'Loading') inFlight += t.bytes;
    const fraction = tableFraction(t, ratio);
    if (t.sizeBytes === undefined || fraction === undefined) continue;
    totalSize += t.sizeBytes;
    doneSize += fraction * t.sizeBytes;
  }
  const finished = d.tables.completed + d.tables.errored;
  // The table list is read beside the status and may lag it by a poll: a database whose tables are
  // all done has nothing in flight, whatever a stale list still shows loading.
  const allDone = d.tables.total > 0 && finished >= d.tables.total;
  const movedBytes = d.bytesCopied + (allDone ? 0 : inFlight);
  let fraction: number | undefined;
  if (d.state === 'Succeeded' || allDone) fraction = 1;
  else if (totalSize > 0) fraction = doneSize / totalSize;
  else if (d.tables.total > 0) fraction = finished / d.tables.total;
  return { totalSize, doneSize, fraction, movedBytes };
}

/** A counter's rate per second, smoothed over samples (one per poll) so it does not jitter. */
export class RateMeter {
  private last: { value: number; at: number } | undefined;
  private smoothed: number | undefined;

  /** Adds a sample; returns the rate (undefined until two samples apart in time). */
  sample(value: number, atMs: number): number | undefined {
    const last = this.last;
    if (!last) {
      this.last = { value, at: atMs };
      return undefined;
    }
    // A counter that has not moved is sampled again only after 2 s: polls closer than that say little.
    if (atMs <= last.at || (value === last.value && atMs - last.at < 2000)) return this.smoothed;
    const instant = (value - last.value) / ((atMs - last.at) / 1000);
    this.smoothed = this.smoothed === undefined ? instant : 0.5 * this.smoothed + 0.5 * instant;
    this.last = { value, at: atMs };
    return this.smoothed;
  }

  get rate(): number | undefined {
    return this.smoothed;
  }
}

/** Seconds until `remaining` is done at `rate` per second; undefined when nothing moves. */
export function etaSeconds(remaining: number, rate: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (rate === undefined || rate <= 0) return undefined;
  return remaining / rate;
}

/** Below this many pending bytes a stream counts as caught up (other databases' WAL moves the position too). */
const CAUGHT_UP_BYTES = 64 * 1024;

export type CatchUp =
  | { readonly kind: 'caught-up' }
  | { readonly kind: 'draining'; readonly bytesPerSecond: number; readonly etaSeconds: number }
  | { readonly kind: 'falling-behind'; readonly bytesPerSecond: number }
  | { readonly kind: 'unknown' };

/**
 * Online: how a stream's backlog goes, from its pending bytes and their rate of change (negative:
 * it drains). Caught up below CAUGHT_UP_BYTES; an ETA only while the backlog shrinks.
 */
export function catchUp(pendingBytes: number | undefined, pendingRate: number | undefined): CatchUp {
  if (pendingBytes === undefined) return { kind: 'unknown' };
  if (pendingBytes < CAUGHT_UP_BYTES) return { kind: 'caught-up' };
  if (pendingRate === undefined || pendingRate === 0) return { kind: 'unknown' };
  if (pendingRate > 0) return { kind: 'falling-behind', bytesPerSecond: pendingRate };
  return { kind: 'draining', bytesPerSecond: -pendingRate, etaSeconds: pendingBytes / -pendingRate };
}
