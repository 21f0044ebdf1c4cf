// `pgferry update --cancel | --cutover [--wait]`: a request recorded in the catalog, which the
// runner acts on; --wait follows the migration to its final state.
import {
  cancelMigration,
  confirmOverwrite,
  isDatabaseDone,
  isFinalState,
  requestCutover,
  runnerStopped,
  showMigration,
  type MigrationStatus,
} from '../../engine';
import type { CliArgs } from '../args';
import { migrationSpecOf } from '../migrationSpecOf';
import { migrationResult, printResult } from '../result';
import { onTarget, resolveTarget } from '../target';
import { waitDone, waitExitCode, waitWithProgress, type WaitGoal } from '../wait';

export async function updateCommand(args: CliArgs): Promise<number> {
  const target = await resolveTarget(args);
  const name = args.name!;
  if (args.overwrite) {
    let allowed = await onTarget(target, () => confirmOverwrite(target, name));
    if (args.wait) allowed = await onTarget(target, () => waitWithProgress(target, name, waitDone('run'), { history: false }));
    printResult(args, migrationResult(args, allowed, target));
    return 0;
  }
  const goal: WaitGoal = args.cancel ? 'cancel' : 'cutover';
  const some = args.databases;
  if (some) {
    // those databases only: the wait ends once each is cut over or canceled (or the migration ends)
    let status = await onTarget(target, () =>
      goal === 'cutover' ? requestCutover(target, name, some) : cancelMigration(target, name, { databases: some }),
    );
    const done = (s: MigrationStatus) =>
      isFinalState(s.state) || some.every((db) => s.databases.some((d) => d.database === db && isDatabaseDone(d.state)));
    if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, done, { history: false }));
    printResult(args, migrationResult(args, status, target));
    const failed = status.databases.some((d) => some.includes(d.database) && d.state === 'Failed');
    return args.wait && (failed || status.state === 'Failed') ? 1 : 0;
  }
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
