// A bounds-checked big-endian reader over one protocol message; a short message throws, so a
// truncated frame can never be half-applied.

export class ByteReader {
  private offset: number;
  /** A Buffer view of the same bytes: its readers and utf8 slicing allocate nothing on the side. */
  private readonly bytes: Buffer;

  /** Reads bytes[start, end): a message inside a larger buffer is read in place. */
  constructor(
    bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.end) {
      throw new Error(`truncated message: need ${n} bytes at offset ${this.offset} of ${this.end}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  i16(): number {
    this.need(2);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v & 0x8000 ? v - 0x10000 : v;
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  i32(): number {
    return this.u32() | 0;
  }

  u64(): bigint {
    this.need(8);
    const v = this.bytes.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.bytes.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.bytes.indexOf(0, this.offset);
    if (end < 0 || end >= this.end) throw new Error(`truncated message: unterminated string at offset ${this.offset}`);
    const text = this.bytes.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return text;
  }

  raw(n: number): Uint8Array {
    if (n < 0) throw new Error(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** The buffer read (offsets from span() are into it). */
  get buffer(): Buffer {
    return this.bytes;
  }

  /** Skips n bytes and returns where they start in `buffer`: a value read in place. */
  span(n: number): number {
    if (n < 0) throw new Error(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    const start = this.offset;
    this.offset += n;
    return start;
  }

  rest(): Uint8Array {
    return this.raw(this.remaining);
  }
}
