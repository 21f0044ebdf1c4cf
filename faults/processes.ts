// Finding a trial's pgferry processes through /proc: the harness starts the CLI with a marker in
// its environment, the detached runner and its pg_dump/pg_restore children inherit it, so the
// runners of this trial are found without trusting pgferry's own record of them. An agent's spare
// runner (no job yet) carries a mark on its command line and is told apart from runners with a job.
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { SPARE_ARGUMENT } from '../provider/engine/internal';

/** The environment variable that marks a trial's processes. */
export const TRIAL_MARKER = 'PGFERRY_FAULT_TRIAL';

export interface TrialProcess {
  readonly pid: number;
  readonly ppid: number;
  /** /proc state letter: R, S, D, T (stopped), Z ... */
  readonly state: string;
  readonly command: string;
  /** When the process started, in milliseconds since the epoch (from /proc, to the kernel's clock tick). */
  readonly startedAt?: number;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined; // the process ended between listing and reading
  }
}

/** Clock ticks a second in /proc's times: USER_HZ, which Linux reports the same on every architecture the project runs on. */
const USER_HZ = 100;

function parseStat(stat: string): { state: string; ppid: number; startTicks: number } {
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  // After it, the state is field 3 of proc(5) and the start time field 22.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTicks: Number(rest[19]) };
}

let bootTime: number | undefined;

/** When the machine booted, in milliseconds since the epoch: the origin of a process's start time in /proc. */
function bootedAt(): number | undefined {
  if (bootTime === undefined) {
    const line = /^btime (\d+)$/m.exec(readProcText('/proc/stat') ?? '');
    if (line) bootTime = Number(line[1]) * 1000;
  }
  return bootTime;
}

/** A /proc file's text, read at once; undefined when the process ended between listing and reading. */
function readProcText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Processes (not zombies) whose environment carries `TRIAL_MARKER=trial`. It reads every process's
 * command line on the machine, several times a second while a trial runs (the monitor's samples),
 * so it reads them synchronously: an asynchronous read of each small /proc file (open, stat, read,
 * close, each a round trip through the thread pool) cost the trial's process several times the CPU
 * of the read itself, and a scan is short enough not to hold the event loop for long.
 */
export function trialProcesses(trial: string): Promise<TrialProcess[]> {
  const needle = `${TRIAL_MARKER}=${trial}\0`;
  const out: TrialProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readProcText(`/proc/${entry}/cmdline`);
    if (!cmdline || !/node|pg_dump|pg_restore|psql/.test(cmdline)) continue;
    const environ = readProcText(`/proc/${entry}/environ`);
    if (!environ || !`${environ}\0`.includes(needle)) continue;
    const stat = readProcText(`/proc/${entry}/stat`);
    if (!stat) continue;
    const { state, ppid, startTicks } = parseStat(stat);
    if (state === 'Z' || state === 'X') continue;
    const boot = bootedAt();
    const startedAt = boot === undefined || !Number.isFinite(startTicks) ? undefined : boot + (startTicks * 1000) / USER_HZ;
    out.push({
      pid: Number(entry),
      ppid,
      state,
      command: cmdline.split('\0').join(' ').trim(),
      ...(startedAt === undefined ? {} : { startedAt }),
    });
  }
  return Promise.resolve(out);
}

const RUNNER_COMMAND = /runner[\\/]main\.js/;
/** The spare's mark as one argument of a command line joined with spaces. */
const SPARE_MARK = new RegExp(`(^| )${SPARE_ARGUMENT}( |$)`);

/**
 * A runner process of any kind: the runner entry point, started by the CLI or by an agent, never
 * by another runner. A runner's child between its fork and its exec (a pg_dump or pg_restore about
 * to start) shows the runner's own command line and environment in /proc; a scan that caught it
 * there took it for a second runner, and the connection it opened once it became pg_restore for
 * that runner's work.
 */
function isRunnerProcess(p: TrialProcess, byPid: ReadonlyMap<number, TrialProcess>): boolean {
  return RUNNER_COMMAND.test(p.command) && !RUNNER_COMMAND.test(byPid.get(p.ppid)?.command ?? '');
}

/**
 * An agent's spare runner (runner/spareRunner.ts): its command line still carries the spare's
 * mark, which the process drops once it has read its input and before it opens any connection. It
 * has no migration, holds no lease and no connection, and lives as long as its agent: it is not a
 * runner with a job, which is what the judge counts.
 */
export function isSpare(p: TrialProcess): boolean {
  return RUNNER_COMMAND.test(p.command) && SPARE_MARK.test(p.command);
}

/** A runner with a job: a runner process that is not a spare. */
function isRunner(p: TrialProcess, byPid: ReadonlyMap<number, TrialProcess>): boolean {
  return isRunnerProcess(p, byPid) && !isSpare(p);
}

/** Runners with a job: the runner entry point (its children are pg_dump and pg_restore), spares left out. */
export function runners(processes: readonly TrialProcess[]): TrialProcess[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  return processes.filter((p) => isRunner(p, byPid));
}

/** Runner processes of any kind, spares included: after its agents stopped, a trial has none left. */
export function runnerProcesses(processes: readonly TrialProcess[]): TrialProcess[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  return processes.filter((p) => isRunnerProcess(p, byPid));
}

/**
 * The runner process a process belongs to (itself or an ancestor), or undefined for an orphan. A
 * spare is owner of what it opened: it should open nothing, and a connection it opened and worked
 * on beside the runner is counted as a second runner's work, not left unowned.
 */
export function owningRunner(pid: number, processes: readonly TrialProcess[]): number | undefined {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  for (let p = byPid.get(pid); p; p = byPid.get(p.ppid)) {
    if (isRunnerProcess(p, byPid)) return p.pid;
  }
  return undefined;
}

/**
 * The inode of the open socket in a /proc/net/tcp table whose local port is `localPort` and whose
 * peer's port is `remotePort`. The local port alone names no connection: Linux hands one ephemeral
 * port to several connections at once when their destinations differ, so a runner's connection to
 * the target's proxy may share its port with a connection to the source's proxy, or with another
 * program's; the pair of ports on loopback is what is unique.
 */
export function socketInodeIn(table: string, localPort: number, remotePort: number): string | undefined {
  const hex = (port: number): string => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // a socket no process holds any more (TIME_WAIT) shows inode 0
    if (cols[1]?.endsWith(hex(localPort)) && cols[2]?.endsWith(hex(remotePort)) && cols[9] && cols[9] !== '0') return cols[9];
  }
  return undefined;
}

/** Which of `candidates` holds the client end of a connection: its local port `port`, to a peer listening on `peerPort`. */
export async function pidOfConnection(port: number, peerPort: number, candidates: readonly number[]): Promise<number | undefined> {
  const inode = socketInodeIn((await readText('/proc/net/tcp')) ?? '', port, peerPort);
  if (!inode) return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = await fs.readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (target === link) return pid;
    }
  }
  return undefined;
}

/** Sends a signal to a runner's process group (the runner is detached: its own group leader). */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false; // already gone
    }
  }
}
