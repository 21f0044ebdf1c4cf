// Server settings shared by every benchmark run, and how the apply labs name a local cluster.
import type { Cluster } from '../provider/localpg/cluster';

/** The apply labs' stream: their database, slot, publication and the names the Applier records under. */
export const LAB_STREAM = {
  database: 'lab',
  slot: 'drain',
  publication: 'labpub',
  origin: 'pgferry_lab',
  migration: 'lab',
  cutoverPrefix: 'pgferry-lab',
} as const;

/** A lab cluster as the engine's server spec (its superuser, no TLS). */
export const labServer = (c: Cluster) => ({
  host: c.host,
  port: c.port,
  user: c.user,
  password: c.password,
  sslMode: 'disable' as const,
  maintenanceDatabase: 'postgres',
});

/** Which settings a run asks for: PostgreSQL's defaults unless a labelled extra is chosen. */
export interface SettingsChoice {
  /** Labelled extra: fsync, synchronous_commit, full_page_writes and wal_init_zero off. */
  readonly fsyncOff: boolean;
  /** Labelled extra: the larger memory and WAL settings, autovacuum off (TUNED). */
  readonly tuned: boolean;
}

/**
 * PostgreSQL 15's own defaults, written out so that the report's settings line states them and so
 * that they override startCluster's test settings, which trade durability and checkpoints for speed.
 */
const POSTGRES_DEFAULTS: Readonly<Record<string, string>> = {
  shared_buffers: "'128MB'",
  max_wal_size: "'1GB'",
  checkpoint_timeout: "'5min'",
  maintenance_work_mem: "'64MB'",
  wal_buffers: '-1',
  autovacuum: 'on',
  max_connections: '100',
};

/**
 * What the bench needs to run at all, beyond the defaults. The online consumers decode from logical
 * replication slots, which need wal_level=logical (the offline copies need none). The online
 * part holds at once native's slot with its table-sync slots, pgferry's slot, the decode-only slot
 * and the fallback's reverse stream: more slots and senders than the default ten leave it room.
 * They reserve shared memory for each, and change no speed.
 */
const BENCH_NEEDS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '16',
  max_wal_senders: '16',
};

/**
 * The labelled --tuned extra, the settings every run used before 2026-11-29: a larger buffer cache
 * and WAL allowance so that no checkpoint lands in a run, and autovacuum off so that no background
 * vacuum lands in one tool's run and not another's (the online part turns it back on).
 */
const TUNED: Readonly<Record<string, string>> = {
  shared_buffers: "'512MB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'30min'",
  maintenance_work_mem: "'256MB'",
  wal_buffers: "'16MB'",
  autovacuum: 'off',
};

/**
 * The same settings on both clusters and for every tool: PostgreSQL's defaults with durability on,
 * as users run it (overriding startCluster's test settings), plus only what the bench needs to run.
 * With autovacuum on a background vacuum can land in any tool's run; every offline tool's timed run
 * ends in the same state, that of a VACUUM ANALYZE (bench/tools.ts), and the report counts the
 * automatic runs that landed in each (bench/endState.ts).
 */
export function benchSettings(choice: SettingsChoice = { fsyncOff: false, tuned: false }): Readonly<Record<string, string>> {
  const durability = choice.fsyncOff ? 'off' : 'on';
  return {
    ...POSTGRES_DEFAULTS,
    ...(choice.tuned ? TUNED : {}),
    ...BENCH_NEEDS,
    fsync: durability,
    synchronous_commit: durability,
    full_page_writes: durability,
    wal_init_zero: durability,
  };
}

/** How the report names the settings a run used: the defaults, or which labelled extra. */
export function settingsLabel(choice: SettingsChoice): string {
  const extras = [
    choice.tuned ? 'LABELLED EXTRA --tuned (larger memory and WAL, autovacuum off)' : '',
    choice.fsyncOff ? 'LABELLED EXTRA --fsync-off (durability off)' : '',
  ].filter(Boolean);
  const base =
    'PostgreSQL 15 defaults with durability on, but wal_level=logical and 16 replication slots and WAL senders (what the bench needs to run)';
  return extras.length === 0 ? base : `${base}; ${extras.join('; ')}`;
}
