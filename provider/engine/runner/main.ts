#!/usr/bin/env node
// The runner process: reads {spec, reason} as JSON on standard input (credentials never travel on
// a command line or in the environment), takes the lease, heartbeats, and runs the migration. A
// runner started by one that lost its lease (its successor: `succession` in its input) takes the
// lease as runner/successor.ts says.
// first: the modules imported after it are compiled once for every runner (util/compileCache.ts)
import '../util/compileCache';
import { trace } from '../util/trace';
import net from 'node:net';
import os from 'node:os';
import { CatalogConnection } from '../control/connection';
import { displayIdent } from '../connect/quote';
import { errorMessage } from '../core/errors';
import { orchestrate } from '../flow/orchestrator';
import { RUNNER_EXIT, runnerSpec, type RunnerInput, type Succession } from '../input/handOff';
import type { MigrationSpec } from '../input/migrationSpec';
import { acquireLease } from './lease';
import { cutOffFromServers } from '../connect/cutOff';
import { holdpoint } from '../util/failpoints';
import { startSuccessor, successorRuns, takeOverLease, tooManySuccessions } from './successor';
import { heartbeat as catalogHeartbeat, setRunner } from '../control/store';
import { cutoverPlanOf } from '../input/fallbackWindow';
import { dropSpareMark } from './spareRunner';
import type { ProgressEvent } from '../core/model';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** How long a runner that lost its lease waits for its run to wind down, cut off from the servers, before it hands over anyway. */
const WIND_DOWN_MS = 10_000;

/**
 * A runner whose lease connection is gone may already have a successor: it stops writing at once.
 * First of all it cuts itself off from every server (connect/cutOff.ts): its sessions end, so its
 * apply sessions release their per-database fences (cdc/apply/applyTarget.ts) and their open
 * transactions roll back, and no stage (the copy, the schema follow, a resync, the reporter, a
 * catalog write, a pg tool) can send anything more, not even to the control catalog, which now
 * belongs to whichever runner takes the lease. Then it aborts its run and waits, a bounded time,
 * for the stages to wind down, so that nothing of this run is still at work when the successor
 * starts. What it leaves is what a crash leaves: slots, publication and recorded positions, for
 * the next runner to resume. That next runner it starts itself, unless an agent started it (the
 * agents resume the migration) or its run is over: its successor (runner/successor.ts) takes the
 * lease once this one is gone.
 */
async function stopOnLeaseLoss(
  error: Error,
  spec: MigrationSpec,
  succession: Succession | undefined,
  runOver: boolean,
  run: Promise<unknown>,
  controller: AbortController,
): Promise<never> {
  const lostAt = Date.now();
  const cause = new Error(`the runner lost its lease (${error.message})`);
  const ended = cutOffFromServers(cause);
  controller.abort(cause);
  const lost = `lease connection lost (${error.message})`;
  console.error(`${lost}: cut off from every server (${ended.sessions} sessions and ${ended.tools} pg tools ended), stopping the run`);
  const wound = run.then(
    () => true,
    () => true,
  );
  void wound.then(() => console.error(`the run stopped ${((Date.now() - lostAt) / 1000).toFixed(1)} s after the lease was lost`));
  // a test holds here, where a slow start of the successor would keep this runner: its run is stopped already
  await holdpoint('lease-lost');
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([wound, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), WIND_DOWN_MS)))]);
  clearTimeout(timer);
  if (!stopped)
    console.error(`the run did not stop within ${WIND_DOWN_MS / 1000} s; it reaches no server, so this runner hands over all the same`);
  if (process.env.PGFERRY_RUNNER_LIFELINE === '3') {
    console.error(`${lost}; an agent resumes the migration`);
  } else if (runOver) {
    console.error(lost);
  } else {
    try {
      const successor = await startSuccessor(spec, error.message, succession);
      console.error(`${lost}; runner ${successor ?? '?'} resumes the migration once this one has exited`);
    } catch (failed) {
      console.error(`${lost}; starting a runner to resume it failed (${errorMessage(failed)}): resume the migration to continue`);
    }
  }
  process.exit(RUNNER_EXIT.leaseLost);
}

/**
 * A signal (a service manager stopping its unit, a host shutting down, `kill PID`) stops the runner
 * as a kill would, after ending its sessions and tools: the migration is not canceled, and what was
 * copied and applied stays for `pgferry resume` or the next agent. Only a request through the
 * control catalog cancels, so a reboot never throws away a copy.
 */
function stopOnSignal(signal: NodeJS.Signals, name: string): never {
  const ended = cutOffFromServers(new Error(`the runner was stopped by ${signal}`));
  console.error(
    `${signal}: runner stopped (${ended.sessions} sessions and ${ended.tools} pg tools ended); migration ${name} is not canceled: ` +
      '`pgferry resume` goes on from where it stopped, `pgferry update --cancel` cancels it',
  );
  process.exit(RUNNER_EXIT.stopped);
}

/**
 * A runner started by `pgferry agent` (runner/agent.ts) gets a lifeline on fd 3: a pipe the agent
 * holds. When it closes (the agent stopped, or was killed), the runner stops at once, as on a lost
 * lease: the migration is not canceled, and the next runner (any agent's) resumes it.
 */
