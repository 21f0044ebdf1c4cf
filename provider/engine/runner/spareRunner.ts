// A runner process an agent starts before it has a job for it: Node started and the runner's
// modules loaded, waiting for its input on stdin (runner/main.ts reads nothing else first). A job
// the agent claims is handed to it at once, so the migration's resume does not wait for a new
// process and its modules. Until then it belongs to no migration: its output is kept in memory
// and goes to the log of the migration it is handed (the log is per migration, unknown at its
// start). Like every runner of an agent it holds a lifeline pipe on fd 3 and exits when the agent
// is gone, handed a job or not. It is started with SPARE_ARGUMENT, which it drops from its command
// line once it has read its input: a look at /proc tells a spare, which has no migration and no
// connection, from a runner with a job.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The argument a spare is started with. /proc shows it on the process's command line until the
 * process has read its input (dropSpareMark): the fault campaign's judge counts only runners
 * without it as runners (faults/processes.ts), since a spare is one process per agent, alive as
 * long as its agent, and holds nothing.
 */
export const SPARE_ARGUMENT = '--spare';

/**
 * Called by every runner once it has read its input, before it opens any connection: a spare
 * drops its mark from its command line as /proc shows it. Setting the process title overwrites
 * the memory of the process's arguments, so the title is its own arguments without the mark: no
 * longer than that memory, it is never cut short.
 */
export function dropSpareMark(): void {
  if (!process.argv.includes(SPARE_ARGUMENT)) return;
  process.title = [process.argv0, ...process.argv.slice(1).filter((arg) => arg !== SPARE_ARGUMENT)].join(' ');
}

/** What a spare keeps of its own output before it is handed a job: a runner prints nothing there unless it fails. */
const HELD_OUTPUT_BYTES = 64 * 1024;

/**
 * The environment of an agent's runner: the agent's, without the credentials it holds (they travel
 * on stdin, as the runner's spec, never in its environment), with the lifeline and the agent's name.
 */
function agentRunnerEnvironment(agentName: string): NodeJS.ProcessEnv {
  const { PGFERRY_SOURCE_URLS: _urls, PGFERRY_POOLER_ADMIN_URL: _pooler, PGFERRY_POOLER_PASSWORD: _poolerPassword, ...env } = process.env;
  return { ...env, PGFERRY_RUNNER_LIFELINE: '3', PGFERRY_AGENT_NAME: agentName };
}

export class SpareRunner {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private log: NodeJS.WritableStream | undefined;
  private handed = false;
  /** Resolves with the exit code (null: killed by a signal, or never started) once the process is gone. */
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      // a runner that could not start is one that ended
      child.once('error', () => resolve(null));
    });
    // a runner that dies before reading its input closes the pipe: its exit tells why, the agent never crashes on EPIPE
    child.stdin!.on('error', () => undefined);
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => this.output(chunk));
    // the log is closed once the runner's output has ended, not at its exit, so its last lines are kept
    child.once('close', () => this.log?.end());
  }

  /** Starts a runner that waits for its input. */
  static start(agentName: string): SpareRunner {
    const child = spawn(process.execPath, [path.join(__dirname, 'main.js'), SPARE_ARGUMENT], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      cwd: os.tmpdir(),
      env: agentRunnerEnvironment(agentName),
    });
    return new SpareRunner(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Still running and not yet handed a job. */
  get waiting(): boolean {
    return !this.handed && this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  private output(chunk: Buffer): void {
    if (this.log) {
      this.log.write(chunk);
      return;
    }
    if (this.heldBytes >= HELD_OUTPUT_BYTES) return;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
  }

  /**
   * Hands the runner its input (the spec with the agent's credentials, the reason): from now on its
   * output, and what it printed while it waited, is appended to `logFile` (private: 0600).
   */
  handOver(input: string, logFile: string): void {
    this.handed = true;
    this.log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
    this.log.on('error', () => undefined);
    for (const chunk of this.held) this.log.write(chunk);
    this.held = [];
    this.child.stdin!.end(input);
  }

  /** Closes the lifeline: the runner stops at once, as when its agent is gone; resolves once it exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    (this.child.stdio[3] as NodeJS.WritableStream | null)?.end();
    await this.exited;
  }
}
