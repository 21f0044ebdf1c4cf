// What a finished trial may not leave behind, read directly from both servers: replication slots,
// publications and replication origins on either server (a fallback window's reverse stream has
// them the other way round), runner processes still alive; source tables left with the REPLICA IDENTITY FULL pgferry set for streaming. Cleaning them away
// afterwards keeps one trial's leftovers from failing the next.
import { ident } from '../provider/engine';
import { CONTROL_SCHEMA, fenceNamesOf, liftTriggersStatement, PRIOR_SETTING_SQL } from '../provider/engine/internal';
import type { Cluster } from '../test/support';

export interface Leftovers {
  readonly slots: string[];
  readonly publications: string[];
  readonly origins: string[];
  /** Source tables whose replica identity the migration changed and did not set back. */
  readonly replicaIdentityFull: string[];
}

/**
 * Slots, publications and origins on both servers: the forward stream's (slot and publication on
 * the source, origin on the target) and a fallback window's reverse stream (slot and publication
 * on the target, origin on the old source).
 */
export async function findLeftovers(
  clusters: { source: Cluster; target: Cluster },
  sourceDatabases: readonly string[],
): Promise<Leftovers> {
  const slots: string[] = [];
  const publications: string[] = [];
  const origins: string[] = [];
  const replicaIdentityFull: string[] = [];
  for (const [side, cluster] of [
    ['source', clusters.source],
    ['target', clusters.target],
  ] as const) {
    const found = await cluster.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pgferry%'`);
    slots.push(...found.map((s) => `${side}:${s.slot_name}`));
    const made = await cluster.query<{ roname: string }>(`SELECT roname FROM pg_replication_origin WHERE roname LIKE 'pgferry%'`);
    origins.push(...made.map((o) => `${side}:${o.roname}`));
    for (const db of sourceDatabases) {
      const pubs = await cluster.query<{ pubname: string }>(`SELECT pubname FROM pg_publication`, [], db).catch(() => []);
      publications.push(...pubs.map((p) => `${side}:${db}.${p.pubname}`));
    }
  }
  for (const db of sourceDatabases) {
    // The fixture's only table without a key is audit; the template has the default identity.
    const full = await clusters.source.query<{ rel: string }>(
      `SELECT c.oid::regclass::text AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relreplident = 'f' AND n.nspname = 'public'`,
      [],
      db,
    );
    replicaIdentityFull.push(...full.map((r) => `${db}.${r.rel}`));
  }
  return { slots, publications, origins, replicaIdentityFull };
}

export function leftoverLines(l: Leftovers): string[] {
  return [
    ...l.slots.map((s) => `slot ${s}`),
    ...l.publications.map((p) => `publication ${p}`),
    ...l.origins.map((o) => `origin ${o}`),
    ...l.replicaIdentityFull.map((t) => `REPLICA IDENTITY FULL on source table ${t}`),
  ];
}

