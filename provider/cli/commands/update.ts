// `pgferry update --cancel | --cutover [--wait]`: a request recorded in the catalog, which the
// runner acts on; --wait follows the migration to its final state.
import { cancelMigration, requestCutover, runnerStopped, showMigration } from '../../engine';
import type { CliArgs } from '../args';
import { migrationSpecOf } from '../migrationSpecOf';
import { migrationResult, printResult } from '../result';
import { onTarget, resolveTarget } from '../target';
import { waitDone, waitExitCode, waitWithProgress, type WaitGoal } from '../wait';

export async function updateCommand(args: CliArgs): Promise<number> {
  const target = await resolveTarget(args);
  const name = args.name!;
  const goal: WaitGoal = args.cancel ? 'cancel' : 'cutover';
  let status = await onTarget(target, async () => {
    if (goal === 'cutover') return requestCutover(target, name);
    // a stopped runner will not act on the request: the cancel is carried out here, on both servers
    const current = await showMigration(target, name);
    const spec = current && current.mode === 'Online' && runnerStopped(current) ? await migrationSpecOf(args, current) : undefined;
    return cancelMigration(target, name, { spec });
  });
  if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, waitDone(goal), { history: false }));
  printResult(args, migrationResult(args, status, target));
  return args.wait ? waitExitCode(goal, status) : 0;
}
