// The faults a trial injects, drawn from its seed, and how each is put in place and taken away:
// process faults on the runner (SIGKILL, SIGSTOP/SIGCONT, and a stopped runner that loses its
// lease while a second one is resumed), server faults (immediate restart of either server, the
// target out of connections) and network faults through the proxies (reset, black hole, latency,
// one direction cut).
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { Cluster } from '../test/support';
import type { Direction, FaultProxy, ProxyConnection } from '../test/support/faultProxy';
import type { ArmMoment, PhaseTrigger } from './phases';
import { signalGroup } from './processes';
import type { Rng } from './rng';
import { LEASE_SESSION_PREFIX } from './monitor';

export const FAULT_KINDS = [
  'sigkill',
  'sigstop',
  'lease-loss',
  'target-restart',
  'source-restart',
  'target-connections',
  'net-reset',
  'net-blackhole',
  'net-latency',
  'net-cut',
  'agent-kill',
  'agent-lease-loss',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  readonly kind: FaultKind;
  /** The server a network fault is in front of. */
  readonly side?: 'source' | 'target';
  readonly direction?: Direction;
  /** How long the fault lasts (stop, hole, latency, cut, restart downtime, connections held). */
  readonly durationMs: number;
  readonly latencyMs?: number;
}

const WEIGHTS: readonly (readonly [FaultKind, number])[] = [
  ['sigkill', 4],
  ['sigstop', 2],
  ['lease-loss', 1],
  ['target-restart', 2],
  ['source-restart', 2],
  ['target-connections', 1],
  ['net-reset', 2],
  ['net-blackhole', 2],
  ['net-latency', 1],
  ['net-cut', 1],
  ['agent-kill', 3],
  ['agent-lease-loss', 1],
];

/** Faults of a trial of runtime agents: the migration runs on two `pgferry agent` processes. */
export function isAgentFault(kind: FaultKind): boolean {
  return kind === 'agent-kill' || kind === 'agent-lease-loss';
}

export function drawFault(rng: Rng, only?: FaultKind): FaultPlan {
  const kind = only ?? rng.weighted(WEIGHTS);
  const side = rng.chance(0.5) ? 'source' : 'target';
  switch (kind) {
    case 'sigkill':
    case 'agent-kill':
      return { kind, durationMs: 0 };
    case 'sigstop':
      return { kind, durationMs: rng.int(2, 45) * 1000 };
    case 'lease-loss':
    case 'agent-lease-loss':
      return { kind, durationMs: rng.int(15, 35) * 1000 };
    case 'target-restart':
    case 'source-restart':
      return { kind, durationMs: rng.int(2, 80) * 100 };
    case 'target-connections':
      return { kind, durationMs: rng.int(3, 30) * 1000 };
    case 'net-reset':
      return { kind, side, durationMs: 0 };
    case 'net-blackhole':
      return { kind, side, durationMs: rng.int(2, 40) * 1000 };
    case 'net-latency':
      return { kind, side, durationMs: rng.int(5, 30) * 1000, latencyMs: rng.int(50, 500) };
    case 'net-cut':
      return { kind, side, direction: rng.chance(0.5) ? 'toServer' : 'toClient', durationMs: rng.int(2, 30) * 1000 };
  }
}

export function describeFault(plan: FaultPlan): string {
  const parts: string[] = [plan.kind];
  if (plan.side) parts.push(plan.side);
  if (plan.direction) parts.push(plan.direction);
  if (plan.latencyMs) parts.push(`+${plan.latencyMs}ms`);
  if (plan.durationMs) parts.push(`${(plan.durationMs / 1000).toFixed(1)}s`);
  return parts.join(' ');
}

export interface FaultContext {
  readonly proxies: { readonly source: FaultProxy; readonly target: FaultProxy };
  readonly clusters: { readonly source: Cluster; readonly target: Cluster };
  /** The trial's live runner (the harness's own view, from /proc). */
  runnerPid(): Promise<number | undefined>;
  /** Resolves true once a runner other than `pid` holds the migration (the user resumed it, or another agent took it). */
  otherRunnerStarted(pid: number, timeoutMs: number): Promise<boolean>;
  /** Runtime agents: the agent process whose child the runner `pid` is. */
  agentOf?(runnerPid: number): Promise<number | undefined>;
  /** Runners this trial has SIGKILLed, added before the signal: the monitor knows they start nothing more. */
  readonly killed: Set<number>;
}

