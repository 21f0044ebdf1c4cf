// The rows of one planned statement, kept as COPY text-format data from the start: each row is
// written once, from the pgoutput bytes (tuple.ts) into one growing buffer, escaped on the way,
// and that buffer is what the target's COPY reads. Nothing per value is allocated, so held rows
// cost the garbage collector nothing, and the held bytes are exactly the memory the rows take.
// Statements with parameters (small groups, tables under row-level security) read the rows back.
import type { Param } from './statements';
import { NULL_VALUE, type Tuple, UNCHANGED_VALUE } from './tuple';

const TAB = 0x09;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BACKSLASH = 0x5c;
const NULL_MARK = Buffer.from('\\N');

/** Starts within the 8 KiB pool Buffer.allocUnsafe slices small buffers from: one row costs no allocation of its own. */
const INITIAL_BYTES = 1024;

/**
 * COPY's text format escapes backslash, newline, carriage return and tab. Escaping bytes is safe
 * in every server encoding: all are ASCII-compatible, no multibyte character contains these bytes.
 */
function escapeInto(dst: Buffer, at: number, src: Buffer, start: number, end: number): number {
  for (let k = start; k < end; k++) {
    const b = src[k]!;
    if (b === BACKSLASH || b === TAB || b === NEWLINE || b === CARRIAGE_RETURN) {
      dst[at++] = BACKSLASH;
      dst[at++] = b === BACKSLASH ? BACKSLASH : b === TAB ? 0x74 /* t */ : b === NEWLINE ? 0x6e /* n */ : 0x72; /* r */
    } else dst[at++] = b;
  }
  return at;
}

const UNESCAPED: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t' };

/** One field of COPY text data back to its value. */
function unescapeField(field: string): Param {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  return field.replace(/\\(.)/gs, (_, c: string) => UNESCAPED[c] ?? c);
}

export class CopyRows {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;
  /** Start of each row in `buf`; -1 - start for a row superseded (see supersede()). */
  private readonly starts: number[] = [];
  private superseded = 0;

  /** Rows written and not superseded. */
  get rows(): number {
    return this.starts.length - this.superseded;
  }

  /** Rows written, superseded ones included (what limits a statement's size). */
  get written(): number {
    return this.starts.length;
  }

  get byteLength(): number {
    return this.used;
  }

  /**
   * Appends a row: `keyCols` of `keys`, then `cols` of `values`. Every value must be present (not
   * an unchanged TOAST value): the caller has checked.
   */
  append(keys: Tuple | undefined, keyCols: readonly number[], values: Tuple | undefined, cols: readonly number[]): number {
    const row = this.starts.length;
    const start = this.used;
    this.starts.push(start);
    try {
      let first = true;
      for (const i of keyCols) {
        this.field(keys!, i, first);
        first = false;
      }
      for (const i of cols) {
        this.field(values!, i, first);
        first = false;
      }
    } catch (error) {
      // no half-written row: the data stays whole lines
      this.used = start;
      this.starts.pop();
      throw error;
    }
    this.ensure(1);
    this.buf[this.used++] = NEWLINE;
    return row;
  }

  /** Marks an earlier row as replaced by a later one: it is left out of data() and params(). */
  supersede(row: number): void {
    const start = this.starts[row]!;
    if (start < 0) return;
    this.starts[row] = -1 - start;
    this.superseded += 1;
  }

  /** The live rows as COPY data (a view of the buffer when nothing was superseded). */
  data(): Buffer {
    if (this.superseded === 0) return this.buf.subarray(0, this.used);
    const out = Buffer.allocUnsafe(this.used);
    let at = 0;
    this.eachRow((start, end) => {
      at += this.buf.copy(out, at, start, end);
    });
    return out.subarray(0, at);
  }

  /** The live rows' values, for a statement with parameters. */
  params(): Param[][] {
    const rows: Param[][] = [];
    this.eachRow((start, end) => {
      rows.push(
        this.buf
          .toString('utf8', start, end - 1)
          .split('\t')
          .map(unescapeField),
      );
    });
    return rows;
  }

  /** Each live row's [start, end), newline included. */
  private eachRow(visit: (start: number, end: number) => void): void {
    for (let r = 0; r < this.starts.length; r++) {
      const start = this.starts[r]!;
      if (start < 0) continue;
      const next = r + 1 < this.starts.length ? this.starts[r + 1]! : this.used;
      visit(start, next < 0 ? -1 - next : next);
    }
  }

  private field(tuple: Tuple, i: number, first: boolean): void {
    const size = tuple.size(i);
    if (size === UNCHANGED_VALUE) throw new Error(`column ${i + 1} is an unchanged TOAST value and cannot be written`);
    this.ensure(size === NULL_VALUE ? 3 : 2 * size + 1);
    if (!first) this.buf[this.used++] = TAB;
    if (size === NULL_VALUE) {
      this.used += NULL_MARK.copy(this.buf, this.used);
      return;
    }
    const start = tuple.start(i);
    this.used = escapeInto(this.buf, this.used, tuple.bytes, start, start + size);
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
