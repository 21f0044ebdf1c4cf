// What a finished trial may not leave behind, read directly from both servers: replication slots
// and publications on the source, replication origins on the target, runner processes still
// alive; source tables left with the REPLICA IDENTITY FULL pgferry set for streaming. Cleaning them away
// afterwards keeps one trial's leftovers from failing the next.
import type { Cluster } from '../test/support';

export interface Leftovers {
  readonly slots: string[];
  readonly publications: string[];
  readonly origins: string[];
  /** Source tables whose replica identity the migration changed and did not set back. */
  readonly replicaIdentityFull: string[];
}

export async function findLeftovers(
  clusters: { source: Cluster; target: Cluster },
  sourceDatabases: readonly string[],
): Promise<Leftovers> {
  const slots = await clusters.source.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pgferry%'`,
  );
  const publications: string[] = [];
  const replicaIdentityFull: string[] = [];
  for (const db of sourceDatabases) {
    const pubs = await clusters.source.query<{ pubname: string }>(`SELECT pubname FROM pg_publication`, [], db);
    publications.push(...pubs.map((p) => `${db}.${p.pubname}`));
    // The fixture's only table without a key is audit; the template has the default identity.
    const full = await clusters.source.query<{ rel: string }>(
      `SELECT c.oid::regclass::text AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relreplident = 'f' AND n.nspname = 'public'`,
      [],
      db,
    );
    replicaIdentityFull.push(...full.map((r) => `${db}.${r.rel}`));
  }
  const origins = await clusters.target.query<{ roname: string }>(`SELECT roname FROM pg_replication_origin WHERE roname LIKE 'pgferry%'`);
  return {
    slots: slots.map((s) => s.slot_name),
    publications,
    origins: origins.map((o) => o.roname),
    replicaIdentityFull,
  };
}

export function leftoverLines(l: Leftovers): string[] {
  return [
    ...l.slots.map((s) => `slot ${s}`),
    ...l.publications.map((p) => `publication ${p}`),
    ...l.origins.map((o) => `origin ${o}`),
    ...l.replicaIdentityFull.map((t) => `REPLICA IDENTITY FULL on source table ${t}`),
  ];
}

/** Drops slots and origins a trial left (publications go with the trial's databases). */
export async function removeLeftovers(clusters: { source: Cluster; target: Cluster }, l: Leftovers): Promise<void> {
  for (const slot of l.slots) {
    await clusters.source
      .query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [slot])
      .catch(() => undefined);
    await clusters.source.query(`SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => undefined);
  }
  for (const origin of l.origins) {
    await clusters.target.query(`SELECT pg_replication_origin_drop($1)`, [origin]).catch(() => undefined);
  }
}
