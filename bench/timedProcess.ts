// Runs one command as a child process: wall time, exit code, output, and its tree's peak memory.
import { spawn } from 'node:child_process';
import { sampleTree, type TreeMemory } from './procTree';

export interface TimedRun {
  readonly seconds: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly memory: TreeMemory;
}

export interface TimedOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly stdin?: string;
  readonly cwd?: string;
  /** Called with each complete stdout line as it arrives (progress events). */
  readonly onLine?: (line: string) => void;
}

export async function runTimed(command: string, args: readonly string[], options: TimedOptions = {}): Promise<TimedRun> {
  const started = process.hrtime.bigint();
  const child = spawn(command, [...args], {
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
  child.stdin.end(options.stdin ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const memory = await sampler.stop();
  if (pending && options.onLine) options.onLine(pending);
  return { seconds, code, stdout, stderr, memory };
}

/** Replaces every occurrence of the secrets in tool output before it is shown. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out.replace(/postgres(ql)?:\/\/[^\s'"]+/g, 'postgres://***');
}
