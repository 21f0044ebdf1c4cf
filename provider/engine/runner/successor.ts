// A runner's successor. A runner that loses its lease stops at once and never writes again
// (runner/main.ts): it may already have a successor. But the lease is lost to more than a
// successor: a DBA who ends every session named pgferry before maintenance, or a target that
// restarts, ends it too, and a runner that only stopped left the migration stalled, its slot holding
// WAL on the source, until someone resumed it. So a runner that no agent started (an agent resumes
// its migrations itself) starts its own successor as it exits: a detached runner with the same spec,
// resuming, through the same launch as any runner (runner/spawn.ts). The successor waits until its
// predecessor is gone, so nothing the predecessor still does can land after it, then takes the
// lease, trying again while the target is away. A runner that holds the lease already (the user
// resumed, an agent took over) runs the migration, and the successor leaves quietly.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { CatalogConnection } from '../control/connection';
import { fallbackWindows, windowsNeedRunner } from '../control/fallbackWindows';
import { get, recordEvent } from '../control/store';
import { errorMessage, isPgferryError } from '../core/errors';
import { isFinalState } from '../core/model';
import type { Succession } from '../input/handOff';
import type { MigrationSpec } from '../input/migrationSpec';
import { acquireLease, type Lease } from './lease';
import { launchRunner } from './spawn';
import { holdpoint } from '../util/failpoints';

/**
 * How many successors one line of runners may start within SUCCESSION_WINDOW_MS. A DBA's sweep
 * before maintenance ends the lease once, twice if they sweep again; more within minutes means
 * something ends pgferry's sessions in a loop (a script, a proxy ending idle sessions), and every
 * successor would restart the stream only to be cut again. The successor past the limit stops
 * instead, saying so in the migration's events, and waits for the user to find the cause and resume.
 */
export const SUCCESSIONS_AT_MOST = 3;
export const SUCCESSION_WINDOW_MS = 10 * 60_000;

/** How long a successor tries to take the lease while the target is away (a restart, a failover) before it gives up. */
const TAKE_LEASE_FOR_MS = 10 * 60_000;
/** The waits between two tries: doubling from the first up to the last, as a phase waits for a server (flow/outage.ts). */
const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 30_000;
/** How long the runner that lost its lease waits for its successor to read the spec before it exits anyway. */
const HAND_OVER_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The line of successors this runner's successor continues: the losses of the last window, this one's last. */
export function nextSuccession(predecessorPid: number, cause: string, before: Succession | undefined, now: number): Succession {
  const losses = (before?.losses ?? []).filter((at) => now - at < SUCCESSION_WINDOW_MS);
  return { predecessorPid, cause, losses: [...losses, now] };
}

/** Whether a successor with this succession is past the limit: it stops rather than run. */
export function tooManySuccessions(succession: Succession): boolean {
  return succession.losses.length > SUCCESSIONS_AT_MOST;
}

/**
 * Called by a runner that lost its lease, as it stops: starts its successor and returns its pid
 * once the successor has the spec on its standard input (never on a command line).
 */
export async function startSuccessor(spec: MigrationSpec, cause: string, before: Succession | undefined): Promise<number | undefined> {
  const { child, handedOver } = launchRunner(spec, 'resume', nextSuccession(process.pid, cause, before, Date.now()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([handedOver, new Promise<void>((resolve) => (timer = setTimeout(resolve, HAND_OVER_MS)))]);
  clearTimeout(timer);
  return child.pid;
}

/** Whether the process is still there (a zombie is gone: it only waits to be reaped). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: the signal's answer stands
  }
}

/**
 * The successor's start: waits until its predecessor has exited, then takes the lease, again with
 * longer waits while the target is away. Else `elsewhere` when another runner holds the lease (it
 * runs the migration), `gaveUp` when the target stayed away too long; both said in the log.
 */
export async function takeOverLease(spec: MigrationSpec, succession: Succession): Promise<Lease | 'elsewhere' | 'gaveUp'> {
  const name = spec.migrationName;
  const deadline = Date.now() + TAKE_LEASE_FOR_MS;
  console.log(`migration ${name}: successor of runner ${succession.predecessorPid}, which lost its lease (${succession.cause})`);
  while (processAlive(succession.predecessorPid)) {
    if (Date.now() > deadline) {
      console.error(
        `runner ${succession.predecessorPid} did not exit within ${TAKE_LEASE_FOR_MS / 60_000} min: this successor stops; resume the migration to continue`,
      );
      return 'gaveUp';
    }
    await sleep(100);
  }
  // a test lets the user's resume (or an agent) take the lease first, at exactly this point
  await holdpoint('successor-lease');
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, LONGEST_WAIT_MS)) {
    try {
      return await acquireLease(spec.target, name, (note) => console.error(note));
    } catch (error) {
      if (isPgferryError(error) && error.code === 'RUNNER_ALREADY_RUNNING') {
        console.log(`another runner holds the lease of migration ${name}: it runs the migration, and this successor exits`);
        return 'elsewhere';
      }
      if (Date.now() + wait > deadline) {
        console.error(
          `could not take the lease within ${TAKE_LEASE_FOR_MS / 60_000} min (${errorMessage(error)}): this successor stops; resume the migration once the target is back`,
        );
        return 'gaveUp';
      }
      console.error(
        `taking the lease: ${errorMessage(error)}; trying again in ${wait / 1000} s, for at most ${TAKE_LEASE_FOR_MS / 60_000} min in all`,
      );
      await sleep(wait);
    }
  }
}

/**
 * The successor holds the lease: whether it runs the migration. Not when the migration ended
 * meanwhile (a cancel carried out by its caller, runner/stoppedRunner.ts), nor past the limit of
 * successions, which it records; else it records why it took over, so `show` and the console tell.
 */
export async function successorRuns(store: CatalogConnection, spec: MigrationSpec, succession: Succession): Promise<boolean> {
  const name = spec.migrationName;
  const status = await get(store, name);
  const cutOver = status?.state === 'Succeeded' && windowsNeedRunner(await fallbackWindows(store, name));
  if (!status || (isFinalState(status.state) && !cutOver)) {
    console.log(`migration ${name}: ${status?.state ?? 'gone'}, nothing to resume; this successor exits`);
    return false;
  }
  const ended = `the runner's lease session was ended on the target (${succession.cause})`;
  if (tooManySuccessions(succession)) {
    const message =
      `${ended}, the ${succession.losses.length}th time within ${SUCCESSION_WINDOW_MS / 60_000} min: something ends pgferry's sessions ` +
      `again and again, so no new runner is started; find what ends the sessions named pgferry on the target and the source, then resume the migration`;
    await recordEvent(store, name, 'error', message);
    console.error(message);
    return false;
  }
  // who took over from whom and why, in the events and this runner's log alike
  const tookOver = `runner ${process.pid} on ${os.hostname()} took over from runner ${succession.predecessorPid}`;
  await recordEvent(store, name, 'warning', `${ended}: a new runner resumed the migration (${tookOver})`);
  console.log(`migration ${name}: ${tookOver}, whose lease session was ended on the target (${succession.cause}); resuming the migration`);
  return true;
}
