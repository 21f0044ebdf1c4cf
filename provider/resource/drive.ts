// Driving a migration through the engine's public API: start it in a detached runner, continue or
// resume one that exists, cut over, and wait — printing progress lines.
import * as engine from '../engine';
import type { MigrationSpec, MigrationStatus } from '../engine';
import { statusPrinter, stdoutWriter, type LineWriter } from './progress';
import { redactingWriter } from './redact';

export interface OperationOptions {
  /** Where progress lines go; the provider host forwards stdout to `pulumi up`. */
  readonly write?: LineWriter;
  /** Polling interval for runner-driven migrations. */
  readonly intervalMs?: number;
}

export function isFinal(status: MigrationStatus): boolean {
  return engine.isFinalState(status.state);
}

export function isWaitingForCutover(status: MigrationStatus): boolean {
  return !isFinal(status) && status.subState === 'WaitingForCutoverTrigger';
}

/** runtime agents: `pgferry agent` processes near the target run it; this process never starts a runner. */
function byAgents(spec: MigrationSpec): boolean {
  return spec.runtime === 'agents';
}

/**
 * Polls until the wait for `goal` is over (engine.isSettled), or the migration's runner is gone.
 * With agents a runner gone is taken over by another agent: the wait ends only when no live agent
 * can run it (status.waiting says why).
 */
export async function waitUntilSettled(
  spec: MigrationSpec,
  timeoutMs: number | undefined,
  options: OperationOptions,
  goal: engine.WaitGoal = 'run',
): Promise<MigrationStatus> {
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  const gone = (s: MigrationStatus): boolean => (byAgents(spec) ? s.waiting !== undefined : engine.runnerStopped(s));
  // a stream stopped on an error waits for the user's fix: every operation ends, saying what to fix
  const over = (s: MigrationStatus): boolean => engine.isSettled(s, goal) || gone(s) || engine.waitingForApplyFix(s);
  return engine.waitForMigration(spec.target, spec.migrationName, over, {
    intervalMs: options.intervalMs ?? 1000,
    timeoutMs,
    onStatus: statusPrinter(write),
  });
}

/** How a create starts the work: the resource's owner id, and whether the create asks for the cutover too. */
interface StartOptions {
  readonly resourceOwner?: string;
  /** An online create with cutover (triggerCutover) true: it waits for the stream, whoever runs it. */
  readonly thenCutover?: boolean;
}

/**
 * Starts the work in a detached runner, Offline and Online alike, whatever the timeout: the
 * migration outlives the provider host (which Pulumi stops after each operation, and Ctrl-C
 * stops too), a timeout leaves it running, and the next `pulumi up` waits for it again.
 */
export async function startWork(
  spec: MigrationSpec,
  timeoutMs: number | undefined,
  options: OperationOptions,
  start: StartOptions = {},
): Promise<MigrationStatus> {
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  await engine.startMigration(spec, { resourceOwner: start.resourceOwner });
  if (byAgents(spec)) return handedToAgents(spec, timeoutMs, options, start.thenCutover === true);
  write(`${spec.migrationName}: runner started; it keeps going if pulumi stops, and the next pulumi up waits for it`);
  return waitUntilSettled(spec, timeoutMs, options);
}

/**
 * runtime agents, registered: the migration is theirs from here, offline and online alike (refresh
 * shows its progress), as azure-native's create returns once ARM accepts it. An online create that
 * asks for the cutover too is waited for until it streams, so that its cutover runs in the same
 * create. Either returns at once, with the one line saying why, when no live agent holds the
 * source's credentials.
 */
async function handedToAgents(
  spec: MigrationSpec,
  timeoutMs: number | undefined,
  options: OperationOptions,
  thenCutover: boolean,
): Promise<MigrationStatus> {
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  const status = await engine.showMigration(spec.target, spec.migrationName);
  if (!status) throw new Error(`migration "${spec.migrationName}" is not in the target's control catalog after registering it`);
  if (status.waiting !== undefined) {
    write(`${spec.migrationName}: ${status.waiting}`);
    return status;
  }
  const able = (status.agents ?? []).filter((a) => a.alive && a.hasCredentials && a.hasPoolerCredentials !== false).map((a) => a.name);
  write(`${spec.migrationName}: registered for agents (${able.join(', ')} can run it); it goes on whatever happens to this pulumi up`);
  if (isFinal(status)) return status;
  if (spec.mode === 'Online' && thenCutover) {
    write(`${spec.migrationName}: waiting until it streams, then cutting over (cutover: true in this create)`);
    return waitUntilSettled(spec, timeoutMs, options);
  }
  return untilAnAgentRuns(spec, timeoutMs, options);
}

/** How long a create waits for an agent's runner to take a migration up before it returns anyway. */
const AGENT_START_WAIT_MS = 60_000;

