// A pgoutput row (TupleData) read in place: the message's bytes and where each value lies in them.
// Values stay bytes until something needs them as text: rows headed for COPY go from these bytes
// into the COPY data (plan/groupRows.ts) without ever becoming JavaScript strings, which was about a
// quarter of the apply process's CPU (decoding every value, then encoding it again for the socket).
// Only key columns (the planner's sets of touched rows) and small statements with parameters are
// decoded. The bytes are in the replication connection's client encoding, UTF8 (pg asks for it in
// every startup message), which is also what the target connection reads, whatever the databases'
// encodings: the servers convert at both ends.

/** A column whose TOASTed value did not change: the server did not send it, the target keeps it. */
export const UNCHANGED: unique symbol = Symbol('unchanged-toast');
export type TupleValue = string | null | typeof UNCHANGED;

/** Size markers in Tuple.cells for values without bytes. */
export const NULL_VALUE = -1;
export const UNCHANGED_VALUE = -2;

export class Tuple {
  /**
   * @param bytes the buffer the values lie in; it must not change while the tuple is in use (the
   *   record queue never reuses its chunks).
   * @param cells per column, its start in `bytes` and its size (NULL_VALUE, UNCHANGED_VALUE).
   */
  constructor(
    readonly bytes: Buffer,
    private readonly cells: readonly number[],
  ) {}

  get length(): number {
    return this.cells.length >> 1;
  }

  start(i: number): number {
    return this.cells[2 * i]!;
  }

  /** Byte length of column i's value, NULL_VALUE or UNCHANGED_VALUE (also past the end: a column the server did not send). */
  size(i: number): number {
    return 2 * i < this.cells.length ? this.cells[2 * i + 1]! : UNCHANGED_VALUE;
  }

  isUnchanged(i: number): boolean {
    return this.size(i) === UNCHANGED_VALUE;
  }

  /** Column i as text (decoded now), null, or UNCHANGED. */
  value(i: number): TupleValue {
    const size = this.size(i);
    if (size === NULL_VALUE) return null;
    if (size === UNCHANGED_VALUE) return UNCHANGED;
    const start = this.cells[2 * i]!;
    return this.bytes.toString('utf8', start, start + size);
  }

  values(): TupleValue[] {
    const out: TupleValue[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.value(i));
    return out;
  }
}

/** A tuple holding the given values (tests, and rows that do not come from pgoutput). */
export function tupleOf(values: readonly TupleValue[]): Tuple {
  const texts: Buffer[] = [];
  const cells: number[] = [];
  let at = 0;
  for (const v of values) {
    if (v === null) cells.push(0, NULL_VALUE);
    else if (v === UNCHANGED) cells.push(0, UNCHANGED_VALUE);
    else {
      const text = Buffer.from(v, 'utf8');
      texts.push(text);
      cells.push(at, text.length);
      at += text.length;
    }
  }
  return new Tuple(Buffer.concat(texts), cells);
}
