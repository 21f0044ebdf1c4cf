// COPY ... TO STDOUT on one connection relayed into COPY ... FROM STDIN on another with the
// protocol's own framing kept: a CopyData message has the same bytes in both directions ('d', a
// length, the payload), so the source's frames go to the target as they arrived, in the buffers
// the socket read them into. pg-copy-streams takes each frame apart into its payload (a Buffer
// object per row, then one copy of every byte to join them) and frames it again on the other side;
// per row that was most of pgferry's own CPU in the offline bench.
//
// The reader hands on whole frames only, so a relay stopped part-way (an error, a cancel) never
// leaves half a frame on the target connection before its CopyFail. A frame that spans two socket
// reads is joined (one copy of that frame): memory stays one socket read plus the widest row.
// Everything else follows pg-copy-streams 7 (copy-to.js, copy-from.js): how the source connection
// is taken from pg and given back, errors, and back-pressure on both sides.
import { Readable, Writable } from 'node:stream';
import type { Connection } from 'pg';

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const ERROR_RESPONSE = 0x45; // 'E'
const NOTICE_RESPONSE = 0x4e; // 'N'
const PARAMETER_STATUS = 0x53; // 'S'
const NOTIFICATION_RESPONSE = 0x41; // 'A'
const HEADER = 5; // type byte + int32 length (which counts itself)

/** The parts of pg's Connection the relay uses (pg-copy-streams uses the same). */
interface PgConnection {
  readonly stream: NodeJS.WritableStream &
    Pick<NodeJS.ReadableStream, 'listeners' | 'removeListener' | 'addListener' | 'on' | 'pause' | 'resume'> & { read(): Buffer | null };
  query(text: string): void;
  sendCopyFail(message: string): void;
}

const rowCountOf = (message: { text?: string } | undefined): number | undefined => {
  const match = /COPY (\d+)/.exec(message?.text ?? '');
  return match ? Number(match[1]) : undefined;
};

/** The source side: a Readable of whole CopyData frames, as received. */
export class CopyFramesOut extends Readable {
  rowCount = 0;
  /** Payload bytes relayed so far (frames without their 5-byte headers). */
  payloadBytes = 0;
  private connection: PgConnection | undefined;
  private pgDataHandler: ((data: Buffer) => void) | undefined;
  /** Pieces of a message begun in an earlier socket read. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private wantsData = false;
  private forwarding = false;
  private finished = false;
  private readonly onReadable = () => this.forward();

  constructor(private readonly text: string) {
    super();
  }

  /** Called by pg's client.query(): takes the connection's socket from pg until the COPY ends. */
  submit(pgConnection: Connection): void {
    const connection = pgConnection as unknown as PgConnection;
    this.connection = connection;
    const stream = connection.stream;
    const listeners = stream.listeners('data') as ((data: Buffer) => void)[];
    if (listeners.length !== 1) throw new Error(`copy relay: expected one data listener on the connection, found ${listeners.length}`);
    this.pgDataHandler = listeners[0];
    stream.removeListener('data', this.pgDataHandler!);
    stream.pause();
    this.forward();
    stream.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.wantsData = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.wantsData || !this.connection || this.finished) return;
    this.forwarding = true;
    let chunk: Buffer | null;
    while (this.wantsData && !this.finished && (chunk = this.connection.stream.read()) !== null) this.wantsData = this.parse(chunk);
    this.forwarding = false;
  }

  /** Gives the socket back to pg with what it has not read yet (the rest of the COPY's reply, or an error). */
  private detach(unread: Buffer): void {
    const stream = this.connection!.stream;
    this.finished = true;
    stream.removeListener('readable', this.onReadable);
    stream.addListener('data', this.pgDataHandler!);
    this.pgDataHandler!(unread);
    process.nextTick(() => stream.resume());
  }

  /** Relays the whole frames of one socket read; returns whether more is wanted now. */
  private parse(chunk: Buffer): boolean {
    let buffer = chunk;
    let more = true;
    if (this.carryBytes > 0) {
      // finish the message begun earlier: join only its own bytes
      const first = Buffer.concat(this.carry, this.carryBytes);
      const head = first.length >= HEADER ? first : Buffer.concat([first, chunk.subarray(0, HEADER - first.length)]);
      if (head.length < HEADER) {
        this.carry = [head];
        this.carryBytes = head.length;
        return true;
      }
      if (head[0] === ERROR_RESPONSE) {
        this.carry = [];
        this.carryBytes = 0;
        this.detach(Buffer.concat([first, chunk]));
        return false;
      }
      const total = 1 + head.readUInt32BE(1);
      const fromChunk = Math.min(total - first.length, chunk.length);
      if (first.length + fromChunk < total) {
        this.carry = [first, chunk];
        this.carryBytes = first.length + chunk.length;
        return true;
      }
      this.carry = [];
      this.carryBytes = 0;
      const message = Buffer.concat([first, chunk.subarray(0, fromChunk)], total);
      buffer = chunk.subarray(fromChunk);
      const verdict = this.control(message, buffer);
      if (verdict === 'stop') return false;
      if (verdict === 'frame') more = this.pushFrame(message);
    }
    // The whole read is relayed even when the consumer is full (as pg-copy-streams does): the
    // carry only ever holds one incomplete message, and the next read waits for _read.
    let pos = 0;
    let runStart = 0;
    for (;;) {
      // a run of whole CopyData frames, handed on as one slice of the socket's buffer
      while (pos + HEADER <= buffer.length && buffer[pos] === COPY_DATA) {
        const end = pos + 1 + buffer.readUInt32BE(pos + 1);
        if (end > buffer.length) break;
        this.payloadBytes += end - pos - HEADER;
        pos = end;
      }
      if (pos > runStart) more = this.push(buffer.subarray(runStart, pos)) && more;
      if (pos + HEADER > buffer.length || buffer[pos] === COPY_DATA) {
        // an incomplete message: kept for the next read
        if (pos < buffer.length) {
          this.carry = [buffer.subarray(pos)];
          this.carryBytes = buffer.length - pos;
        }
        return more;
      }
      if (buffer[pos] === ERROR_RESPONSE) {
        this.detach(buffer.subarray(pos));
        return false;
      }
      const end = pos + 1 + buffer.readUInt32BE(pos + 1);
      if (end > buffer.length) {
        this.carry = [buffer.subarray(pos)];
        this.carryBytes = buffer.length - pos;
        return more;
      }
      if (this.control(buffer.subarray(pos, end), buffer.subarray(end)) === 'stop') return false;
      pos = end;
      runStart = pos;
    }
  }

  private pushFrame(frame: Buffer): boolean {
    this.payloadBytes += frame.length - HEADER;
    return this.push(frame);
  }

  /** A whole message that is not a run of CopyData: skipped, or the end of the COPY. */
  private control(message: Buffer, rest: Buffer): 'frame' | 'skip' | 'stop' {
    switch (message[0]) {
      case COPY_DATA:
        return 'frame';
      case COPY_OUT_RESPONSE:
      case NOTICE_RESPONSE:
      case PARAMETER_STATUS:
      case NOTIFICATION_RESPONSE:
        return 'skip';
      case ERROR_RESPONSE:
        this.detach(Buffer.concat([message, rest]));
        return 'stop';
      case COPY_DONE:
      default:
        // CopyDone: pg reads the rest (CommandComplete, ReadyForQuery) and calls the handlers below
        this.detach(rest);
        this.push(null);
        return 'stop';
    }
  }

  handleError(error: Error): void {
    this.emit('error', error);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = rowCountOf(message) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    // nothing: the stream ended at CopyDone
  }
}