export interface InjectedFault {
  /**
   * The fault really did something: a runner was signalled, a server restarted, connections were
   * filled to the limit or reset, a proxy misbehaved for a while. A trial without one is not counted.
   */
  happened: boolean;
  /** What was done, or why nothing was, for the trial's line (pids, connections filled ...). */
  detail: string;
  /** Resolves when the fault has been taken away (at once for a kill or a reset). */
  readonly over: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens superuser connections to the target until it refuses more; they are held by the caller. */
async function fillConnections(target: Cluster): Promise<{ held: pg.Client[]; full: boolean }> {
  const held: pg.Client[] = [];
  for (let i = 0; i < 250; i++) {
    try {
      const c = await target.connect();
      c.on('error', () => undefined);
      held.push(c);
    } catch {
      return { held, full: true }; // "too many clients": full
    }
  }
  return { held, full: false };
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function processGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  await sleep(50); // the kernel closes its sockets as it exits: let the proxy see them close
}

async function processFault(plan: FaultPlan, ctx: FaultContext): Promise<InjectedFault> {
  const pid = await ctx.runnerPid();
  if (pid === undefined) return { happened: false, detail: 'no runner alive to signal', over: Promise.resolve() };
  if (plan.kind === 'sigkill') {
    ctx.killed.add(pid);
    if (!signalGroup(pid, 'SIGKILL')) return { happened: false, detail: `runner ${pid} gone before the kill`, over: Promise.resolve() };
    // A held statement is let go only once the process is gone, so it dies with its connection.
    await processGone(pid, 5000);
    return { happened: true, detail: `killed ${pid}`, over: Promise.resolve() };
  }
  if (!signalGroup(pid, 'SIGSTOP')) return { happened: false, detail: `runner ${pid} gone before the stop`, over: Promise.resolve() };
  if (plan.kind === 'sigstop') {
    return { happened: true, detail: `stopped ${pid}`, over: sleep(plan.durationMs).then(() => void signalGroup(pid, 'SIGCONT')) };
  }
  // lease-loss: the stopped runner's lease session is cut, so the lease is free while the runner
  // still holds every other session; the user resumes; then the old runner wakes up.
  if (cutLeaseSessions(ctx) === 0) {
    // Only a stop: not the fault drawn. Woken at once, and the trial is not counted.
    signalGroup(pid, 'SIGCONT');
    return { happened: false, detail: `stopped ${pid}, but no lease session to cut`, over: Promise.resolve() };
  }
  const over = (async () => {
    const resumed = await ctx.otherRunnerStarted(pid, plan.durationMs);
    if (resumed) await sleep(5000); // the new runner gets going before the old one wakes
    signalGroup(pid, 'SIGCONT');
  })();
  return { happened: true, detail: `stopped ${pid}, lease cut`, over };
}

/** Cuts the runner's lease session at the target's proxy; how many were cut. */
function cutLeaseSessions(ctx: FaultContext): number {
  let cut = 0;
  for (const conn of [...ctx.proxies.target.connections]) {
    if (conn.startup?.application_name?.startsWith(LEASE_SESSION_PREFIX)) {
      ctx.proxies.target.reset(conn);
      cut += 1;
    }
  }
  return cut;
}

/**
 * Faults on an agent: SIGKILL of the agent whose runner holds the migration (the runner dies with
 * it: its lifeline), or the agent and its runner stopped while the runner's lease session is cut,
 * so the other agent takes over, then both woken: the old runner must not write again.
 */
async function agentFault(plan: FaultPlan, ctx: FaultContext): Promise<InjectedFault> {
  const runner = await ctx.runnerPid();
  const agent = runner === undefined ? undefined : await ctx.agentOf?.(runner);
  if (runner === undefined || agent === undefined) return { happened: false, detail: 'no agent runner alive', over: Promise.resolve() };
  if (plan.kind === 'agent-kill') {
    ctx.killed.add(runner);
    if (!signalGroup(agent, 'SIGKILL')) return { happened: false, detail: `agent ${agent} gone before the kill`, over: Promise.resolve() };
    await processGone(agent, 5000);
    await processGone(runner, 10_000);
    return { happened: true, detail: `killed agent ${agent} (runner ${runner})`, over: Promise.resolve() };
  }
  signalGroup(agent, 'SIGSTOP');
  signalGroup(runner, 'SIGSTOP');
  if (cutLeaseSessions(ctx) === 0) {
    signalGroup(runner, 'SIGCONT');
    signalGroup(agent, 'SIGCONT');
    return { happened: false, detail: `stopped agent ${agent}, but no lease session to cut`, over: Promise.resolve() };
  }
  const over = (async () => {
    const taken = await ctx.otherRunnerStarted(runner, plan.durationMs);
    if (taken) await sleep(5000); // the new runner gets going before the old one wakes
    signalGroup(runner, 'SIGCONT');
    signalGroup(agent, 'SIGCONT');
  })();
  return { happened: true, detail: `stopped agent ${agent} and runner ${runner}, lease cut`, over };
}

async function injectFault(plan: FaultPlan, ctx: FaultContext): Promise<InjectedFault> {
  const { proxies, clusters } = ctx;
  const proxy = plan.side ? proxies[plan.side] : undefined;
  switch (plan.kind) {
    case 'sigkill':
    case 'sigstop':
    case 'lease-loss':
      return processFault(plan, ctx);
    case 'agent-kill':
    case 'agent-lease-loss':
      return agentFault(plan, ctx);
    case 'target-restart':
    case 'source-restart': {
      const cluster = plan.kind === 'target-restart' ? clusters.target : clusters.source;
      await cluster.crash();
      return { happened: true, detail: 'immediate stop', over: sleep(plan.durationMs).then(() => cluster.start()) };
    }
    case 'target-connections': {
      const { held, full } = await fillConnections(clusters.target);
      const over = sleep(plan.durationMs).then(async () => {
        await Promise.all(held.map((c) => c.end().catch(() => undefined)));
      });
      return { happened: full, detail: `${held.length} connections held${full ? '' : ', and the target still took more'}`, over };
    }
    case 'net-reset': {
      const reset = proxy!.resetAll();
      return { happened: reset > 0, detail: `${reset} connection(s) reset`, over: Promise.resolve() };
    }
    case 'net-blackhole':
      return networkFault(proxy!, plan, 'black hole', () => proxy!.blackhole(plan.durationMs));
    case 'net-latency':
      return networkFault(proxy!, plan, 'latency', () => proxy!.latency(plan.latencyMs!, plan.durationMs));
    case 'net-cut':
      return networkFault(proxy!, plan, 'one direction cut', () => proxy!.cut(plan.direction!, plan.durationMs));
  }
}

/**
 * A black hole, latency or a cut: it happened only if its proxy held back bytes while it lasted
 * (an idle connection meets nothing), which is known once it is over.
 */
function networkFault(proxy: FaultProxy, plan: FaultPlan, what: string, start: () => void): InjectedFault {
  const before = proxy.heldBytes;
  start();
  const over = sleep(plan.durationMs).then(() => {
    const held = proxy.heldBytes - before;
    fault.happened = held > 0;
    fault.detail = `${what}: ${held} bytes held back`;
  });
  const fault: InjectedFault = { happened: true, detail: what, over };
  return fault;
}

/** The fault, armed on its proxy: fires at the drawn match, holds the message while injecting. */
export class ArmedFault {
  fired = false;
  /** When it was injected (Date.now). */
  firedAt: number | undefined;
  private armed: boolean;
  injected: InjectedFault | undefined;
  overAt: number | undefined;
  error: string | undefined;
  private matches = 0;
  private readonly armAt: ArmMoment;

