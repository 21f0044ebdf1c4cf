// `pgferry console`: a local web page of the migrations on a target, as the Azure portal's
// migration pages show them. It needs the target's credentials only; they stay in this process.
// On the loopback it serves HTTP; anywhere else only HTTPS, since its token, which authorises a
// cutover, a cancel and a fall-back, then crosses the network with every request.
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { errorMessage, inputError, maskSecrets, type ServerSpec } from '../engine';
import { consoleServer } from './server';
import { isLoopback, listenAddress, newToken } from './security';
import { CatalogWatch } from './watch';

export interface ConsoleOptions {
  readonly target: ServerSpec;
  /** Default 127.0.0.1; any other address makes every read need the token too. */
  readonly address?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** How often the catalog is read (default 2 s). */
  readonly intervalMs?: number;
  /** Serve HTTPS with this certificate and key (PEM files): required off the loopback. */
  readonly tls?: ConsoleTls;
}

interface ConsoleTls {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The certificate and key, read and checked to belong together before anything listens. */
async function readTls(tls: ConsoleTls): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string, flag: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      throw inputError('USAGE', flag, `${flag}: cannot read ${file}: ${errorMessage(error)}`, 'give a PEM file this user can read');
    }
  };
  const [cert, key] = [await read(tls.certFile, '--tls-cert'), await read(tls.keyFile, '--tls-key')];
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw inputError(
      'USAGE',
      '--tls-cert',
      `--tls-cert, --tls-key: not a certificate and its private key in PEM (${errorMessage(error)})`,
      'give the server certificate (its chain after it) and the key it was issued for',
    );
  }
  return { cert, key };
}

/** Off the loopback the token would cross the network in clear over HTTP: refused, naming what to give. */
function refuseClearText(address: string): never {
  throw inputError(
    'USAGE',
    '--address',
    `--address ${address}: off the loopback the console serves only HTTPS, since its token authorises cutover, cancel and fall-back; give --tls-cert and --tls-key`,
    'give --tls-cert FILE --tls-key FILE (PEM), or keep the default 127.0.0.1 and reach it through an SSH tunnel',
  );
}

export interface RunningConsole {
  /** The page's address, with the token in its fragment (the browser keeps it; it is never sent in a URL). */
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const address = listenAddress(options.address ?? '127.0.0.1');
  const loopback = isLoopback(address);
  if (!loopback && !options.tls) refuseClearText(address);
  const https = options.tls ? await readTls(options.tls) : undefined;
  const token = newToken();
  const describe = (error: unknown) => maskSecrets(String((error as Error)?.message ?? error).split('\n')[0]!, [options.target.password]);
  const watch = new CatalogWatch(options.target, options.intervalMs ?? 2_000, describe);
  await watch.start();
  // The port is known once listening (0 picks one); the access check reads it then.
  const access = { token, loopback, port: options.port ?? 8080, scheme: https ? ('https' as const) : ('http' as const) };
  const app = consoleServer({ target: options.target, watch, access, ...(https ? { https } : {}) });
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
    url: `${access.scheme}://${host}:${port}/#token=${token}`,
    token,
    async close() {
      await app.close();
      await watch.stop();
    },
  };
}
