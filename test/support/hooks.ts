// Root hooks: each test's timeout is the deadline of its waits (support/wait.ts), the leak check counts the runners this process starts (support/leaks.ts),
// a failed test's migrations are released and what it left is told under it, not again after all (support/servers.ts), and no
// cluster outlives the test run: each file's clusters are stopped after it, and a run killed
// before it could stop them has them stopped by its watchdog (support/runWatch.ts). Global fixtures
// (run once, in mocha's main process also in parallel mode, before the workers start): the run's
// directory and watchdog; a run-wide cache of pristine data directories
// (provider/localpg/pristine.ts), so initdb runs once per server version instead of per cluster,
// made inside the run's directory: beside the servers copied from it (in memory when the machine
// allows, support/runWatch.ts), and gone with them when a killed run is swept;
// and a run-wide state directory for the runners' logs (XDG_STATE_HOME, engine/runner/spawn.ts), so
// a run neither fills the user's ~/.local/state/pgferry nor reads an older run's logs. It is kept
// under the temporary directory after the run: a failed test's runner logs are there to read.
// PostgreSQL's own client binaries go first on PATH: Debian's /usr/bin/pg_dump, pg_restore and psql
// are postgresql-common's Perl wrapper, which picks the same binary but costs a Perl start on every
// call, thousands of them in a run (every runner and command looks up the versions of the tools).
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAllClusters } from '../../provider/localpg/cluster';
import { fileEnded, fileStarted, slowestFiles, timeFilesIn } from './fileTimes';
import { ownRunnersStartedHere } from './leaks';
import { watchThisRun } from './runWatch';
import { releaseAfterFailure, RELEASE_AFTER_FAILURE_MS } from './servers';
import { afterTimeout, testEnded, testStarted } from './wait';

export const mochaHooks = {
  beforeAll(): void {
    ownRunnersStartedHere();
    fileStarted();
  },
  beforeEach(this: Mocha.Context): void {
    testStarted(this.currentTest?.timeout() ?? 0);
  },
  async afterEach(this: Mocha.Context): Promise<void> {
    testEnded();
    const test = this.currentTest;
    if (test?.state !== 'failed') return;
    if (/^Timeout of \d+ms exceeded/.test(test.err?.message ?? '')) console.log(`      ${await afterTimeout()}`);
    this.timeout(RELEASE_AFTER_FAILURE_MS);
    const left = await releaseAfterFailure();
    if (left.length > 0) console.log(`      the failed test left behind (not reported again after all): ${left.join('; ')}`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    await stopAllClusters();
    await fileEnded(this.test?.parent);
  },
};

/** The cache this run made (none when PGFERRY_INITDB_CACHE was set by the caller). */
let madeCache: string | undefined;

/** The newest /usr/lib/postgresql/<major>/bin, the one Debian's wrapper would pick, if any. */
function newestDebianBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(path.join(root, name, 'bin', 'pg_dump')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : path.join(root, majors[0], 'bin');
}

export async function mochaGlobalSetup(): Promise<void> {
  const runDir = await watchThisRun();
  const binDir = newestDebianBinDir();
  if (binDir) process.env.PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ''}`; // inherited by the workers
  if (!process.env.XDG_STATE_HOME) process.env.XDG_STATE_HOME = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-test-state-'));
  timeFilesIn(process.env.XDG_STATE_HOME);
  if (process.env.PGFERRY_INITDB_CACHE) return;
  madeCache = await fs.mkdtemp(path.join(runDir, 'initdb-'));
  // The servers' OS user builds inside it (as root): it may pass through, not list.
  await fs.chmod(madeCache, 0o711);
  process.env.PGFERRY_INITDB_CACHE = madeCache; // inherited by the parallel workers
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (madeCache) await fs.rm(madeCache, { recursive: true, force: true });
  const slowest = await slowestFiles();
  if (slowest) console.log(slowest);
}
