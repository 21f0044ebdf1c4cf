// `pgferry update --cancel | --cutover [DB...] | --overwrite-dbs-in-target | --setup-replication |
// --start-data-migration [--wait] | --db-names DB... [--wait] | --resync TABLE | --close-fallback | --fall-back [--wait]`, or an Azure
// update body (PATCH) carrying the operation: a request recorded in the catalog, which the runner
// acts on; --wait follows the migration to its final state.
import {
  cancelMigration,
  closeFallbackWindow,
  fallBackSettled,
  confirmOverwrite,
  cutoverStopped,
  inputError,
  isDatabaseDone,
  isFinalState,
  leftWait,
  nameDatabasesToMigrate,
  POOLER_PASSWORD_VARIABLE,
  requestCutover,
  requestDataMigrationStart,
  requestFallBack,
  requestReplicationSetup,
  requestResync,
  runnerStopped,
  showMigration,
  type CutoverOptions,
  type MigrationStatus,
  type ServerSpec,
} from '../../engine';
import { updateOperationOf } from '../input/body';
import { UPDATE_NEEDS, type CliArgs } from '../input/parse';
import { migrationSpecOf } from '../migrationSpecOf';
import { migrationResult, printResult } from '../result';
import { onTarget, resolveTarget } from '../target';
import { waitDone, waitExitCode, waitWithProgress, type WaitGoal } from '../wait';

interface Operation {
  readonly kind: 'cutover' | 'cancel' | 'setup-replication' | 'start-data-migration' | 'name-databases';
  readonly databases?: readonly string[];
  /** The flag or body key that asked, as the user wrote it (errors name it). */
  readonly fields?: string;
}

/** The operation of the flags, or else of the --properties body; both at once is refused. */
function operationOf(args: CliArgs): Operation {
  const fromBody = args.body === undefined ? undefined : updateOperationOf(args.body);
  const flag = args.cancel
    ? 'cancel'
    : args.cutover
      ? 'cutover'
      : args.setupReplication
        ? 'setup-replication'
        : args.startDataMigration
          ? 'start-data-migration'
          : args.dbNames
            ? 'name-databases'
            : undefined;
  const flagName = flag === 'name-databases' ? '--db-names' : `--${flag}`;
  // the create body given again beside a flag (a stopped runner's cancel reads the source's
  // address from it) carries DBsToMigrate as it was created: that is not a second operation
  const createdBody = flag !== undefined && flag !== 'name-databases' && fromBody?.kind === 'name-databases';
  if (flag && fromBody && !createdBody) {
    throw inputError(
      'USAGE',
      flagName,
      `${flagName}: the --properties body asks for an operation too (${fromBody.fields}); give it once`,
      'see `pgferry update --help`',
    );
  }
  if (flag === 'name-databases') return { kind: flag, databases: args.dbNames, fields: flagName };
  if (flag) return { kind: flag, ...(args.databases ? { databases: args.databases } : {}) };
  if (fromBody) return fromBody;
  throw inputError('USAGE', '--cutover', `--cutover: ${UPDATE_NEEDS}`, 'see `pgferry update --help`');
}

