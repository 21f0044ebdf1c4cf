// The source VM's cloud-init document, as a pure function: PostgreSQL from PGDG plus the seeds'
// manual source edits (wal_level, replication slots and senders, pg_hba for the migration's networks)
// and the lab's AdventureWorks sample (provider/demo/adventureworks, the script the demo loads too).
import { gzipSync } from 'node:zlib';
import { ADVENTUREWORKS_READINESS_SQL, ADVENTUREWORKS_READY_ANSWER, ADVENTUREWORKS_SQL } from '../provider/demo/adventureworks/script';
import { ident, literal } from '../provider/engine';
import { APT_LOCK_WAIT, checkReadyScript, installScript, preparePostgresScript, STATE_DIR } from './sourceScripts';

export interface SourceSetup {
  /** PostgreSQL major version to install, e.g. "16". */
  readonly postgresVersion: string;
  /** Networks allowed to connect with a password (pg_hba), e.g. the delegated subnet and the VPN pool. */
  readonly allowedCidrs: readonly string[];
  /** Databases to create empty (with the sample's, the count the replication settings are sized for). */
  readonly databases: readonly string[];
  /** The database the AdventureWorks sample is loaded into; undefined loads none. */
  readonly sampleDatabase?: string;
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

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

/** postgresql.conf drop-in: what the seeds changed by hand on the source. */
function sourcePostgresConf(databaseCount: number): string {
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

/**
 * The password and the databases, idempotent (psql's \\gexec creates only the missing ones). It
 * carries the password, so it travels base64-encoded, is root-only and is shredded once used.
 */
function setupSql(setup: SourceSetup): string {
  const statements = [`ALTER ROLE postgres WITH PASSWORD ${literal(setup.postgresPassword)};`];
  for (const database of allDatabases(setup)) {
    statements.push(
      `SELECT ${literal(`CREATE DATABASE ${ident(database)}`)} WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(database)})\\gexec`,
    );
  }
  return statements.join('\n') + '\n';
}

/** The sample's database first, then the others (once each). */
function allDatabases(setup: SourceSetup): string[] {
  return [...new Set([...(setup.sampleDatabase === undefined ? [] : [setup.sampleDatabase]), ...setup.databases])];
}

function fileEntry(path: string, permissions: string, content: string): string[] {
  return [`  - path: ${STATE_DIR}/${path}`, `    permissions: '${permissions}'`, '    content: |', indent(content, 6)];
}

/** The full `#cloud-config` document for the source VM. */
export function renderCloudInit(setup: SourceSetup): string {
  const sql = Buffer.from(setupSql(setup), 'utf8').toString('base64');
  const sample = setup.sampleDatabase;
  const lines = [
    '#cloud-config',
    'write_files:',
    ...fileEntry('pgferry-lab.conf', '0644', sourcePostgresConf(allDatabases(setup).length)),
    ...fileEntry('pg_hba.lines', '0644', sourcePgHbaLines(setup.allowedCidrs)),
    ...fileEntry('apt-lock-wait.conf', '0644', APT_LOCK_WAIT),
    // base64 so no password character can break the YAML; root-only until the script shreds it.
    `  - path: ${STATE_DIR}/setup.sql`,
    "    permissions: '0600'",
    '    encoding: b64',
    `    content: ${sql}`,
  ];
  if (sample !== undefined) {
    // The sample is ~80 KB of SQL; gzip keeps the whole document far below Azure's 64 KB customData limit.
    lines.push(
      `  - path: ${STATE_DIR}/adventureworks.sql`,
      "    permissions: '0644'",
      '    encoding: gz+b64',
      `    content: ${gzipSync(Buffer.from(ADVENTUREWORKS_SQL, 'utf8'), { level: 9 }).toString('base64')}`,
      ...fileEntry('ready.sql', '0644', ADVENTUREWORKS_READINESS_SQL),
    );
  }
  lines.push(
    ...fileEntry('setup.sh', '0700', installScript(setup.postgresVersion)),
    ...fileEntry('prepare-postgres.sh', '0700', preparePostgresScript(sample)),
    ...fileEntry('check-ready.sh', '0755', checkReadyScript(sample, ADVENTUREWORKS_READY_ANSWER)),
    'runcmd:',
    `  - [bash, ${STATE_DIR}/setup.sh]`,
    '',
  );
  return lines.join('\n');
}
