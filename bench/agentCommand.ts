// How the labs start `pgferry agent`: the one command line both the agents lab and the restart
// lab's agent way run, so that an option of the agent changes in one place.
import path from 'node:path';
import type { Cluster } from '../provider/localpg/cluster';

/** The CLI's arguments (after node itself) of an agent named `name` whose control catalog is on `target`. */
export function agentArgs(name: string, target: Cluster): string[] {
  const cli = path.join(__dirname, '..', 'provider', 'cli', 'main.js');
  return [cli, 'agent', '--name', name, '--target-host', target.host, '--target-port', String(target.port), '--target-user', target.user];
}
