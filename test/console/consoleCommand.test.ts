// `pgferry console` as a user starts it: the target from --target-url and PGPASSWORD, the page's
// address printed with its token, the grid served from it, the password nowhere in the output or
// the answers, and SIGINT stopping it with exit 0.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { parseMigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, until, type Cluster } from '../support';
import { startConsole } from '../../provider/console/command';
import { runCli } from '../cli/helpers';
import { register } from '../../provider/engine/control/store';

/** Resolves with the address the console prints, once printed. */
function printedAddress(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /pgferry console: (http:\S+)/.exec(out)?.[1];
      if (url) resolve(url);
    });
    child.once('close', () => reject(new Error(`pgferry console exited before printing its address: ${out}`)));
  });
}

/** A port free on the loopback now (the command's --port takes 1-65535, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

describe('pgferry console (the command)', function () {
  this.timeout(120_000);
  let target: Cluster;

  before(async () => {
    target = await startCluster({ major: 15, label: 'console-cmd' });
    const store = new CatalogConnection(serverSpec(target));
    try {
      await register(
        store,
        parseMigrationSpec({
          migrationName: 'registered-only',
          source: { host: 'source.invalid', user: 'postgres', password: 'not-this-one' },
          target: serverSpec(target),
          databases: ['alpha'],
        }),
      );
    } finally {
      await store.close();
    }
  });
  after(async () => target?.stop());

  it('prints the address with its token, serves the grid there, and stops on SIGINT', async () => {
    let child: ChildProcess | undefined;
    let answers = '';
    const port = await freePort();
    const running = runCli(
      ['console', '--target-url', `postgres://${target.user}@${target.host}:${target.port}/postgres`, '--port', String(port)],
      { PGPASSWORD: target.password },
      60_000,
      (c) => (child = c),
    );
    const url = await printedAddress(child!);
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/#token=[\\w-]{20,}$`));
    const origin = new URL(url).origin;
    const grid = await fetch(`${origin}/api/migrations?filter=all`);
    assert.equal(grid.status, 200);
    answers += await grid.text();
    assert.match(answers, /"name":"registered-only"/);
    const page = await fetch(`${origin}/`);
    answers += await page.text();
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    child!.kill('SIGINT');
    const result = await running;
    assert.equal(result.code, 0, result.stderr);
    for (const text of [result.stdout, result.stderr, answers]) assert.equal(text.includes(target.password), false);
  });

  // last: it stops the target
  it('keeps answering with the last reading when the target stops, and says since when', async () => {
    const running = await startConsole({ target: serverSpec(target), port: 0, intervalMs: 200 });
    try {
      const origin = new URL(running.url).origin;
      const grid = async () =>
        (await fetch(`${origin}/api/migrations?filter=all`)).json() as Promise<{
          rows: { name: string }[];
          unreachable?: string;
          unreachableSince?: string;
        }>;
      assert.deepEqual(
        (await grid()).rows.map((r) => r.name),
        ['registered-only'],
      );
      await target.stop();
      const down = await until(
        'the console to say the target does not answer',
        async () => {
          const body = await grid();
          return body.unreachable ? body : undefined;
        },
        30_000,
      );
      assert.deepEqual(
        down.rows.map((r) => r.name),
        ['registered-only'],
      );
      assert.ok(Date.parse(down.unreachableSince!) > 0);
      const started = Date.now();
      const page = await fetch(`${origin}/api/migrations/registered-only`);
      assert.equal(page.status, 200);
      // The tables, samples and events it cannot read are given up (watch.ts PAGE_READ_TIMEOUT_MS),
      // all three at once, and the page answers. Without that, each read would retry the target
      // by the catalog's statement policy (connect/retry.ts), many times longer than this bound;
      // the bound leaves the page's own work room on a loaded machine.
      const waited = Date.now() - started;
      assert.ok(waited < 15_000, `the page waited ${waited} ms on the target`);
    } finally {
      await running.close();
    }
  });
});
