// Peak memory of a process tree (root + all descendants), sampled from /proc every ~100 ms.
import { promises as fs } from 'node:fs';

const PAGE_BYTES = 4096; // x86_64 / arm64 Linux default; statm and stat count pages
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat times are in these units on Linux

export interface TreeMemory {
  /** Highest sum of RSS over the tree seen in one sample (shared pages of forked children count once per process). */
  readonly peakRssBytes: number;
  /** Highest sum of PSS (shared pages divided among sharers): fairer for fork-based tools. */
  readonly peakPssBytes: number;
  /** Most processes seen in the tree at once. */
  readonly peakProcesses: number;
  readonly samples: number;
}

interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly rssBytes: number;
  /** utime + stime + cutime + cstime: its own CPU and that of the children it has reaped. */
  readonly cpuSeconds: number;
}

async function readProc(pid: number): Promise<ProcEntry | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return { pid, ppid: Number(fields[1]), rssBytes: Number(fields[21]) * PAGE_BYTES, cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined; // exited between readdir and read
  }
}

async function pssBytes(pid: number): Promise<number> {
  try {
    const text = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The root and its descendants as they are now. */
export async function treeOf(root: number): Promise<ProcEntry[]> {
  const pids = (await fs.readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const entries = (await Promise.all(pids.map(readProc))).filter((e): e is ProcEntry => e !== undefined);
  const children = new Map<number, ProcEntry[]>();
  for (const e of entries) {
    const list = children.get(e.ppid) ?? [];
    list.push(e);
    children.set(e.ppid, list);
  }
  const rootEntry = entries.find((e) => e.pid === root);
  if (!rootEntry) return [];
  const out: ProcEntry[] = [];
  const stack = [rootEntry];
  while (stack.length > 0) {
    const e = stack.pop()!;
    out.push(e);
    stack.push(...(children.get(e.pid) ?? []));
  }
  return out;
}

/** Samples the tree under `root` until stop() is called; stop() returns the peaks. */
export function sampleTree(root: number, intervalMs = 100): { stop(): Promise<TreeMemory> } {
  let peakRss = 0;
  let peakPss = 0;
  let peakProcesses = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const tree = await treeOf(root);
      if (tree.length > 0) {
        samples += 1;
        peakRss = Math.max(
          peakRss,
          tree.reduce((s, e) => s + e.rssBytes, 0),
        );
        const pss = (await Promise.all(tree.map((e) => pssBytes(e.pid)))).reduce((s, n) => s + n, 0);
        peakPss = Math.max(peakPss, pss);
        peakProcesses = Math.max(peakProcesses, tree.length);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peakRssBytes: peakRss, peakPssBytes: peakPss, peakProcesses, samples };
    },
  };
}

/**
 * CPU seconds consumed so far by a tree: live processes' own time plus what they have reaped, so
 * a PostgreSQL server's exited backends still count (through the postmaster's cutime).
 */
/** CPU seconds of one process (and the children it has reaped); 0 once it has exited. */
export async function processCpuSeconds(pid: number): Promise<number> {
  return (await readProc(pid))?.cpuSeconds ?? 0;
}

export async function treeCpuSeconds(root: number): Promise<number> {
  return (await treeOf(root)).reduce((s, e) => s + e.cpuSeconds, 0);
}
