// The lab's PgBouncer as files and shell lines, pure: its pgbouncer.ini (transaction pooling, SCRAM
// against its auth_file, the admin user pgferry drives it with, `[databases]` pointing at the source
// VM), its auth_file, and the lines of the runtime VM's installer that put them in place for
// Debian's package. runtimeCloudInit.ts adds them to the first runtime VM's cloud-init; a test starts
// the real PgBouncer on this very ini, its addresses swapped for loopback ones.

/** Where Debian's pgbouncer package reads its configuration; pgferry's `pooler.configFile`. */
export const POOLER_CONFIG_FILE = '/etc/pgbouncer/pgbouncer.ini';
const POOLER_AUTH_FILE = '/etc/pgbouncer/userlist.txt';
/** The root-only copy cloud-init writes, installed for PgBouncer's user and then removed. */
export const POOLER_AUTH_STAGING = '/etc/pgferry/pgbouncer-userlist.txt';

/** What the lab's PgBouncer serves and how it is logged in to. */
export interface PoolerSetup {
  /** The address migrations name it by (this VM's): the agent's PGFERRY_POOLER_ADMIN_URL host. */
  readonly host: string;
  /** listen_port. */
  readonly port: number;
  /** The source VM: where its databases go until a cutover points them at the server. */
  readonly source: { readonly host: string; readonly port: number };
  /** The source VM's databases the pooler serves, one line each, of their own name. */
  readonly databases: readonly string[];
  /** admin_users: pgferry's login (PAUSE, RELOAD, RESUME). */
  readonly admin: { readonly user: string; readonly password: string };
  /** The applications' login, which PgBouncer also logs in to the servers with. */
  readonly app: { readonly user: string; readonly password: string };
}

/** pgbouncer.ini, as cloud-init writes it. Nothing secret in it: the passwords are in the auth_file. */
export function renderPgBouncerIni(setup: Pick<PoolerSetup, 'port' | 'source' | 'databases' | 'admin'>): string {
  return [
    ";; The pgferry lab's PgBouncer (lab-stack/poolerCloudInit.ts). A cutover through it rewrites the",
    ';; host= and port= of the [databases] lines below, then RELOADs; keep them in this file.',
    '[databases]',
    ...setup.databases.map((db) => `${db} = host=${setup.source.host} port=${setup.source.port} dbname=${db}`),
    '',
    '[pgbouncer]',
    // Every address: the runtime subnet's security group admits the VNet and the VPN clients only.
    'listen_addr = *',
    `listen_port = ${setup.port}`,
    'unix_socket_dir = /var/run/postgresql',
    // The server requires TLS (require_secure_transport); PgBouncer's default, spelled out.
    'server_tls_sslmode = prefer',
    'auth_type = scram-sha-256',
    `auth_file = ${POOLER_AUTH_FILE}`,
    `admin_users = ${setup.admin.user}`,
    // PAUSE waits for the transactions in flight only, not for every client to leave.
    'pool_mode = transaction',
    'server_reset_query = DISCARD ALL',
    'max_client_conn = 500',
    'default_pool_size = 20',
    // The applications' statements wait in a cutover's pause instead of failing after PgBouncer's 120 s.
    'query_wait_timeout = 0',
    // node-postgres and JDBC send it at login; PgBouncer would refuse the connection otherwise.
    'ignore_startup_parameters = extra_float_digits',
    'logfile = /var/log/postgresql/pgbouncer.log',
    'pidfile = /var/run/postgresql/pgbouncer.pid',
    '',
  ].join('\n');
}

/** One auth_file line: each field in double quotes, a quote doubled (PgBouncer's rule). */
function authLine(user: string, password: string): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  return `${q(user)} ${q(password)}`;
}

/** The auth_file: the admin's and the applications' passwords, in plain text so PgBouncer can log in to the servers by SCRAM as its clients. */
export function renderPgBouncerUserlist(setup: Pick<PoolerSetup, 'admin' | 'app'>): string {
  return `${authLine(setup.admin.user, setup.admin.password)}\n${authLine(setup.app.user, setup.app.password)}\n`;
}

/**
 * The installer's lines, after the pgferry user exists: Debian's pgbouncer, the ini writable by
 * the pgferry group (pgferry rewrites it at a cutover: a new file renamed over it, so the folder
 * too) and readable by PgBouncer's user in that group, the auth_file PgBouncer's alone, then a restart.
 */
export function poolerInstallLines(stagingDir: string, group: string): string[] {
  return [
    'retry apt-get install -y pgbouncer',
    `usermod -aG ${group} postgres`,
    `install -d -o postgres -g ${group} -m 2775 /etc/pgbouncer`,
    `install -o postgres -g ${group} -m 0660 "${stagingDir}/pgbouncer.ini" ${POOLER_CONFIG_FILE}`,
    `install -o postgres -g postgres -m 0600 ${POOLER_AUTH_STAGING} ${POOLER_AUTH_FILE}`,
    `rm -f ${POOLER_AUTH_STAGING}`,
    'systemctl enable pgbouncer',
    'systemctl restart pgbouncer',
  ];
}
