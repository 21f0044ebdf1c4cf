// The retry policies: one per kind of work, all retrying only what isRetryable calls transient (a
// dropped connection, a server restarting or failing over, too many connections, a serialization
// failure). The back-off comes from exponential-backoff rather than a loop of our own.
import { backOff } from 'exponential-backoff';
import { isRetryable } from './sqlstate';

export interface RetryPolicy {
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

export const RETRY_POLICIES = {
  /**
   * A phase redone from its start after the source or the target went away (a restart, a failover,
   * a VPN reconnecting, a network outage of hours): waits 1, 2, 4, 8, 16, then 30 s between tries,
   * for as long as it takes or until the migration is canceled. Giving up would throw away the
   * copy made so far for a cause that is not the migration's, and a server that comes back is the
   * common case; the attempts are reported while they go on (engine/run/outage.ts).
   */
  phase: { attempts: Number.POSITIVE_INFINITY, firstDelayMs: 1_000, maxDelayMs: 30_000 },
  /** One small statement (the control catalog, a slot drop): tries over about a minute. */
  statement: { attempts: 10, firstDelayMs: 250, maxDelayMs: 15_000 },
  /** Waiting for the server to let go of something (a walsender exiting): 0.1 s up to 1.6 s, about 10 s. */
  quick: { attempts: 10, firstDelayMs: 100, maxDelayMs: 1_600 },
} as const satisfies Record<string, RetryPolicy>;

export interface RetryOptions {
  readonly signal?: AbortSignal;
  /** Called before each new try with what failed. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
  /** What is worth another try; transient failures (isRetryable) by default. */
  readonly retryOn?: (error: unknown) => boolean;
}

/** Runs `fn`, trying again under `policy` while it fails in a way worth another try and the signal is not aborted. */
export function retrying<T>(policy: RetryPolicy, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return backOff(fn, {
    numOfAttempts: policy.attempts,
    startingDelay: policy.firstDelayMs,
    maxDelay: policy.maxDelayMs,
    timeMultiple: 2,
    jitter: 'none',
    retry: (error: unknown, attempt: number) => {
      if (options.signal?.aborted) return false;
      if (!(options.retryOn ?? isRetryable)(error)) return false;
      options.onRetry?.(error, attempt);
      return true;
    },
  });
}
