// What a finished trial may not leave behind, read directly from both servers: replication slots
// and publications on the source, replication origins on the target, runner processes still
// alive; source tables left with the REPLICA IDENTITY FULL pgferry set for streaming. Cleaning them away
// afterwards keeps one trial's leftovers from failing the next.
import { ident, PRIOR_SETTING_SQL } from '../provider/engine';
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

/** The writer fence of one source database after a trial: on the source, and in the control catalog. */
export interface FenceState {
  readonly database: string;
  /** The database's own default_transaction_read_only on the source (pg_db_role_setting), if any. */
  readonly onSource: string | undefined;
  /** pgferry.footprint's writerFence row for it: undefined, 'kept' (cut over) or 'open' (may still be lifted). */
  readonly record: 'kept' | 'open' | undefined;
  /** The database's final state in the migration's status. */
  readonly state: string | undefined;
}

/** Reads each database's fence on the source and its record in the target's control catalog. */
export async function readFences(
  clusters: { source: Cluster; target: Cluster },
  migration: string,
  databases: readonly string[],
  states: ReadonlyMap<string, string>,
): Promise<FenceState[]> {
  const records = await clusters.target
    .query<{ database: string; kept: boolean }>(
      `SELECT database, kept_at IS NOT NULL AS kept FROM pgferry.footprint
        WHERE migration = $1 AND change = 'writerFence' AND undone_at IS NULL`,
      [migration],
    )
    .catch(() => []); // no catalog table: nothing was ever fenced
  const out: FenceState[] = [];
  for (const database of databases) {
    const [row] = await clusters.source.query<{ prior: string | null }>(PRIOR_SETTING_SQL, [database]);
    const record = records.find((r) => r.database === database);
    out.push({
      database,
      onSource: row?.prior ?? undefined,
      record: record === undefined ? undefined : record.kept ? 'kept' : 'open',
      state: states.get(database),
    });
  }
  return out;
}

/**
 * What is wrong with the fences after a final state. A database cut over with the writers fenced
 * keeps its fence on purpose: recorded as kept and still `on` on the source. Any other database (canceled,
 * failed, or one the cutover never reached) has no fence left on the source and no record that is
 * not kept; a trial that never asked for a fence has none at all.
 */
export function fenceProblems(fences: readonly FenceState[], fenceWriters: boolean): string[] {
  const out: string[] = [];
  for (const f of fences) {
    const db = f.database;
    if (!fenceWriters) {
      if (f.onSource !== undefined || f.record !== undefined) out.push(`${db}: a writer fence with no fence asked for`);
      continue;
    }
    if (f.record === 'open') out.push(`${db}: a writer fence recorded and not kept after ${f.state ?? 'the end'} (pgferry.footprint)`);
    if (f.state === 'Succeeded') {
      if (f.record !== 'kept') out.push(`${db}: cut over with the writers fenced, but the fence is not recorded as kept`);
      if (f.onSource !== 'on')
        out.push(`${db}: cut over with the writers fenced, but the source's default_transaction_read_only is ${f.onSource ?? 'not set'}`);
    } else if (f.onSource !== undefined) {
      out.push(`${db}: writer fence left on the source after ${f.state ?? 'the end'} (default_transaction_read_only = ${f.onSource})`);
    }
  }
  return out;
}

/** Lifts whatever fence a trial left on its source databases (a cut-over one keeps it by design) before they go. */
export async function liftFences(source: Cluster, databases: readonly string[]): Promise<void> {
  for (const db of databases) {
    await source.query(`ALTER DATABASE ${ident(db)} RESET default_transaction_read_only`).catch(() => undefined);
  }
}
