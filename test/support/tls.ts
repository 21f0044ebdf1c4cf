// Certificates for TLS test clusters, made per run with openssl: a CA, a server certificate it
// signs for the host name `localhost` only (so 127.0.0.1 is a wrong host name for verify-full), or
// for the names a test gives (an Azure server's name), and an unrelated CA that signed nothing here.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCluster, type Cluster, type PgMajor } from '../../provider/localpg/cluster';
import type { ServerPair } from './servers';

const execFileAsync = promisify(execFile);

export interface TlsFiles {
  /** The CA that signed the servers' certificate (a client's sslRootCert). */
  readonly caFile: string;
  /** A CA that signed nothing the servers present. */
  readonly otherCaFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The (first) name the server certificate is issued for. */
  readonly hostName: string;
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd: dir });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`, { cause: error });
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=pgferry test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** A fresh CA and a server certificate for `localhost` (or `hostNames`), in a private temporary directory. */
export async function makeTlsFiles(hostNames: readonly string[] = ['localhost']): Promise<TlsFiles> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-tls-'));
  await makeCa(dir, 'ca');
  await makeCa(dir, 'other-ca');
  await openssl(dir, ['req', ...EC_KEY, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${hostNames[0]}`]);
  const names = hostNames.map((name) => `DNS:${name}`).join(',');
  await fs.writeFile(path.join(dir, 'server.ext'), `subjectAltName=${names}\nextendedKeyUsage=serverAuth\n`);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  return {
    caFile: path.join(dir, 'ca.crt'),
    otherCaFile: path.join(dir, 'other-ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
    hostName: hostNames[0]!,
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** A source and a target that accept TLS connections only, presenting `files`' server certificate. */
export async function startTlsPair(files: TlsFiles, sourceMajor: PgMajor = 15, targetMajor: PgMajor = 15): Promise<ServerPair> {
  const tls = { certFile: files.certFile, keyFile: files.keyFile, only: true };
  const [source, target]: Cluster[] = await Promise.all([
    startCluster({ major: sourceMajor, label: 'tls-src', tls }),
    startCluster({ major: targetMajor, label: 'tls-dst', tls }),
  ]);
  return {
    source: source!,
    target: target!,
    async stop() {
      await Promise.all([source!.stop(), target!.stop()]);
    },
  };
}
