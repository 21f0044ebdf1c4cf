// Root hooks: the leak check counts the runners this process starts (support/leaks.ts), and no
// cluster outlives the test run: each file's clusters are stopped after it, and a run killed
// before it could stop them has them stopped by its watchdog (support/runWatch.ts). Global fixtures
// (run once, in mocha's main process also in parallel mode, before the workers start): the run's
// directory and watchdog; a run-wide cache of pristine data directories
// (provider/localpg/pristine.ts), so initdb runs once per server version instead of per cluster;
// and a run-wide state directory for the runners' logs (XDG_STATE_HOME, engine/runner/spawn.ts), so
// a run neither fills the user's ~/.local/state/pgferry nor reads an older run's logs. It is kept
// under the temporary directory after the run: a failed test's runner logs are there to read.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAllClusters } from '../../provider/localpg/cluster';
import { fileEnded, fileStarted, slowestFiles, timeFilesIn } from './fileTimes';
import { ownRunnersStartedHere } from './leaks';
import { watchThisRun } from './runWatch';

export const mochaHooks = {
  beforeAll(): void {
    ownRunnersStartedHere();
    fileStarted();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    await stopAllClusters();
    await fileEnded(this.test?.parent);
  },
};

/** The cache this run made (none when PGFERRY_INITDB_CACHE was set by the caller). */
let madeCache: string | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  await watchThisRun();
  if (!process.env.XDG_STATE_HOME) process.env.XDG_STATE_HOME = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-test-state-'));
  timeFilesIn(process.env.XDG_STATE_HOME);
  if (process.env.PGFERRY_INITDB_CACHE) return;
  madeCache = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-initdb-'));
  // The servers' OS user builds inside it (as root): it may pass through, not list.
  await fs.chmod(madeCache, 0o711);
  process.env.PGFERRY_INITDB_CACHE = madeCache; // inherited by the parallel workers
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (madeCache) await fs.rm(madeCache, { recursive: true, force: true });
  const slowest = await slowestFiles();
  if (slowest) console.log(slowest);
}
