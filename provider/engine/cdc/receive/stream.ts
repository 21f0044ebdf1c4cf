// The replication stream: START_REPLICATION on a replication=database connection, CopyData frames
// handed to a callback, standby status updates sent back, and pause/resume for back-pressure. A
// thin shell around pg's connection; everything it decodes is done by the pure frames/pgoutput code.
import { trace, traceOnce } from '../../util/trace';
import type pg from 'pg';
import { closeSession, openSession, serverMajor } from '../../connect/session';
import { ident, literal } from '../../connect/quote';
import type { ServerSpec } from '../../input/migrationSpec';
import { decodeFrame, encodeStatusUpdate, XLOG_HEADER_BYTES, xlogWalEnd } from '../decode/frames';
import { formatLsn } from '../../core/lsn';

/** What the stream hands on: each pgoutput message, and the server's keepalives. */
export interface FrameHandler {
  /**
   * One pgoutput message: bytes[start, bytes.length). The bytes are pg's parse buffer, reused
   * after the call: copy what must outlive it.
   */
  xlog(bytes: Buffer, start: number, walEnd: bigint): void;
  keepalive(walEnd: bigint, replyRequested: boolean): void;
}

export interface StreamOptions {
  readonly slot: string;
  readonly publication: string;
  /** Where to start; the server starts at the slot's confirmed position when that is later. */
  readonly startLsn: bigint;
  /** No frame for this long while not paused means a dead connection (default SILENCE_MS). */
  readonly silenceMs?: number;
}

/** The connection's internals pg does not type: the protocol connection and its socket. */
interface RawConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  removeAllListeners(event: 'copyData'): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void; destroy(): void };
}

/** What a replication connection read of its server before streaming. */
interface ConnectedServer {
  readonly major: number;
  readonly senderTimeoutMs: number;
}

/** A replication connection opened and not yet streaming (ReplicationStream.connect). */
export interface ReplicationConnection {
  /** Starts streaming from `options.startLsn`; the stream owns the connection from then on. */
  start(options: StreamOptions, handler: FrameHandler): ReplicationStream;
  /** Closes the connection when it never started streaming (after a failure before start). */
  close(): Promise<void>;
}

/** The stream stopped without an error from either server (silent socket, server ended it): a new session may continue. */
export class StreamLostError extends Error {}

/**
 * No frame for this long while not paused means a dead connection. The server sends nothing on a
 * source without writes: it pings only a client that has not replied for half its
 * wal_sender_timeout, and this one replies on its own timer. Half this long without a frame, a
 * status update asks for a reply, which a live server sends at once.
 */
const SILENCE_MS = 120_000;

/** The longest wait between two standby status updates, whatever the server's timeout. */
const STATUS_INTERVAL_MAX_MS = 10_000;
const STATUS_INTERVAL_MIN_MS = 200;

/** The source's wal_sender_timeout in milliseconds (0: the server never times a client out). */
const SENDER_TIMEOUT_SQL = `SELECT setting::bigint AS ms FROM pg_catalog.pg_settings WHERE name = 'wal_sender_timeout'`;

/**
 * How often to send a status update: the walsender ends a client that has not replied for
 * wal_sender_timeout, and while the stream is paused for back-pressure the client reads none of
 * its keepalives, so the timer's updates are the only replies it gets. A quarter of the timeout
 * leaves room for a busy event loop and a slow network.
 */
export function statusIntervalMs(senderTimeoutMs: number): number {
  if (!(senderTimeoutMs > 0)) return STATUS_INTERVAL_MAX_MS;
  return Math.min(STATUS_INTERVAL_MAX_MS, Math.max(STATUS_INTERVAL_MIN_MS, Math.floor(senderTimeoutMs / 4)));
}

export class ReplicationStream {
  private closed = false;
  private paused = false;
  private lastFrameAt = Date.now();
  /** When a reply was last asked for: asked again only once a frame came since (the same millisecond counts). */
  private askedAt = 0;
  /** The positions of the last status update sent, sent again when a reply is asked for. */
  private lastStatus = { flushed: 0n, received: 0n };
  private readonly watchdog: NodeJS.Timeout;
  private fail: (error: Error) => void = () => undefined;
  /** Settles when streaming ends: rejects with the cause unless close() ended it. */
  readonly ended: Promise<void>;
  readonly serverMajor: number;
  /** How often the session must send a status update for the source to keep it (statusIntervalMs). */
  readonly statusIntervalMs: number;

  private constructor(
    private readonly client: pg.Client,
    private readonly raw: RawConnection,
    server: ConnectedServer,
    streaming: Promise<unknown>,
    silenceMs = SILENCE_MS,
  ) {
    this.serverMajor = server.major;
    this.statusIntervalMs = statusIntervalMs(server.senderTimeoutMs);
    const failed = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    client.on('error', (error) => this.fail(error));
    this.watchdog = setInterval(
      () => {
        if (this.paused) return;
        const silent = Date.now() - this.lastFrameAt;
        if (silent > silenceMs) {
          this.failWith(new StreamLostError(`replication stream silent for ${silenceMs / 1000}s: connection presumed dead`));
        } else if (silent > silenceMs / 2 && this.askedAt <= this.lastFrameAt) {
          this.askedAt = Date.now();
          this.sendStatus(this.lastStatus.flushed, this.lastStatus.received, true);
        }
      },
      Math.min(5_000, silenceMs / 4),
    );
    this.watchdog.unref();
    this.ended = Promise.race([streaming, failed]).then(
      () => {
        if (!this.closed) throw new StreamLostError('replication stream ended by the server');
      },
      (error: unknown) => {
        if (!this.closed) throw error;
      },
    );
    this.ended.catch(() => undefined);
  }

