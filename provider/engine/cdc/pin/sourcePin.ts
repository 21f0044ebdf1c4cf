// The source side of a pinned verification: a REPEATABLE READ snapshot, the WAL insert position
// read right after it, and which transactions the snapshot sees. Pure (parsing and visibility);
// how the apply is held at that position is pinRequest.ts, why the pair is
// exact is docs/verification.md.

/** A snapshot as txid_current_snapshot() prints it ('xmin:xmax:xip,xip'), 64-bit transaction ids. */
export interface SourceSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly running: ReadonlySet<bigint>;
}

export function parseSnapshot(text: string): SourceSnapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!match) throw new Error(`not a snapshot: ${JSON.stringify(text)}`);
  const running = new Set(match[3] ? match[3].split(',').map((x) => BigInt(x)) : []);
  return { xmin: BigInt(match[1]!), xmax: BigInt(match[2]!), running };
}

/**
 * pgoutput's BEGIN carries a 32-bit transaction id: it is placed in the epoch that puts it
 * nearest below the snapshot's xmax (a committed transaction the stream delivers is at most 2^31
 * ids older than the snapshot: vacuum freezes well before that).
 */
function widenXid(xid: number, snapshot: SourceSnapshot): bigint {
  const low = BigInt(xid >>> 0);
  const epoch = snapshot.xmax >> 32n;
  let full = (epoch << 32n) | low;
  if (full >= snapshot.xmax + (1n << 31n)) full -= 1n << 32n;
  else if (full < snapshot.xmax - (1n << 31n)) full += 1n << 32n;
  return full;
}

/** Whether a committed transaction's effects are visible in the snapshot. */
export function visibleIn(snapshot: SourceSnapshot, xid: number): boolean {
  const full = widenXid(xid, snapshot);
  if (full < snapshot.xmin) return true;
  if (full >= snapshot.xmax) return false;
  return !snapshot.running.has(full);
}
