// Reading what a client says to PostgreSQL, for the fault proxy: splits the frontend byte stream
// into protocol messages (only headers for bulk ones like CopyData) so a trigger can fire on a
// statement ("the runner sent setval") and the proxy can hold the stream exactly before it.
// Pure: bytes in, segments out; no sockets.

/** Untyped startup-phase request codes (protocol 3.0). */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

export interface FrontendMessage {
  /** The message letter ('Q', 'B', 'd', ...), or 'startup' / 'ssl' / 'cancel' for untyped ones. */
  readonly type: string;
  /** SQL of a simple query ('Q'), or of the statement a Bind ('B') executes. */
  readonly sql?: string;
  /** Text parameters of a Bind (binary ones as '<binary>', NULL as null). */
  readonly params?: readonly (string | null)[];
  /** Startup parameters (user, database, application_name, replication). */
  readonly startup?: Readonly<Record<string, string>>;
}

export interface Segment {
  readonly bytes: Buffer;
  /** Set on the segment that begins a message. */
  readonly message?: FrontendMessage;
}

/** Messages whose body is read whole (small, and what triggers look at); others pass through. */
const WHOLE = new Set(['Q', 'P', 'B']);

function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  const stop = end < 0 ? buf.length : end;
  return [buf.toString('utf8', at, stop), stop + 1];
}

function parseStartup(body: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  let at = 4; // protocol version
  while (at < body.length && body[at] !== 0) {
    const [key, next] = cstring(body, at);
    const [value, after] = cstring(body, next);
    params[key] = value;
    at = after;
  }
  return params;
}

function parseBind(body: Buffer, statements: Map<string, string>): FrontendMessage {
  let [, at] = cstring(body, 0); // portal
  const [statement, next] = cstring(body, at);
  at = next;
  const formatCount = body.readInt16BE(at);
  at += 2;
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++, at += 2) formats.push(body.readInt16BE(at));
  const count = body.readInt16BE(at);
  at += 2;
  const params: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(at);
    at += 4;
    if (length < 0) {
      params.push(null);
      continue;
    }
    const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
    params.push(binary ? '<binary>' : body.toString('utf8', at, at + length));
    at += length;
  }
  return { type: 'B', sql: statements.get(statement) ?? '', params };
}

export class FrontendScanner {
  private pending = Buffer.alloc(0);
  /** Body bytes of a pass-through message still to come. */
  private passThrough = 0;
  private startupDone = false;
  /** After TLS was accepted the stream is opaque: everything passes unread. */
  private opaque = false;
  private readonly statements = new Map<string, string>();

  /** The server answered an SSLRequest with 'S': the rest is TLS. */
  tlsAccepted(): void {
    this.opaque = true;
  }

  /** Splits a chunk into segments, in order; incomplete whole-read messages wait for more bytes. */
  push(chunk: Buffer): Segment[] {
    if (this.opaque) return [{ bytes: chunk }];
    const out: Segment[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.passThrough > 0) {
        const n = Math.min(this.passThrough, buf.length);
        out.push({ bytes: buf.subarray(0, n) });
        this.passThrough -= n;
        buf = buf.subarray(n);
        continue;
      }
      const consumed = this.startupDone ? this.typed(buf, out) : this.untyped(buf, out);
      if (consumed === 0) {
        this.pending = Buffer.from(buf);
        break;
      }
      buf = buf.subarray(consumed);
    }
    return out;
  }

  private untyped(buf: Buffer, out: Segment[]): number {
    if (buf.length < 8) return 0;
    const length = buf.readInt32BE(0);
    if (buf.length < length) return 0;
    const code = buf.readInt32BE(4);
    const bytes = buf.subarray(0, length);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) out.push({ bytes, message: { type: 'ssl' } });
    else if (code === CANCEL_REQUEST) out.push({ bytes, message: { type: 'cancel' } });
    else {
      this.startupDone = true;
      out.push({ bytes, message: { type: 'startup', startup: parseStartup(bytes.subarray(4)) } });
    }
    return length;
  }

  private typed(buf: Buffer, out: Segment[]): number {
    if (buf.length < 5) return 0;
    const type = String.fromCharCode(buf[0]!);
    const total = 1 + buf.readInt32BE(1);
    if (!WHOLE.has(type)) {
      const n = Math.min(total, buf.length);
      out.push({ bytes: buf.subarray(0, n), message: { type } });
      this.passThrough = total - n;
      return n;
    }
    if (buf.length < total) return 0;
    const body = buf.subarray(5, total);
    let message: FrontendMessage;
    if (type === 'Q') message = { type, sql: cstring(body, 0)[0] };
    else if (type === 'P') {
      const [name, at] = cstring(body, 0);
      const sql = cstring(body, at)[0];
      this.statements.set(name, sql);
      message = { type, sql };
    } else message = parseBind(body, this.statements);
    out.push({ bytes: buf.subarray(0, total), message });
    return total;
  }
}
