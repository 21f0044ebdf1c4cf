// The rows of one planned statement, in the one form every kind of statement reads: each value's
// bytes as the source sent them, written once from the pgoutput message (tuple.ts) into one
// growing buffer, with each value's place beside it. Nothing per value is allocated, so held rows
// cost the garbage collector nothing and the held bytes are the memory the rows take.
// Two renderings read it and neither is parsed back from the other: COPY text data (inserts,
// staged update and delete groups) and statement parameters (small groups, tables under
// row-level security). The buffer is laid out as COPY text lines (tab between values, newline
// after a row, \N for NULL), so while no value holds a byte COPY must escape (the usual case) the
// buffer itself is the COPY data.
import type { Param } from './types';
import { NULL_VALUE, type Tuple, UNCHANGED_VALUE } from '../decode/tuple';

const TAB = 0x09;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BACKSLASH = 0x5c;
const NULL_MARK = Buffer.from('\\N');

/** Starts within the 8 KiB pool Buffer.allocUnsafe slices small buffers from: one row costs no allocation of its own. */
const INITIAL_BYTES = 1024;
const INITIAL_CELLS = 64;

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

/** Copies src[start, end) to dst at `at`; true when a byte COPY escapes was among them. */
function copyNoting(dst: Buffer, at: number, src: Buffer, start: number, end: number): boolean {
  let special = false;
  for (let k = start; k < end; k++) {
    const b = src[k]!;
    if (b === BACKSLASH || b === TAB || b === NEWLINE || b === CARRIAGE_RETURN) special = true;
    dst[at++] = b;
  }
  return special;
}

export class GroupRows {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;
  /** Per value: its start in `buf` and its size (NULL_VALUE for NULL); a row's values are consecutive. */
  private cells: Int32Array = new Int32Array(INITIAL_CELLS);
  private cellCount = 0;
  /** Values per row, fixed by the first row (a group has one statement shape). */
  private width = -1;
  /** Start of each row in `buf`; -1 - start for a row superseded (see supersede()). */
  private readonly starts: number[] = [];
  private superseded = 0;
  /** Some value holds a byte COPY escapes: the buffer is not COPY data as it is. */
  private special = false;

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
    const width = keyCols.length + cols.length;
    if (this.width < 0) this.width = width;
    else if (width !== this.width) throw new Error(`a row of ${width} values in a group of rows of ${this.width}`);
    const row = this.starts.length;
    const start = this.used;
    const cellStart = this.cellCount;
    this.starts.push(start);
    try {
      for (let j = 0; j < keyCols.length; j++) this.field(keys!, keyCols[j]!, j === 0);
      for (let j = 0; j < cols.length; j++) this.field(values!, cols[j]!, keyCols.length + j === 0);
    } catch (error) {
      // no half-written row: the buffer stays whole lines, the cells whole rows
      this.used = start;
      this.cellCount = cellStart;
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

  /** The live rows as COPY text data (a view of the buffer when it already is exactly that). */
  data(): Buffer {
    if (!this.special && this.superseded === 0) return this.buf.subarray(0, this.used);
    if (!this.special) {
      const out = Buffer.allocUnsafe(this.used);
      let at = 0;
      this.eachRow((row) => {
        at += this.buf.copy(out, at, this.rowStart(row), this.rowEnd(row));
      });
      return out.subarray(0, at);
    }
    // escaping at most doubles a value
    const out = Buffer.allocUnsafe(2 * this.used);
    let at = 0;
    this.eachRow((row) => {
      for (let j = 0; j < this.width; j++) {
        if (j > 0) out[at++] = TAB;
        const cell = 2 * (row * this.width + j);
        const size = this.cells[cell + 1]!;
        if (size === NULL_VALUE) at += NULL_MARK.copy(out, at);
        else at = escapeInto(out, at, this.buf, this.cells[cell]!, this.cells[cell]! + size);
      }
      out[at++] = NEWLINE;
    });
    return out.subarray(0, at);
  }

  /** The live rows' values, for a statement with parameters. */
  params(): Param[][] {
    const rows: Param[][] = [];
    this.eachRow((row) => {
      const values: Param[] = [];
      for (let j = 0; j < this.width; j++) {
        const cell = 2 * (row * this.width + j);
        const size = this.cells[cell + 1]!;
        values.push(size === NULL_VALUE ? null : this.buf.toString('utf8', this.cells[cell]!, this.cells[cell]! + size));
      }
      rows.push(values);
    });
    return rows;
  }

  private eachRow(visit: (row: number) => void): void {
    for (let r = 0; r < this.starts.length; r++) if (this.starts[r]! >= 0) visit(r);
  }

  private rowStart(row: number): number {
    const start = this.starts[row]!;
    return start < 0 ? -1 - start : start;
  }

  /** End of a row in `buf`, its newline included. */
  private rowEnd(row: number): number {
    return row + 1 < this.starts.length ? this.rowStart(row + 1) : this.used;
  }

  private field(tuple: Tuple, i: number, first: boolean): void {
    const size = tuple.size(i);
    if (size === UNCHANGED_VALUE) throw new Error(`column ${i + 1} is an unchanged TOAST value and cannot be written`);
    this.ensure(size === NULL_VALUE ? 3 : size + 1);
    if (!first) this.buf[this.used++] = TAB;
    this.cell(this.used, size);
    if (size === NULL_VALUE) {
      this.used += NULL_MARK.copy(this.buf, this.used);
      return;
    }
    const start = tuple.start(i);
    if (copyNoting(this.buf, this.used, tuple.bytes, start, start + size)) this.special = true;
    this.used += size;
  }

  private cell(start: number, size: number): void {
    if (2 * this.cellCount + 2 > this.cells.length) {
      const next = new Int32Array(this.cells.length * 2);
      next.set(this.cells);
      this.cells = next;
    }
    this.cells[2 * this.cellCount] = start;
    this.cells[2 * this.cellCount + 1] = size;
    this.cellCount += 1;
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
