// What the agent tests share: `pgferry agent` processes on this machine against one pair of real
// servers, migrations of runtime agents registered through the CLI, and the table digests that
// compare the target with the source.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { CopyHold, until, type ServerPair } from '../support';
import { propertiesFile, runCli, stderrMatch, PGFERRY_JSON } from './helpers';

export interface Agent {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything the agent printed on stderr so far. */
  stderr(): string;
}

export interface ItemRow {
  item: string;
  state: string;
  epoch: number;
  rows: number;
  holder: string | null;
}

export class AgentLab {
  readonly agents: Agent[] = [];
  private readonly holds: CopyHold[] = [];

  constructor(readonly pair: ServerPair) {}

  sourceUrl(db: string): string {
    return `postgres://postgres:${this.pair.source.password}@${this.pair.source.host}:${this.pair.source.port}/${db}`;
  }

  targetEnv(): Record<string, string> {
    return { PGPASSWORD: this.pair.target.password };
  }

  /** The target's flags for a command run beside the agents: host, port and login. */
  targetFlags(): string[] {
    const target = this.pair.target;
    return ['--target-host', target.host, '--target-port', String(target.port), '--target-user', target.user];
  }

  /**
   * Starts `pgferry agent` against `targetPort` (the target, or a proxy in front of it), with `env`
   * beside its source URLs in its environment; resolves once it joined.
   */
  async startAgent(
    name: string,
    sourceUrls: string,
    targetPort = this.pair.target.port,
    extra: readonly string[] = [],
    env: Record<string, string> = {},
  ): Promise<Agent> {
    let child: ChildProcess | undefined;
    let stderr = '';
    const exited = runCli(
      [
        'agent',
        '--name',
        name,
        '--target-host',
        this.pair.target.host,
        '--target-port',
        String(targetPort),
        '--target-user',
        this.pair.target.user,
        ...extra,
      ],
      { ...this.targetEnv(), PGFERRY_SOURCE_URLS: sourceUrls, ...env },
      280_000,
      (c) => {
        child = c;
        c.stderr!.on('data', (d) => (stderr += d));
      },
    ).then((r) => r.code);
    await stderrMatch(child!, new RegExp(`^agent ${name} joined`), `agent ${name} joining`);
    const agent = { name, child: child!, exited, stderr: () => stderr };
    this.agents.push(agent);
    return agent;
  }

  async stopAgent(agent: Agent): Promise<void> {
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.stderr());
  }

  /** A proxy in front of the target holding the first COPY into a table matching `table`. */
  async hold(table: RegExp): Promise<CopyHold> {
    const hold = await CopyHold.start(this.pair.target, table);
    this.holds.push(hold);
    return hold;
  }

  /** Registers a migration of runtime agents (no runner starts on this machine). */
  async create(name: string, database: string, extra: Record<string, unknown> = {}): Promise<void> {
    const { source, target } = this.pair;
    const file = propertiesFile({
      source: { host: source.host, port: source.port, user: 'postgres', password: source.password },
      target: { host: target.host, port: target.port, user: 'postgres', password: target.password },
      databases: [database],
      runtime: 'agents',
      ...extra,
    });
    const created = await runCli(['create', '--name', name, '--properties', file, ...PGFERRY_JSON]);
    assert.equal(created.code, 0, created.stderr);
  }

  async state(name: string): Promise<{ state: string; message: string | null } | undefined> {
    const rows = await this.pair.target.query<{ state: string; message: string | null }>(
      `SELECT state, message FROM pgferry.migration WHERE name = $1`,
      [name],
    );
    return rows[0];
  }

  async waitSucceeded(name: string, ...watching: Agent[]): Promise<void> {
    const end = await until(
      `migration ${name} to finish`,
      async () => {
        const now = await this.state(name);
        return now && ['Succeeded', 'Failed', 'Canceled', 'ValidationFailed'].includes(now.state) ? now : undefined;
      },
      240_000,
      250,
    );
    assert.equal(end.state, 'Succeeded', `${end.message ?? ''}\n${watching.map((a) => `agent ${a.name}: ${a.stderr()}`).join('\n')}`);
  }

  /** The copy items of one table of a migration, in item order. */
  items(migration: string, table: string): Promise<ItemRow[]> {
    return this.pair.target.query<ItemRow>(
      `SELECT item, state, epoch::int, coalesce(rows, 0)::int AS rows, holder FROM pgferry.copy_item
        WHERE migration = $1 AND schema_name = 'public' AND table_name = $2 ORDER BY part, item`,
      [migration, table],
    );
  }

  /** Count, distinct keys and a digest of every row of a table, read on one side. */
  async tableDigest(database: string, table: string, on: 'source' | 'target'): Promise<{ n: number; ids: number; digest: string }> {
    const rows = await (on === 'source' ? this.pair.source : this.pair.target).query<{ n: number; ids: number; digest: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, md5(string_agg(id::text || ':' || pad, ',' ORDER BY id)) AS digest
         FROM public.${table}`,
      [],
      database,
    );
    return rows[0]!;
  }

  /** A source database with a wide table of `rows` rows and a small one. */
  async sourceDatabase(database: string, rows: number): Promise<void> {
    await this.pair.source.query(`CREATE DATABASE ${database}`);
    await this.pair.source.query(
      `CREATE TABLE public.wide (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.wide SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, ${rows}) g;
       CREATE TABLE public.small (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 500) g;`,
      [],
      database,
    );
  }

  /** Kills every agent still running, closes the proxies and stops the servers. */
  async close(): Promise<void> {
    for (const agent of this.agents) agent.child.kill('SIGKILL');
    for (const hold of this.holds) await hold.close();
    await this.pair.stop();
  }
}