export async function updateCommand(args: CliArgs): Promise<number> {
  const target = resolveTarget(args);
  const name = args.name!;
  if (args.overwrite) {
    let allowed = await onTarget(target, () => confirmOverwrite(target, name));
    if (args.wait) allowed = await onTarget(target, () => waitWithProgress(target, name, waitDone('run'), { history: false }));
    printResult(args, migrationResult(args, allowed, target));
    return 0;
  }
  if (args.closeFallback) {
    const status = await onTarget(target, () => closeFallbackWindow(target, name));
    printResult(args, migrationResult(args, status, target));
    return 0;
  }
  if (args.fallBack) {
    let status = await onTarget(target, () => requestFallBack(target, name, { resumeForward: args.resumeForward === true }));
    if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, fallBackSettled, { history: false }));
    printResult(args, migrationResult(args, status, target));
    // --wait: 0 once every database fell back, 1 when the fall-back stopped (the message says why)
    return args.wait && !status.databases.every((d) => !d.fallback || d.fallback.state === 'FellBack') ? 1 : 0;
  }
  if (args.resync) {
    let status: MigrationStatus | undefined;
    for (const table of args.resync) status = await onTarget(target, () => requestResync(target, name, table));
    printResult(args, migrationResult(args, status!, target));
    return 0;
  }
  const operation = operationOf(args);
  if (operation.kind === 'setup-replication' || operation.kind === 'start-data-migration') {
    const ask = operation.kind === 'setup-replication' ? requestReplicationSetup : requestDataMigrationStart;
    let status = await onTarget(target, () => ask(target, name));
    // a start ends the wait at the runner's next look: --wait then follows the copy, not the wait
    if (operation.kind === 'start-data-migration' && args.wait) {
      status = await onTarget(target, () => leftWait(target, name, 'WaitingForDataMigrationScheduling'));
    }
    if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, waitDone('run'), { history: false }));
    printResult(args, migrationResult(args, status, target));
    return 0;
  }
  if (operation.kind === 'name-databases') {
    // az's --db-names (Azure's PATCH of dbsToMigrate): the migration waiting for them goes on
    let status = await onTarget(target, () => nameDatabasesToMigrate(target, name, operation.databases!, operation.fields));
    if (args.wait) {
      await onTarget(target, () => leftWait(target, name, 'WaitingForDBsToMigrateSpecification'));
      status = await onTarget(target, () => waitWithProgress(target, name, waitDone('run'), { history: false }));
    }
    printResult(args, migrationResult(args, status, target));
    return 0;
  }
  if (operation.databases) return someDatabases(args, target, name, operation.kind, operation.databases);
  const goal: WaitGoal = operation.kind;
  let status = await onTarget(target, async () => {
    if (goal === 'cutover') return requestCutover(target, name, undefined, cutoverOptions(args));
    // a stopped runner will not act on the request: the cancel is carried out here, on both servers
    const current = await showMigration(target, name);
    const spec = current && current.mode === 'Online' && runnerStopped(current) ? await migrationSpecOf(args, current) : undefined;
    // a pooler its cutover paused is resumed from the ledger's record of it, its password from the environment
    return cancelMigration(target, name, { spec, poolerPassword: process.env[POOLER_PASSWORD_VARIABLE] });
  });
  if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, waitDone(goal), { history: false }));
  printResult(args, migrationResult(args, status, target));
  return args.wait ? waitExitCode(goal, status) : 0;
}

/** Those databases only: the wait ends once each is cut over or canceled (or the migration ends). */
async function someDatabases(
  args: CliArgs,
  target: ServerSpec,
  name: string,
  kind: 'cutover' | 'cancel',
  some: readonly string[],
): Promise<number> {
  let status = await onTarget(target, () =>
    kind === 'cutover' ? requestCutover(target, name, some, cutoverOptions(args)) : cancelMigration(target, name, { databases: some }),
  );
  const stopped = (s: MigrationStatus) => kind === 'cutover' && cutoverStopped(s, some);
  const done = (s: MigrationStatus) =>
    isFinalState(s.state) || stopped(s) || some.every((db) => s.databases.some((d) => d.database === db && isDatabaseDone(d.state)));
  if (args.wait) status = await onTarget(target, () => waitWithProgress(target, name, done, { history: false }));
  printResult(args, migrationResult(args, status, target));
  const failed = status.databases.some((d) => some.includes(d.database) && d.state === 'Failed');
  return args.wait && (failed || stopped(status) || status.state === 'Failed') ? 1 : 0;
}

/** `--fence-writers`, `--no-fence-writers`, `--cutover-lag-budget-seconds`, `--fallback-window`: for this cutover alone. */
function cutoverOptions(args: CliArgs): CutoverOptions {
  return {
    fenceWriters: args.spec.fenceWriters,
    cutoverLagBudgetSeconds: args.spec.cutoverLagBudgetSeconds,
    fallbackWindow: args.spec.fallbackWindow,
  };
}
