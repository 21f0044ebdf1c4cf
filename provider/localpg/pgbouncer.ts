// A throwaway local PgBouncer (Debian's package) in front of local servers, for the demo's cutover
// through a pooler and the tests': its configuration written in a directory of its own (listen on a
// free loopback port, SCRAM against an auth_file, an admin user and a stats-only user, `[databases]`
// naming the servers' databases, transaction pooling unless told otherwise), or a configuration
// file the caller renders (the lab's, proven valid by PgBouncer itself). It runs in the foreground
// as the servers' OS user when root, with the caller's environment, so a test run's watchdog stops
// it with the servers of a run that was killed; its caller stops it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { CLUSTERS_DIR_VARIABLE } from './cluster';

const execFileAsync = promisify(execFile);

/** Where Debian's and Ubuntu's pgbouncer package puts the server. */
export const PGBOUNCER_PATH = '/usr/sbin/pgbouncer';

/** Whether this machine has Debian's PgBouncer. */
export function pgbouncerInstalled(): boolean {
  return existsSync(PGBOUNCER_PATH);
}

/** Where one of the pooler's databases goes. */
interface PoolerTarget {
  readonly host: string;
  readonly port: number;
  /** The server's database name; the pooler's own name when absent. */
  readonly dbname?: string;
}

interface PgBouncerOptions {
  /** The `[databases]` section: each name the pooler serves and the server it goes to. */
  readonly databases: Readonly<Record<string, PoolerTarget>>;
  /** Users and passwords of auth_file (clients, and the pooler's own logins to the servers). */
  readonly users: Readonly<Record<string, string>>;
  /** pool_mode, for every database. */
  readonly poolMode?: 'transaction' | 'session' | 'statement';
  /** server_reset_query ('' for none). */
  readonly serverResetQuery?: string;
  /** query_wait_timeout in seconds (0: a held query waits as long as the pause lasts); PgBouncer's default when absent. */
  readonly queryWaitTimeoutSeconds?: number;
}

/** A running PgBouncer and its admin console. */
export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  /** The configuration file the cutover repoints (pgferry's `pooler.configFile`). */
  readonly configFile: string;
  /** A user of admin_users, and its password. */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** A client session through the pooler (the caller ends it). */
  connect(database: string, user: string, password: string): Promise<pg.Client>;
  /** One admin console command's rows (simple protocol, as the console requires). */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(command: string): Promise<R[]>;
  /** What the pooler logged, for a failure's message. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** The PgBouncer startPgBouncer writes the configuration of: it has a stats-only user too. */
export interface LocalPgBouncer extends PgBouncer {
  /** A user of stats_users alone (SHOW allowed, PAUSE refused), and its password. */
  readonly statsUser: string;
  readonly statsPassword: string;
}

/** The files a PgBouncer runs on, rendered for its directory and port. */
interface PgBouncerFiles {
  /** pgbouncer.ini's text. */
  readonly ini: string;
  /** The auth_file's text, written beside it as userlist.txt. */
  readonly userlist: string;
}

/** The admin login the caller's configuration grants (admin_users, and its auth_file line). */
interface PgBouncerLogin {
  readonly user: string;
  readonly password: string;
}

const ADMIN = { user: 'pooler_admin', password: 'pooler-admin-pw' };
const STATS = { user: 'pooler_stats', password: 'pooler-stats-pw' };

async function serverIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = async (flag: string) => Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** One auth_file line: each field in double quotes, a quote doubled. */
function pgbouncerAuthLine(user: string, password: string): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  return `${q(user)} ${q(password)}`;
}

function configText(options: PgBouncerOptions, dir: string, port: number): string {
  const databases = Object.entries(options.databases).map(
    ([name, t]) => `${name} = host=${t.host} port=${t.port} dbname=${t.dbname ?? name}`,
  );
  return [
    '[databases]',
    ...databases,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    `admin_users = ${ADMIN.user}`,
    `stats_users = ${STATS.user}`,
    `pool_mode = ${options.poolMode ?? 'transaction'}`,
    `server_reset_query = ${options.serverResetQuery ?? 'DISCARD ALL'}`,
    ...(options.queryWaitTimeoutSeconds === undefined ? [] : [`query_wait_timeout = ${options.queryWaitTimeoutSeconds}`]),
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    'ignore_startup_parameters = extra_float_digits',
    '',
  ].join('\n');
}

