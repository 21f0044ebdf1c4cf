// A TCP fault proxy in front of one PostgreSQL server, loopback only: the runner's source and
// target specs point here. It forwards bytes both ways and can reset every connection, black-hole
// (accept, stop forwarding, resume later as TCP retransmission would), add latency, or cut one
// direction. It also reads the client's protocol messages (wire.ts) so a trigger can hold a
// connection exactly before a statement while a fault is injected.
// Written on `net` rather than taken from npm: Toxiproxy (the usual tool) is a Go server outside
// the npm registry, and the JavaScript TCP proxies on npm forward only, without faults or hooks.
import net from 'node:net';
import { FrontendScanner, type FrontendMessage } from './pgWire';

export type Direction = 'toServer' | 'toClient';

/** A simple query that opens by naming its session: `SET application_name = '...'`. */
const SET_NAME = /^\s*SET\s+application_name\s*=\s*'((?:[^']|'')*)'/i;

export interface ProxyConnection {
  readonly id: number;
  /** The client's ephemeral port (finds the process that opened it). */
  readonly clientPort: number;
  /** Local port of the proxy's socket to the server: pg_stat_activity.client_port. */
  upstreamPort?: number;
  /** From the startup message; its application_name is the last one the session set (SET_NAME). */
  startup?: Readonly<Record<string, string>>;
  /** The open COPY FROM STDIN statement, if any. */
  copying?: string;
  /** When the client last sent work (a statement, or data: COPY rows, replication feedback), and what. */
  lastWorkAt?: number;
  lastWork?: string;
  /** The client's end has closed: its port is free for another connection to take. */
  clientClosed?: boolean;
  closed: boolean;
}

/** Return true to hold the connection's client-to-server bytes before this message until release(). */
export type MessageHook = (conn: ProxyConnection, message: FrontendMessage) => boolean | void;

interface Chunk {
  bytes: Buffer;
  due: number;
  /** A hold placed before this chunk. */
  gate?: boolean;
}

/** Pauses the reading socket above this many queued bytes (backpressure, not unbounded memory). */
const HIGH_WATER = 1 << 20;

