// A bounds-checked big-endian reader over one protocol message; a short message throws, so a
// truncated frame can never be half-applied.

const utf8 = new TextDecoder('utf-8');

export class ByteReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.bytes.length) {
      throw new Error(`truncated message: need ${n} bytes at offset ${this.offset} of ${this.bytes.length}`);
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
    const high = BigInt(this.u32());
    return (high << 32n) | BigInt(this.u32());
  }

  i64(): bigint {
    return BigInt.asIntN(64, this.u64());
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.bytes.indexOf(0, this.offset);
    if (end < 0) throw new Error(`truncated message: unterminated string at offset ${this.offset}`);
    const text = utf8.decode(this.bytes.subarray(this.offset, end));
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

  text(n: number): string {
    return utf8.decode(this.raw(n));
  }

  rest(): Uint8Array {
    return this.raw(this.remaining);
  }
}
