// A loopback port that surely refuses connections while a test holds it. A port found free and
// closed again (freePort) can be taken meanwhile by a cluster another suite starts, and the test
// would then reach that server instead of none.
import net from 'node:net';

export interface ClosedPort {
  /** A port on 127.0.0.1 with no listener: connecting to it is refused. */
  readonly port: number;
  release(): Promise<void>;
}

/**
 * Holds the local end of a loopback connection this process keeps open: nothing listens on that
 * port, and nothing can start to (binding it fails with EADDRINUSE, SO_REUSEADDR or not, and a
 * listen on port 0 is never given it) until release().
 */
export async function holdClosedPort(): Promise<ClosedPort> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  return {
    port: client.localPort!,
    async release() {
      client.destroy();
      peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
