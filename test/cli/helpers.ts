// Runs the compiled pgferry command as a real process, and writes properties files for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandEnvironment } from '../support/runWatch';
import type { ServerPair } from '../support';

/** main.js next to this compiled test: <outDir>/provider/cli/main.js. */
const CLI_MAIN = path.resolve(__dirname, '../../provider/cli/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Non-empty stderr lines. */
  readonly errLines: string[];
}

/**
 * Runs `pgferry ...args`; PG* variables of the test process are not inherited unless given, but the
 * run's directory is (support/runWatch.ts commandEnvironment). A variable given as undefined is
 * removed (PGPASSFILE points nowhere unless a test says otherwise).
 * `cwd`: the working directory relative paths (a --properties file) are read from.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
  onSpawn?: (child: ChildProcess) => void,
  cwd?: string,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { ...commandEnvironment(), PGPASSFILE: '/nonexistent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd === undefined ? {} : { cwd }),
    });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim() !== '') });
    });
  });
}

/**
 * Resolves once the child's stderr has printed a line matching `pattern` (an event that proves the
 * command reached a given point), or fails after `timeoutMs` naming `what`.
 */
export function stderrMatch(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const finish = (error?: Error, line?: string) => {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('close', onClose);
      if (error) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) finish(undefined, line);
    };
    const onClose = () => finish(new Error(`pgferry exited before ${what}; stderr: ${seen}`));
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; stderr: ${seen}`)), timeoutMs);
    child.stderr!.on('data', onData);
    child.once('close', onClose);
  });
}

let dir: string | undefined;
let counter = 0;
/** Writes a properties file (an object is JSON-encoded, a string written as is); returns its path. */
export function propertiesFile(body: unknown): string {
  if (!dir) {
    const created = mkdtempSync(path.join(os.tmpdir(), 'pgferry-cli-test-'));
    // The files hold test passwords: remove them when the run ends.
    process.once('exit', () => rmSync(created, { recursive: true, force: true }));
    dir = created;
  }
  counter += 1;
  const file = path.join(dir, `body-${counter}.json`);
  writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return file;
}

/**
 * `--output json` as pgferry printed it before the Azure shape: its own status object, now
 * properties.pgferry of the resource (docs/cli.md), and the same for each item of `list`.
 */
export const PGFERRY_JSON: readonly string[] = ['--output', 'json', '--query', 'properties.pgferry'];
export const PGFERRY_JSON_LIST: readonly string[] = ['--output', 'json', '--query', '[].properties.pgferry'];

/** A loopback port nothing listens on (connections are refused at once). */
export const CLOSED_PORT = '1';

/** A source login with a password of its own, never the target's (cli/showSource, cli/sourcePassword). */
export const OWN_SOURCE = { user: 'ferry_source', password: 'source-only-password' } as const;

/**
 * On `pair`'s source: the OWN_SOURCE login (a superuser that may replicate) and the database
 * `shelf` with 50 books; returns an Azure body naming that login with both passwords, the target's
 * flags, the environment a command without a body runs with (PGPASSWORD, the target's), and the
 * ~/.pgpass line of the source's own entry.
 */
export async function ownSourcePasswordLab(
  pair: Pick<ServerPair, 'source' | 'target'>,
): Promise<{ file: string; flags: string[]; env: Record<string, string>; pgpassLine: string }> {
  await pair.source.query(`CREATE ROLE ${OWN_SOURCE.user} LOGIN SUPERUSER REPLICATION PASSWORD '${OWN_SOURCE.password}'`);
  await pair.source.query('CREATE DATABASE shelf');
  await pair.source.query(
    `CREATE TABLE public.books (id int PRIMARY KEY); INSERT INTO public.books SELECT generate_series(1, 50)`,
    [],
    'shelf',
  );
  const file = propertiesFile({
    properties: {
      SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@${OWN_SOURCE.user}`,
      SecretParameters: { AdminCredentials: { SourceServerPassword: OWN_SOURCE.password, TargetServerPassword: pair.target.password } },
      targetDbServerFullyQualifiedDomainName: pair.target.host,
      targetDbServerPort: pair.target.port,
      targetServerUserName: pair.target.user,
      DBsToMigrate: ['shelf'],
      OverwriteDBsInTarget: true,
    },
  });
  return {
    file,
    flags: ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user],
    env: { PGPASSWORD: pair.target.password },
    pgpassLine: `${pair.source.host}:${pair.source.port}:*:${OWN_SOURCE.user}:${OWN_SOURCE.password}\n`,
  };
}