class Pipe {
  readonly queue: Chunk[] = [];
  queued = 0;
  gateOpen = true;
  ended = false;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly from: () => net.Socket | undefined,
    private readonly to: () => net.Socket | undefined,
    private readonly blocked: () => boolean,
  ) {}

  push(chunk: Chunk): void {
    this.queue.push(chunk);
    this.queued += chunk.bytes.length;
    if (this.queued > HIGH_WATER) this.from()?.pause();
    this.pump();
  }

  pump(): void {
    const to = this.to();
    if (!to || to.destroyed || to.connecting || this.draining) return;
    while (this.queue.length > 0 && !this.blocked()) {
      const head = this.queue[0]!;
      if (head.gate && !this.gateOpen) return;
      const wait = head.due - Date.now();
      if (wait > 0) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.queue.shift();
      this.queued -= head.bytes.length;
      if (!to.write(head.bytes)) {
        if (!this.draining) {
          this.draining = true;
          to.once('drain', () => {
            this.draining = false;
            this.pump();
          });
        }
        return;
      }
    }
    if (this.queued <= HIGH_WATER) this.from()?.resume();
    if (this.queue.length === 0 && this.ended && !to.destroyed) to.end();
  }

  /** Drops the held message and everything after it (the client died before it reached the server). */
  dropFromGate(): void {
    const at = this.queue.findIndex((c) => c.gate && !this.gateOpen);
    if (at >= 0) this.queue.splice(at);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

/** One client connection and its server connection. */
interface Link {
  readonly conn: ProxyConnection;
  readonly client: net.Socket;
  upstream?: net.Socket;
  readonly up: Pipe;
  readonly down: Pipe;
  clientClosed: boolean;
  upstreamClosed: boolean;
  onServerData?: (chunk: Buffer) => void;
}

export class FaultProxy {
  readonly connections = new Set<ProxyConnection>();
  onMessage: MessageHook | undefined;
  port = 0;
  private server!: net.Server;
  private nextId = 1;
  private holeUntil = 0;
  private latencyMs = 0;
  private latencyUntil = 0;
  private readonly cutUntil: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly links = new Map<ProxyConnection, Link>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Bytes that arrived while a black hole, a cut or added latency held them back: a network fault
   * counts as having happened only when it delayed or dropped something (faults/faults.ts).
   */
  heldBytes = 0;

  constructor(
    readonly label: string,
    private readonly upstreamPort: number,
  ) {}

  async start(): Promise<void> {
    // No Nagle delay on either side: the proxy forwards a client's protocol messages one write
    // each, and with Nagle's algorithm every small write after the first waited for the peer's
    // delayed ACK (tens of ms per statement): an apply through the proxy fell minutes behind.
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    this.resetAll();
    for (const t of this.timers) clearTimeout(t);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Every open connection gets a TCP reset, both sides; returns how many there were. */
  resetAll(): number {
    const conns = [...this.links.keys()];
    for (const conn of conns) this.reset(conn);
    return conns.length;
  }

  /** One connection gets a TCP reset, both sides. */
  reset(conn: ProxyConnection): void {
    const link = this.links.get(conn);
    if (!link) return;
    link.up.stop();
    link.down.stop();
    for (const s of [link.client, link.upstream]) if (s && !s.destroyed) s.resetAndDestroy();
    this.finish(link);
  }

  /** Nothing is forwarded, and no new connection reaches the server, for `ms`; then all resumes. */
  blackhole(ms: number): void {
    this.holeUntil = Date.now() + ms;
    this.wakeAfter(ms);
  }

  /** Adds `ms` of delay to every chunk, both directions, for `durationMs`. */
  latency(ms: number, durationMs: number): void {
    this.latencyMs = ms;
    this.latencyUntil = Date.now() + durationMs;
  }

  /** Stops forwarding one direction for `ms` (the other keeps flowing). */
  cut(direction: Direction, ms: number): void {
    this.cutUntil[direction] = Date.now() + ms;
    this.wakeAfter(ms);
  }

  /** Lets a held connection's bytes flow again. */
  release(conn: ProxyConnection): void {
    const link = this.links.get(conn);
    if (!link) return;
    link.up.gateOpen = true;
    link.up.pump();
  }

  private wakeAfter(ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      for (const link of this.links.values()) {
        this.connectUpstream(link);
        link.up.pump();
        link.down.pump();
      }
    }, ms + 5);
    this.timers.add(timer);
  }

  private blocked(direction: Direction): boolean {
    const now = Date.now();
    return now < this.holeUntil || now < this.cutUntil[direction];
  }

  /** Counts bytes the current fault holds back in `direction` (see heldBytes). */
  private noteHeld(direction: Direction, bytes: number): void {
    if (this.blocked(direction) || Date.now() < this.latencyUntil) this.heldBytes += bytes;
  }

  private due(): number {
    return Date.now() < this.latencyUntil ? Date.now() + this.latencyMs : 0;
  }

  private finish(link: Link): void {
    link.conn.closed = true;
    this.connections.delete(link.conn);
    this.links.delete(link.conn);
  }

  private accept(client: net.Socket): void {
    const conn: ProxyConnection = { id: this.nextId++, clientPort: client.remotePort ?? 0, closed: false };
    const link: Link = {
      conn,
      client,
      clientClosed: false,
      upstreamClosed: false,
      up: new Pipe(
        () => client,
        () => link.upstream,
        () => this.blocked('toServer'),
      ),
      down: new Pipe(
        () => link.upstream,
        () => client,
        () => this.blocked('toClient'),
      ),
    };
    this.links.set(conn, link);
    this.connections.add(conn);
    const scanner = new FrontendScanner();
    let awaitingSslAnswer = false;
    client.on('data', (chunk: Buffer) => {
      for (const segment of scanner.push(chunk)) {
        let gate = false;
        const m = segment.message;
        if (m) {
          if (m.type === 'ssl') awaitingSslAnswer = true;
          if (m.type === 'startup') conn.startup = m.startup;
          // A session opened ahead of a cutover's hold gets its name when it is taken (connect/sessionsAhead.ts):
          // the name a phase looks for is the last one the session set, not only its startup's.
          const named = m.type === 'Q' ? SET_NAME.exec(m.sql ?? '') : null;
          if (named) conn.startup = { ...conn.startup, application_name: named[1]!.replace(/''/g, "'") };
          if ((m.type === 'Q' || m.type === 'B') && /^\s*COPY\b[\s\S]*\bFROM\s+STDIN/i.test(m.sql ?? '')) conn.copying = m.sql;
          if (m.type === 'c' || m.type === 'f') conn.copying = undefined;
          // Taking or giving up a lock is how a runner asks for the lease: it is not work.
          if ((m.type === 'Q' || m.type === 'B' || m.type === 'd') && !/advisory_(try_)?(un)?lock|pg_try_advisory/.test(m.sql ?? '')) {
            conn.lastWorkAt = Date.now();
            conn.lastWork = m.type === 'd' ? (conn.copying ? 'COPY data' : 'replication feedback') : (m.sql ?? '').slice(0, 60);
          }
          gate = this.onMessage?.(conn, m) === true;
          if (gate) link.up.gateOpen = false;
        }
        this.noteHeld('toServer', segment.bytes.length);
        link.up.push({ bytes: segment.bytes, due: this.due(), gate });
      }
    });
    // The client is gone: what it sent before the hold still travels, then the server sees the end.
    const clientGone = (): void => {
      link.up.dropFromGate();
      link.up.ended = true;
      link.up.pump();
    };
    client.on('end', clientGone);
    client.on('error', () => link.upstream?.resetAndDestroy());
    client.on('close', () => {
      clientGone();
      link.clientClosed = true;
      conn.clientClosed = true;
      if (!link.upstream) this.finish(link);
      else if (link.upstreamClosed) this.finish(link);
    });
    link.onServerData = (chunk: Buffer): void => {
      // The answer to an SSLRequest is one byte: 'S' means TLS follows and the stream is opaque.
      if (awaitingSslAnswer) {
        awaitingSslAnswer = false;
        if (chunk[0] === 0x53) scanner.tlsAccepted();
      }
      this.noteHeld('toClient', chunk.length);
      link.down.push({ bytes: chunk, due: this.due() });
    };
    this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    if (link.upstream || link.clientClosed || Date.now() < this.holeUntil) return;
    const upstream = net.connect({ host: '127.0.0.1', port: this.upstreamPort, noDelay: true });
    link.upstream = upstream;
    upstream.on('connect', () => {
      link.conn.upstreamPort = upstream.localPort;
      link.up.pump();
    });
    upstream.on('data', (chunk: Buffer) => link.onServerData?.(chunk));
    const serverGone = (): void => {
      link.down.ended = true;
      link.down.pump();
    };
    upstream.on('end', serverGone);
    // A refused or reset server connection resets the client's too, as a router would show it.
    upstream.on('error', () => {
      if (!link.client.destroyed) link.client.resetAndDestroy();
    });
    upstream.on('close', () => {
      serverGone();
      link.upstreamClosed = true;
      if (link.down.queue.length === 0 && !link.client.destroyed) link.client.end();
      if (link.clientClosed || link.client.destroyed) this.finish(link);
    });
  }
}
