// The agents of a trial of runtime agents: two `pgferry agent` processes started as a person
// would (the CLI, the source's credentials in their environment, both servers through the fault
// proxies), marked like every process of the trial, so the runner an agent starts is found too.
import type { ChildProcess } from 'node:child_process';
import type { Cluster } from '../test/support';
import { runCli, stderrMatch } from '../test/cli/helpers';
import { TRIAL_MARKER, trialProcesses } from './processes';

/** How many agents a trial of runtime agents runs: one to kill, one to take over. */
const AGENTS = 2;

export interface TrialAgentsInput {
  readonly name: string;
  readonly databases: readonly string[];
  readonly sourcePort: number;
  readonly targetPort: number;
}

export class TrialAgents {
  private readonly children: ChildProcess[] = [];
  private readonly exits: Promise<unknown>[] = [];

  constructor(
    private readonly input: TrialAgentsInput,
    private readonly clusters: { source: Cluster; target: Cluster },
  ) {}

  /** Starts the agents; resolves once each has joined. */
  async start(): Promise<void> {
    const { source, target } = this.clusters;
    const urls = this.input.databases.map((d) => `postgres://${source.user}:${source.password}@127.0.0.1:${this.input.sourcePort}/${d}`);
    for (let i = 1; i <= AGENTS; i++) {
      const name = `${this.input.name}-agent-${i}`;
      let child: ChildProcess | undefined;
      const exited = runCli(
        [
          'agent',
          '--name',
          name,
          '--target-host',
          '127.0.0.1',
          '--target-port',
          String(this.input.targetPort),
          '--target-user',
          target.user,
        ],
        { [TRIAL_MARKER]: this.input.name, PGPASSWORD: target.password, PGFERRY_SOURCE_URLS: urls.join(' ') },
        3_600_000,
        (c) => (child = c),
      );
      this.children.push(child!);
      this.exits.push(exited);
      await stderrMatch(child!, new RegExp(`^agent ${name} joined`), `agent ${name} joining`, 120_000);
    }
  }

  /** The agent whose child `runnerPid` is (the runners agents start are their children). */
  async agentOf(runnerPid: number): Promise<number | undefined> {
    const processes = await trialProcesses(this.input.name);
    const runner = processes.find((p) => p.pid === runnerPid);
    return processes.find((p) => p.pid === runner?.ppid && / agent /.test(` ${p.command} `))?.pid;
  }

  /** Stops the agents that are still alive (a clean stop: their runners stop with them). */
  async stop(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([Promise.all(this.exits), new Promise((r) => setTimeout(r, 30_000))]);
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
