// What the figures were measured on: CPU, memory, load, and the versions of every tool.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from '../provider/localpg/cluster';
import { PG_BIN } from './dataset';

const execFileAsync = promisify(execFile);

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
  readonly kernel: string;
  readonly versions: Readonly<Record<string, string>>;
  /** Commit of the checkout, and whether engine files had uncommitted changes when measured. */
  readonly git: { readonly commit: string; readonly dirtyEngineFiles: number };
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args);
    return (stdout || stderr).split('\n')[0]!.trim();
  } catch {
    return 'not available';
  }
}

async function gitState(): Promise<MachineInfo['git']> {
  const cwd = path.join(__dirname, '..', '..');
  try {
    const commit = (await execFileAsync('git', ['rev-parse', '--short', 'HEAD'], { cwd })).stdout.trim();
    const dirty = (await execFileAsync('git', ['status', '--porcelain', '--', 'provider'], { cwd })).stdout.trim();
    return { commit, dirtyEngineFiles: dirty ? dirty.split('\n').length : 0 };
  } catch {
    return { commit: 'unknown', dirtyEngineFiles: 0 };
  }
}

export async function machineInfo(server: Cluster): Promise<MachineInfo> {
  const cpuinfo = await fs.readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const meminfo = await fs.readFile('/proc/meminfo', 'utf8').catch(() => '');
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const [pgVersion] = await server.query<{ v: string }>(`SELECT version() AS v`);
  return {
    nproc: os.cpus().length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: Math.round((memKb / 2 ** 20) * 10) / 10,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    kernel: os.release(),
    versions: {
      postgresql: pgVersion!.v,
      pgcopydb: await firstLine('pgcopydb', ['--version']),
      pg_dump: await firstLine(`${PG_BIN}/pg_dump`, ['--version']),
      node: process.version,
    },
    git: await gitState(),
  };
}
