// Issue 68: a test run killed mid-suite (SIGKILL: no hook, no handler runs) leaves no process of
// its own running. A mocha process of its own runs test/localpg/fixtures/holdServers.ts, which
// starts two servers and a `pgferry agent` (a process that outlives whatever started it, by design)
// and waits; it is killed, and its watchdog (test/support/runWatch.ts) must stop the servers and
// the agent and remove the run's directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { processAlive, until } from '../support';

interface Held {
  readonly clustersDir: string;
  readonly servers: { readonly port: number; readonly dataDir: string; readonly pid: number }[];
  readonly agentPid: number;
}

/** The pids of processes whose environment names this run directory, as its watchdog finds them. */
function processesOfRun(dir: string): number[] {
  const marker = `PGFERRY_CLUSTERS_DIR=${dir}`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker);
      } catch {
        return false; // ended while we looked
      }
    })
    .map(Number);
}

/** Whether something accepts TCP connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const DIST = path.join(__dirname, '..', '..');
const MOCHA = require.resolve('mocha/bin/mocha.js');

describe('test support: a killed test run', function () {
  this.timeout(180_000);

  it('SIGKILLed mid-test, its two servers and its agent end, no process of it is left, its directory is removed', async () => {
    const report = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-held-')), 'servers.json');
    const env: NodeJS.ProcessEnv = { ...process.env, HELD_SERVERS_REPORT: report };
    delete env.PGFERRY_CLUSTERS_DIR;
    const child = spawn(
      process.execPath,
      [
        MOCHA,
        '--no-config',
        '--require',
        path.join(DIST, 'test/support/hooks.js'),
        path.join(DIST, 'test/localpg/fixtures/holdServers.js'),
      ],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const held = await until(
        'the held run to report its servers',
        async () => {
          if (child.exitCode !== null) throw new Error(`the held run exited with ${child.exitCode}: ${stderr}`);
          return existsSync(report) ? (JSON.parse(await fs.readFile(report, 'utf8')) as Held) : undefined;
        },
        120_000,
      );
      assert.equal(held.servers.length, 2);
      assert.match(path.basename(held.clustersDir), /^pgferry-testrun-/);
      for (const s of held.servers) {
        assert.ok(processAlive(s.pid), `postmaster ${s.pid} runs before the kill`);
        assert.ok(await listening(s.port), `port ${s.port} answers before the kill`);
      }
      assert.ok(processAlive(held.agentPid), `agent ${held.agentPid} runs before the kill`);
      assert.ok(processesOfRun(held.clustersDir).includes(held.agentPid), 'the agent carries the run directory in its environment');

      child.kill('SIGKILL');
      await exited;
      await until(
        'the killed run to have no postmaster and no agent alive, no process of it (its watchdog ends last) and no run directory',
        async () => {
          const pids = [...held.servers.map((s) => s.pid), held.agentPid];
          const gone = pids.every((pid) => !processAlive(pid)) && processesOfRun(held.clustersDir).length === 0;
          return gone && !existsSync(held.clustersDir) ? true : undefined;
        },
        60_000,
      );
      for (const s of held.servers) {
        assert.equal(await listening(s.port), false, `nothing answers on port ${s.port} after the kill`);
        assert.equal(existsSync(s.dataDir), false, `${s.dataDir} removed`);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await fs.rm(path.dirname(report), { recursive: true, force: true });
    }
  });
});
