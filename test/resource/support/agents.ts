// What the protocol tests with runtime agents share: the migration's inputs for a pair of local
// servers on agents, and a real `pgferry agent` process of the CLI holding some source databases'
// credentials.
import type { ChildProcess } from 'node:child_process';
import type { Cluster } from '../../support';
import { runCli, stderrMatch } from '../../cli/helpers';

/** The two servers and their passwords, and the provider the program's resources use. */
export interface AgentServers {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly sourcePassword: string;
  readonly targetPassword: string;
  readonly provider: string;
}

/** A PgMigration's inputs on agents: offline unless `overrides` says otherwise. */
export function agentInputs(servers: AgentServers, name: string, database: string, overrides: Record<string, unknown> = {}) {
  const { source, target } = servers;
  return {
    migrationName: name,
    source: { host: source.host, port: source.port, user: source.user, password: servers.sourcePassword, sslMode: 'prefer' },
    target: { host: target.host, port: target.port, user: target.user, password: servers.targetPassword, sslMode: 'prefer' },
    databases: [database],
    mode: 'Offline',
    runtime: 'agents',
    tableJobs: 2,
    indexJobs: 2,
    __provider: servers.provider,
    ...overrides,
  };
}

/** What an agent may be started with besides its credentials. */
export interface AgentOptions {
  /** The port the agent (and so its runners) reaches the target on: a proxy in front of it (support/copyHold.ts). */
  readonly targetPort?: number;
  /** Variables its runners inherit: a hold point armed (support/holdPoints.ts). */
  readonly env?: Readonly<Record<string, string>>;
}

/** `pgferry agent` with the credentials of these source databases; resolves once it joined. */
export async function startAgent(
  servers: AgentServers,
  name: string,
  databases: readonly string[],
  options: AgentOptions = {},
): Promise<ChildProcess> {
  const { source, target } = servers;
  let child: ChildProcess | undefined;
  const urls = databases.map((d) => `postgres://${source.user}:${servers.sourcePassword}@${source.host}:${source.port}/${d}`).join(' ');
  const port = String(options.targetPort ?? target.port);
  void runCli(
    ['agent', '--name', name, '--target-host', target.host, '--target-port', port, '--target-user', target.user],
    { ...options.env, PGPASSWORD: servers.targetPassword, PGFERRY_SOURCE_URLS: urls },
    280_000,
    (c) => (child = c),
  );
  await stderrMatch(child!, new RegExp(`^agent ${name} joined`), `agent ${name} joining`);
  return child!;
}
