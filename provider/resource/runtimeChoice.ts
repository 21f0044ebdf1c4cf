// Where a new migration runs when its program does not say (runtime unset): on `pgferry agent`
// workers when the target has a live one holding the source's credentials (and the pooler's), so the migration
// outlives `pulumi up` as azure-native's runs on in Azure; else in a runner on the machine running
// Pulumi, as before. Chosen at the check of a new resource, where the preview shows it, and kept in
// state after, so a later run elsewhere never moves a migration between the two. With agents,
// `pulumi up` returns once one runs the migration, unless the create asks for the cutover too
// (it then waits for the stream): the preview says which.
import * as engine from '../engine';
import type { CheckFailure } from './checkFailure';
import { toMigrationSpec } from './inputSchema';
import type { LineWriter } from './progress';
import { redactingWriter } from './redact';
import { containsUnknown } from './unknown';

type Props = Record<string, unknown>;

/** How long check waits for the target to say which agents it has before the local runner is chosen. */
const AGENTS_LOOKUP_MS = 5_000;

const given = (value: unknown): boolean => value !== undefined && value !== null;

/** The live agents that could run this migration, or none when the target cannot say in time. */
async function agentsFor(spec: engine.MigrationSpec): Promise<string[]> {
  const timeout = new Promise<string[]>((resolve) => setTimeout(() => resolve([]), AGENTS_LOOKUP_MS).unref());
  const lookup = engine.agentsAbleToRun(spec.target, spec.source, spec.databases, AGENTS_LOOKUP_MS, spec.pooler).catch(() => []);
  return Promise.race([lookup, timeout]);
}

/**
 * The inputs with `runtime` chosen when the program gives none: the state's for a resource that
 * exists; for a new one, agents when a live agent on the target holds the source's credentials
 * (and, for a migration through a pooler, the pooler's), said in one line, as is the local runner
 * otherwise. A migration agents cannot run (databases named later) keeps the local runner without
 * asking.
 */
export async function withRuntimeChosen(
  olds: Props,
  news: Props,
  inputs: Props,
  failures: readonly CheckFailure[],
  write: LineWriter,
): Promise<Props> {
  if (given(news.runtime)) {
    if (inputs.runtime === 'agents' && !given(olds.migrationName) && cutoverInCreate(inputs)) {
      write(`${String(inputs.migrationName)}: runs on pgferry agents (runtime: agents); ${agentsWait(inputs)}`);
    }
    return inputs;
  }
  if (typeof olds.runtime === 'string') return { ...inputs, runtime: olds.runtime };
  if (given(olds.migrationName) || failures.length > 0 || containsUnknown(inputs)) return inputs;
  let spec: engine.MigrationSpec;
  try {
    spec = toMigrationSpec({ ...inputs, runtime: 'agents' });
  } catch {
    return inputs;
  }
  const say = redactingWriter(spec, write);
  const agents = await agentsFor(spec);
  if (agents.length === 0) {
    say(
      `${spec.migrationName}: runs in a runner on this machine (no live pgferry agent on the target holds the source's credentials); pulumi up waits for it`,
    );
    return { ...inputs, runtime: 'local' };
  }
  say(`${spec.migrationName}: runs on pgferry agents near the target (${agents.join(', ')} can run it); ${agentsWait(inputs)}`);
  return { ...inputs, runtime: 'agents' };
}

/** An online create that asks for its cutover too: it has to wait for the stream, whoever runs it. */
function cutoverInCreate(inputs: Props): boolean {
  return inputs.mode === 'Online' && inputs.cutover === true;
}

/** What `pulumi up` waits for when agents run the migration, said at preview. */
function agentsWait(inputs: Props): string {
  return cutoverInCreate(inputs)
    ? 'pulumi up waits until it streams and then cuts it over, because this create sets cutover (triggerCutover) true (without it, pulumi up returns once an agent runs it)'
    : 'pulumi up returns once one runs it';
}
