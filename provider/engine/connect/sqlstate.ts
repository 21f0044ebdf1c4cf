// SQLSTATE sets the engine decides on, each code with its condition name.
import { causesOf } from '../core/errors';

/** Worth retrying with back-off: the connection or server went away, or a transient conflict. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);

export const INVALID_PASSWORD = '28P01'; // invalid_password
export const INVALID_AUTHORIZATION = '28000'; // invalid_authorization_specification
export const INVALID_CATALOG_NAME = '3D000'; // invalid_catalog_name (no such database)
/** The login was refused: a wrong password, or no pg_hba.conf entry / a role that may not log in. */
export const AUTHENTICATION_FAILED: ReadonlySet<string> = new Set([INVALID_PASSWORD, INVALID_AUTHORIZATION]);
export const INSUFFICIENT_PRIVILEGE = '42501'; // insufficient_privilege
export const UNDEFINED_OBJECT = '42704'; // undefined_object
export const UNDEFINED_TABLE = '42P01'; // undefined_table
export const INVALID_SCHEMA_NAME = '3F000'; // invalid_schema_name (no such schema)
export const DEADLOCK_DETECTED = '40P01'; // deadlock_detected
export const IN_FAILED_SQL_TRANSACTION = '25P02'; // in_failed_sql_transaction ("current transaction is aborted")
export const LOCK_NOT_AVAILABLE = '55P03'; // lock_not_available (lock_timeout)
export const OBJECT_IN_USE = '55006'; // object_in_use (a slot or origin still held)
/** internal_error: among others "cache lookup failed", an object dropped while a statement described it. */
export const INTERNAL_ERROR = 'XX000';
export const DEPENDENT_OBJECTS_STILL_EXIST = '2BP01'; // dependent_objects_still_exist (a DROP ... RESTRICT refused)
export const FEATURE_NOT_SUPPORTED = '0A000'; // feature_not_supported (a TRUNCATE of a table another references)
export const OBJECT_NOT_IN_PREREQUISITE_STATE = '55000'; // object_not_in_prerequisite_state (a slot that lost WAL)

/**
 * What SET TRANSACTION SNAPSHOT answers once the session that exported the snapshot has ended: the
 * snapshot's file is gone (invalid_parameter_value "invalid snapshot identifier" from older servers,
 * undefined_object "snapshot does not exist" from newer ones), or the exporter ended between the
 * file's read and the import (object_not_in_prerequisite_state "could not import the requested
 * snapshot"). pgferry imports only names its own sessions exported, so none of these is a name
 * made up: each says the exporter is gone (connect/session.ts).
 */
export const SNAPSHOT_GONE_CODES: ReadonlySet<string> = new Set([
  '22023', // invalid_parameter_value
  '42704', // undefined_object
  '55000', // object_not_in_prerequisite_state
]);

/**
 * What a new CDC apply session gets past (cdc/apply/applier.ts): the retryable codes, and a slot or
 * replication origin still held by the session before it, which its server releases shortly.
 */
export const NEW_SESSION_CODES: ReadonlySet<string> = new Set([...RETRYABLE_CODES, OBJECT_IN_USE]);

/**
 * SQLSTATE of a pg DatabaseError, or undefined. The server's errors carry a severity; a socket
 * error's errno (EPIPE, ETIMEDOUT: five capitals too) must not pass for a SQLSTATE, or a dropped
 * connection would be reported as a non-retryable server error.
 */
export function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof e?.severity === 'string' ? code : undefined;
}

/** The SQLSTATE of an error or of what it wraps (a PgferryError keeps the server's error as its cause). */
export function sqlStateWithin(error: unknown): string | undefined {
  for (const e of causesOf(error)) {
    const state = sqlState(e);
    if (state) return state;
  }
  return undefined;
}

/**
 * A row the target's constraints refuse (SQLSTATE class 23: unique, check, foreign key, not null,
 * exclusion): the same rows meet the same constraint on every try, so only a change on the target
 * lets them through.
 */
export function isIntegrityRefusal(error: unknown): boolean {
  return sqlStateWithin(error)?.startsWith('23') === true;
}

/**
 * A statement refused because row-level security would have filtered it (row_security = off and
 * a user that cannot bypass the policies). Told apart from other 42501s by the server routine that
 * raises it, which does not depend on the server's message language.
 */
export function isRowSecurityRefusal(error: unknown): boolean {
  return sqlState(error) === INSUFFICIENT_PRIVILEGE && (error as { routine?: unknown }).routine === 'check_enable_rls';
}

/** Node's errnos for a connection that was refused, reset, timed out or never resolved. */
export const NETWORK_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether a statement's error is the server refusing that statement, which a step may report and
 * go past, rather than its session breaking: only a server's error outside the classes of a lost
 * connection (08), an operator's or a crash's intervention (57: a terminated backend, a shutdown, a
 * cancel) and exhausted resources (53), and not FATAL or PANIC, which the server sends as it ends the
 * session. Anything else (a socket closed, node-postgres's "Connection terminated") is a lost session.
 */
export function isStatementRefusal(error: unknown): boolean {
  const state = sqlState(error);
  const severity = (error as { severity?: unknown } | null | undefined)?.severity;
  return state !== undefined && severity !== 'FATAL' && severity !== 'PANIC' && !/^(08|57|53)/.test(state);
}

/** A dropped or refused connection, or a SQLSTATE in `codes` (by default the retryable ones). */
export function isRetryable(error: unknown, codes: ReadonlySet<string> = RETRYABLE_CODES): boolean {
  if ((error as { transient?: unknown } | null)?.transient === true) return true;
  const state = sqlState(error);
  if (state) return codes.has(state);
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && NETWORK_ERRNOS.has(errno)) return true;
  const message = String((error as Error | null)?.message ?? '');
  // "timeout expired" is node-postgres's own connect timeout: also what a runner stopped for a
  // while (SIGSTOP, a suspended VM) finds on waking, its connect timers fired before the replies
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error|terminating connection/i.test(
    message,
  );
}
