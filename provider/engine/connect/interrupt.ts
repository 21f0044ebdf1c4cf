// Work on a session stopped where it runs when the migration (or one database) is canceled, not
// when its statement would have ended: an index build, a VACUUM or a COPY of a large table runs for
// minutes to hours, and a cancel that waits for it is no cancel. On the abort, the server is asked
// to cancel the session's statement (the protocol's CancelRequest, on a connection of its own: it
// needs no login and no privilege), again every second in case it came between two statements;
// a server that has not answered within the grace (it no longer reads the connection: a stalled
// network, a proxy holding the session) gets the connection closed, so the work ends here at once
// and the server rolls its transaction back when it sees the close.
import net from 'node:net';
import type pg from 'pg';
import { canceledError } from '../core/errors';

/** How long canceled work has to end before its connections are closed. */
const CANCEL_GRACE_MS = 5_000;
const CANCEL_REPEAT_MS = 1_000;
/** The CancelRequest's code, in place of a protocol version (PostgreSQL's protocol docs). */
const CANCEL_REQUEST_CODE = 80877102;

/** What pg keeps of the BackendKeyData message (not in its type declarations). */
interface BackendKey {
  readonly processID?: number | null;
  readonly secretKey?: number | null;
}

/** Sends a CancelRequest for `client`'s backend; best effort, never throws. */
export function requestCancel(client: pg.Client): void {
  const { processID, secretKey } = client as unknown as BackendKey;
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  // a host starting with '/' is a Unix-socket directory (libpq's convention, which pg follows)
  const socket = client.host.startsWith('/')
    ? net.connect(`${client.host}/.s.PGSQL.${client.port}`)
    : net.connect({ host: client.host, port: client.port });
  socket.setTimeout(CANCEL_GRACE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('connect', () => socket.end(packet));
}

/** The error canceled work ends with: why it was stopped (another job's failure), else a cancel. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  // abort() without a reason gives the platform's bare AbortError
  return reason instanceof Error && reason.name !== 'AbortError' ? reason : canceledError();
}

/**
 * Runs `work` on `clients`; an abort of `signal` stops it on their servers (see above) and makes it
 * end with the abort's reason (the statement's "canceling statement due to user request" or a
 * closed connection is only the echo of it). A client whose connection was closed is done for:
 * the caller ends it as usual.
 */
export async function stopOnAbort<T>(
  clients: pg.Client | readonly pg.Client[],
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
  graceMs = CANCEL_GRACE_MS,
): Promise<T> {
  if (!signal) return work();
  if (signal.aborted) throw abortReason(signal);
  const sessions = Array.isArray(clients) ? (clients as readonly pg.Client[]) : [clients as pg.Client];
  const timers: NodeJS.Timeout[] = [];
  const onAbort = () => {
    const cancel = () => sessions.forEach(requestCancel);
    cancel();
    timers.push(setInterval(cancel, CANCEL_REPEAT_MS));
    // end() closes the socket at once while a statement is still waiting for its answer
    timers.push(setTimeout(() => sessions.forEach((c) => void c.end().catch(() => undefined)), graceMs));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work();
  } catch (error) {
    if (signal.aborted) throw abortReason(signal);
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const timer of timers) clearTimeout(timer);
  }
}
