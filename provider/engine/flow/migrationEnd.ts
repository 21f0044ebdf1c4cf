// How a migration that stopped on an error ends: Canceled (the user asked), ValidationFailed (a
// check refused it before anything changed) or Failed, with the message the user reads. A session
// lost under a step is named by its server and database, as the cutover's stops name it
// (connect/session.ts lostSessionWords): node-postgres's own words name neither.
import { lostSessionWords } from '../connect/session';
import { isRetryable } from '../connect/sqlstate';
import { errorMessage, isPgferryError } from '../core/errors';
import type { MigrationState } from '../core/model';

export interface MigrationEnd {
  readonly state: Extract<MigrationState, 'Canceled' | 'ValidationFailed' | 'Failed'>;
  readonly message: string;
}

/** The servers a lost session is told apart by: addresses only, nothing that authenticates. */
type Servers = Parameters<typeof lostSessionWords>[1];

export function migrationEnd(error: unknown, aborted: boolean, servers: Servers): MigrationEnd {
  if (aborted || (isPgferryError(error) && error.category === 'canceled')) return { state: 'Canceled', message: 'canceled by the user' };
  if (isPgferryError(error) && error.category === 'validation') return { state: 'ValidationFailed', message: errorMessage(error) };
  const lost = lostSessionWords(error, servers);
  if (lost)
    return {
      state: 'Failed',
      message: `${lost}, in a step that is not retried: check that this server is up and reachable from this machine, then start the migration again`,
    };
  // still failing once the retries ran out: say so, and what to look at
  const message = isRetryable(error)
    ? `${errorMessage(error)} (a server went away during a step that is not retried: check that both servers are up and reachable from this machine, then start the migration again)`
    : errorMessage(error);
  return { state: 'Failed', message };
}
