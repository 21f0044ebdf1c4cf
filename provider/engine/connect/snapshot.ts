// Exported snapshots: one session holds a REPEATABLE READ transaction open and exports its
// snapshot; every copy worker imports it (openSession's `snapshot`), so all workers read one state.
import { closeSession, openSession } from './session';
import type { ServerSpec } from '../input/migrationSpec';

export interface SnapshotHolder {
  readonly name: string;
  release(): Promise<void>;
}

/** Exports a snapshot of `database` (offline copies; online copies use the slot's snapshot). */
export async function exportSnapshot(source: ServerSpec, database: string): Promise<SnapshotHolder> {
  const client = await openSession(source, { database, purpose: 'snapshot' });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ name: string }>('SELECT pg_export_snapshot() AS name');
    return {
      name: rows[0]!.name,
      async release() {
        await client.query('COMMIT').catch(() => undefined);
        await closeSession(client);
      },
    };
  } catch (error) {
    await closeSession(client);
    throw error;
  }
}
