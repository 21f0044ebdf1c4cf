// No server outlives the test run that started it, however the run ends. Each run makes its own
// directory for its clusters and names it in the environment (CLUSTERS_DIR_VARIABLE), which every
// process it starts inherits: mocha's workers, the servers pg_ctl starts (detached, so a killed
// run would otherwise leave them running), pgferry's runners. A detached watchdog waits for the
// run's main process to end and then stops every process that carries the run's directory and
// removes it. A run that finds the directory of a run whose main process and watchdog are both
// gone (the machine was restarted, the watchdog was killed too) sweeps it the same way at start.
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLUSTERS_DIR_VARIABLE } from '../../provider/localpg/cluster';

const RUN_PREFIX = 'pgferry-testrun-';
/** The file in a run's directory holding its main process's and its watchdog's pids. */
const OWNERS_FILE = 'owners';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readProc(pid: string, file: 'cmdline' | 'environ'): string[] {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0');
  } catch {
    return []; // the process ended while we looked
  }
}

type RunProcess = { readonly pid: number; readonly kind: 'postmaster' | 'backend' | 'other' };

/** Processes (but this one) started under a run's directory: its workers, servers and runners. */
async function processesOfRun(dir: string): Promise<RunProcess[]> {
  const marker = `${CLUSTERS_DIR_VARIABLE}=${dir}`;
  const found: RunProcess[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (!readProc(entry, 'environ').includes(marker)) continue;
    // a postmaster runs as `postgres -D <data>`, its children name themselves `postgres: ...`
    const [program = '', flag] = readProc(entry, 'cmdline');
    const kind =
      path.basename(program) === 'postgres' && flag === '-D' ? 'postmaster' : program.startsWith('postgres:') ? 'backend' : 'other';
    found.push({ pid: Number(entry), kind });
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** How long postmasters get to shut down on SIGQUIT before whatever is left is killed. */
const QUIT_GRACE_MS = 5_000;

/**
 * Stops every process of a run and removes its directory. Node processes are killed at once, so
 * that no worker starts a server while the servers stop; a postmaster gets SIGQUIT (immediate
 * shutdown: it ends its backends and frees its shared memory); whatever is still there after a
 * few seconds gets SIGKILL.
 */
export async function sweepRun(dir: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const left = await processesOfRun(dir);
    if (left.length === 0) break;
    const late = Date.now() - started > QUIT_GRACE_MS;
    for (const p of left) {
      if (p.kind === 'other' || late) signal(p.pid, 'SIGKILL');
      else if (p.kind === 'postmaster') signal(p.pid, 'SIGQUIT');
    }
    if (Date.now() - started > 4 * QUIT_GRACE_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * The environment for a command a test runs as a user would: this process's, without libpq's PG*
 * variables (a test gives the ones it means), but with the run's directory, whose name starts with
 * PG too. A command that lost it (a `pgferry agent`, the runner a `pgferry create` starts detached)
 * would be no process of the run's to its watchdog, and would outlive a run that is killed.
 */
export function commandEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG') || k === CLUSTERS_DIR_VARIABLE) env[k] = v;
  return env;
}

/** Linux's number for a tmpfs file system, as statfs gives it. */
const TMPFS_MAGIC = 0x01021994;
/** The memory-backed directory a run prefers for its servers. */
const MEMORY_DIR = '/dev/shm';
/** The room a run's servers need there, free, before the run puts them there. */
const MEMORY_DIR_ROOM = 4 * 1024 ** 3;

/**
 * Where a run makes its directory: in memory when the machine has a tmpfs with room for the run's
 * servers, else the temporary directory. A copied data directory and the WAL a server writes cost
 * their pages' way to the virtual disk, and a throwaway server, whose fsync is off, gets nothing from
 * the disk it would keep. A container's small /dev/shm keeps the servers on disk, and so does a
 * TMPDIR the caller sets: the place chosen is the caller's.
 */
async function runsParent(): Promise<string> {
  if (process.env.TMPDIR) return os.tmpdir();
  const room = await fs
    .statfs(MEMORY_DIR)
    .then((s) => (s.type === TMPFS_MAGIC ? s.bavail * s.bsize : 0))
    .catch(() => 0);
  const writable = await fs.access(MEMORY_DIR, fsConstants.W_OK).then(
    () => true,
    () => false,
  );
  return room >= MEMORY_DIR_ROOM && writable ? MEMORY_DIR : os.tmpdir();
}

/** Sweeps the directories of earlier runs whose main process and watchdog are both gone, wherever they were made. */
async function sweepAbandonedRuns(): Promise<void> {
  for (const parent of new Set([os.tmpdir(), MEMORY_DIR])) await sweepAbandonedIn(parent);
}

async function sweepAbandonedIn(parent: string): Promise<void> {
  const names = await fs.readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = path.join(parent, name);
    const owners = await fs.readFile(path.join(dir, OWNERS_FILE), 'utf8').catch(() => '');
    const pids = owners.split(/\s+/).filter(Boolean).map(Number);
    // a run still being set up has not written its owners yet: leave a young directory alone
    const young = pids.length === 0 && Date.now() - (await fs.stat(dir)).mtimeMs < 60_000;
    if (young || pids.some(alive)) continue;
    await sweepRun(dir);
  }
}

/**
 * Makes this run's directory for clusters, names it in the environment (inherited by the workers
 * and everything they start), and starts its watchdog. Called once, in mocha's main process.
 */
export async function watchThisRun(): Promise<string> {
  await sweepAbandonedRuns();
  const dir = await fs.mkdtemp(path.join(await runsParent(), RUN_PREFIX));
  // the servers' OS user makes its data directories inside it (as root): it may pass through
  await fs.chmod(dir, 0o711);
  process.env[CLUSTERS_DIR_VARIABLE] = dir;
  const watchdog = spawn(process.execPath, [path.join(__dirname, 'runWatchdog.js'), dir, String(process.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  await fs.writeFile(path.join(dir, OWNERS_FILE), `${process.pid} ${watchdog.pid ?? ''}\n`);
  return dir;
}