/** Drops slots and origins a trial left, on the server each was found on (publications go with the trial's databases). */
export async function removeLeftovers(clusters: { source: Cluster; target: Cluster }, l: Leftovers): Promise<void> {
  const where = (entry: string): [Cluster, string] => {
    const [side, ...rest] = entry.split(':');
    return [side === 'target' ? clusters.target : clusters.source, rest.join(':')];
  };
  for (const entry of l.slots) {
    const [cluster, slot] = where(entry);
    await cluster
      .query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [slot])
      .catch(() => undefined);
    await cluster.query(`SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => undefined);
  }
  for (const entry of l.origins) {
    const [cluster, origin] = where(entry);
    await cluster.query(`SELECT pg_replication_origin_drop($1)`, [origin]).catch(() => undefined);
  }
}

/** The writer fence of one source database after a trial: on the source, and in the control catalog. */
export interface FenceState {
  readonly database: string;
  /** The database's own default_transaction_read_only on the source (pg_db_role_setting), if any. */
  readonly onSource: string | undefined;
  /** pgferry.footprint's writerFence row for it: undefined, 'kept' (cut over) or 'open' (may still be lifted). */
  readonly record: 'kept' | 'open' | undefined;
  /** The database's final state in the migration's status, or `FellBack` where its window fell back. */
  readonly state: string | undefined;
  /** How many of the source database's tables carry the fence's trigger (footprint/fenceTriggers.ts). */
  readonly triggers: number;
  /** The fence's passes table is in the source database's control schema (footprint/fenceTriggers.ts). */
  readonly passes: boolean;
}

/** The tables carrying a fence's trigger: those whose trigger calls its function in the control schema. */
const FENCE_TRIGGERS_SQL = `SELECT count(*)::int AS n FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1 AND p.proname = $2`;

/** Whether the fence's passes table of `migration` is in `database`'s control schema on `cluster` (false: the database is gone). */
export async function passesTableIn(cluster: Cluster, migration: string, database: string): Promise<boolean> {
  const [row] = await cluster
    .query<{ there: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = $1 AND c.relname = $2) AS there`,
      [CONTROL_SCHEMA, fenceNamesOf(migration, database).passes],
      database,
    )
    .catch(() => [{ there: false }]);
  return row?.there ?? false;
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
    const [triggers] = await clusters.source
      .query<{ n: number }>(FENCE_TRIGGERS_SQL, [CONTROL_SCHEMA, fenceNamesOf(migration, database).function], database)
      .catch(() => [{ n: 0 }]); // the database gone: no table left to carry one
    const passes = await passesTableIn(clusters.source, migration, database);
    out.push({
      database,
      onSource: row?.prior ?? undefined,
      record: record === undefined ? undefined : record.kept ? 'kept' : 'open',
      state: states.get(database),
      triggers: triggers?.n ?? 0,
      passes,
    });
  }
  return out;
}

/**
 * What is wrong with the fences after a final state. A database cut over with the writers fenced
 * keeps its fence on purpose: recorded as kept and still `on` on the source. Any other database (canceled,
 * failed, one the cutover never reached, or one whose fallback window fell back while another's
 * was closed: state `FellBack`) has no fence left on the source and no record that is not kept; a
 * trial that never asked for a fence has none at all.
 */
export function fenceProblems(fences: readonly FenceState[], fenceWriters: boolean): string[] {
  const out: string[] = [];
  for (const f of fences) {
    const db = f.database;
    if (!fenceWriters) {
      if (f.onSource !== undefined || f.record !== undefined || f.triggers > 0 || f.passes)
        out.push(`${db}: a writer fence with no fence asked for`);
      continue;
    }
    if (f.record === 'open') out.push(`${db}: a writer fence recorded and not kept after ${f.state ?? 'the end'} (pgferry.footprint)`);
    if (f.state === 'Succeeded') {
      if (f.record !== 'kept') out.push(`${db}: cut over with the writers fenced, but the fence is not recorded as kept`);
      if (f.onSource !== 'on')
        out.push(`${db}: cut over with the writers fenced, but the source's default_transaction_read_only is ${f.onSource ?? 'not set'}`);
      // the trigger is what holds a BEGIN READ WRITE client: a fence kept without it lets one write
      if (f.triggers === 0) out.push(`${db}: cut over with the writers fenced, but no table carries the fence's trigger`);
      // the trigger's function reads it: without it, a fallback window's reverse stream could not write through
      if (!f.passes) out.push(`${db}: cut over with the writers fenced, but the fence's passes table is not on the source`);
    } else {
      if (f.onSource !== undefined)
        out.push(`${db}: writer fence left on the source after ${f.state ?? 'the end'} (default_transaction_read_only = ${f.onSource})`);
      if (f.triggers > 0) out.push(`${db}: the fence's trigger left on ${f.triggers} table(s) of the source after ${f.state ?? 'the end'}`);
      if (f.passes) out.push(`${db}: the fence's passes table left on the source after ${f.state ?? 'the end'}`);
    }
  }
  return out;
}

/**
 * Lifts whatever fence a trial left on its source databases (a cut-over one keeps it by design)
 * before they go or are kept to look at: the setting, and the triggers of `migration`'s fence.
 */
export async function liftFences(source: Cluster, migration: string, databases: readonly string[]): Promise<void> {
  for (const db of databases) {
    await source.query(`ALTER DATABASE ${ident(db)} RESET default_transaction_read_only`).catch(() => undefined);
    await source.query(liftTriggersStatement(migration, db), [], db).catch(() => undefined);
  }
}
