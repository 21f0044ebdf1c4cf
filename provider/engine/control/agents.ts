// Agents registered on the target (`pgferry agent`) as a migration's `show` sees them, and why a
// migration with runtime agents does not run. An agent records the server keys it holds
// credentials for (host:port/database), never the credentials: the key is how a migration names
// the credentials it needs without the catalog holding a secret.
import type { QueryResultRow } from 'pg';
import { displayIdent, displayName, ident } from '../connect/quote';
import type { AgentInfo } from '../core/model';
import { CONTROL_SCHEMA } from '../core/names';

const S = ident(CONTROL_SCHEMA);

/** An agent without a heartbeat for this long counts as gone (as a runner does: RUNNER_STALE_SECONDS). */
const AGENT_STALE_SECONDS = 30;

/** The name of one database's credentials: no user, no secret, so it may sit in the catalog. */
export function serverKey(host: string, port: number, database: string): string {
  return `${host}:${port}/${database}`;
}

/**
 * The name of a pooler's admin credentials (docs/pooler.md), beside the source's server keys: its
 * address alone, which no source key can spell (those end in a database).
 */
export function poolerKey(host: string, port: number): string {
  return `pooler ${host}:${port}`;
}

/** The pooler key a migration's cutover needs, from its stored run spec (the public spec has no pooler); undefined without a pooler. */
export function poolerKeyOf(spec: Record<string, unknown>): string | undefined {
  const pooler = spec.pooler as { host?: unknown; port?: unknown } | undefined;
  if (typeof pooler?.host !== 'string') return undefined;
  return poolerKey(pooler.host, typeof pooler.port === 'number' ? pooler.port : 6432);
}

/** What an agent must hold to run a migration: the source's keys, and the pooler's when it names one. */
export interface AgentNeeds {
  readonly sources: readonly string[];
  readonly pooler?: string;
}

/** The server keys a migration's source needs, from its stored (secret-free) spec. */
export function sourceKeysOf(spec: Record<string, unknown>): string[] {
  const source = spec.source as { host?: unknown; port?: unknown } | undefined;
  const databases = Array.isArray(spec.databases) ? spec.databases.map(String) : [];
  if (typeof source?.host !== 'string') return [];
  const port = typeof source.port === 'number' ? source.port : 5432;
  return databases.map((d) => serverKey(source.host as string, port, d));
}

interface AgentRow {
  name: string;
  host: string;
  pid: number;
  version: string;
  heartbeat_at: Date;
  server_keys: string[];
  alive: boolean;
  items: { database: string; schema: string; name: string; part: number | null; parts: number }[];
}

type Query = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>;

/** Every registered agent, with what it holds of `migration` and whether it can run it. */
export async function agentsFor(query: Query, migration: string, needs: AgentNeeds): Promise<AgentInfo[]> {
  const rows = await query<AgentRow>(
    `SELECT a.name, a.host, a.pid, a.version, a.heartbeat_at, a.server_keys,
            a.heartbeat_at > now() - make_interval(secs => $2) AS alive,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('database', c.database, 'schema', c.schema_name, 'name', c.table_name,
                                                          'part', c.part, 'parts', c.parts)
                      ORDER BY c.database, c.rank), '[]')
               FROM ${S}.copy_item c
              WHERE c.migration = $1 AND c.holder = a.name AND c.state = 'pending') AS items
       FROM ${S}.agent a ORDER BY a.name`,
    [migration, AGENT_STALE_SECONDS],
  );
  return rows.map((r) => ({
    name: r.name,
    host: r.host,
    pid: r.pid,
    version: r.version,
    heartbeatAt: r.heartbeat_at.toISOString(),
    alive: r.alive,
    itemsHeld: r.items.length,
    items: r.items.map(
      (i) => `${displayIdent(i.database)}: ${displayName(i.schema, i.name)}${i.part === null ? '' : ` part ${i.part + 1}/${i.parts}`}`,
    ),
    hasCredentials: needs.sources.every((k) => r.server_keys.includes(k)),
    ...(needs.pooler === undefined ? {} : { hasPoolerCredentials: r.server_keys.includes(needs.pooler) }),
  }));
}

/**
 * The live agents that hold the credentials of every key in `needs`, by name: who would run a
 * migration of this source registered now. None on a target without a catalog, or with one made
 * before agents existed.
 */
export async function liveAgentsHolding(query: Query, needs: readonly string[]): Promise<string[]> {
  const [table] = await query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [`${S}.agent`]);
  if (!table?.found) return [];
  const rows = await query<{ name: string }>(
    `SELECT name FROM ${S}.agent
      WHERE heartbeat_at > now() - make_interval(secs => $1) AND server_keys @> $2::text[]
      ORDER BY name`,
    [AGENT_STALE_SECONDS, needs],
  );
  return rows.map((r) => r.name);
}

/** Why nothing runs a migration of runtime agents, or undefined when some live agent can. */
export function waitingReason(agents: readonly AgentInfo[], needs: AgentNeeds): string | undefined {
  const alive = agents.filter((a) => a.alive);
  if (alive.length === 0) {
    return `waiting for an agent: none has sent a heartbeat in the last ${AGENT_STALE_SECONDS} s; start \`pgferry agent --target-url ...\` where the source's credentials are`;
  }
  if (!alive.some((a) => a.hasCredentials)) {
    return `waiting for an agent with the source's credentials (${needs.sources.join(', ')}): ${alive.length} alive, none holds them`;
  }
  if (needs.pooler !== undefined && !alive.some((a) => a.hasCredentials && a.hasPoolerCredentials === true)) {
    const address = needs.pooler.replace(/^pooler /, '');
    return `waiting for an agent with the pooler's credentials (${address}): ${alive.length} alive, none holds them`;
  }
  return undefined;
}
