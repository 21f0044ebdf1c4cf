// The user of a trial: runs the pgferry command as a person would (create, resume, cutover),
// through the fault proxies, with the trial's marker in the environment so the runner it starts
// can be found. Each run is bounded in time (a command stuck behind a black hole is a finding).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../test/support';
import { runCli, type CliResult } from '../test/cli/helpers';
import { TRIAL_MARKER } from './processes';

export interface UserAction {
  readonly at: number;
  readonly command: string;
  readonly code: number | null;
  /** First line of stderr, when the command failed. */
  readonly error?: string;
}

export interface TrialSpecInput {
  readonly name: string;
  readonly databases: readonly string[];
  readonly sourcePort: number;
  readonly targetPort: number;
  /** Bytes above which a table is split into ranges. */
  readonly splitBytes: number;
  /** agents: `create` only registers it, and the trial's agents run it (faults/agents.ts). */
  readonly runtime?: 'agents';
  /** The cutover fences the source's writers (fenceWriters), with a lag budget no ordinary lag exceeds. */
  readonly fenceWriters?: boolean;
  /** Target sessions applying each stream (applySessions: parallel apply). */
  readonly applySessions?: number;
  /** The cutover asks for a fallback window (`--fallback-window`): the trial goes on in it (fallbackTrial.ts). */
  readonly fallbackWindow?: string;
  /** Tables the filters leave out (a bystander's table on the source, bystander.ts). */
  readonly excludeTables?: readonly string[];
  /** The PgBouncer in front of the source the cutover goes through (`pooler`, poolerTrial.ts). */
  readonly pooler?: Record<string, unknown>;
  /** PGFERRY_FAILPOINTS for the runner `create` starts (a resumed one runs without). */
  readonly failpoints?: string;
}

/**
 * The lag budget of a fenced trial: generous, so the gate rolls back only for a stream that cannot
 * catch up at all, never for the backlog a fault or the 2-CPU machine leaves.
 */
const FENCED_LAG_BUDGET_SECONDS = 600;

export class TrialUser {
  readonly actions: UserAction[] = [];
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'pgferry-faults-'));
  private readonly file: string;

  constructor(
    private readonly input: TrialSpecInput,
    private readonly clusters: { source: Cluster; target: Cluster },
  ) {
    this.file = path.join(this.dir, 'body.json');
    const server = (port: number, c: Cluster) => ({ host: '127.0.0.1', port, user: c.user, password: c.password, sslMode: 'prefer' });
    const body = {
      source: server(input.sourcePort, clusters.source),
      target: server(input.targetPort, clusters.target),
      databases: [...input.databases],
      tableJobs: 2,
      indexJobs: 2,
      splitTablesLargerThan: input.splitBytes,
      splitMaxParts: 4,
      allowReplicaIdentityFull: true,
      ...(input.applySessions ? { applySessions: input.applySessions } : {}),
      ...(input.excludeTables ? { excludeTables: [...input.excludeTables] } : {}),
      ...(input.fenceWriters ? { fenceWriters: true, cutoverLagBudgetSeconds: FENCED_LAG_BUDGET_SECONDS } : {}),
      ...(input.pooler ? { pooler: input.pooler, cutoverLagBudgetSeconds: FENCED_LAG_BUDGET_SECONDS } : {}),
    };
    writeFileSync(this.file, JSON.stringify(body), { mode: 0o600 });
  }

  private targetFlags(): string[] {
    return ['--target-host', '127.0.0.1', '--target-port', String(this.input.targetPort), '--target-user', this.clusters.target.user];
  }

  private async run(args: string[], timeoutMs: number, env: Record<string, string | undefined> = {}): Promise<CliResult> {
    const result = await runCli(args, { [TRIAL_MARKER]: this.input.name, PGPASSWORD: this.clusters.target.password, ...env }, timeoutMs);
    const error =
      result.code === 0 ? undefined : (result.errLines[0] ?? (result.code === null ? `killed after ${timeoutMs / 1000} s` : ''));
    this.actions.push({ at: Date.now(), command: args[0]!, code: result.code, ...(error === undefined ? {} : { error }) });
    return result;
  }

  create(): Promise<CliResult> {
    const runtime = this.input.runtime ? ['--runtime', this.input.runtime] : [];
    const failpoints = this.input.failpoints ? { PGFERRY_FAILPOINTS: this.input.failpoints } : {};
    return this.run(['create', '--name', this.input.name, '--properties', this.file, '--mode', 'online', ...runtime], 180_000, failpoints);
  }

  resume(): Promise<CliResult> {
    return this.run(['resume', '--name', this.input.name, '--properties', this.file], 120_000);
  }

  cutover(): Promise<CliResult> {
    const window = this.input.fallbackWindow ? ['--fallback-window', this.input.fallbackWindow] : [];
    return this.run(['update', '--name', this.input.name, '--cutover', ...window, ...this.targetFlags()], 120_000);
  }

  /** `update --fall-back`: the old source the primary again (the trial polls `show` for the end, as --wait would). */
  fallBack(): Promise<CliResult> {
    return this.run(['update', '--name', this.input.name, '--fall-back', ...this.targetFlags()], 120_000);
  }

  /** `update --close-fallback`: the user stays on the new server, the old source left behind. */
  closeFallback(): Promise<CliResult> {
    return this.run(['update', '--name', this.input.name, '--close-fallback', ...this.targetFlags()], 120_000);
  }

  /** The user gives up on the migration (`update --cancel`): what they do when nothing they can run fixes a stop. */
  cancel(): Promise<CliResult> {
    // a stopped runner's cancel resumes the pooler from the ledger, its password from the environment
    const password = this.input.pooler?.password;
    const env = typeof password === 'string' ? { PGFERRY_POOLER_PASSWORD: password } : {};
    return this.run(['update', '--name', this.input.name, '--cancel', ...this.targetFlags()], 120_000, env);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * How often the user looks at `show` while a trial drives a migration: often enough that a state
 * is seen as soon as it is reached, since every trial waits on several of them.
 */
export const POLL_MS = 250;
/** No progress for this long (outside a fault) is stuck. */
export const STUCK_MS = 180_000;
/** How long a phase waits for its trigger (streaming, or the application on the new server) before giving up on it. */
export const PHASE_WAIT_MS = 60_000;
/** How long `show` must call the runner dead, look after look, before the user resumes it. */
const DEAD_FOR_MS = 1500;
const RESUME_RETRY_MS = 5000;
const MAX_RESUMES = 8;

/**
 * What the user does about a dead runner, as a person reading `show` would: resumes it once every
 * look for DEAD_FOR_MS called it dead, at most every RESUME_RETRY_MS and MAX_RESUMES times in a trial.
 */
export class RunnerWatch {
  private deadSince: number | undefined;
  private lastResume = 0;

  constructor(
    private readonly user: Pick<TrialUser, 'resume'>,
    private readonly result: { resumes: number },
  ) {}

  /** One look: 'resumed', a failure to report, or undefined (alive, or not dead long enough). */
  async look(alive: boolean | undefined, now: number): Promise<'resumed' | { failure: string } | undefined> {
    this.deadSince = alive ? undefined : (this.deadSince ?? now);
    if (this.deadSince === undefined || now - this.deadSince < DEAD_FOR_MS || now - this.lastResume <= RESUME_RETRY_MS) return undefined;
    if (this.result.resumes >= MAX_RESUMES) return { failure: `the runner stayed dead through ${MAX_RESUMES} resumes` };
    this.result.resumes += 1;
    await this.user.resume();
    this.lastResume = Date.now();
    return 'resumed';
  }
}
