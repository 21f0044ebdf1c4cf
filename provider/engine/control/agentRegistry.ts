// An agent's own row in pgferry.agent: written when it starts, its heartbeat while it lives, and
// removed when it stops cleanly. What `show` reads of it is in control/agents.ts.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { CatalogConnection } from './connection';

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

export class AgentRegistry extends CatalogConnection {
  /** Takes the name (a restarted agent of the same name replaces its old row). */
  async join(agent: AgentRecord): Promise<void> {
    await this.install();
    await this.query(
      `INSERT INTO ${S}.agent (name, host, pid, version, concurrency, server_keys)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
         concurrency = EXCLUDED.concurrency, server_keys = EXCLUDED.server_keys, started_at = now(), heartbeat_at = now()`,
      [agent.name, agent.host, agent.pid, agent.version, agent.concurrency, [...agent.serverKeys]],
    );
  }

  async heartbeat(name: string): Promise<void> {
    await this.query(`UPDATE ${S}.agent SET heartbeat_at = now() WHERE name = $1`, [name]);
  }

  /** A clean stop: the agent is no longer listed (a killed one stays, its heartbeat ageing). */
  async leave(name: string, pid: number): Promise<void> {
    await this.query(`DELETE FROM ${S}.agent WHERE name = $1 AND pid = $2`, [name, pid]);
  }
}
