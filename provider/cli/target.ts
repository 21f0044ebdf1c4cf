// The target server of a command (flags, URL or the properties file) and the one-line error
// shown when it cannot be reached: server and user, never a password.
import {
  AUTHENTICATION_FAILED,
  INVALID_CATALOG_NAME,
  INVALID_PASSWORD,
  NETWORK_ERRNOS,
  PgferryError,
  sqlState,
  tlsFailureOf,
  type ServerSpec,
} from '../engine';
import type { CliArgs } from './input/parse';
import { info } from './log';
import { targetFromInputs } from './input/body';

/** The target server of a command: from the flags and the body read with them (input/parse.ts). */
export function resolveTarget(args: CliArgs): ServerSpec {
  const target = targetFromInputs(args.body, args.target);
  describeTarget(args, target);
  return target;
}

/** --verbose: which server the command talks to, and where a server name's address came from. */
export function describeTarget(args: CliArgs, target: ServerSpec): void {
  const server = args.target.server;
  const from =
    server && target.host === server.host
      ? ` (server ${server.name}${server.via === 'PGFERRY_SERVER_HOSTS' ? ', mapped by PGFERRY_SERVER_HOSTS' : ''})`
      : '';
  info(`target server ${target.host}:${target.port}, user "${target.user}", database "${target.maintenanceDatabase}"${from}`);
}

/** Why a connection failed, in words that cannot contain the password. */
function reason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const state = sqlState(error);
  if (state === INVALID_PASSWORD) return 'password authentication failed';
  if (state !== undefined && AUTHENTICATION_FAILED.has(state)) return 'no pg_hba.conf entry or role not allowed to log in';
  if (state === INVALID_CATALOG_NAME) return 'database does not exist';
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'host name not found';
  if (e.code === 'ETIMEDOUT') return 'connection timed out';
  if (/client password must be a string/i.test(String(e.message)))
    return 'no password given (set PGPASSWORD, ~/.pgpass, or put it in the properties file)';
  return String(e.message ?? error).split('\n')[0]!;
}

/** Wraps anything but a PgferryError as a target error naming the server and the user. */
function targetError(error: unknown, target: ServerSpec): unknown {
  if (error instanceof PgferryError) return error;
  const state = sqlState(error);
  const errno = (error as { code?: unknown }).code;
  const connecting =
    (state !== undefined && (AUTHENTICATION_FAILED.has(state) || state === INVALID_CATALOG_NAME)) ||
    (typeof errno === 'string' && NETWORK_ERRNOS.has(errno)) ||
    /password/i.test(String((error as Error).message));
  const tls = tlsFailureOf('target', target, error);
  if (tls) return new PgferryError('TARGET_CONNECT', `${tls.message}; ${tls.fix}`, { cause: error });
  const where = `target server ${target.host}:${target.port} (user "${target.user}", database "${target.maintenanceDatabase}")`;
  return new PgferryError(
    'TARGET_CONNECT',
    connecting ? `cannot connect to the ${where}: ${reason(error)}` : `${where}: ${reason(error)}`,
    { cause: error },
  );
}

/** Runs fn, turning raw driver errors into one line about the target. */
export async function onTarget<T>(target: ServerSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw targetError(error, target);
  }
}
