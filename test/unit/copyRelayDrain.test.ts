// The target side of the COPY relay when the server ends the COPY while a write waits for the
// socket to drain (an error in the data, or a cancel: copy jobs now cancel on the server). The
// 'drain' that comes after found no connection and threw in the socket's event handler, which
// killed the runner process mid-cancel (test/offline/runner's cancel, about 1 run in 6). The
// socket here is a stand-in EventEmitter: what is tested is the relay's own bookkeeping.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Connection } from 'pg';
import { CopyFramesIn } from '../../provider/engine/copy/copyRelay';

/** A socket whose buffer is full: every write is taken and asks the writer to wait for 'drain'. */
class FullSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return false;
  }
}

function connectionOn(socket: FullSocket): { connection: Connection; queries: string[] } {
  const queries: string[] = [];
  const connection = { stream: socket, query: (text: string) => queries.push(text), sendCopyFail: () => undefined };
  return { connection: connection as unknown as Connection, queries };
}

describe('unit: COPY relay, the server ending the COPY during a write', () => {
  it('a drain after the server ended the COPY neither throws nor writes', async () => {
    const socket = new FullSocket();
    const { connection, queries } = connectionOn(socket);
    const into = new CopyFramesIn('COPY t FROM STDIN');
    into.on('error', () => undefined); // the server's error reaches the pipeline this way
    into.submit(connection);
    assert.deepEqual(queries, ['COPY t FROM STDIN']);
    into.handleCopyInResponse();
    const frame = Buffer.from([0x64, 0, 0, 0, 5, 1]);
    into.write(frame);
    into.write(frame); // queued behind the first, which waits for 'drain'
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(socket.written.length, 1);
    into.handleError(new Error('canceling statement due to user request'));
    // the socket drains later: pg owns the connection again, nothing more of this COPY goes out
    assert.doesNotThrow(() => socket.emit('drain'));
    assert.equal(socket.written.length, 1);
  });
});