/** Starts PgBouncer on a free loopback port with a configuration written for `options`. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<LocalPgBouncer> {
  const users = { ...options.users, [ADMIN.user]: ADMIN.password, [STATS.user]: STATS.password };
  const userlist = `${Object.entries(users)
    .map(([u, p]) => pgbouncerAuthLine(u, p))
    .join('\n')}\n`;
  const pooler = await launchPgBouncer((dir, port) => ({ ini: configText(options, dir, port), userlist }), ADMIN);
  return { ...pooler, statsUser: STATS.user, statsPassword: STATS.password };
}

/**
 * Starts PgBouncer on the files `render` gives for its directory and a free loopback port (their
 * logfile, if any, best in that directory); a port taken between probe and start is tried again.
 */
export async function launchPgBouncer(render: (dir: string, port: number) => PgBouncerFiles, admin: PgBouncerLogin): Promise<PgBouncer> {
  if (!pgbouncerInstalled()) throw new Error(`${PGBOUNCER_PATH} not found: install Debian's pgbouncer (scripts/ensure-deps.mjs does it)`);
  const parent = process.env[CLUSTERS_DIR_VARIABLE] || os.tmpdir();
  const dir = await fs.mkdtemp(path.join(parent, 'pgferry-pgbouncer-'));
  const ids = await serverIds();
  if (ids) await fs.chown(dir, ids.uid, ids.gid);
  const configFile = path.join(dir, 'pgbouncer.ini');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const files = render(dir, port);
    await fs.writeFile(path.join(dir, 'userlist.txt'), files.userlist, { mode: 0o600 });
    await fs.writeFile(configFile, files.ini);
    if (ids) for (const f of [configFile, path.join(dir, 'userlist.txt')]) await fs.chown(f, ids.uid, ids.gid);
    const child = spawn(PGBOUNCER_PATH, [configFile], { ...(ids ?? {}), env: process.env, stdio: 'ignore', cwd: dir });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pooler = handle(dir, configFile, port, admin, child, exited);
    try {
      await ready(pooler, exited);
      return pooler;
    } catch (error) {
      const log = await pooler.log();
      await pooler.stop(attempt >= 3 ? undefined : { keepDir: true });
      if (attempt >= 3) throw new Error(`PgBouncer did not start: ${String(error)}\n${log}`, { cause: error });
    }
  }
}

function handle(
  dir: string,
  configFile: string,
  port: number,
  admin: PgBouncerLogin,
  child: ChildProcess,
  exited: Promise<void>,
): PgBouncer & { stop(how?: { keepDir: boolean }): Promise<void> } {
  let stopped = false;
  const pooler = {
    host: '127.0.0.1',
    port,
    configFile,
    adminUser: admin.user,
    adminPassword: admin.password,
    async connect(database: string, user: string, password: string) {
      const client = new pg.Client({ host: '127.0.0.1', port, database, user, password });
      await client.connect();
      return client;
    },
    async admin<R extends pg.QueryResultRow>(command: string): Promise<R[]> {
      const client = await pooler.connect('pgbouncer', admin.user, admin.password);
      try {
        return (await client.query<R>(command)).rows;
      } finally {
        await client.end();
      }
    },
    log: () => fs.readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => ''),
    async stop(how?: { keepDir: boolean }) {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // SIGINT: a safe shutdown, SIGTERM waits for every client
        const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(late);
      }
      if (!how?.keepDir && !process.env.PGFERRY_KEEP_CLUSTERS) await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return pooler;
}

/** Waits until the admin console answers, or the process ended (a port taken, a bad configuration). */
async function ready(pooler: PgBouncer, exited: Promise<void>): Promise<void> {
  let ended = false;
  void exited.then(() => (ended = true));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (ended) throw new Error('pgbouncer exited');
    try {
      await pooler.admin('SHOW VERSION');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
