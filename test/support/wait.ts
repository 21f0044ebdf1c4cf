// Polling for a condition in tests, with a deadline that names what was awaited.
import { cancelMigration, requestCutover, showMigration, type MigrationSpec } from '../../provider/engine';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState, type MigrationStatus } from '../../provider/engine/core/model';
import { events as catalogEvents, get } from '../../provider/engine/control/store';

/** Calls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Reads a migration's status through `store` until `done` holds (the migration may not exist yet). */
export async function waitForStatus(
  store: CatalogConnection,
  name: string,
  done: (status: MigrationStatus) => boolean,
  timeoutMs = 180_000,
): Promise<MigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await get(store, name);
    if (status && done(status)) return status;
    if (Date.now() > deadline) {
      // the migration's last events say where it stopped (a run that hangs under load is not replayed easily)
      const events = await catalogEvents(store, name, 15).catch(() => []);
      const told = events
        .reverse()
        .map((e) => `\n  ${e.level}: ${e.message.slice(0, 300)}`)
        .join('');
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for migration "${name}" (${done.toString()}); last state ${status?.state}/${status?.subState}: ${status?.message}; its last events:${told}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether a process (a runner) still exists: signal 0 checks without signalling. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** After a test: a migration it left running is canceled, so the suite leaves nothing behind. */
export async function endIfRunning(
  spec: { target: Parameters<typeof showMigration>[0]; migrationName: string },
  running: Promise<unknown>,
): Promise<void> {
  const status = await showMigration(spec.target, spec.migrationName).catch(() => undefined);
  if (status && !isFinalState(status.state)) await cancelMigration(spec.target, spec.migrationName).catch(() => undefined);
  await running.catch(() => undefined);
}

/**
 * Requests the cutover and waits for its end: the migration's final status, or the status of a
 * cutover that stopped (and streams on), said at once rather than by a test's timeout.
 */
export async function cutoverEnd(
  store: CatalogConnection,
  spec: Pick<MigrationSpec, 'target' | 'migrationName'>,
  running: Promise<MigrationStatus>,
): Promise<MigrationStatus> {
  await requestCutover(spec.target, spec.migrationName);
  const status = await waitForStatus(
    store,
    spec.migrationName,
    (s) => isFinalState(s.state) || /^cutover stopped/.test(s.message ?? ''),
    180_000,
  );
  return isFinalState(status.state) ? running : status;
}
