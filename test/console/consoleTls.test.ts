// The console off the loopback (provider/console/command.ts, security.ts): served over HTTPS only,
// since its token authorises cutover, cancel and fall-back; refused without a certificate, in one
// line naming what to give, with nothing listening. Through a real HTTPS client against a console
// over a real target: every read needs the token, an action needs the HTTPS origin, and what it
// sends holds no password.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { startConsole, type RunningConsole } from '../../provider/console/command';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { register } from '../../provider/engine/control/store';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';
import { holdClosedPort } from '../support/closedPort';
import { makeTlsFiles, type TlsFiles } from '../support/tls';

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One HTTPS request to the console on 127.0.0.1, verifying its certificate (issued for localhost) against the test CA. */
function request(
  ca: Buffer,
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path,
        ca,
        method: options.method ?? 'GET',
        headers: { host: `localhost:${port}`, ...options.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** What a plain HTTP request to the port gets: never an answer from the console. */
function plainHttp(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/migrations' }, (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (error) => resolve(`refused: ${error.message}`));
    req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
  });
}

/** Whether anything accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('console off the loopback: HTTPS only (integration)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  let tls: TlsFiles;
  let ca: Buffer;
  const name = 'console-tls';

  before(async () => {
    [pair, tls] = await Promise.all([startPair(), makeTlsFiles()]);
    ca = await readFile(tls.caFile);
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await register(store, pairSpec(pair, name, ['sales']));
    } finally {
      await store.close();
    }
  });
  after(async () => {
    await tls?.remove();
    await pair?.stop();
  });

  // The port is held (support/closedPort.ts): no other suite's server can take it meanwhile, and a
  // console that listened before refusing would fail there with EADDRINUSE, not the refusal asserted.
  it('refuses 0.0.0.0 without --tls-cert in one line naming the flags, listening on nothing', async () => {
    const held = await holdClosedPort();
    try {
      await assert.rejects(
        startConsole({ target: serverSpec(pair.target), address: '0.0.0.0', port: held.port }),
        (e: Error) =>
          /^--address 0\.0\.0\.0: off the loopback the console serves only HTTPS/.test(e.message) &&
          /--tls-cert and --tls-key/.test(e.message) &&
          !e.message.includes('\n'),
      );
      assert.equal(await listening(held.port), false);
    } finally {
      await held.release();
    }
  });

  it("refuses a key that is not the certificate's in one line naming --tls-cert, listening on nothing", async () => {
    const held = await holdClosedPort();
    const port = held.port;
    try {
      await assert.rejects(
        startConsole({ target: serverSpec(pair.target), address: '0.0.0.0', port, tls: { certFile: tls.certFile, keyFile: tls.certFile } }),
        (e: Error) => /^--tls-cert, --tls-key: not a certificate and its private key in PEM/.test(e.message) && !e.message.includes('\n'),
      );
      await assert.rejects(
        startConsole({
          target: serverSpec(pair.target),
          address: '0.0.0.0',
          port,
          tls: { certFile: `${tls.certFile}.missing`, keyFile: tls.keyFile },
        }),
        (e: Error) => /^--tls-cert: cannot read .*server\.crt\.missing/.test(e.message) && !e.message.includes('\n'),
      );
      assert.equal(await listening(port), false);
    } finally {
      await held.release();
    }
  });

  describe('with a certificate', () => {
    let running: RunningConsole;
    let port: number;
    before(async () => {
      running = await startConsole({
        target: serverSpec(pair.target),
        address: '0.0.0.0',
        port: 0,
        tls: { certFile: tls.certFile, keyFile: tls.keyFile },
      });
      port = Number(new URL(running.url).port);
    });
    after(async () => running?.close());

    it('prints an https address, and answers no plain HTTP request', async () => {
      assert.match(running.url, /^https:\/\/0\.0\.0\.0:\d+\/#token=/);
      assert.doesNotMatch(await plainHttp(port), /^status 200/);
    });

    it('refuses a read without the token; with it, lists the migration and sends no password', async () => {
      assert.equal((await request(ca, port, '/api/migrations?filter=all')).status, 401);
      assert.equal((await request(ca, port, '/api/migrations?filter=all', { headers: { 'x-pgferry-token': 'wrong' } })).status, 401);
      const headers = { 'x-pgferry-token': running.token };
      const grid = await request(ca, port, '/api/migrations?filter=all', { headers });
      assert.equal(grid.status, 200, grid.body);
      assert.ok((JSON.parse(grid.body) as { rows: { name: string }[] }).rows.some((r) => r.name === name));
      const page = await request(ca, port, `/api/migrations/${name}`, { headers });
      assert.equal(page.status, 200, page.body);
      for (const text of [grid.body, page.body]) {
        for (const secret of [pair.target.password, pair.source.password])
          assert.equal(text.includes(secret), false, 'a password was sent');
      }
    });

    it('refuses an action from the http:// origin; from its own https origin the request reaches the engine', async () => {
      const headers = { 'x-pgferry-token': running.token, 'sec-fetch-site': 'same-origin' };
      const clear = await request(ca, port, `/api/migrations/${name}/cancel`, {
        method: 'POST',
        headers: { ...headers, origin: `http://localhost:${port}` },
      });
      assert.equal(clear.status, 403, clear.body);
      // a migration of another name: the engine's own refusal (409) shows the request got past the access check
      const own = await request(ca, port, '/api/migrations/no-such-migration/cancel', {
        method: 'POST',
        headers: { ...headers, origin: `https://localhost:${port}` },
      });
      assert.equal(own.status, 409, own.body);
      assert.match(own.body, /not found/);
      const store = new CatalogConnection(serverSpec(pair.target));
      try {
        const rows = await store.query<{ cancel_requested: boolean }>('SELECT cancel_requested FROM pgferry.migration WHERE name = $1', [
          name,
        ]);
        assert.deepEqual(
          rows.map((r) => r.cancel_requested),
          [false],
          'the registered migration was not canceled',
        );
      } finally {
        await store.close();
      }
    });
  });
});
