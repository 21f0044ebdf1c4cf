// Waiting for a migration with live progress, and the exit code each wait ends with.
import {
  FINAL_STATES,
  isSettled,
  PgferryError,
  runnerStopped,
  waitForMigration,
  type MigrationStatus,
  type ServerSpec,
  type WaitGoal,
} from '../engine';
import { showsProgress } from './log';
import { ProgressView } from './progress';
import { TableProgressReader, type ProgressEventLine, type TableProgress } from './tableProgress';

export type { WaitGoal };

/** When a wait is over: the engine's settled check for the goal. */
export function waitDone(goal: WaitGoal): (s: MigrationStatus) => boolean {
  return (s) => isSettled(s, goal);
}

/** 0 only for the outcome asked for; Validate succeeds when no check failed. */
export function waitExitCode(goal: WaitGoal, status: MigrationStatus): number {
  if (goal === 'cancel') return status.state === 'Canceled' ? 0 : 1;
  if (status.option === 'Validate') {
    const failedCheck = status.validation.some((r) => r.status === 'Failed');
    return !failedCheck && status.state !== 'Failed' && status.state !== 'Canceled' && status.state !== 'ValidationFailed' ? 0 : 1;
  }
  if (status.state === 'Succeeded') return 0;
  if (goal === 'run' && status.mode === 'Online' && status.subState === 'WaitingForCutoverTrigger') return 0;
  return 1;
}

function runnerStoppedError(status: MigrationStatus): PgferryError {
  const runner = status.runner!;
  return new PgferryError(
    'RUNNER_STOPPED',
    `migration "${status.name}" is ${status.state}/${status.subState} but its runner (pid ${runner.pid} on ${runner.host}) has stopped: last heartbeat ${runner.heartbeatAt}`,
    {
      category: 'internal',
      fix: `continue it with \`pgferry resume --name ${status.name} --properties FILE\`, or cancel it with \`pgferry update --cancel --name ${status.name}\``,
    },
  );
}

/**
 * Polls the catalog until `done`, drawing progress on stderr (stdout stays for the result).
 * `history: false` skips events and finished tables from before the wait (update, resume).
 */
export async function waitWithProgress(
  target: ServerSpec,
  name: string,
  done: (s: MigrationStatus) => boolean,
  options: { history?: boolean } = {},
): Promise<MigrationStatus> {
  // --only-show-errors: no progress at all.
  const view = showsProgress() ? new ProgressView(process.stderr, process.stderr.isTTY === true) : undefined;
  const reader = new TableProgressReader(target);
  if (options.history === false) view?.prime(await reader.read(name), await reader.events(name));
  let tables: readonly TableProgress[] = [];
  let events: readonly ProgressEventLine[] = [];
  let reading: Promise<void> | undefined;
  // Ctrl-C stops the waiting, not the migration: the runner is a separate process.
  const controller = new AbortController();
  const interrupt = () =>
    controller.abort(
      new PgferryError('WAIT_INTERRUPTED', `stopped waiting; migration "${name}" continues in its runner`, {
        category: 'canceled',
        fix: `follow it with \`pgferry show --name ${name}\``,
      }),
    );
  process.once('SIGINT', interrupt);
  try {
    // A stopped runner ends the wait too: nothing would move the migration any further.
    const final = await waitForMigration(target, name, (s) => done(s) || runnerStopped(s), {
      intervalMs: 1000,
      signal: controller.signal,
      onStatus: (status) => {
        view?.update(status, tables, events);
        // Table rows refresh in the background; the next status draws them.
        if (!reading && !FINAL_STATES.has(status.state)) {
          reading = Promise.all([reader.read(name), reader.events(name)]).then(([t, e]) => {
            tables = t;
            events = e;
            reading = undefined;
          });
        }
      },
    });
    view?.update(final, await reader.read(name), await reader.events(name));
    if (!done(final) && runnerStopped(final)) throw runnerStoppedError(final);
    return final;
  } finally {
    process.removeListener('SIGINT', interrupt);
    view?.close();
    // A read still in flight would reopen the connection after close.
    await reading;
    await reader.close();
  }
}
