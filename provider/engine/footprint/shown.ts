// What `show` (and the console) gives of a migration's footprint beside its status: each
// database's writer fences, the source's of a cutover and the target's of a fall-back
// (writerFence.ts), and the pooler's pause at its cutover and at its fall-back (poolerPause.ts),
// read from the ledger in one statement per migration and shaped by each change's own module.
import type { CatalogConnection } from '../control/connection';
import { get as catalogStatus } from '../control/store';
import type { MigrationStatus } from '../core/model';
import { changesOf } from './ledger';
import { poolerPausesOf } from './poolerPause';
import { writerFencesOf } from './writerFence';

/** A migration's status with the writer fences (source, target) and the pooler's pauses (cutover, fall-back) of each database that has them. */
export async function withFootprintShown(store: CatalogConnection, status: MigrationStatus): Promise<MigrationStatus> {
  if (status.mode !== 'Online') return status;
  const entries = await changesOf<unknown>(store, status.name, ['writerFence', 'targetFence', 'poolerPause', 'poolerPauseBack']);
  if (entries.length === 0) return status;
  const fences = writerFencesOf(status.name, entries);
  const targetFences = writerFencesOf(status.name, entries, 'targetFence');
  const pauses = poolerPausesOf(entries);
  const pausesBack = poolerPausesOf(entries, 'poolerPauseBack');
  return {
    ...status,
    databases: status.databases.map((d) => {
      const writerFence = fences.get(d.database);
      const targetFence = targetFences.get(d.database);
      const poolerPause = pauses.get(d.database);
      const poolerPauseBack = pausesBack.get(d.database);
      return {
        ...d,
        ...(writerFence ? { writerFence } : {}),
        ...(targetFence ? { targetFence } : {}),
        ...(poolerPause ? { poolerPause } : {}),
        ...(poolerPauseBack ? { poolerPauseBack } : {}),
      };
    }),
  };
}

/**
 * A migration's status as `show` gives it: the control catalog's, with the footprint's writer fences
 * (both servers') and pooler pauses. The one read of a status every caller returns (the API's get, a request's
 * answer, the cancel of a stopped runner), so no answer lacks what `show` has.
 */
export async function shownStatus(store: CatalogConnection, name: string): Promise<MigrationStatus | undefined> {
  const status = await catalogStatus(store, name);
  return status && withFootprintShown(store, status);
}