  constructor(
    private readonly plan: FaultPlan,
    trigger: PhaseTrigger,
    matchAt: number,
    private readonly proxy: FaultProxy,
    private readonly ctx: FaultContext,
  ) {
    this.armAt = trigger.armAt;
    this.armed = trigger.armAt === 'start';
    proxy.onMessage = (conn, message) => {
      if (!this.armed || this.fired || !trigger.match(conn, message)) return false;
      this.matches += 1;
      if (this.matches < matchAt) return false;
      this.fired = true;
      this.firedAt = Date.now();
      this.inject(conn);
      return trigger.hold;
    };
  }

  /** Settles once the fault is in place and taken away again (undefined until it fires). */
  finished: Promise<void> | undefined;

  private inject(conn: ProxyConnection): void {
    this.finished = this.injectAndWait(conn);
  }

  private async injectAndWait(conn: ProxyConnection): Promise<void> {
    try {
      this.injected = await injectFault(this.plan, this.ctx);
    } catch (error) {
      this.error = (error as Error).message;
    } finally {
      this.proxy.release(conn);
    }
    await this.injected?.over.catch((error: Error) => (this.error = error.message));
    this.overAt = Date.now();
  }

  /** The trial reached `moment` (the cutover asked, the window open, the fall-back asked): armed if it waits for it. */
  arm(moment: ArmMoment): void {
    if (moment === this.armAt) this.armed = true;
  }

  disarm(): void {
    this.proxy.onMessage = undefined;
  }
}
