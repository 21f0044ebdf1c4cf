// The first thing a create does is reach the target from the machine running `pulumi up`; when
// that fails at the network level (a private server, a VPN not connected yet), the error says so
// and what to do, instead of a bare socket errno. Nothing has been started at that point.
import * as engine from '../engine';
import type { MigrationSpec } from '../engine';
import { redact } from './redact';

/** Socket errnos that mean "no route to the server", not "the server said no". */
const UNREACHABLE_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function unreachableReason(error: unknown): string | undefined {
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && UNREACHABLE_ERRNOS.has(errno)) return errno;
  const message = String((error as Error | null)?.message ?? '');
  return /timeout expired|connection timeout/i.test(message) ? 'connection timed out' : undefined;
}

/** The error as given, or one that names the unreachable target and what makes it reachable. */
export function reachabilityHint(error: unknown, spec: MigrationSpec): Error {
  const reason = unreachableReason(error);
  const text = reason
    ? `target: cannot reach ${spec.target.host}:${spec.target.port} from this machine (${reason}); migrations run from the machine running pulumi up, which must reach both servers: a server with private access only is reachable from its virtual network or over its VPN (connect the VPN client), then run pulumi up again. Nothing was started`
    : `create: ${engine.errorMessage(error)}`;
  return new Error(redact(text, spec));
}
