// The source VM's cloud-init document, as a pure function: PostgreSQL from PGDG plus the seeds'
// manual source edits (wal_level, replication slots and senders, pg_hba for the migration's networks).

export interface SourceSetup {
  /** PostgreSQL major version to install, e.g. "16". */
  readonly postgresVersion: string;
  /** Networks allowed to connect with a password (pg_hba), e.g. the delegated subnet and the VPN pool. */
  readonly allowedCidrs: readonly string[];
  /** Databases to create empty, and the count the replication settings are sized for. */
  readonly databases: readonly string[];
  /** Password for the `postgres` role; it only travels base64-encoded inside the document. */
  readonly postgresPassword: string;
}

export interface ReplicationSizing {
  readonly maxReplicationSlots: number;
  readonly maxWalSenders: number;
}

/**
 * Slots and senders for migrating `databaseCount` databases online. A logical slot belongs to one
 * database, so each database needs its own; a retried migration creates its new slot before the
 * old one is dropped, so double that; two spare for an operator's own tools. Every streaming slot
 * holds a WAL sender, plus two spare for pg_basebackup or a physical standby. Never below
 * PostgreSQL's defaults (10 and 10).
 */
export function replicationSizing(databaseCount: number): ReplicationSizing {
  const maxReplicationSlots = Math.max(10, 2 * databaseCount + 2);
  return { maxReplicationSlots, maxWalSenders: Math.max(10, maxReplicationSlots + 2) };
}

const STATE_DIR = '/var/lib/pgferry-lab';

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

/** postgresql.conf drop-in: what the seeds changed by hand on the source. */
export function sourcePostgresConf(databaseCount: number): string {
  const sizing = replicationSizing(databaseCount);
  return [
    '# Written by pgferry lab-stack: settings a logical-replication migration source needs.',
    "listen_addresses = '*'",
    'wal_level = logical',
    `max_replication_slots = ${sizing.maxReplicationSlots}`,
    `max_wal_senders = ${sizing.maxWalSenders}`,
    // Stored hashes must match the pg_hba method below; 11-13 still default to md5.
    "password_encryption = 'scram-sha-256'",
    '',
  ].join('\n');
}

/**
 * pg_hba lines for the allowed networks. Logical replication connections (replication=database)
 * are matched on their database name like any other, so `all` covers them; only physical
 * replication would need a `replication` line.
 */
export function sourcePgHbaLines(allowedCidrs: readonly string[]): string {
  const lines = ['# pgferry lab-stack: migration networks (delegated subnet, VPN clients)'];
  for (const cidr of allowedCidrs) lines.push(`host all all ${cidr} scram-sha-256`);
  return lines.join('\n') + '\n';
}

function setupSql(setup: SourceSetup): string {
  const statements = [`ALTER ROLE postgres WITH PASSWORD ${quoteLiteral(setup.postgresPassword)};`];
  for (const database of setup.databases) statements.push(`CREATE DATABASE ${quoteIdent(database)};`);
  return statements.join('\n') + '\n';
}

function setupScript(version: string): string {
  const etc = `/etc/postgresql/${version}/main`;
  return [
    '#!/bin/bash',
    `# Installs PostgreSQL ${version} from the PGDG repository and applies the migration-source settings.`,
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update',
    'apt-get install -y postgresql-common',
    '/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y',
    `apt-get install -y postgresql-${version}`,
    // Debian clusters read conf.d/ (include_dir); files are copied in only now because an existing
    // /etc/postgresql/<v>/main before installation makes pg_createcluster refuse to create the cluster.
    `install -o postgres -g postgres -m 0644 ${STATE_DIR}/pgferry-lab.conf ${etc}/conf.d/pgferry-lab.conf`,
    `cat ${STATE_DIR}/pg_hba.lines >> ${etc}/pg_hba.conf`,
    `systemctl restart postgresql@${version}-main`,
    `sudo -u postgres psql -v ON_ERROR_STOP=1 -f - < ${STATE_DIR}/setup.sql`,
    `shred -u ${STATE_DIR}/setup.sql`,
    '',
  ].join('\n');
}

/** The full `#cloud-config` document for the source VM. */
export function renderCloudInit(setup: SourceSetup): string {
  const sql = Buffer.from(setupSql(setup), 'utf8').toString('base64');
  return [
    '#cloud-config',
    'write_files:',
    `  - path: ${STATE_DIR}/pgferry-lab.conf`,
    "    permissions: '0644'",
    '    content: |',
    indent(sourcePostgresConf(setup.databases.length), 6),
    `  - path: ${STATE_DIR}/pg_hba.lines`,
    "    permissions: '0644'",
    '    content: |',
    indent(sourcePgHbaLines(setup.allowedCidrs), 6),
    // base64 so no password character can break the YAML; root-only until the script shreds it.
    `  - path: ${STATE_DIR}/setup.sql`,
    "    permissions: '0600'",
    '    encoding: b64',
    `    content: ${sql}`,
    `  - path: ${STATE_DIR}/setup.sh`,
    "    permissions: '0700'",
    '    content: |',
    indent(setupScript(setup.postgresVersion), 6),
    'runcmd:',
    `  - [bash, ${STATE_DIR}/setup.sh]`,
    '',
  ].join('\n');
}
