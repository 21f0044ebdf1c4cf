// Waiting for an applier to reach its cutover point, while honouring a cancel.
import { canceledError, PgferryError } from '../core/errors';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import type { MigrationRun } from '../run/migrationRun';

export async function applierResult(run: MigrationRun, stream: OnlineStream): Promise<void> {
  const onAbort = (): void => stream.applier.stop();
  run.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const end = await stream.done;
    if (end !== 'cutover')
      throw run.signal.aborted
        ? canceledError()
        : new PgferryError('CUTOVER_INTERRUPTED', `database "${stream.database}": streaming stopped before the cutover point`, {
            category: 'internal',
          });
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
}
