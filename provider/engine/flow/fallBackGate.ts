// The fall-back's lag gate through a pooler (docs/pooler.md#the-fall-back-through-the-pooler): the
// applications' statements wait in the pooler's pause for the whole drain of the reverse stream, so
// its catch-up is predicted as the cutover's gate predicts the forward stream's
// (switchover/lagGate.ts, read from the target's WAL), against the same budget,
// cutoverLagBudgetSeconds (its default with a pooler when none is given). Once before the pause
// (a backlog already over the budget is not worth holding anybody for) and once paused and fenced,
// when nothing adds to it. Over the budget, the fall-back stops before anything irreversible.
import { DEFAULT_FENCED_LAG_BUDGET_SECONDS, measureCatchUpFrom, overBudget, overBudgetWords } from '../switchover/lagGate';
import type { Applier } from '../cdc/apply/applier';
import type { ApplyRateMeter } from '../switchover/lagGate';
import type { MigrationRun } from '../run/migrationRun';

type GateRun = Pick<MigrationRun, 'spec'>;

/** The gate's budget, or undefined: no pooler, no gate (a fall-back without one refuses writes on the target from its fence on). */
function budgetOf(run: GateRun): number | undefined {
  if (run.spec.pooler === undefined) return undefined;
  return run.spec.cutoverLagBudgetSeconds ?? DEFAULT_FENCED_LAG_BUDGET_SECONDS;
}

/**
 * Why the reverse stream of `database` (its applier) may not be drained inside the pause now (the
 * prediction over the budget, in one line), or undefined. `paused`: the pooler is paused and the
 * target fenced.
 */
export async function fallBackOverBudget(
  run: GateRun,
  database: string,
  applier: Applier,
  meter: ApplyRateMeter,
  paused: boolean,
): Promise<string | undefined> {
  const budget = budgetOf(run);
  if (budget === undefined) return undefined;
  const defaulted = run.spec.cutoverLagBudgetSeconds === undefined ? 'a pooler' : false;
  const late = overBudget(
    await measureCatchUpFrom(run.spec.target, [{ database, applier }], meter, {
      probe: true,
      budgetSeconds: budget,
    }),
    budget,
  );
  if (!late) return undefined;
  const when = paused ? 'paused' : 'before the pause (the pooler was not paused)';
  return `the reverse stream of ${overBudgetWords(late, budget, defaulted)}, ${when}: ask again once its pending bytes (pgferry show) have dropped, or raise cutoverLagBudgetSeconds`;
}
