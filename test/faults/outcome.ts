// A trial's result and the rule that turns what was observed into one of three outcomes:
// passed (Succeeded, the judge found both sides equal, every invariant held), stopped safely (a
// final non-success state with a message, nothing left behind, no invariant broken: never
// counted as success), or failed (anything lost, extra, changed or left behind, two runners
// writing at once, WAL past the bound, or stuck). A phase the trigger never reached is reported
// as such: the trial ran, but without its fault.
import type { DatabaseJudgement } from './judge';
import type { Leftovers } from './leftovers';
import { leftoverLines } from './leftovers';
import type { MonitorReport } from './monitor';
import type { UserAction } from './user';

export type Outcome = 'passed' | 'stopped-safely' | 'failed' | 'not-reached';

export interface TrialResult {
  readonly index: number;
  readonly seed: number;
  readonly fault: string;
  readonly faultKind: string;
  readonly phase: string;
  /** The fault was injected (the phase's trigger matched). */
  fired: boolean;
  faultDetail?: string;
  outcome: Outcome;
  readonly reasons: string[];
  /** From the end of the fault to the first progress a live runner made after it. */
  recoveryMs?: number;
  totalMs: number;
  finalState?: string;
  message?: string;
  lostRows: number;
  extraRows: number;
  changedRows: number;
  rowsCompared: number;
  resumes: number;
  actions: UserAction[];
  monitor?: MonitorReport;
  leftovers?: Leftovers;
  judgements: DatabaseJudgement[];
  workload?: { transactions: number; failures: number; largeTransactionRows: number; truncates: number };
}

/** A trial fails on any difference, leftover (a replica identity left FULL included) or overlap of runners. */
export function classify(result: TrialResult, limits: { walBoundBytes: number; stuck?: string }): Outcome {
  const reasons = result.reasons;
  for (const j of result.judgements) {
    for (const d of j.catalogDiffs.slice(0, 5)) reasons.push(`${j.database}: catalog ${d}`);
    for (const t of j.tables) {
      reasons.push(
        `${j.database}: ${t.table} source ${t.sourceRows} target ${t.targetRows}: lost ${t.lost}, extra ${t.extra}, changed ${t.changed} (${t.samples.join(', ')})`,
      );
    }
  }
  if (result.leftovers) for (const l of leftoverLines(result.leftovers)) reasons.push(`left behind: ${l}`);
  const m = result.monitor;
  if (m && m.twoWriterSamples > 0) reasons.push(`two runners wrote at once (${m.twoWriterSamples} samples: ${m.twoWriterDetail})`);
  if (m && m.twoWorkerSamples > 0) reasons.push(`two runners worked at once (${m.twoWorkerSamples} samples: ${m.twoWorkerDetail})`);
  if (m && m.longestOverlapMs > 10_000) reasons.push(`two runners alive together for ${(m.longestOverlapMs / 1000).toFixed(0)} s`);
  if (m && m.maxRetainedBytes > limits.walBoundBytes) {
    reasons.push(
      `source retained ${(m.maxRetainedBytes / 1048576).toFixed(0)} MiB of WAL (bound ${(limits.walBoundBytes / 1048576).toFixed(0)} MiB)`,
    );
  }
  if (limits.stuck) reasons.push(limits.stuck);
  if (reasons.length > 0) return 'failed';
  if (result.finalState === 'Succeeded') return result.fired ? 'passed' : 'not-reached';
  if (result.finalState && result.message) return 'stopped-safely';
  reasons.push(`ended ${result.finalState ?? 'without a final state'} without a message`);
  return 'failed';
}
