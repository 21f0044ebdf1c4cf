// The migration runtime VM's cloud-init document, as a pure function: Node.js 20 (NodeSource) and
// the PostgreSQL client tools (PGDG), pgferry from the configured package, and `pgferry agent` as a
// systemd unit running as the unprivileged user `pgferry`. Passwords reach the VM in one root-only
// file (a .pgpass), which systemd hands the service as a credential: never on a command line,
// never in the unit, never in the environment file.
import { POOLER_AUTH_STAGING, poolerInstallLines, renderPgBouncerIni, renderPgBouncerUserlist, type PoolerSetup } from './poolerCloudInit';
import { APT_LOCK_WAIT, RETRY_FUNCTION, shellQuote } from './sourceScripts';

/** Where cloud-init writes the runtime's files; /etc/pgferry holds the root-only ones. */
const RUNTIME_STATE_DIR = '/var/lib/pgferry-runtime';
const CONFIG_DIR = '/etc/pgferry';
/** The agent's systemd unit. */
const AGENT_UNIT = 'pgferry-agent.service';
/** Where `npm install --global --prefix` puts pgferry: its command is <prefix>/bin/pgferry. */
const INSTALL_PREFIX = '/opt/pgferry';
/** The unprivileged user the agent runs as (a system user with no login shell). */
const AGENT_USER = 'pgferry';

/** A server the agent reaches, with the password .pgpass gives it. */
interface RuntimeServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** A source: its databases become PGFERRY_SOURCE_URLS entries (URLs without the password). */
export interface RuntimeSource extends RuntimeServer {
  readonly sslMode: string;
  readonly databases: readonly string[];
}

export interface RuntimeSetup {
  /** The lab's Flexible Server: its FQDN (resolved to the private address inside the VNet) and admin. */
  readonly target: RuntimeServer;
  readonly sources: readonly RuntimeSource[];
  /** npm install spec: tarball URL, git URL or pgferry@<version>. */
  readonly packageSpec: string;
  /** Major of postgresql-client-N (pg_dump, pg_restore, pg_dumpall). */
  readonly postgresClientVersion: string;
  readonly concurrency: number;
  /** The lab's PgBouncer, on this VM (the first) when `pooler.enabled` (poolerCloudInit.ts). */
  readonly pooler?: PoolerSetup;
}