function watchLifeline(): void {
  if (process.env.PGFERRY_RUNNER_LIFELINE !== '3') return;
  const lifeline = new net.Socket({ fd: 3, readable: true, writable: false });
  const gone = () => {
    console.error('the agent that started this runner is gone: stopping at once; another agent resumes the migration');
    process.exit(RUNNER_EXIT.agentGone);
  };
  lifeline.on('end', gone);
  lifeline.on('close', gone);
  lifeline.on('error', gone);
  lifeline.resume();
  lifeline.unref();
}

/** The run's progress as lines of the runner's log. */
function logProgress(event: ProgressEvent): void {
  if (event.kind === 'step-done') console.log(`${event.database ?? ''} ${event.step} done in ${event.seconds.toFixed(1)} s`);
  else if (event.kind === 'warning' || event.kind === 'info') console.log(`${event.kind}: ${event.message}`);
  else if (event.kind === 'table-done') console.log(`${displayIdent(event.database)} ${event.table}: ${event.rows} rows`);
}

/**
 * The lease of a runner that succeeds none, the control catalog's session opened beside the lease's
 * (nothing is sent on it before the lease is held); undefined when another runner holds the lease.
 */
async function firstLease(spec: MigrationSpec, store: CatalogConnection): Promise<Awaited<ReturnType<typeof acquireLease>> | undefined> {
  store.openAhead();
  try {
    return await acquireLease(spec.target, spec.migrationName, (note) => console.error(note));
  } catch (error) {
    await store.close();
    console.error(errorMessage(error));
    return undefined;
  }
}

async function main(): Promise<number> {
  trace('main');
  watchLifeline();
  const input = JSON.parse(await readStdin()) as RunnerInput;
  // a spare handed its job is a runner with a job from here on, as /proc shows it
  dropSpareMark();
  trace('stdin read');
  const spec = await runnerSpec(input);
  trace('spec');
  const name = spec.migrationName;
  const succession = input.succession;
  const store = new CatalogConnection(spec.target);
  let lease;
  if (succession) {
    const taken = await takeOverLease(spec, succession);
    if (taken === 'elsewhere') return RUNNER_EXIT.ok;
    if (taken === 'gaveUp') return RUNNER_EXIT.failed;
    lease = taken;
    // a test reads `show` here: the lease held, this runner not yet recorded in the control catalog
    await holdpoint('successor-took-lease');
  } else {
    const taken = await firstLease(spec, store);
    if (!taken) return RUNNER_EXIT.leaseHeld;
    lease = taken;
  }
  trace('lease');
  const letGo = async () => {
    await store.close();
    await lease.release();
  };
  if (succession) {
    let runs: boolean;
    try {
      runs = await successorRuns(store, spec, succession);
    } catch (error) {
      await letGo();
      throw error;
    }
    if (!runs) {
      await letGo();
      return tooManySuccessions(succession) ? RUNNER_EXIT.leaseLost : RUNNER_EXIT.ok;
    }
  }
  // what its cutover will do, from this runner's spec (the console's confirmation says it)
  const plan = spec.mode === 'Online' ? { cutoverPlan: cutoverPlanOf(spec) } : {};
  // a runner an agent started names its agent, so the catalog says who runs the migration
  const agent = process.env.PGFERRY_AGENT_NAME;
  const self = { host: os.hostname(), pid: process.pid };
  await setRunner(store, name, { ...self, ...(agent ? { agent } : {}), ...plan });
  // a missed heartbeat is not an error: the lease, not the heartbeat, says who runs the migration
  trace('setRunner');
  const heartbeat = setInterval(() => void catalogHeartbeat(store, name, self).catch(() => undefined), 5000);
  const controller = new AbortController();
  process.once('SIGTERM', () => stopOnSignal('SIGTERM', name));
  process.once('SIGINT', () => stopOnSignal('SIGINT', name));
  let runOver = false;
  // set once the lease is lost: the run is stopped and the successor started there, and the process ends
  let stopping: Promise<never> | undefined;
  const run = orchestrate(spec, {
    resume: input.reason === 'resume',
    store,
    // every apply COMMIT of the run checks on the target that the lease is still held
    leaseSessionPid: lease.sessionPid,
    signal: controller.signal,
    onProgress: logProgress,
  });
  // `lost` never rejects, and stopOnLeaseLoss ends the process
  void lease.lost.then((error) => (stopping = stopOnLeaseLoss(error, spec, succession, runOver, run, controller)));
  try {
    let status;
    try {
      status = await run;
    } catch (error) {
      if (stopping) return await stopping;
      throw error;
    }
    if (stopping) return await stopping;
    runOver = true;
    console.log(`migration ${name}: ${status.state}${status.message ? ` (${status.message})` : ''}`);
    return status.state === 'Succeeded' ? RUNNER_EXIT.ok : RUNNER_EXIT.failed;
  } finally {
    clearInterval(heartbeat);
    await catalogHeartbeat(store, name, self).catch(() => undefined);
    await letGo();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`runner failed: ${errorMessage(error)}`);
    process.exit(RUNNER_EXIT.failed);
  },
);
