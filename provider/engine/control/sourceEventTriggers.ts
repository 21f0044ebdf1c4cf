// The event triggers of schemaChangeCapture: eventTrigger as the footprint ledger records them
// (control/footprintLedger.ts, change sourceEventTrigger, object '' for the source database
// itself): the names of the function and the two event triggers, and whether the control schema
// was created for them on the source, recorded before anything is created, so a release drops
// exactly what was made, after a crash too.
import type { EventTriggerNames } from '../core/names';
import type { CatalogConnection } from './connection';
import { markUndone, pendingChanges, recordChange } from './footprintLedger';

const CHANGE = 'sourceEventTrigger';
/** The event trigger belongs to the database itself. */
const DATABASE = '';

/** What a release drops: the names made, and whether the schema they live in was made for them. */
export interface EventTriggerRecord {
  readonly names: EventTriggerNames;
  /** The control schema did not exist in the source database before: dropped with them when empty. */
  readonly schemaCreated: boolean;
}

/**
 * Records the event trigger about to be created. A record still pending keeps what it says: it was
 * read before an earlier attempt created the schema, which may be there now. Returns the record in force.
 */
export async function recordEventTrigger(
  store: CatalogConnection,
  migration: string,
  database: string,
  record: EventTriggerRecord,
): Promise<EventTriggerRecord> {
  return (await recordChange<EventTriggerRecord>(store, migration, database, CHANGE, DATABASE, record)).undo;
}

/** The event triggers still to drop in a database (none, or the one record). */
export async function pendingEventTriggers(store: CatalogConnection, migration: string, database: string): Promise<EventTriggerRecord[]> {
  return (await pendingChanges<EventTriggerRecord>(store, migration, database, CHANGE)).map((e) => e.undo);
}

/** Dropped on the source: nothing is left to undo. */
export async function clearEventTrigger(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await markUndone(store, migration, database, CHANGE, DATABASE);
}