  /**
   * Opens the replication connection, without streaming yet: the caller reads where to start
   * meanwhile (sessionConnections.ts opens it beside the target's steps), then calls `start`. The
   * slot is not taken until START_REPLICATION, so an opened connection holds nothing of it.
   */
  static async connect(server: ServerSpec, database: string): Promise<ReplicationConnection> {
    // Values arrive in the walsender's text output, printed under the session's pinned settings
    // (search_path empty: OID-alias values such as regclass come schema-qualified), which the
    // target's apply session, pinned the same way, parses back exactly.
    const client = await openSession(server, { database, replication: true, purpose: 'cdc' });
    let connected: ConnectedServer;
    try {
      const major = await serverMajor(client);
      // read at each connection: a timeout lowered by a reload reaches the next session
      const { rows } = await client.query<{ ms: string }>(SENDER_TIMEOUT_SQL);
      connected = { major, senderTimeoutMs: Number(rows[0]?.ms ?? 0) };
      trace('replication connection open');
    } catch (error) {
      await closeSession(client);
      throw error;
    }
    let started = false;
    return {
      start: (options, handler) => {
        started = true;
        return ReplicationStream.stream(client, connected, options, handler);
      },
      close: async () => {
        if (!started) await closeSession(client);
      },
    };
  }

  /** Sends START_REPLICATION on an opened connection and hands its frames to `handler`. */
  private static stream(client: pg.Client, server: ConnectedServer, options: StreamOptions, handler: FrameHandler): ReplicationStream {
    try {
      const raw = (client as unknown as { connection: RawConnection }).connection;
      const stream = { current: undefined as ReplicationStream | undefined };
      // frames that arrive before start() has returned, copied out of pg's parse buffer
      const pending: Buffer[] = [];
      const deliver = (chunk: Buffer): void => {
        const walEnd = xlogWalEnd(chunk);
        if (walEnd !== undefined) return handler.xlog(chunk, XLOG_HEADER_BYTES, walEnd);
        const frame = decodeFrame(chunk);
        if (frame.kind === 'keepalive') {
          traceOnce('first keepalive');
          handler.keepalive(frame.walEnd, frame.replyRequested);
        }
      };
      let firstFrame = true;
      // pg's own copyData listener only hands frames to the active query, a no-op for this one
      // (START_REPLICATION is not a COPY stream); with two listeners every frame's emit copied the
      // listener list, a share of the apply's allocations (docs/bench.md#the-applys-settings).
      raw.removeAllListeners('copyData');
      raw.on('copyData', (msg) => {
        if (firstFrame) trace('first frame');
        firstFrame = false;
        try {
          if (stream.current) {
            stream.current.lastFrameAt = Date.now();
            deliver(msg.chunk);
          } else pending.push(Buffer.from(msg.chunk));
        } catch (error) {
          stream.current?.failWith(error as Error);
        }
      });
      const opts = [`proto_version '1'`, `publication_names ${literal(ident(options.publication))}`];
      if (server.major >= 14) opts.push(`messages 'true'`); // logical messages in pgoutput: PG14+
      const streaming = client.query(
        `START_REPLICATION SLOT ${ident(options.slot)} LOGICAL ${formatLsn(options.startLsn)} (${opts.join(', ')})`,
      );
      streaming.catch(() => undefined);
      trace('START_REPLICATION sent');
      const result = new ReplicationStream(client, raw, server, streaming, options.silenceMs);
      stream.current = result;
      for (const chunk of pending.splice(0)) deliver(chunk);
      return result;
    } catch (error) {
      void closeSession(client);
      throw error;
    }
  }

  /** Ends the stream with an error (a frame that cannot be decoded or handled). */
  failWith(error: Error): void {
    this.fail(error);
    this.raw.stream.destroy();
  }

  /**
   * Reports `flushed` as flushed and applied (the slot may free WAL up to it) and `received` as
   * written: a shutting-down walsender waits until the written position reaches what it sent.
   */
  sendStatus(flushed: bigint, received: bigint = flushed, replyRequested = false): void {
    if (this.closed) return;
    const written = received > flushed ? received : flushed;
    this.lastStatus = { flushed, received };
    this.raw.sendCopyFromChunk(encodeStatusUpdate(written, flushed, flushed, Date.now(), replyRequested));
  }

  /** Stops reading the socket: the server's sends block, and memory stays bounded. */
  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.raw.stream.pause();
  }

  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.lastFrameAt = Date.now();
    this.raw.stream.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.raw.stream.resume();
    await Promise.race([this.client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]);
    this.raw.stream.destroy();
  }
}