/**
 * With agents: the create returns once an agent's runner holds the migration (accepted and
 * running, as azure-native returns once ARM accepts it), or once no agent can run it, or when the
 * wait is over (the agents are busy): refresh follows it from there, online to the stream and,
 * after a cutover asked by an update, to its end.
 */
async function untilAnAgentRuns(spec: MigrationSpec, timeoutMs: number | undefined, options: OperationOptions): Promise<MigrationStatus> {
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  const started = Date.now();
  const budget = Math.min(timeoutMs ?? AGENT_START_WAIT_MS, AGENT_START_WAIT_MS);
  const running = (s: MigrationStatus): boolean => s.runner?.alive === true;
  const status = await engine.waitForMigration(
    spec.target,
    spec.migrationName,
    (s) => isFinal(s) || running(s) || s.waiting !== undefined || Date.now() - started > budget,
    { intervalMs: Math.min(options.intervalMs ?? 1000, 500), onStatus: statusPrinter(write) },
  );
  if (running(status) && !isFinal(status)) {
    const next =
      spec.mode === 'Online'
        ? 'pulumi refresh follows it until it streams; set triggerCutover (cutover) true and run pulumi up to cut it over'
        : 'pulumi refresh follows it to the end';
    write(`${spec.migrationName}: an agent's runner holds it (${status.state}/${status.subState}); ${next}`);
  } else if (!isFinal(status) && status.waiting === undefined) {
    write(`${spec.migrationName}: no agent has taken it up yet; pulumi refresh shows when one does`);
  }
  return status;
}

/**
 * Picks up an existing migration: restarts a stale runner, then waits like a fresh start. With
 * agents an agent's runner carries it on after `pulumi up`, as after a create: only an update that
 * asks a cutover (`forCutover`) waits here for the stream the cutover needs; any other update (a
 * tags edit) returns at once with the migration where it is.
 */
export async function continueWork(
  spec: MigrationSpec,
  status: MigrationStatus,
  timeoutMs: number | undefined,
  options: OperationOptions,
  forCutover = false,
): Promise<MigrationStatus> {
  if (isFinal(status) || isWaitingForCutover(status)) return status;
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  if (status.subState === 'WaitingForApplyFix') {
    write(`${spec.migrationName}: streaming stopped on an error; trying it again now`);
    await resume(spec);
  } else if (byAgents(spec)) {
    // an agent takes over a migration no runner holds; nothing is started here
    if (status.waiting !== undefined) {
      write(`${spec.migrationName}: ${status.waiting}`);
      return status;
    }
    if (!forCutover) {
      write(`${spec.migrationName}: an agent's runner carries it on (${status.state}/${status.subState}); pulumi refresh follows it`);
      return status;
    }
  } else if (engine.runnerStopped(status) || status.runner === undefined) {
    write(`${spec.migrationName}: no runner holds the migration; restarting it`);
    await resume(spec);
  }
  return waitUntilSettled(spec, timeoutMs, options);
}

/** Restarts a stale runner with the credentials of these inputs; a runner that came back meanwhile is fine. */
export async function resume(spec: MigrationSpec): Promise<void> {
  try {
    await engine.resumeMigration(spec);
  } catch (error) {
    if (!(engine.isPgferryError(error) && error.code === 'RUNNER_ALREADY_RUNNING')) throw error;
  }
}

/**
 * A cutover the runner stopped before its end and rolled back (the lag gate, the writer fence, a
 * verification mismatch): its request is cleared and changes stream on. The update fails with the
 * reason, and its outputs record the cutover as not done, so the next `pulumi up` asks again.
 */
export class CutoverStopped extends Error {
  override readonly name = 'CutoverStopped';
}

/** What a cutover request carries from the inputs: the writer fence, lag budget and fallback window of this cutover. */
export function cutoverOptionsOf(spec: MigrationSpec): engine.CutoverOptions {
  return { fenceWriters: spec.fenceWriters, cutoverLagBudgetSeconds: spec.cutoverLagBudgetSeconds, fallbackWindow: spec.fallbackWindow };
}

/** Cutover: request it, then wait for the drain, sequence sync, verification and cleanup. */
export async function cutover(spec: MigrationSpec, timeoutMs: number | undefined, options: OperationOptions): Promise<MigrationStatus> {
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  write(`${spec.migrationName}: cutover requested${spec.fenceWriters ? ' (writers fenced on the source)' : ''}`);
  await engine.requestCutover(spec.target, spec.migrationName, undefined, cutoverOptionsOf(spec));
  const status = await waitUntilSettled(spec, timeoutMs, options, 'cutover');
  if (engine.cutoverStopped(status))
    throw new CutoverStopped(`cutover of "${spec.migrationName}" did not complete: ${status.message ?? 'see pgferry show'}`);
  if (status.downtimeSeconds !== undefined) write(`${spec.migrationName}: cutover downtime ${status.downtimeSeconds.toFixed(1)} s`);
  return status;
}
