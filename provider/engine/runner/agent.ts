// `pgferry agent`: a long-running worker near the target. It registers itself in the target's
// control catalog with the server keys it holds credentials for, heartbeats, and runs migrations
// of runtime agents: every second, and at once when a migration of runtime agents is registered
// or asked to resume (a notification on the request channel), it looks for one that no runner
// holds (its lease is free: never started, or its runner died) and whose source keys it holds
// (and, for a migration through a pooler, the pooler's key, with its configuration file writable
// here), offers its start on the job queue (runner/agentQueue.ts), and, for each job it claims,
// hands the migration to a runner with the agent's own credentials. It keeps one runner started
// ahead (runner/spareRunner.ts: its modules loaded, waiting for its input), so a claimed job does
// not wait for a new process. The runner is the same program `pgferry create` starts
// (runner/main.ts): it takes the lease and resumes from the catalog, so a dead agent's migration
// is taken over as a dead runner's is. Every runner, handed a job or not, dies with the agent (its
// lifeline pipe closes).
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type MigrationToRun, copyRounds, heartbeat, join, leaseHeld, leave, migrationsToRun } from '../control/agentRegistry';
import { CatalogConnection } from '../control/connection';
import { PGFERRY_VERSION } from '../control/version';
import { errorMessage } from '../core/errors';
import { runnerInput } from '../input/handOff';
import type { ServerSpec } from '../input/migrationSpec';
import { agentSpec, type SourceCredential } from '../input/runSpec';
import { sleepUnlessAborted } from '../util/sleep';
import { AgentQueue } from './agentQueue';
import { helpCopyRound } from './copyHelper';
import { runnerLogPath } from './spawn';
import { SpareRunner } from './spareRunner';
import { RequestWakeup } from '../control/requestWakeup';
import { displayIdent } from '../connect/quote';

/** How often an agent heartbeats: well inside AGENT_STALE_SECONDS, so one late beat is not death. */
const AGENT_HEARTBEAT_MS = 5_000;
/** How often an agent looks for migrations no runner holds. */
const LOOK_EVERY_MS = 1_000;
/** How long an agent leaves a copy round alone after helping it failed here. */
const HELP_BACKOFF_MS = 60_000;
/** How long a started runner may take to hold its lease before the agent gives it up. */
const RUNNER_START_MS = 60_000;
/**
 * How long after a runner took its lease (or ended) the agent starts the next spare: loading its
 * modules takes CPU the handed runner needs for its own start, up to its first applied change.
 */
const SPARE_AFTER_MS = 2_000;
/** How long the agent waits before starting another spare after one ended without a job (it failed to start). */
const SPARE_RETRY_MS = 10_000;

export interface AgentOptions {
  readonly target: ServerSpec;
  readonly name: string;
  readonly concurrency: number;
  /** Credentials per source server key (host:port/database), from the agent's environment. */
  readonly sources: ReadonlyMap<string, SourceCredential>;
  /** Admin credentials per pooler key (control/agents.ts poolerKey), from the agent's environment (PGFERRY_POOLER_ADMIN_URL). */
  readonly poolers?: ReadonlyMap<string, SourceCredential>;
  readonly signal: AbortSignal;
  /** Called once the agent is registered (the CLI prints a line). */
  readonly onJoined?: () => void;
  /** Progress lines (never a secret): a runner started, a runner ended, a queue error. */
  readonly log?: (line: string) => void;
}

class Agent {
  private readonly registry: CatalogConnection;
  private readonly queue: AgentQueue;
  /** The runners this agent handed a migration, by migration. */
  private readonly runners = new Map<string, SpareRunner>();
  /** The runner started ahead, waiting for the next job (runner/spareRunner.ts). */
  private spare: SpareRunner | undefined;
  private spareTimer: NodeJS.Timeout | undefined;
  /** Wakes the look when a migration of runtime agents is registered or asked to resume (best effort). */
  private wakeup: RequestWakeup | undefined;
  /** Copies of other runners' rounds this agent is helping with (runner/copyHelper.ts). */
  private readonly helpers = new Set<Promise<void>>();
  /** Rounds (migration/database) whose help failed here, and until when this agent leaves them to the others. */
  private readonly helpFailedUntil = new Map<string, number>();
  private readonly log: (line: string) => void;
  /** Migrations through a pooler whose configuration file this agent was found unable to write, said once each. */
  private readonly saidUnwritable = new Set<string>();

  constructor(private readonly options: AgentOptions) {
    this.registry = new CatalogConnection(options.target);
    this.log = options.log ?? (() => undefined);
    this.queue = new AgentQueue(options.target, (error) => this.log(`job queue: ${error.message}`));
  }