/** The target side: a Writable that sends whole CopyData frames as they are, then CopyDone. */
export class CopyFramesIn extends Writable {
  rowCount = 0;
  private connection: PgConnection | undefined;
  private gotCopyInResponse = false;
  private pending: Buffer[] = [];
  private onCopyInResponse: (() => void) | undefined;
  private onReadyForQuery: ((error?: Error | null) => void) | undefined;
  private onDestroyed: ((error?: Error | null) => void) | undefined;

  constructor(private readonly text: string) {
    super();
  }

  submit(pgConnection: Connection): void {
    const connection = pgConnection as unknown as PgConnection;
    this.connection = connection;
    connection.query(this.text);
  }

  /** pg overwrites this with its query_timeout mechanism when that is set. */
  callback(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.pending.push(chunk);
    this.whenCopyIn(() => this.flush(done));
  }

  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.pending.push(chunk);
    this.whenCopyIn(() => this.flush(done));
  }

  override _final(done: (error?: Error | null) => void): void {
    this.onReadyForQuery = done;
    this.whenCopyIn(() => this.flush(() => this.connection?.stream.write(Buffer.from([COPY_DONE, 0, 0, 0, 4]))));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // a CopyFail rolls the COPY back; done once the server's ErrorResponse arrives (handleError)
    if (this.onReadyForQuery || !this.connection) return done(error);
    this.onDestroyed = done;
    this.pending = [];
    const message = error ? error.message : 'pgferry: the copy was stopped';
    this.whenCopyIn(() => this.connection!.sendCopyFail(message));
  }

  private whenCopyIn(action: () => void): void {
    if (this.gotCopyInResponse) action();
    else this.onCopyInResponse = action;
  }

  private flush(done: () => void): void {
    // The server may end the COPY while a flush waits for 'drain' (an error in the data, a
    // cancel): the connection is pg's again and the error already on its way; drop the rest.
    if (!this.connection) {
      this.pending = [];
      return done();
    }
    const stream = this.connection.stream;
    let ok = true;
    while (ok && this.pending.length > 0) ok = stream.write(this.pending.shift()!);
    if (ok) return done();
    stream.once('drain', () => this.flush(done));
  }

  handleCopyInResponse(): void {
    this.gotCopyInResponse = true;
    const action = this.onCopyInResponse;
    this.onCopyInResponse = undefined;
    action?.();
  }

  handleError(error: Error): void {
    this.callback();
    const destroyed = this.onDestroyed;
    this.onDestroyed = undefined;
    this.connection = undefined;
    if (destroyed) destroyed(error);
    else this.emit('error', error);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = rowCountOf(message) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    this.callback();
    this.connection = undefined;
    this.onReadyForQuery?.();
  }
}
