// Starting the detached runner for a registered migration (startMigration registers it first, so
// a taken name fails in the caller): spawns the runner in its own session with its own log, hands
// it the spec on stdin, and returns once it holds its lease. A runner that lost its lease starts
// its successor through the same launch.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CatalogConnection } from '../control/connection';
import { PgferryError } from '../core/errors';
import { FINAL_STATES } from '../core/model';
import { RUNNER_EXIT, runnerInput, type RunnerInput, type Succession } from '../input/handOff';
import { leaseHeld } from './lease';
import type { MigrationSpec, ServerSpec } from '../input/migrationSpec';
import { runnerLogName } from '../core/names';
import { get } from '../control/store';

/**
 * The directory of runner logs: private to this OS user (0700, ours, not a symlink), never a
 * predictable path in the shared /tmp where another local user could plant a file or read ours.
 * $XDG_STATE_HOME/pgferry, else ~/.local/state/pgferry.
 */
export function runnerLogDir(): string {
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  const dir = path.join(base, 'pgferry');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new PgferryError('RUNNER_LOG_DIR', `${dir} is not a directory of this user's`, {
      category: 'internal',
      fix: `remove it, or set XDG_STATE_HOME to a private directory`,
    });
  }
  chmodSync(dir, 0o700);
  return dir;
}

/** Where a migration's runner writes its log (progress lines only: no secrets); one file per name and target. */
export function runnerLogPath(migration: string, target: Pick<ServerSpec, 'host' | 'port' | 'maintenanceDatabase'>): string {
  return path.join(runnerLogDir(), runnerLogName(migration, target));
}

/** Failpoints a test arms for a runner's successor alone (util/failpoints.ts): they are its PGFERRY_FAILPOINTS. */
export const SUCCESSOR_FAILPOINTS = 'PGFERRY_SUCCESSOR_FAILPOINTS';

/**
 * The environment a runner starts with: this process's, but a successor's (runner/successor.ts)
 * without the failpoints armed for this process, which would fire again in it (a kill meant for one
 * runner killing each of its successors in turn); it gets only those a test arms for a successor,
 * and passes none on to its own.
 */
export function runnerEnvironment(env: NodeJS.ProcessEnv, successor: boolean): NodeJS.ProcessEnv {
  if (!successor) return env;
  const out = { ...env };
  delete out.PGFERRY_FAILPOINTS;
  delete out[SUCCESSOR_FAILPOINTS];
  const armed = env[SUCCESSOR_FAILPOINTS];
  return armed ? { ...out, PGFERRY_FAILPOINTS: armed } : out;
}

/**
 * Starts a detached runner in its own session, appending to the migration's log, and hands it the
 * spec on stdin: the one way a runner is started for a migration that is not an agent's (by a
 * caller here, or by a runner that lost its lease for its successor, runner/successor.ts).
 * `handedOver` resolves once the spec is in the runner's standard input.
 */
export function launchRunner(
  spec: MigrationSpec,
  reason: RunnerInput['reason'],
  succession?: Succession,
): { child: ChildProcess; logFile: string; handedOver: Promise<void> } {
  const logFile = runnerLogPath(spec.migrationName, spec.target);
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [path.join(__dirname, 'main.js')], {
    detached: true,
    stdio: ['pipe', log, log],
    cwd: os.tmpdir(),
    env: runnerEnvironment(process.env, succession !== undefined),
  });
  closeSync(log);
  // a runner gone before it read its input, or one that could not start, must not make this
  // process fail: the caller reads the child's exit or its start error
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  const handedOver = new Promise<void>((resolve) => child.stdin!.end(runnerInput(spec, reason, succession), () => resolve()));
  child.unref();
  return { child, logFile, handedOver };
}

export async function spawnRunner(spec: MigrationSpec, reason: 'create' | 'resume', options: { timeoutMs?: number } = {}): Promise<void> {
  const name = spec.migrationName;
  const store = new CatalogConnection(spec.target);
  try {
    const { child, logFile } = launchRunner(spec, reason);
    let exitCode: number | null | undefined;
    let failed: Error | undefined;
    child.on('exit', (code) => (exitCode = code));
    child.on('error', (error) => (failed = error));

    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      if (failed)
        throw new PgferryError('RUNNER_START', `the runner for "${name}" could not be started: ${failed.message}`, {
          category: 'internal',
        });
      const status = await get(store, name);
      if (status?.runner?.alive && status.runner.pid === child.pid) return;
      if (status && FINAL_STATES.has(status.state) && exitCode !== undefined) return;
      // another runner took the lease first (the successor of one that lost it, an agent): it runs the migration
      if (exitCode === RUNNER_EXIT.leaseHeld) throw leaseHeld(name, status?.runner?.alive ? status.runner : undefined);
      if (exitCode !== undefined && exitCode !== 0) {
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
        throw new PgferryError('RUNNER_START', `the runner for "${name}" exited with code ${exitCode}: ${tail}`, { category: 'internal' });
      }
      if (Date.now() > deadline) {
        throw new PgferryError(
          'RUNNER_START',
          `the runner for "${name}" did not take its lease within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`,
          {
            category: 'internal',
            fix: `see ${logFile}`,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await store.close();
  }
}