  async run(): Promise<void> {
    const { name, signal } = this.options;
    try {
      await join(this.registry, {
        name,
        host: os.hostname(),
        pid: process.pid,
        version: PGFERRY_VERSION,
        concurrency: this.options.concurrency,
        serverKeys: [...this.options.sources.keys(), ...(this.options.poolers?.keys() ?? [])],
      });
      await this.queue.start();
      this.wakeup = await RequestWakeup.listen(this.options.target);
      this.startSpare();
      this.options.onJoined?.();
      let lastBeat = Date.now();
      while (!signal.aborted) {
        await this.look().catch((error: unknown) => this.log(`looking for work: ${errorMessage(error)}`));
        await Promise.race([this.wakeup.sleep(LOOK_EVERY_MS), sleepUnlessAborted(LOOK_EVERY_MS, signal)]);
        if (!signal.aborted && Date.now() - lastBeat >= AGENT_HEARTBEAT_MS) {
          await heartbeat(this.registry, name).catch(() => undefined);
          lastBeat = Date.now();
        }
      }
      await this.queue.stop();
      await this.stopRunners();
      await Promise.all(this.helpers);
      await leave(this.registry, name, process.pid);
    } finally {
      await this.queue.stop();
      await this.stopRunners();
      await this.wakeup?.close();
      await this.registry.close();
    }
  }

  /**
   * Starts the spare runner now, unless one waits, the agent is full or stopping; `later` ms from
   * now instead when given (a pending start is replaced).
   */
  private startSpare(later?: number): void {
    clearTimeout(this.spareTimer);
    this.spareTimer = undefined;
    if (later !== undefined) {
      this.spareTimer = setTimeout(() => this.startSpare(), later);
      this.spareTimer.unref();
      return;
    }
    if (this.options.signal.aborted || this.spare?.waiting || this.runners.size >= this.options.concurrency) return;
    const spare = SpareRunner.start(this.options.name);
    this.spare = spare;
    this.log(`spare runner ${spare.pid ?? '?'} started, waiting for a job`);
    void spare.exited.then((code) => {
      if (this.spare !== spare) return; // handed a job: its exit is the migration's runner's
      this.spare = undefined;
      if (this.options.signal.aborted) return;
      this.log(`spare runner ${spare.pid ?? '?'} ended with code ${code} before a job; another in ${SPARE_RETRY_MS / 1000} s`);
      this.startSpare(SPARE_RETRY_MS);
    });
  }

  /** The spare runner, handed to a job (a new one when none waits); the next spare starts later. */
  private takeSpare(): SpareRunner {
    const spare = this.spare?.waiting ? this.spare : undefined;
    this.spare = undefined;
    return spare ?? SpareRunner.start(this.options.name);
  }

  private canRun(migration: MigrationToRun): boolean {
    if (migration.needs.length === 0 || !migration.needs.every((key) => this.options.sources.has(key))) return false;
    if (migration.poolerNeeds === undefined) return true;
    return this.options.poolers?.has(migration.poolerNeeds) === true && this.writesPoolerConfig(migration);
  }

  /**
   * A cutover through a pooler rewrites its configuration file and renames the new one over it: an
   * agent holding the pooler's credentials that cannot write both leaves the migration to another.
   */
  private writesPoolerConfig(migration: MigrationToRun): boolean {
    const configFile = (migration.runSpec.pooler as { configFile?: unknown } | undefined)?.configFile;
    if (typeof configFile !== 'string') return false;
    try {
      accessSync(configFile, constants.R_OK | constants.W_OK);
      accessSync(path.dirname(configFile), constants.W_OK);
      return true;
    } catch {
      if (!this.saidUnwritable.has(migration.name)) {
        this.saidUnwritable.add(migration.name);
        this.log(`migration ${migration.name}: holds the pooler's credentials but cannot write ${configFile}; leaving it to another agent`);
      }
      return false;
    }
  }

  /** Offers, and serves the queue of, each migration no runner holds that this agent could run. */
  private async look(): Promise<void> {
    const open = (await migrationsToRun(this.registry)).filter((m) => this.canRun(m) && !this.runners.has(m.name));
    for (const migration of open) {
      if (this.runners.size >= this.options.concurrency) {
        await this.queue.unserve(migration.name);
        continue;
      }
      await this.queue.serve(migration.name, () => this.startRunner(migration.name));
      await this.queue.offer(migration.name);
    }
    await this.help();
  }