/** One .pgpass field: `:` and `\` are escaped with a backslash (libpq's and the pgpass module's rule). */
function pgpassField(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** .pgpass lines for the target and each source server (any database on it). */
export function runtimePgpass(setup: Pick<RuntimeSetup, 'target' | 'sources' | 'pooler'>): string {
  const lines = new Map<string, string>();
  // the lab's PgBouncer's admin login, which the agent beside it drives a cutover through it with
  const pooler = setup.pooler ? [{ host: setup.pooler.host, port: setup.pooler.port, ...setup.pooler.admin }] : [];
  for (const server of [setup.target, ...setup.sources, ...pooler]) {
    const key = [server.host, String(server.port), '*', server.user].map(pgpassField).join(':');
    // The first password given for a host, port and user wins, as libpq reads the file.
    if (!lines.has(key)) lines.set(key, `${key}:${pgpassField(server.password)}`);
  }
  return [...lines.values()].join('\n') + '\n';
}

/** PGFERRY_POOLER_ADMIN_URL: the lab's PgBouncer's admin console, without the password (the agent takes it from .pgpass). */
function poolerAdminUrl(pooler: PoolerSetup): string {
  return `postgres://${encodeURIComponent(pooler.admin.user)}@${pooler.host}:${pooler.port}/pgbouncer`;
}

/** libpq URL of one source database, without a password (the agent takes it from .pgpass). */
function sourceUrl(source: RuntimeSource, database: string): string {
  const host = source.host.includes(':') ? `[${source.host}]` : source.host;
  return `postgres://${encodeURIComponent(source.user)}@${host}:${source.port}/${encodeURIComponent(database)}?sslmode=${source.sslMode}`;
}

/** PGFERRY_SOURCE_URLS: one URL per source database, once each. */
function runtimeSourceUrls(sources: readonly RuntimeSource[]): string[] {
  return [...new Set(sources.flatMap((source) => source.databases.map((database) => sourceUrl(source, database))))];
}

/** The target URL `pgferry agent --target-url` takes: the admin on the maintenance database, TLS required. */
function runtimeTargetUrl(target: RuntimeServer): string {
  return `postgres://${encodeURIComponent(target.user)}@${target.host}:${target.port}/postgres?sslmode=require`;
}

/** systemd's specifier character: a literal % in the unit is %%. */
function unitText(value: string): string {
  return value.replace(/%/g, '%%');
}

/**
 * The agent's unit. The .pgpass is loaded as a systemd credential: systemd (root) reads the
 * root-only file and gives the service a private copy only its user can read ($CREDENTIALS_DIRECTORY,
 * %d), so the agent's user never has access to /etc/pgferry. Restart=always: the agent is the
 * migration's runner; whatever stops it, systemd starts it again and it resumes from the catalog.
 * The agent's name is the VM's host name (%H): what `pgferry show` lists.
 */
function agentUnit(setup: Pick<RuntimeSetup, 'target' | 'concurrency' | 'pooler'>): string {
  const exec = [
    `${INSTALL_PREFIX}/bin/pgferry`,
    'agent',
    '--target-url',
    unitText(runtimeTargetUrl(setup.target)),
    '--name',
    '%H',
    '--concurrency',
    String(setup.concurrency),
  ].join(' ');
  return [
    '[Unit]',
    'Description=pgferry migration agent (runs migrations with runtime: agents from the target catalog)',
    'Wants=network-online.target',
    'After=network-online.target',
    // Never give up restarting (the default start limit would stop after 5 quick failures).
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `User=${AGENT_USER}`,
    `Group=${AGENT_USER}`,
    `EnvironmentFile=${CONFIG_DIR}/agent.env`,
    `LoadCredential=pgpass:${CONFIG_DIR}/pgpass`,
    'Environment=PGPASSFILE=%d/pgpass',
    `Environment=HOME=/var/lib/${AGENT_USER}`,
    `WorkingDirectory=/var/lib/${AGENT_USER}`,
    `ExecStart=${exec}`,
    'Restart=always',
    'RestartSec=10',
    // SIGTERM: the agent stops claiming, lets its items go and exits; give it time to do so.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=120',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectSystem=full',
    // beside the lab's PgBouncer, a cutover through it rewrites its file, which ProtectSystem makes read-only
    ...(setup.pooler ? ['ReadWritePaths=/etc/pgbouncer'] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The installer, run once by cloud-init's runcmd: packages, pgferry, the user, then the unit. */
function runtimeInstallScript(setup: Pick<RuntimeSetup, 'packageSpec' | 'postgresClientVersion' | 'pooler'>): string {
  return [
    '#!/bin/bash',
    '# Installs Node.js 20, the PostgreSQL client tools and pgferry, then starts pgferry-agent.',
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    `dir=${RUNTIME_STATE_DIR}`,
    ...RETRY_FUNCTION,
    'install -m 0644 "$dir/apt-lock-wait.conf" /etc/apt/apt.conf.d/90pgferry-lab',
    'retry apt-get update',
    'retry apt-get install -y ca-certificates curl gnupg git postgresql-common',
    // Node.js 20 from NodeSource's signed repository (Ubuntu 24.04 ships 18; pgferry needs 20).
    'install -d -m 0755 /etc/apt/keyrings',
    'retry curl -fsSL -o "$dir/nodesource.key" https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key',
    'gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg "$dir/nodesource.key"',
    'echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" > /etc/apt/sources.list.d/nodesource.list',
    // The PGDG script adds its repository and runs apt-get update (for NodeSource's too).
    'retry /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y',
    `retry apt-get install -y nodejs postgresql-client-${setup.postgresClientVersion}`,
    `id -u ${AGENT_USER} > /dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/${AGENT_USER} --shell /usr/sbin/nologin ${AGENT_USER}`,
    ...(setup.pooler ? poolerInstallLines('$dir', AGENT_USER) : []),
    `retry npm install --global --omit=dev --no-fund --no-audit --prefix ${INSTALL_PREFIX} ${shellQuote(setup.packageSpec)}`,
    `${INSTALL_PREFIX}/bin/pgferry version`,
    `install -m 0644 "$dir/${AGENT_UNIT}" /etc/systemd/system/${AGENT_UNIT}`,
    'systemctl daemon-reload',
    `systemctl enable --now ${AGENT_UNIT}`,
    '',
  ].join('\n');
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

function fileEntry(path: string, permissions: string, content: string): string[] {
  return [`  - path: ${path}`, `    permissions: '${permissions}'`, '    content: |', indent(content, 6)];
}

/**
 * The lab's PgBouncer's files: its ini, installed by the installer once Debian's package is there
 * (written before, it would be the package's configuration file changed under it); its auth_file,
 * root-only and base64 like the .pgpass, installed for PgBouncer's user and removed.
 */
function poolerFiles(pooler: PoolerSetup): string[] {
  return [
    ...fileEntry(`${RUNTIME_STATE_DIR}/pgbouncer.ini`, '0644', renderPgBouncerIni(pooler)),
    `  - path: ${POOLER_AUTH_STAGING}`,
    "    permissions: '0600'",
    '    encoding: b64',
    `    content: ${Buffer.from(renderPgBouncerUserlist(pooler), 'utf8').toString('base64')}`,
  ];
}

/** The full `#cloud-config` document of one runtime VM. */
export function renderRuntimeCloudInit(setup: RuntimeSetup): string {
  const environment =
    `PGFERRY_SOURCE_URLS="${runtimeSourceUrls(setup.sources).join(' ')}"\n` +
    (setup.pooler ? `PGFERRY_POOLER_ADMIN_URL="${poolerAdminUrl(setup.pooler)}"\n` : '');
  return [
    '#cloud-config',
    'write_files:',
    ...fileEntry(`${RUNTIME_STATE_DIR}/apt-lock-wait.conf`, '0644', APT_LOCK_WAIT),
    // Root-only, like the .pgpass: the sources' addresses and users are the operator's business.
    ...fileEntry(`${CONFIG_DIR}/agent.env`, '0600', environment),
    // base64 so no password character can break the YAML; root-only, read by systemd alone.
    `  - path: ${CONFIG_DIR}/pgpass`,
    "    permissions: '0600'",
    '    encoding: b64',
    `    content: ${Buffer.from(runtimePgpass(setup), 'utf8').toString('base64')}`,
    ...fileEntry(`${RUNTIME_STATE_DIR}/${AGENT_UNIT}`, '0644', agentUnit(setup)),
    ...(setup.pooler ? poolerFiles(setup.pooler) : []),
    ...fileEntry(`${RUNTIME_STATE_DIR}/install.sh`, '0700', runtimeInstallScript(setup)),
    'runcmd:',
    `  - [bash, ${RUNTIME_STATE_DIR}/install.sh]`,
    '',
  ].join('\n');
}
