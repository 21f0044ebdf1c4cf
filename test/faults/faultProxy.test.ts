// The fault proxy and its protocol reader, without PostgreSQL: messages are recognised however the
// bytes are split, a held message waits for release, a black hole delays and then delivers, a
// reset reaches the client, a cut direction stops only that direction.
import assert from 'node:assert/strict';
import net from 'node:net';
import { FaultProxy } from '../support/faultProxy';
import { FrontendScanner, type FrontendMessage } from '../support/pgWire';

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

function startupPacket(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]),
    Buffer.from([0]),
  ]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

function bind(statement: string, params: string[]): Buffer {
  const parts: Buffer[] = [cstr(''), cstr(statement), Buffer.from([0, 0])];
  const count = Buffer.alloc(2);
  count.writeInt16BE(params.length);
  parts.push(count);
  for (const p of params) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(Buffer.byteLength(p));
    parts.push(len, Buffer.from(p));
  }
  parts.push(Buffer.from([0, 0]));
  return message('B', Buffer.concat(parts));
}

const STREAM = Buffer.concat([
  startupPacket({ user: 'u', database: 'd', application_name: 'pgferry apply' }),
  message('Q', cstr('BEGIN')),
  message('P', Buffer.concat([cstr(''), cstr('UPDATE t SET s = $1'), Buffer.from([0, 0])])),
  bind('', ['Succeeded']),
  message('d', Buffer.alloc(300, 7)),
  message('c', Buffer.alloc(0)),
]);

function scanAll(chunks: Buffer[]): FrontendMessage[] {
  const scanner = new FrontendScanner();
  const out: FrontendMessage[] = [];
  let bytes = 0;
  for (const c of chunks) {
    for (const s of scanner.push(c)) {
      bytes += s.bytes.length;
      if (s.message) out.push(s.message);
    }
  }
  assert.equal(bytes, STREAM.length, 'every byte is passed on once');
  return out;
}

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined); // the proxy resets its side when a test ends
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return socket;
}

function nextData(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => socket.once('data', resolve));
}

describe('fault proxy', () => {
  it('recognises startup, simple query, bind parameters and CopyData however the stream is split', () => {
    const whole = scanAll([STREAM]);
    assert.deepEqual(
      whole.map((m) => m.type),
      ['startup', 'Q', 'P', 'B', 'd', 'c'],
    );
    assert.equal(whole[0]!.startup?.application_name, 'pgferry apply');
    assert.equal(whole[3]!.sql, 'UPDATE t SET s = $1');
    assert.deepEqual(whole[3]!.params, ['Succeeded']);
    for (let at = 1; at < STREAM.length; at++) {
      const split = scanAll([STREAM.subarray(0, at), STREAM.subarray(at)]);
      assert.deepEqual(split, whole, `split at ${at}`);
    }
  });

  describe('over TCP', () => {
    let server: net.Server;
    let proxy: FaultProxy;
    beforeEach(async () => {
      server = await echoServer();
      proxy = new FaultProxy('echo', (server.address() as net.AddressInfo).port);
      await proxy.start();
    });
    afterEach(async () => {
      await proxy.close();
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('holds a matching message until released', async () => {
      let held: Parameters<NonNullable<typeof proxy.onMessage>>[0] | undefined;
      proxy.onMessage = (conn, m) => {
        if (m.type !== 'Q') return false;
        held = conn;
        return true;
      };
      const socket = await connect(proxy.port);
      const query = message('Q', cstr('COMMIT'));
      socket.write(Buffer.concat([startupPacket({ user: 'u' }), query]));
      const first = await nextData(socket); // the startup packet comes back; the query is held
      assert.equal(first.length, startupPacket({ user: 'u' }).length);
      const after = nextData(socket);
      proxy.release(held!);
      assert.deepEqual(await after, query);
      socket.destroy();
    });

    it('a black hole delivers nothing until it ends, then everything, and counts what it held back', async () => {
      const socket = await connect(proxy.port);
      socket.write(startupPacket({ user: 'u' }));
      await nextData(socket);
      assert.equal(proxy.heldBytes, 0, 'nothing held before a fault');
      proxy.blackhole(600);
      const started = Date.now();
      const query = message('Q', cstr('SELECT 1'));
      socket.write(query);
      await nextData(socket);
      assert.ok(Date.now() - started >= 550, `delivered after ${Date.now() - started} ms`);
      assert.equal(proxy.heldBytes, query.length, 'the query held in the hole, the echo after it not');
      socket.destroy();
    });

    it('counts nothing held back by a fault no bytes crossed (an idle connection meets no black hole)', async () => {
      const socket = await connect(proxy.port);
      socket.write(startupPacket({ user: 'u' }));
      await nextData(socket);
      proxy.blackhole(200);
      proxy.latency(50, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(proxy.heldBytes, 0);
      // the latency lasts far longer than the round trip takes on a loaded machine, so that the
      // echo meets it too and the count is of both ways, not of how fast the machine is
      proxy.latency(50, 60_000);
      const query = message('Q', cstr('SELECT 3'));
      socket.write(query);
      await nextData(socket);
      assert.equal(proxy.heldBytes, 2 * query.length, 'delayed both ways by the latency');
      socket.destroy();
    });

    it('a reset reaches the client as ECONNRESET', async () => {
      const socket = await connect(proxy.port);
      const closed = new Promise<string>((resolve) => socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
      proxy.resetAll();
      assert.equal(await closed, 'ECONNRESET');
    });

    it('a cut of the server-to-client direction lets the request through and holds the answer', async () => {
      const socket = await connect(proxy.port);
      socket.write(startupPacket({ user: 'u' }));
      await nextData(socket);
      proxy.cut('toClient', 500);
      const started = Date.now();
      socket.write(message('Q', cstr('SELECT 2')));
      await nextData(socket);
      assert.ok(Date.now() - started >= 450, `answer after ${Date.now() - started} ms`);
      socket.destroy();
    });
  });
});
