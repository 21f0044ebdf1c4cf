// What a migration's status says about waiting on it: whether its runner has stopped, whether its
// streams wait for a fix, whether a cutover it asked for stopped, and the one settled check of the
// CLI and the Pulumi resource built from them. Pure: a status in, a yes or no out.
import { isFinalState, type MigrationStatus } from './model';
import { waitsBeforeCopy } from './transitions';

/**
 * A migration in progress whose runner has stopped (no lease held, or no heartbeat for
 * RUNNER_STALE_SECONDS): nothing drives it until it is resumed or canceled. A migration run in the
 * caller's process records no runner and never counts as stopped.
 */
export function runnerStopped(status: MigrationStatus): boolean {
  return !isFinalState(status.state) && runnerGone(status);
}

/**
 * A runner ran the migration and holds no lease any more, whatever the migration's state (a
 * Succeeded one's fallback window needs a runner too, unlike runnerStopped's).
 */
export function runnerGone(status: MigrationStatus): boolean {
  return status.runner !== undefined && !status.runner.alive;
}

/**
 * A migration whose streams stopped on errors the user must fix, each tried since the last retry
 * the user asked for: waiting longer changes nothing until someone fixes the cause.
 */
export function waitingForApplyFix(status: MigrationStatus): boolean {
  if (isFinalState(status.state) || status.subState !== 'WaitingForApplyFix') return false;
  return status.databases.every((d) => !d.applyStop || d.applyStop.retryRequestsSeen >= (status.applyRetryRequests ?? 0));
}

/**
 * A cutover that was asked for and stopped without completing (rolled back by the lag gate or the
 * writer fence, a verification mismatch): the request is cleared and changes stream on, `message`
 * says why. With `databases`, the cutover of those (dbsToTriggerCutoverOn): none is requested any
 * more, and not all of them were cut over.
 */
export function cutoverStopped(status: MigrationStatus, databases?: readonly string[]): boolean {
  if (isFinalState(status.state) || status.mode !== 'Online') return false;
  if (status.subState !== 'WaitingForCutoverTrigger' && status.subState !== 'WaitingForApplyFix') return false;
  if (databases === undefined) return !status.cutoverRequested && (status.dbsToTriggerCutoverOn ?? []).length === 0;
  const open = status.databases.filter((d) => databases.includes(d.database) && d.state !== 'Succeeded' && d.state !== 'Canceled');
  return open.length > 0 && !open.some((d) => (status.dbsToTriggerCutoverOn ?? []).includes(d.database));
}

/** What a wait on a migration is for: its run (for an online one, until changes stream), its cutover, its cancel. */
export type WaitGoal = 'run' | 'cutover' | 'cancel';

/**
 * Whether waiting for `goal` is over: the one settled check of the CLI and the Pulumi resource. A
 * final state ends every wait; a stream stopped on an error to fix ends a run's or a cutover's
 * (waiting on would change nothing until the user fixes it); an online run ends where it waits
 * for the cutover trigger, or where it waits before its copy (core/transitions.ts).
 */
export function isSettled(status: MigrationStatus, goal: WaitGoal): boolean {
  if (isFinalState(status.state)) return true;
  if (goal !== 'cancel' && waitingForApplyFix(status)) return true;
  if (goal === 'cutover' && cutoverStopped(status)) return true;
  // waiting for the user (overwrite confirmation, the source's restart) or for its window: a run's wait is over
  if (goal === 'run' && waitsBeforeCopy(status)) return true;
  return goal === 'run' && status.mode === 'Online' && status.option !== 'Validate' && status.subState === 'WaitingForCutoverTrigger';
}

/**
 * Whether waiting for a fall-back is over (`update --fall-back --wait`, PgMigration `fallBack`):
 * every window fell back, or none is asked or under way any more (it stopped: the window's message
 * says why), or the runner is gone.
 */
export function fallBackSettled(status: MigrationStatus): boolean {
  const windows = status.databases.flatMap((d) => (d.fallback ? [d.fallback] : []));
  if (windows.length === 0 || windows.every((w) => w.state === 'FellBack')) return true;
  if (runnerGone(status)) return true;
  return !windows.some((w) => w.state === 'FallingBack' || w.fallBackRequested === true);
}

/**
 * Whether waiting for the forward stream after a fall-back with resumeForward is over (PgMigration
 * `fallBack` with `resumeForward`): the migration left Succeeded and a run's wait is over (changes
 * stream forward again, or it ended, or waits for a fix), or the runner is gone. On its way out of
 * Succeeded it makes the forward stream again through the copy's sub-states: not over then.
 */
export function forwardAgainSettled(status: MigrationStatus): boolean {
  if (runnerGone(status)) return true;
  return status.state !== 'Succeeded' && isSettled(status, 'run');
}
