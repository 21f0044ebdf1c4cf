// How each step of the cutover is run and told, in every module of the step: tried again while a
// server is away, and announced as the migration's event and as progress.
import { retryPhase } from './outage';
import type { MigrationRun } from '../run/migrationRun';
import { recordEvent } from '../control/store';

/**
 * A cutover step tried again while a server is away (a restart, a network drop): every step is
 * idempotent, and failing the migration at its last minute for a blip would throw the copy away.
 */
export function again<T>(run: MigrationRun, what: string, step: () => Promise<T>): Promise<T> {
  return retryPhase(run, `cutover: ${what}`, step);
}

/** Recorded as the migration's event and shown as progress (the bench and `--wait` see it). */
export async function announce(run: MigrationRun, message: string): Promise<void> {
  await recordEvent(run.store, run.spec.migrationName, 'info', message);
  run.onProgress({ kind: 'info', message });
}
