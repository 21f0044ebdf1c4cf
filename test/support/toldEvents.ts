// What a migration told in its control catalog's events, read back the way the tests quote them in
// a failure message and the way they assert that its stream never stopped.
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';

/** The migration's last `count` events, oldest first, one `level: message` line each (a message cut at 400 characters). */
export async function eventsTold(store: CatalogConnection, name: string, count: number): Promise<string> {
  return (await catalogEvents(store, name, count)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
}

/** The messages of the migration's events (the last `count`) that say its stream stopped. */
export async function streamStops(store: CatalogConnection, name: string, count = 500): Promise<string[]> {
  const all = await catalogEvents(store, name, count);
  return all.filter((e) => e.level === 'error' && /streaming stopped/.test(e.message)).map((e) => e.message);
}
