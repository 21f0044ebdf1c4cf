// An agent's own row in pgferry.agent: written when it starts, its heartbeat while it lives, and
// removed when it stops cleanly. What `show` reads of it is in control/agents.ts. And what an agent
// looks for: migrations of runtime agents that no runner holds.
import { ident } from '../connect/quote';
import { isFinalState, type MigrationState } from '../core/model';
import { CONTROL_SCHEMA, leaseKey } from '../core/names';
import { poolerKeyOf, sourceKeysOf } from './agents';
import { CLAIM_FREE } from './copyRounds';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

export interface AgentRecord {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly concurrency: number;
  /** host:port/database of each server whose credentials the agent holds; never the credentials. */
  readonly serverKeys: readonly string[];
}

/** A migration of runtime agents that no runner holds now: what an agent may start. */
export interface MigrationToRun {
  readonly name: string;
  /** The parsed spec without passwords (control/schemaVersions.ts, version 11). */
  readonly runSpec: Record<string, unknown>;
  /** The source server keys (host:port/database) it needs credentials for. */
  readonly needs: readonly string[];
  /** With a pooler: its key (control/agents.ts poolerKey), whose admin credentials its cutover needs. */
  readonly poolerNeeds?: string;
  /** A runner ran it before: the next one resumes. */
  readonly ranBefore: boolean;
}

/** An open copy round an agent may help, and the source key (host:port/database) it needs credentials for. */
export interface RoundToHelp {
  readonly migration: string;
  readonly database: string;
  readonly snapshot: string;
  readonly runSpec: Record<string, unknown>;
  readonly needs: string;
}

/** Is a migration's lease held? pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
const LEASE_HELD = `SELECT EXISTS (
  SELECT 1 FROM pg_locks l
   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND l.classid::text::bigint = (($1::bigint >> 32) & 4294967295)
     AND l.objid::text::bigint = ($1::bigint & 4294967295)) AS held`;

/** Takes the name (a restarted agent of the same name replaces its old row). */
export async function join(catalog: CatalogConnection, agent: AgentRecord): Promise<void> {
  await catalog.install();
  await catalog.query(
    `INSERT INTO ${S}.agent (name, host, pid, version, concurrency, server_keys)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
       concurrency = EXCLUDED.concurrency, server_keys = EXCLUDED.server_keys, started_at = now(), heartbeat_at = now()`,
    [agent.name, agent.host, agent.pid, agent.version, agent.concurrency, [...agent.serverKeys]],
  );
}

export async function heartbeat(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.agent SET heartbeat_at = now() WHERE name = $1`, [name]);
}

/** A clean stop: the agent is no longer listed (a killed one stays, its heartbeat ageing). */
export async function leave(catalog: CatalogConnection, name: string, pid: number): Promise<void> {
  await catalog.query(`DELETE FROM ${S}.agent WHERE name = $1 AND pid = $2`, [name, pid]);
}
/**
 * A Succeeded migration that still needs a runner: a fallback window whose reverse stream applies
 * (or is stopped and tried again), a fall-back under way, or one fallen back with --resume-forward
 * and not switched back to streaming yet (docs/fallback.md). The runner that cut over may be gone
 * (its agent stopped or killed): the window must not wait for a `pgferry resume` by hand, so an
 * agent keeps it, and the window's end closes it.
 */
const KEEPS_A_WINDOW = `m.state = 'Succeeded' AND EXISTS (
  SELECT 1 FROM ${S}.fallback_window w
   WHERE w.migration = m.name
     AND (w.state IN ('Open', 'Stopped', 'FallingBack')
          OR (w.state = 'FellBack' AND w.forward_again AND w.forward_lsn IS NOT NULL AND w.forward_reopened_at IS NULL)))`;

/** Migrations of runtime agents, not finished (or keeping a fallback window), whose lease no session holds. */
export async function migrationsToRun(catalog: CatalogConnection): Promise<MigrationToRun[]> {
  const rows = await catalog.query<{
    name: string;
    state: MigrationState;
    run_spec: Record<string, unknown>;
    spec: Record<string, unknown>;
    ran: boolean;
    keeps_window: boolean;
  }>(
    `SELECT m.name, m.state, m.run_spec, m.spec, m.runner IS NOT NULL AS ran, ${KEEPS_A_WINDOW} AS keeps_window
       FROM ${S}.migration m
      WHERE m.runtime = 'agents' AND m.run_spec IS NOT NULL ORDER BY m.created_at`,
  );
  const free: MigrationToRun[] = [];
  for (const row of rows) {
    if ((isFinalState(row.state) && !row.keeps_window) || (await leaseHeld(catalog, row.name))) continue;
    const pooler = poolerKeyOf(row.run_spec);
    free.push({
      name: row.name,
      runSpec: row.run_spec,
      needs: sourceKeysOf(row.spec),
      ranBefore: row.ran,
      ...(pooler ? { poolerNeeds: pooler } : {}),
    });
  }
  return free;
}

/**
 * Open copy rounds of running migrations of runtime agents with an item nobody live holds: what
 * an agent may help (runner/copyHelper.ts). A round whose coordinator lost its lease is over.
 */
export async function copyRounds(catalog: CatalogConnection): Promise<RoundToHelp[]> {
  const rows = await catalog.query<{
    migration: string;
    database: string;
    snapshot: string;
    spec: Record<string, unknown>;
    run_spec: Record<string, unknown>;
  }>(
    `SELECT d.migration, d.database, d.copy_round->>'snapshot' AS snapshot, m.spec, m.run_spec
       FROM ${S}.migration_database d JOIN ${S}.migration m ON m.name = d.migration
      WHERE m.runtime = 'agents' AND m.run_spec IS NOT NULL AND d.copy_round IS NOT NULL
        AND EXISTS (SELECT 1 FROM ${S}.copy_item c
                     WHERE c.migration = d.migration AND c.database = d.database AND c.state = 'pending' AND ${CLAIM_FREE})
      ORDER BY m.created_at, d.database`,
  );
  const open: RoundToHelp[] = [];
  for (const row of rows) {
    if (!(await leaseHeld(catalog, row.migration))) continue;
    const key = sourceKeysOf({ ...row.spec, databases: [row.database] })[0];
    if (key) open.push({ migration: row.migration, database: row.database, snapshot: row.snapshot, runSpec: row.run_spec, needs: key });
  }
  return open;
}

/** Does some session (a runner, anywhere) hold this migration's lease right now? */
export async function leaseHeld(catalog: CatalogConnection, migration: string): Promise<boolean> {
  const rows = await catalog.query<{ held: boolean }>(LEASE_HELD, [leaseKey(migration)]);
  return rows[0]?.held === true;
}
