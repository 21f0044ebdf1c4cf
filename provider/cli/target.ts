// The target server of a command (flags, URL or the properties file) and the one-line error
// shown when it cannot be reached: server and user, never a password.
import { PgferryError, type ServerSpec } from '../engine';
import type { CliArgs } from './args';
import { loadProperties } from './files';
import { targetFromInputs, type PropertyFlags } from './properties';

export async function resolveTarget(args: CliArgs): Promise<ServerSpec> {
  const body = args.properties === undefined ? undefined : await loadProperties(args.properties);
  return targetFromInputs(body, args.target);
}

export function propertyFlags(args: CliArgs): PropertyFlags {
  return {
    name: args.name,
    mode: args.mode,
    option: args.option,
    noVerify: args.noVerify,
    allowReplicaIdentityFull: args.allowReplicaIdentityFull,
    skipUnsupportedObjects: args.skipUnsupportedObjects,
    target: args.target,
  };
}

const AUTH_STATES = new Set(['28P01', '28000']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Why a connection failed, in words that cannot contain the password. */
function reason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (e.code === '28P01') return 'password authentication failed';
  if (e.code === '28000') return 'no pg_hba.conf entry or role not allowed to log in';
  if (e.code === '3D000') return 'database does not exist';
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'host name not found';
  if (e.code === 'ETIMEDOUT') return 'connection timed out';
  if (/client password must be a string/i.test(String(e.message)))
    return 'no password given (set PGPASSWORD, ~/.pgpass, or put it in the properties file)';
  return String(e.message ?? error).split('\n')[0]!;
}

/** Wraps anything but a PgferryError as a target error naming the server and the user. */
export function targetError(error: unknown, target: ServerSpec): unknown {
  if (error instanceof PgferryError) return error;
  const code = (error as { code?: string }).code ?? '';
  const connecting = AUTH_STATES.has(code) || NETWORK.has(code) || code === '3D000' || /password/i.test(String((error as Error).message));
  const where = `target server ${target.host}:${target.port} (user "${target.user}", database "${target.maintenanceDatabase}")`;
  return new PgferryError(
    'TARGET_CONNECT',
    connecting ? `cannot connect to the ${where}: ${reason(error)}` : `${where}: ${reason(error)}`,
    {
      category: 'target',
      cause: error,
    },
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