  /**
   * Joins open copy rounds it holds the source's credentials for, one more helper per round per
   * look; not those of a runner it started itself, which copies with the migration's own table jobs.
   */
  private async help(): Promise<void> {
    if (this.helpers.size >= this.options.concurrency) return;
    const now = Date.now();
    const rounds = (await copyRounds(this.registry)).filter(
      (r) =>
        this.options.sources.has(r.needs) &&
        !this.runners.has(r.migration) &&
        (this.helpFailedUntil.get(`${r.migration}/${r.database}`) ?? 0) <= now,
    );
    for (const round of rounds) {
      if (this.helpers.size >= this.options.concurrency || this.options.signal.aborted) return;
      const spec = agentSpec(round.runSpec, this.options.sources.get(round.needs)!, this.options.target);
      const helper = helpCopyRound({
        round,
        source: spec.source,
        target: spec.target,
        catalog: this.registry,
        holder: this.options.name,
        lockTimeoutSeconds: spec.lockTimeoutSeconds,
        signal: this.options.signal,
        log: this.log,
      })
        .then((copied) => {
          if (copied > 0) this.log(`migration ${round.migration}: database ${displayIdent(round.database)}: helped with ${copied} item(s)`);
        })
        .catch((error: unknown) => {
          // what failed here may work for the coordinator or another agent: the item went back at once
          this.helpFailedUntil.set(`${round.migration}/${round.database}`, Date.now() + HELP_BACKOFF_MS);
          this.log(
            `migration ${round.migration}: helping its copy: ${errorMessage(error)}; leaving it to the others for ${HELP_BACKOFF_MS / 1000} s`,
          );
        })
        .finally(() => this.helpers.delete(helper));
      this.helpers.add(helper);
    }
  }

  /** A job claimed: hands the migration to the spare runner, unless it is taken, finished or this agent is full. */
  private async startRunner(name: string): Promise<void> {
    if (this.runners.has(name) || this.runners.size >= this.options.concurrency || this.options.signal.aborted) return;
    const migration = (await migrationsToRun(this.registry)).find((m) => m.name === name);
    if (!migration || !this.canRun(migration)) return; // a runner took it, or it finished
    const credential = this.options.sources.get(migration.needs[0]!)!;
    const pooler = migration.poolerNeeds === undefined ? undefined : this.options.poolers?.get(migration.poolerNeeds);
    const spec = agentSpec(migration.runSpec, credential, this.options.target, pooler);
    const runner = this.takeSpare();
    this.runners.set(name, runner);
    // the source's and the pooler's credentials travel on stdin, as the runner's spec; never in its environment
    runner.handOver(runnerInput(spec, migration.ranBefore ? 'resume' : 'create'), runnerLogPath(name, this.options.target));
    const pid = runner.pid ?? '?';
    this.log(`migration ${name}: runner ${pid} started (${migration.ranBefore ? 'resume' : 'create'})`);
    const exited = runner.exited.then((code) => {
      this.runners.delete(name);
      // a runner that could not start is one that ended: the next look offers the job again
      this.log(`migration ${name}: runner ${pid} ended with code ${code}`);
      this.startSpare(SPARE_AFTER_MS);
      return code;
    });
    // the job is done once the runner holds the lease (or is gone: then the next look offers it again),
    // or once the agent stops: its runners stop with it and another agent resumes the migration
    const deadline = Date.now() + RUNNER_START_MS;
    try {
      while (Date.now() < deadline && !this.options.signal.aborted) {
        const ended = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 200))]);
        if (ended !== 'running') return;
        if (await leaseHeld(this.registry, name)) return;
      }
    } finally {
      this.startSpare(SPARE_AFTER_MS);
    }
    if (this.options.signal.aborted) return; // stopRunners closes its lifeline
    this.log(`migration ${name}: runner ${pid} did not take the lease within ${RUNNER_START_MS / 1000} s; stopping it`);
    runner.child.kill('SIGKILL');
  }

  /**
   * A clean stop: each runner's lifeline closes, and it stops at once as on a lost lease, without
   * canceling its migration; another agent (or this one restarted) resumes it. The spare, which
   * never got a job, stops the same way.
   */
  private async stopRunners(): Promise<void> {
    clearTimeout(this.spareTimer);
    this.spareTimer = undefined;
    const spare = this.spare;
    this.spare = undefined;
    await Promise.all([...this.runners.values(), ...(spare ? [spare] : [])].map((runner) => runner.stop()));
  }
}

export async function runAgent(options: AgentOptions): Promise<void> {
  await new Agent(options).run();
}
