// What an online migration creates per database, read back from the servers: its slot and
// publication on the source, its replication origin on the target (core/names.ts names them).
import type { StreamNames } from '../../provider/engine/core/names';
import type { Cluster } from '../../provider/localpg/cluster';

export interface StreamObjects {
  /** In pg_replication_slots on the source. */
  readonly slot: boolean;
  /** In pg_publication of the source database. */
  readonly publication: boolean;
  /** In pg_replication_origin on the target. */
  readonly origin: boolean;
}

/** Which of a database's stream objects `names` exist now on the servers. */
export async function streamObjects(source: Cluster, target: Cluster, database: string, names: StreamNames): Promise<StreamObjects> {
  const [slots, publications, origins] = await Promise.all([
    source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [names.slot]),
    source.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [names.publication], database),
    target.query(`SELECT 1 FROM pg_replication_origin WHERE roname = $1`, [names.origin]),
  ]);
  return { slot: slots.length > 0, publication: publications.length > 0, origin: origins.length > 0 };
}

/** All three present: what a database streaming holds. */
export const STREAMING: StreamObjects = { slot: true, publication: true, origin: true };
/** None left: what a cleaned-up database leaves. */
export const NONE_LEFT: StreamObjects = { slot: false, publication: false, origin: false };
