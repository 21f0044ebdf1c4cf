// A real PgBouncer (Debian's package) in front of a suite's source, for the cutover through a
// pooler: its configuration written per suite (listen on a free loopback port, SCRAM against an
// auth_file, an admin user and a stats-only user, `[databases]` naming the source's databases,
// transaction pooling unless told otherwise), run in the foreground as the servers' OS user when
// root, with the run's environment, so the run's watchdog (runWatch.ts) stops it with the servers
// of a run that was killed. Stopped by the suite's after hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { CLUSTERS_DIR_VARIABLE, type Cluster } from '../../provider/localpg/cluster';

const PGBOUNCER = '/usr/sbin/pgbouncer';

/** Where one of the pooler's databases goes. */
interface PoolerTarget {
  readonly host: string;
  readonly port: number;
  /** The server's database name; the pooler's own name when absent. */
  readonly dbname?: string;
}

export interface PgBouncerOptions {
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

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  /** The configuration file the cutover repoints (pgferry's `pooler.configFile`). */
  readonly configFile: string;
  /** A user of admin_users, and its password. */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** A user of stats_users alone (SHOW allowed, PAUSE refused), and its password. */
  readonly statsUser: string;
  readonly statsPassword: string;
  /** A client session through the pooler (the caller ends it). */
  connect(database: string, user: string, password: string): Promise<pg.Client>;
  /** One admin console command's rows (simple protocol, as the console requires). */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(command: string): Promise<R[]>;
  /** What the pooler logged, for a failed test's message. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const ADMIN = { user: 'pooler_admin', password: 'pooler-admin-pw' };
const STATS = { user: 'pooler_stats', password: 'pooler-stats-pw' };

function serverIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
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

/** auth_file quotes each field in double quotes, a quote doubled. */
function authLine(user: string, password: string): string {
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

/**
 * A source database an application writes through the pooler: `items` (rows the application never
 * writes) and `writes` (its own, with the port each write landed on), `appUser` granted what it writes.
 */
export async function createPooledDatabase(source: Cluster, db: string, appUser: string, rows = 2000): Promise<void> {
  await source.query(`CREATE DATABASE ${db}`);
  await source.query(
    `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
     INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;
     CREATE TABLE writes (n int PRIMARY KEY, at_port int NOT NULL);
     GRANT SELECT, INSERT ON writes TO ${appUser};`,
    [],
    db,
  );
}

/** The migration's `pooler` input for this PgBouncer: its address, admin user and file. */
export function poolerInputOf(pooler: PgBouncer) {
  return { host: pooler.host, port: pooler.port, user: pooler.adminUser, password: pooler.adminPassword, configFile: pooler.configFile };
}

/** Starts PgBouncer on a free port; a port taken between probe and start is tried again. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} not found: install Debian's pgbouncer (scripts/ensure-deps.mjs does it)`);
  const parent = process.env[CLUSTERS_DIR_VARIABLE] || os.tmpdir();
  const dir = await fs.mkdtemp(path.join(parent, 'pgferry-pgbouncer-'));
  const ids = serverIds();
  const users = { ...options.users, [ADMIN.user]: ADMIN.password, [STATS.user]: STATS.password };
  await fs.writeFile(
    path.join(dir, 'userlist.txt'),
    `${Object.entries(users)
      .map(([u, p]) => authLine(u, p))
      .join('\n')}\n`,
    {
      mode: 0o600,
    },
  );
  if (ids) for (const f of [dir, path.join(dir, 'userlist.txt')]) await fs.chown(f, ids.uid, ids.gid);
  const configFile = path.join(dir, 'pgbouncer.ini');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    await fs.writeFile(configFile, configText(options, dir, port));
    if (ids) await fs.chown(configFile, ids.uid, ids.gid);
    const child = spawn(PGBOUNCER, [configFile], { ...(ids ?? {}), env: process.env, stdio: 'ignore', cwd: dir });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pooler = handle(dir, configFile, port, child, exited);
    try {
      await ready(pooler, exited);
      return pooler;
    } catch (error) {
      await pooler.stop();
      if (attempt >= 3) throw new Error(`PgBouncer did not start: ${String(error)}\n${await pooler.log()}`, { cause: error });
    }
  }
}

function handle(dir: string, configFile: string, port: number, child: ChildProcess, exited: Promise<void>): PgBouncer {
  let stopped = false;
  const pooler: PgBouncer = {
    host: '127.0.0.1',
    port,
    configFile,
    adminUser: ADMIN.user,
    adminPassword: ADMIN.password,
    statsUser: STATS.user,
    statsPassword: STATS.password,
    async connect(database, user, password) {
      const client = new pg.Client({ host: '127.0.0.1', port, database, user, password });
      await client.connect();
      return client;
    },
    async admin<R extends pg.QueryResultRow>(command: string): Promise<R[]> {
      const client = await pooler.connect('pgbouncer', ADMIN.user, ADMIN.password);
      try {
        return (await client.query<R>(command)).rows;
      } finally {
        await client.end();
      }
    },
    log: () => fs.readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // SIGINT: a safe shutdown, SIGTERM waits for every client
        const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(late);
      }
      if (!process.env.PGFERRY_KEEP_CLUSTERS) await fs.rm(dir, { recursive: true, force: true });
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
