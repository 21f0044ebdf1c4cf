// `pgferry agent`: a long-running worker near the target. It registers itself in the target's
// control catalog with the server keys it holds credentials for, and heartbeats until stopped.
// Claiming and running work items is the next stage (issue 32); until then it is what `show`
// lists, and what tells a migration of runtime agents whether anyone could run it.
import os from 'node:os';
import { AgentRegistry } from '../control/agentRegistry';
import { PGFERRY_VERSION } from '../control/version';
import type { ServerSpec } from '../input/migrationSpec';

/** How often an agent heartbeats: well inside AGENT_STALE_SECONDS, so one late beat is not death. */
export const AGENT_HEARTBEAT_MS = 5_000;

export interface AgentOptions {
  readonly target: ServerSpec;
  readonly name: string;
  readonly concurrency: number;
  readonly serverKeys: readonly string[];
  readonly signal: AbortSignal;
  /** Called once the agent is registered (the CLI prints a line). */
  readonly onJoined?: () => void;
}

export async function runAgent(options: AgentOptions): Promise<void> {
  const registry = new AgentRegistry(options.target);
  try {
    await registry.join({
      name: options.name,
      host: os.hostname(),
      pid: process.pid,
      version: PGFERRY_VERSION,
      concurrency: options.concurrency,
      serverKeys: options.serverKeys,
    });
    options.onJoined?.();
    while (!options.signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, AGENT_HEARTBEAT_MS);
        options.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (!options.signal.aborted) await registry.heartbeat(options.name);
    }
    await registry.leave(options.name, process.pid);
  } finally {
    await registry.close();
  }
}
