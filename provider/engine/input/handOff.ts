// The spec as a runner receives it on standard input. Its spawner has parsed it already, so the
// runner takes the parsed form as it is instead of loading zod and parsing it again: loading zod
// and building the schema was the largest part of a runner's start (issue 31: a restart's time to
// its first applied change). Input that does not say it is parsed, or lacks what parsing always
// fills in, is parsed in full.
import { freezeSpec } from './freezeSpec';
import type { MigrationSpec } from './migrationSpec';

/** A runner's exit codes: the spawner tells a runner that found the lease held from one that failed. */
export const RUNNER_EXIT = { ok: 0, failed: 1, badInput: 2, leaseHeld: 3, leaseLost: 4, agentGone: 5, stopped: 6 } as const;

/** What a runner that lost its lease tells the successor it starts (runner/successor.ts). */
export interface Succession {
  /** The runner that lost its lease: it exits once this one is started. */
  readonly predecessorPid: number;
  /** Why its lease was lost, as its lease connection said (the server's words, never a secret). */
  readonly cause: string;
  /** When each runner of this line of successors lost its lease (ms since the epoch), oldest first. */
  readonly losses: readonly number[];
}

export interface RunnerInput {
  readonly spec: unknown;
  readonly reason: 'create' | 'resume';
  /** Set by the spawner: `spec` is parseMigrationSpec's output. */
  readonly parsed?: boolean;
  /** Set when the spawner is a runner that lost its lease: this runner is its successor. */
  readonly succession?: Succession;
}

/** What a spawner writes to the runner's standard input. */
export function runnerInput(spec: MigrationSpec, reason: RunnerInput['reason'], succession?: Succession): string {
  const input: RunnerInput = { spec, reason, parsed: true, ...(succession ? { succession } : {}) };
  return JSON.stringify(input);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields parsing always sets (defaults included): a spec without them was never parsed. */
function looksParsed(spec: unknown): spec is MigrationSpec {
  if (!isObject(spec) || !isObject(spec.source) || !isObject(spec.target)) return false;
  const server = (s: Record<string, unknown>) =>
    typeof s.host === 'string' && typeof s.port === 'number' && typeof s.user === 'string' && typeof s.sslMode === 'string';
  return (
    typeof spec.migrationName === 'string' &&
    server(spec.source) &&
    server(spec.target) &&
    typeof spec.target.maintenanceDatabase === 'string' &&
    Array.isArray(spec.databases) &&
    spec.databases.every((d) => typeof d === 'string') &&
    (spec.mode === 'Online' || spec.mode === 'Offline') &&
    typeof spec.option === 'string' &&
    typeof spec.tableJobs === 'number' &&
    spec.verify !== undefined
  );
}

/** The runner's spec: taken as parsed when its spawner says so, else parsed (loading zod). */
export async function runnerSpec(input: RunnerInput): Promise<MigrationSpec> {
  if (input.parsed === true && looksParsed(input.spec)) return freezeSpec(input.spec);
  const { parseMigrationSpec } = await import('./parse');
  return parseMigrationSpec(input.spec);
}
