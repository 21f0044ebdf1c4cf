// The one error type shown to users: a stable code (errorCodes.ts), the field or object it is
// about, and a fix. Its category picks the CLI exit code and the Pulumi `check` failure.
import { ERROR_CODES, type ErrorCategory, type ErrorCode, type ErrorCodeInfo } from './errorCodes';

export interface PgferryErrorOptions {
  /** Defaults to the code's category in errorCodes.ts. */
  readonly category?: ErrorCategory;
  /** Input field path (`source.port`) or object (`database "sales"`) the error is about. */
  readonly field?: string;
  /** What the user can do about it; defaults to the code's fix in errorCodes.ts. */
  readonly fix?: string;
  readonly cause?: unknown;
  /** A server went away (restart, network): trying the same work again may succeed. */
  readonly transient?: boolean;
}

export class PgferryError extends Error {
  override readonly name = 'PgferryError';
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly field?: string;
  readonly fix?: string;
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: PgferryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const registered: ErrorCodeInfo = ERROR_CODES[code];
    this.code = code;
    this.category = options.category ?? registered.category;
    this.field = options.field;
    this.fix = options.fix ?? registered.fix;
    this.transient = options.transient ?? false;
  }

  /** One line for a terminal or a Pulumi message: the message, then the fix. */
  oneLine(): string {
    return this.fix ? `${this.message} (fix: ${this.fix})` : this.message;
  }
}

export function isPgferryError(error: unknown): error is PgferryError {
  return error instanceof PgferryError;
}

export function inputError(code: ErrorCode, field: string, message: string, fix?: string): PgferryError {
  return new PgferryError(code, message, { category: 'input', field, fix });
}

export function canceledError(): PgferryError {
  return new PgferryError('CANCELED', 'migration canceled', { category: 'canceled' });
}

/**
 * An error and the errors it wraps, outermost first: a stop keeps the server's error as its cause,
 * and a retry or a step may wrap it again, so what a caller looks for can sit a few causes deep.
 */
export function* causesOf(error: unknown, depth = 5): Generator<unknown> {
  for (let e: unknown = error, d = 0; e && d < depth; e = (e as { cause?: unknown }).cause, d++) yield e;
}

/** The first of an error and its causes that is a `kind`; undefined when none is. */
export function causeOf<T>(error: unknown, kind: abstract new (...args: never[]) => T): T | undefined {
  for (const e of causesOf(error)) if (e instanceof kind) return e;
  return undefined;
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(String(error), { cause: error });
}

/** The message of anything thrown, without stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof PgferryError) return error.oneLine();
  return coerceError(error).message;
}
