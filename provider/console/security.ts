// Who may use the console. It binds to the loopback address by default, where reading needs nothing
// more than being on this machine; bound to any other address it serves HTTPS only
// (console/command.ts), and every request for data needs the token printed at start. A request
// that acts (cutover, cancel, fall-back) always needs the token and must come from the console's
// own page: same origin, so another site open in the browser cannot press the buttons with the
// user's access. The token travels in a header, never in a URL the server sees.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { inputError } from '../engine';

export const TOKEN_HEADER = 'x-pgferry-token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Whether `address` is this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

/**
 * The address to listen on, as given: an IPv4 or IPv6 address of this machine, or localhost. A host
 * name is refused rather than resolved: what it resolves to decides who can reach the console.
 */
export function listenAddress(address: string): string {
  if (address === 'localhost' || isIP(address) !== 0) return address;
  throw inputError(
    'USAGE',
    '--address',
    `--address ${JSON.stringify(address)}: not an address to listen on; allowed: an IPv4 or IPv6 address (127.0.0.1 by default, 0.0.0.0 or :: for every interface) or localhost`,
  );
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface Access {
  readonly token: string;
  /** Bound to the loopback address: reads need no token. */
  readonly loopback: boolean;
  /** The port the console listens on, for the Host names it answers to on the loopback. */
  readonly port: number;
  /** How the page is served, for the origin its own requests carry. */
  readonly scheme: 'http' | 'https';
}

export interface RequestFacts {
  readonly method: string;
  readonly host?: string;
  readonly origin?: string;
  readonly fetchSite?: string;
  readonly token?: string;
}

/**
 * Why a request is refused (with the HTTP status), or undefined when it may go on. On the loopback
 * the Host must name the loopback too: a web page whose name resolves to 127.0.0.1 (DNS rebinding)
 * would otherwise read the console as its own origin.
 */
export function refusal(access: Access, r: RequestFacts): { status: number; reason: string } | undefined {
  if (access.loopback) {
    const allowed = [`127.0.0.1:${access.port}`, `localhost:${access.port}`, `[::1]:${access.port}`];
    if (r.host === undefined || !allowed.includes(r.host))
      return { status: 403, reason: 'this console answers only to its loopback address' };
  }
  const acting = r.method !== 'GET' && r.method !== 'HEAD';
  if ((acting || !access.loopback) && !sameToken(r.token, access.token)) {
    return { status: 401, reason: 'the console token is missing or wrong: open the address pgferry console printed' };
  }
  if (acting) {
    const sameOrigin = r.origin !== undefined && r.host !== undefined && r.origin === `${access.scheme}://${r.host}`;
    if (!sameOrigin || (r.fetchSite !== undefined && r.fetchSite !== 'same-origin')) {
      return { status: 403, reason: 'actions are accepted only from the console page itself (same origin)' };
    }
  }
  return undefined;
}
