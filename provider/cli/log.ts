// What the command says on stderr beside its result, as az's --only-show-errors, --verbose and
// --debug shape it: errors always; progress and warnings unless --only-show-errors; INFO lines
// (where the target is, what was recorded) with --verbose; DEBUG lines and error causes with --debug.
import { writeErr } from './output';

export type Verbosity = 'errors' | 'normal' | 'verbose' | 'debug';

let level: Verbosity = 'normal';

export function setVerbosity(v: Verbosity): void {
  level = v;
}

/** Progress and warnings are shown (not --only-show-errors). */
export function showsProgress(): boolean {
  return level !== 'errors';
}

/** A warning (az's WARNING: lines), unless --only-show-errors. */
export function warn(text: string): void {
  if (level !== 'errors') writeErr(`WARNING: ${text}`);
}

export function info(text: string): void {
  if (level === 'verbose' || level === 'debug') writeErr(`INFO: ${text}`);
}

/** With --debug, the chain of causes and the stack of a failure (redacted like every other line). */
export function debugFailure(error: unknown): void {
  if (level !== 'debug') return;
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const err = e as { stack?: string; message?: string; code?: string; cause?: unknown };
    // anything may be thrown: a value with neither stack nor message prints as String() makes it
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    writeErr(`DEBUG: ${depth === 0 ? '' : 'caused by: '}${err.stack ?? err.message ?? String(e)}`);
    e = err.cause;
  }
}
