// Finding a trial's pgferry processes through /proc: the harness starts the CLI with a marker in
// its environment, the detached runner and its pg_dump/pg_restore children inherit it, so the
// runners of this trial are found without trusting pgferry's own record of them.
import { promises as fs, readdirSync, readFileSync } from 'node:fs';

/** The environment variable that marks a trial's processes. */
export const TRIAL_MARKER = 'PGFERRY_FAULT_TRIAL';

export interface TrialProcess {
  readonly pid: number;
  readonly ppid: number;
  /** /proc state letter: R, S, D, T (stopped), Z ... */
  readonly state: string;
  readonly command: string;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined; // the process ended between listing and reading
  }
}

function parseStat(stat: string): { state: string; ppid: number } {
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]) };
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
    const { state, ppid } = parseStat(stat);
    if (state === 'Z' || state === 'X') continue;
    out.push({ pid: Number(entry), ppid, state, command: cmdline.split('\0').join(' ').trim() });
  }
  return Promise.resolve(out);
}

/** Runner processes: the runner entry point (its children are pg_dump and pg_restore). */
export function runners(processes: readonly TrialProcess[]): TrialProcess[] {
  return processes.filter((p) => /runner[\\/]main\.js/.test(p.command));
}

/** The runner a process belongs to (itself or an ancestor), or undefined for an orphan. */
export function owningRunner(pid: number, processes: readonly TrialProcess[]): number | undefined {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  for (let p = byPid.get(pid); p; p = byPid.get(p.ppid)) {
    if (/runner[\\/]main\.js/.test(p.command)) return p.pid;
  }
  return undefined;
}

/** Socket inode of the loopback TCP connection whose local port is `port` (from /proc/net/tcp). */
async function socketInode(port: number): Promise<string | undefined> {
  const table = (await readText('/proc/net/tcp')) ?? '';
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(`:${hexPort}`) && cols[9] && cols[9] !== '0') return cols[9];
  }
  return undefined;
}

/** Which of `candidates` holds the socket with local port `port`. */
export async function pidOfPort(port: number, candidates: readonly number[]): Promise<number | undefined> {
  const inode = await socketInode(port);
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
