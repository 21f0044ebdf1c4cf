// The FIFO between the replication socket and the applier: pgoutput payloads and keepalives, copied
// into 64 KiB chunks rather than queued as one object each. A backlog then costs a few large
// buffers instead of hundreds of thousands of small objects the garbage collector would keep
// walking (it was a quarter of the drain's CPU), and the byte budget is the memory really held.
// Past the budget the producer is asked to pause (stop reading the socket); below half of it, to
// resume. The copy is needed anyway: pg's parser reuses the buffer a payload points into.
//
// Records go to the last chunk while it has room, also while the consumer is reading it (one
// thread: the reader sees `used` grow), so a waiting consumer gets a record at once and nothing
// waits for a chunk to fill. Chunks are never reused: a record handed out stays valid.

/** Tag, length, then the bytes (payload, or the keepalive's 8-byte WAL end). */
const HEADER = 5;
const TAG_XLOG = 0x77; // w
const TAG_KEEPALIVE = 0x6b; // k
const CHUNK_BYTES = 64 * 1024;

export type QueuedRecord =
  /** A pgoutput message: bytes[start, end). */
  | { readonly kind: 'xlog'; readonly bytes: Buffer; readonly start: number; readonly end: number }
  | { readonly kind: 'keepalive'; readonly walEnd: bigint };

interface Chunk {
  readonly buffer: Buffer;
  used: number;
}

export class RecordQueue {
  /** chunks[head] is being read, at readAt; the last one takes new records. */
  private chunks: Chunk[] = [];
  private head = 0;
  private readAt = 0;
  private held = 0;
  private high = false;
  private waiter: ((record: QueuedRecord | undefined) => void) | undefined;
  private rejectWaiter: ((error: Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(
    private budgetBytes: number,
    private readonly onHigh: () => void,
    private readonly onLow: () => void,
  ) {}

  /**
   * Changes the budget from now on: a larger one asks the producer to resume at once when what is
   * queued is below half of it (a session's first commit widens its start budget: sessionConnections.ts).
   */
  setBudget(bytes: number): void {
    this.budgetBytes = bytes;
    if (this.high && this.held < bytes / 2) {
      this.high = false;
      this.onLow();
    }
  }

  /** Bytes of records queued and not yet handed out. */
  get bytes(): number {
    return this.held;
  }

  get isEmpty(): boolean {
    return this.held === 0;
  }

  /** Queues a copy of bytes[start, end). */
  pushXlog(bytes: Buffer, start = 0, end = bytes.length): void {
    const length = end - start;
    const chunk = this.room(length);
    chunk.buffer[chunk.used] = TAG_XLOG;
    chunk.buffer.writeUInt32BE(length, chunk.used + 1);
    bytes.copy(chunk.buffer, chunk.used + HEADER, start, end);
    this.added(chunk, HEADER + length);
  }

  pushKeepalive(walEnd: bigint): void {
    const chunk = this.room(8);
    chunk.buffer[chunk.used] = TAG_KEEPALIVE;
    chunk.buffer.writeUInt32BE(8, chunk.used + 1);
    chunk.buffer.writeBigUInt64BE(walEnd, chunk.used + HEADER);
    this.added(chunk, HEADER + 8);
  }

  /** Ends the consumer's wait as a timeout would: something else (a commit that returned) needs it. */
  wake(): void {
    const wake = this.waiter;
    this.waiter = undefined;
    this.rejectWaiter = undefined;
    wake?.(undefined);
  }

  /** Wakes the consumer with an error (the stream failed). */
  fail(error: Error): void {
    this.failure ??= error;
    const reject = this.rejectWaiter;
    this.waiter = undefined;
    this.rejectWaiter = undefined;
    reject?.(error);
  }

  /** The next record, or undefined after `timeoutMs` without one. */
  async next(timeoutMs: number): Promise<QueuedRecord | undefined> {
    const record = this.take();
    if (record) return record;
    if (this.failure) throw this.failure;
    return new Promise<QueuedRecord | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.rejectWaiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      this.rejectWaiter = (error) => {
        clearTimeout(timer);
        reject(error);
      };
    });
  }

  /** The open tail chunk if the record fits, else a new one. */
  private room(length: number): Chunk {
    const tail = this.chunks[this.chunks.length - 1];
    if (tail && tail.used + HEADER + length <= tail.buffer.length) return tail;
    const chunk: Chunk = { buffer: Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, HEADER + length)), used: 0 };
    this.chunks.push(chunk);
    return chunk;
  }

  private added(chunk: Chunk, bytes: number): void {
    chunk.used += bytes;
    this.held += bytes;
    if (!this.high && this.held > this.budgetBytes) {
      this.high = true;
      this.onHigh();
    }
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      this.rejectWaiter = undefined;
      wake(this.take());
    }
  }

  /** The next record if one is queued, without waiting. */
  take(): QueuedRecord | undefined {
    let reading = this.chunks[this.head];
    while (reading && this.readAt >= reading.used) {
      if (this.head + 1 >= this.chunks.length) return undefined; // the last chunk: it may still grow
      this.chunks[this.head] = undefined as never;
      this.head += 1;
      this.readAt = 0;
      if (this.head > 1024 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head); // amortised compaction, no per-chunk shift
        this.head = 0;
      }
      reading = this.chunks[this.head];
    }
    if (!reading) return undefined;
    const { buffer } = reading;
    const tag = buffer[this.readAt]!;
    const length = buffer.readUInt32BE(this.readAt + 1);
    const start = this.readAt + HEADER;
    this.readAt = start + length;
    this.held -= HEADER + length;
    if (this.high && this.held < this.budgetBytes / 2) {
      this.high = false;
      this.onLow();
    }
    if (tag === TAG_KEEPALIVE) return { kind: 'keepalive', walEnd: buffer.readBigUInt64BE(start) };
    return { kind: 'xlog', bytes: buffer, start, end: start + length };
  }
}
