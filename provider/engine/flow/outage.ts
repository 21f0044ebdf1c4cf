// Reporting a phase that waits for a server to come back (RETRY_POLICIES.phase retries it for as
// long as it takes): the user reads what is retried, since when and why, without an event per try.
import { retrying, RETRY_POLICIES, type RetryOptions } from '../connect/retry';
import { errorMessage } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';

/** Retry options for a phase of `run`: canceled with the migration, each try reported (a warning at tries 1, 2, 4, 8...). */
export function outageRetry(run: Pick<MigrationRun, 'signal' | 'warn' | 'onProgress'>, what: string, database?: string): RetryOptions {
  const since = Date.now();
  return {
    signal: run.signal,
    onRetry: (error, attempt) => {
      const waited = Math.round((Date.now() - since) / 1000);
      const message = `${what} is tried again (try ${attempt + 1}, ${waited} s after it first failed): ${errorMessage(error)}; a server is unreachable or restarting, and pgferry waits for it until it answers or the migration is canceled`;
      // attempt & (attempt - 1) is 0 for powers of two: a warning at tries 1, 2, 4, 8..., the others as progress only
      // fire and forget (onRetry is synchronous): a run's warn never rejects (its catalog write is best effort)
      if ((attempt & (attempt - 1)) === 0) void run.warn(message, database);
      else run.onProgress({ kind: 'info', message, database });
    },
  };
}

/** A phase's step tried again while a server is away, each try reported (outageRetry): the step must be idempotent. */
export function retryPhase<T>(
  run: Pick<MigrationRun, 'signal' | 'warn' | 'onProgress'>,
  what: string,
  step: () => Promise<T>,
  database?: string,
): Promise<T> {
  return retrying(RETRY_POLICIES.phase, step, outageRetry(run, what, database));
}
