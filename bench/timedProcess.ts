// Runs one command as a child process: wall time, exit code, output, and its tree's peak memory.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleTree, type TreeMemory } from './procTree';

export interface TimedRun {
  readonly seconds: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly memory: TreeMemory;
  /** User + system CPU seconds of the command and every descendant it waited for (GNU time). */
  readonly cpuSeconds?: number;
}

const GNU_TIME = '/usr/bin/time';

export interface TimedOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly stdin?: string;
  /** Keeps standard input open until `feed` is called: a process started ahead and given its input later. */
  readonly holdStdin?: boolean;
  readonly cwd?: string;
  /** Called with each complete stdout line as it arrives (progress events). */
  readonly onLine?: (line: string) => void;
}

export interface StartedProcess {
  /** The command's own pid (the wrapper's when GNU time measures CPU). */
  readonly pid: number;
  readonly done: Promise<TimedRun>;
  /** Writes `text` to standard input and closes it (only when started with `holdStdin`). */
  readonly feed: (text: string) => void;
}

export async function runTimed(command: string, args: readonly string[], options: TimedOptions = {}): Promise<TimedRun> {
  return startTimed(command, args, options).done;
}

/** Starts the command and returns at once; `done` settles when it exits. */
export function startTimed(command: string, args: readonly string[], options: TimedOptions & { cpu?: boolean } = {}): StartedProcess {
  // GNU time adds the CPU of every reaped descendant, which /proc sampling would miss at exit.
  const timeFile =
    options.cpu !== false && existsSync(GNU_TIME) ? path.join(os.tmpdir(), `pgferry-bench-time-${process.pid}-${Date.now()}`) : undefined;
  const [file, argv] = timeFile ? [GNU_TIME, ['-f', '%U %S', '-o', timeFile, command, ...args]] : [command, [...args]];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const sampler = sampleTree(child.pid ?? -1);
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    if (!options.onLine) return;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) options.onLine(line);
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  if (!options.holdStdin) child.stdin.end(options.stdin ?? '');
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const finish = async (): Promise<TimedRun> => {
    const code = await exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const memory = await sampler.stop();
    if (pending && options.onLine) options.onLine(pending);
    let cpuSeconds: number | undefined;
    if (timeFile) {
      const text = await fs.readFile(timeFile, 'utf8').catch(() => '');
      await fs.rm(timeFile, { force: true });
      // The last line holds "user system"; earlier lines may report a non-zero exit status.
      const [user, system] = (text.trim().split('\n').pop() ?? '').split(' ').map(Number);
      if (Number.isFinite(user) && Number.isFinite(system)) cpuSeconds = user! + system!;
    }
    return { seconds, code, stdout, stderr, memory, cpuSeconds };
  };
  return { pid: child.pid ?? -1, done: finish(), feed: (text) => child.stdin.end(text) };
}

/** Replaces every occurrence of the secrets in tool output before it is shown. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out.replace(/postgres(ql)?:\/\/[^\s'"]+/g, 'postgres://***');
}
