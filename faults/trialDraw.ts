// A trial's phase and fault, drawn from its seed, and what a forced fault keeps them to. A fault of
// runtime agents forced with `--fault agent-*` keeps its trial one of agents: no fallback phase
// (agents do not run a Succeeded migration whose window is open: docs/fallback.md) and no pooler
// (behind one, the runner is killed at a failpoint instead of the drawn fault), since either would
// turn the agent's fault into the runner's own and the trial would not test what was asked.
import { drawFault, isAgentFault, type FaultKind, type FaultPlan } from './faults';
import { FALLBACK_PHASES, isFallbackPhase, PHASES, type Phase } from './phases';
import type { Rng } from './rng';

/**
 * The share of trials drawn at a reverse-stream or fall-back phase. Drawn from a fork of its own
 * after the forward phase, so a seed drawn before those phases came keeps its forward phase with
 * `--fallback-share 0`, and most seeds keep it anyway.
 */
export const FALLBACK_SHARE = 0.25;

export interface TrialDrawOptions {
  readonly fault?: FaultKind;
  readonly phase?: Phase;
  /** The share of drawn phases taken from FALLBACK_PHASES (default FALLBACK_SHARE). */
  readonly fallbackShare?: number;
  /** `--pooler` as given: forced (`always`, `never`, a step), or drawn when undefined. */
  readonly pooler?: string;
  /** The share of cutover-phase trials behind a pooler when drawn. */
  readonly poolerShare: number;
}

export interface TrialDraw {
  readonly phase: Phase;
  readonly plan: FaultPlan;
  /** The pooler share the trial draws with: none for a forced agent's fault. */
  readonly poolerShare: number;
}

/**
 * Why `fault` cannot be forced with `phase` or `pooler` as given, in one line; undefined when it
 * can. Said before any server is touched.
 */
export function forcedAgentRefusal(fault?: FaultKind, phase?: Phase, pooler?: string): string | undefined {
  if (fault === undefined || !isAgentFault(fault)) return undefined;
  if (phase !== undefined && isFallbackPhase(phase))
    return `--fault ${fault} with --phase ${phase}: agents do not run a migration in its fallback window; allowed: a phase of ${PHASES.join(', ')}`;
  if (pooler !== undefined && pooler !== 'never')
    return `--fault ${fault} with --pooler ${pooler}: a pooler trial's fault is the runner killed at a failpoint, not an agent's; allowed: --pooler never, or no --pooler`;
  return undefined;
}

function drawPhase(rng: Rng, share: number): Phase {
  const forward = rng.fork('phase').pick(PHASES);
  const fallback = rng.fork('fallback phase');
  return fallback.chance(share) ? fallback.pick(FALLBACK_PHASES) : forward;
}

/**
 * The trial's phase and fault. A drawn agent's fault at a fallback phase becomes the runner's own
 * (agents do not pick up a Succeeded migration whose window is open: docs/fallback.md), the rest as
 * drawn. A forced agent's fault draws no fallback phase and no pooler (the same draws are made, so
 * every other draw of the seed is kept), and refuses a forced fallback phase or pooler.
 */
export function drawPhaseAndFault(rng: Rng, o: TrialDrawOptions): TrialDraw {
  const refused = forcedAgentRefusal(o.fault, o.phase, o.pooler);
  if (refused) throw new Error(refused);
  const agentsForced = o.fault !== undefined && isAgentFault(o.fault);
  const phase = o.phase ?? drawPhase(rng, agentsForced ? 0 : (o.fallbackShare ?? FALLBACK_SHARE));
  const plan = drawFault(rng.fork('fault'), o.fault);
  const poolerShare = agentsForced ? 0 : o.poolerShare;
  if (!isFallbackPhase(phase) || !isAgentFault(plan.kind)) return { phase, plan, poolerShare };
  const runnerOwn: FaultPlan =
    plan.kind === 'agent-kill' ? { kind: 'sigkill', durationMs: 0 } : { kind: 'lease-loss', durationMs: plan.durationMs };
  return { phase, plan: runnerOwn, poolerShare };
}
