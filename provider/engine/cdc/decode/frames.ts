// Streaming replication CopyData frames: XLogData ('w') and keepalive ('k') from the server, the
// standby status update ('r') we send. Pure: bytes in, bytes out.
import { ByteReader } from './byteReader';

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

export type ReplicationFrame =
  | { readonly kind: 'xlog'; readonly walStart: bigint; readonly walEnd: bigint; readonly payload: Uint8Array }
  | { readonly kind: 'keepalive'; readonly walEnd: bigint; readonly replyRequested: boolean };

/** Bytes before an XLogData frame's payload: tag, WAL start, WAL end, server clock. */
export const XLOG_HEADER_BYTES = 25;

/**
 * An XLogData frame's WAL end, or undefined for any other frame. The stream's hot path: one
 * pgoutput message per frame, read in place with no frame object or payload view allocated.
 */
export function xlogWalEnd(bytes: Buffer): bigint | undefined {
  if (bytes.length < XLOG_HEADER_BYTES || bytes[0] !== 0x77 /* w */) return undefined;
  return bytes.readBigUInt64BE(9);
}

export function decodeFrame(bytes: Uint8Array): ReplicationFrame {
  const r = new ByteReader(bytes);
  const tag = r.u8();
  if (tag === 0x77 /* w */) {
    const walStart = r.u64();
    const walEnd = r.u64();
    r.skip(8); // server clock
    return { kind: 'xlog', walStart, walEnd, payload: r.rest() };
  }
  if (tag === 0x6b /* k */) {
    const walEnd = r.u64();
    r.skip(8); // server clock
    return { kind: 'keepalive', walEnd, replyRequested: r.u8() === 1 };
  }
  throw new Error(`unknown replication frame 0x${tag.toString(16)}`);
}

/**
 * Standby status update. written/flushed/applied are reported exactly as given: the slot's
 * confirmed_flush becomes `flushed`, and the server skips any transaction whose commit record
 * starts before it, so reporting one byte too far (as pg-logical-replication's +1 does) can skip
 * an interleaved transaction whose commit begins where the previous one ended.
 */
export function encodeStatusUpdate(written: bigint, flushed: bigint, applied: bigint, nowMs: number, replyRequested = false): Buffer {
  const out = Buffer.alloc(34);
  out.writeUInt8(0x72 /* r */, 0);
  out.writeBigUInt64BE(written, 1);
  out.writeBigUInt64BE(flushed, 9);
  out.writeBigUInt64BE(applied, 17);
  out.writeBigInt64BE(BigInt(Math.round(nowMs)) * 1000n - PG_EPOCH_MICROS, 25);
  out.writeUInt8(replyRequested ? 1 : 0, 33);
  return out;
}

/** A pgoutput timestamp (µs since 2000-01-01) as Unix milliseconds. */
export function pgTimeToMs(micros: bigint): number {
  return Number((micros + PG_EPOCH_MICROS) / 1000n);
}
