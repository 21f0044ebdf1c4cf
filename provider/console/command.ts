// `pgferry console`: a local web page of the migrations on a target, as the Azure portal's
// migration pages show them. It needs the target's credentials only; they stay in this process.
import { maskSecrets, type ServerSpec } from '../engine';
import { consoleServer } from './server';
import { isLoopback, newToken } from './security';
import { CatalogWatch } from './watch';

export interface ConsoleOptions {
  readonly target: ServerSpec;
  /** Default 127.0.0.1; any other address makes every read need the token too. */
  readonly address?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** How often the catalog is read (default 2 s). */
  readonly intervalMs?: number;
}

export interface RunningConsole {
  /** The page's address, with the token in its fragment (the browser keeps it; it is never sent in a URL). */
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const address = options.address ?? '127.0.0.1';
  const loopback = isLoopback(address);
  const token = newToken();
  const describe = (error: unknown) => maskSecrets(String((error as Error)?.message ?? error).split('\n')[0]!, [options.target.password]);
  const watch = new CatalogWatch(options.target, options.intervalMs ?? 2_000, describe);
  await watch.start();
  // The port is known once listening (0 picks one); the access check reads it then.
  const access = { token, loopback, port: options.port ?? 8080 };
  const app = consoleServer({ target: options.target, watch, access });
  try {
    await app.listen({ host: address, port: access.port });
  } catch (error) {
    await watch.stop();
    throw error;
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : access.port;
  access.port = port;
  const host = address === 'localhost' ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/#token=${token}`,
    token,
    async close() {
      await app.close();
      await watch.stop();
    },
  };
}
