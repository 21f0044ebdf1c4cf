// Which trials a campaign runs: `--trials N` means N trials whose fault really happened, so a trial
// whose phase was never reached or whose fault did nothing is kept and reported, and the next
// seed is drawn in its place, up to a bound (a --fault/--phase pair may never meet). A replay runs
// exactly its seeds.
import type { TrialResult } from './outcome';
import { trialSeed } from './rng';

export interface DrawPlan {
  /** Trials whose fault must really happen. */
  readonly trials: number;
  readonly seed: number;
  /** Run exactly these seeds instead. */
  readonly replay?: readonly number[];
}

/** Draws beyond `trials` before a campaign gives up finding faults. */
export function extraDrawsAllowed(trials: number): number {
  return Math.max(5, trials);
}

/** Runs trials one after another (trial i from seed `trialSeed(seed, i)`) until enough had their fault. */
export async function drawTrials(
  plan: DrawPlan,
  run: (index: number, seed: number) => Promise<TrialResult>,
): Promise<{ results: TrialResult[]; short: boolean }> {
  const results: TrialResult[] = [];
  if (plan.replay) {
    for (const [index, seed] of plan.replay.entries()) results.push(await run(index, seed));
    return { results, short: false };
  }
  let faulted = 0;
  const limit = plan.trials + extraDrawsAllowed(plan.trials);
  for (let index = 0; index < limit && faulted < plan.trials; index++) {
    const result = await run(index, trialSeed(plan.seed, index));
    results.push(result);
    if (result.faulted) faulted += 1;
  }
  return { results, short: faulted < plan.trials };
}
