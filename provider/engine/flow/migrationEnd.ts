// How a migration that stopped on an error ends: Canceled (the user asked), ValidationFailed (a
// check refused it before anything changed) or Failed, with the message the user reads.
import { isRetryable } from '../connect/sqlstate';
import { errorMessage, isPgferryError } from '../core/errors';
import type { MigrationState } from '../core/model';

export interface MigrationEnd {
  readonly state: Extract<MigrationState, 'Canceled' | 'ValidationFailed' | 'Failed'>;
  readonly message: string;
}

export function migrationEnd(error: unknown, aborted: boolean): MigrationEnd {
  if (aborted || (isPgferryError(error) && error.category === 'canceled')) return { state: 'Canceled', message: 'canceled by the user' };
  if (isPgferryError(error) && error.category === 'validation') return { state: 'ValidationFailed', message: errorMessage(error) };
  // still failing once the retries ran out: say so, and what to look at
  const message = isRetryable(error)
    ? `${errorMessage(error)} (a server went away during a step that is not retried: check that both servers are up and reachable from this machine, then start the migration again)`
    : errorMessage(error);
  return { state: 'Failed', message };
}
