// The shell scripts cloud-init leaves on the source VM, as text: the installer (apt, PostgreSQL from
// PGDG, the settings), the PostgreSQL part it ends with (password, databases, the AdventureWorks
// sample) and the readiness check the VM extension runs. The PostgreSQL part and the check take
// PSQL and PGFERRY_LAB_DIR from the environment, so a test runs them against a local server.
import { conninfoDbname } from '../provider/engine';

/** Where cloud-init writes the lab's files on the VM. */
export const STATE_DIR = '/var/lib/pgferry-lab';

/** A shell word that is exactly `value` (single-quoted). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * apt at first boot runs beside unattended-upgrades and apt-daily, which hold the dpkg lock for
 * minutes: every apt call waits for the lock (DPkg::Lock::Timeout, apt 1.9.11+; Ubuntu 24.04 has
 * 2.7) and a failed call (a mirror hiccup) is retried with back-off instead of failing `set -e`.
 */
const APT_LOCK_WAIT = `APT::Acquire::Retries "5";
DPkg::Lock::Timeout "900";
`;

/** `retry CMD...`: a first-boot download that fails (a mirror hiccup) is tried again with back-off. */
export const RETRY_FUNCTION: readonly string[] = [
  'retry() {',
  '  local attempt=1',
  '  until "$@"; do',
  '    if [ "$attempt" -ge 6 ]; then echo "pgferry-lab: gave up after $attempt tries: $*" >&2; return 1; fi',
  '    echo "pgferry-lab: try $attempt failed: $*; retrying" >&2',
  '    sleep $((attempt * 15))',
  '    attempt=$((attempt + 1))',
  '  done',
  '}',
];

/** The installer, run once by cloud-init's runcmd. */
export function installScript(version: string): string {
  const etc = `/etc/postgresql/${version}/main`;
  return [
    '#!/bin/bash',
    `# Installs PostgreSQL ${version} from the PGDG repository, applies the migration-source settings`,
    '# and hands over to prepare-postgres.sh (password, databases, sample, readiness).',
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    `dir=${STATE_DIR}`,
    ...RETRY_FUNCTION,
    'install -m 0644 "$dir/apt-lock-wait.conf" /etc/apt/apt.conf.d/90pgferry-lab',
    'retry apt-get update',
    'retry apt-get install -y postgresql-common',
    // The PGDG script adds the repository and runs apt-get update itself.
    'retry /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y',
    `retry apt-get install -y postgresql-${version}`,
    // Debian clusters read conf.d/ (include_dir); files are copied in only now because an existing
    // /etc/postgresql/<v>/main before installation makes pg_createcluster refuse to create the cluster.
    `install -o postgres -g postgres -m 0644 "$dir/pgferry-lab.conf" ${etc}/conf.d/pgferry-lab.conf`,
    `grep -q '^# pgferry lab-stack' ${etc}/pg_hba.conf || cat "$dir/pg_hba.lines" >> ${etc}/pg_hba.conf`,
    `systemctl restart postgresql@${version}-main`,
    'exec bash "$dir/prepare-postgres.sh"',
    '',
  ].join('\n');
}

/** The lines both PostgreSQL scripts start with: where the files are and how psql is run. */
function psqlPrelude(): string[] {
  return [
    'set -euo pipefail',
    `dir="\${PGFERRY_LAB_DIR:-${STATE_DIR}}"`,
    // On the VM: the local superuser over the socket. A test sets PSQL to reach its own server.
    'psql_cmd="${PSQL:-sudo -u postgres psql}"',
    'run() { $psql_cmd -X -q -v ON_ERROR_STOP=1 "$@"; }',
  ];
}

/**
 * The PostgreSQL part: the postgres password and the databases (setup.sql, removed once used), then
 * the sample loaded into its database unless it holds humanresources.department already, then the
 * readiness check. Safe to run again.
 */
export function preparePostgresScript(sampleDatabase: string | undefined): string {
  const lines = [
    '#!/bin/bash',
    '# Prepares the lab source: password, databases, the AdventureWorks sample; ends with the readiness check.',
    ...psqlPrelude(),
    'if [ -f "$dir/setup.sql" ]; then',
    '  run -d postgres -f - < "$dir/setup.sql"',
    '  shred -u "$dir/setup.sql"',
    'fi',
  ];
  if (sampleDatabase !== undefined) {
    lines.push(
      `sample=${shellQuote(conninfoDbname(sampleDatabase))}`,
      `loaded=$(run -At -d "$sample" -c "SELECT to_regclass('humanresources.department') IS NOT NULL")`,
      'if [ "$loaded" != t ]; then',
      '  echo "pgferry-lab: loading the AdventureWorks sample"',
      '  run -d "$sample" -f - < "$dir/adventureworks.sql"',
      'fi',
    );
  }
  lines.push('exec bash "$dir/check-ready.sh"', '');
  return lines.join('\n');
}

/**
 * The readiness check: with the sample, its database must answer the lab's counts (68 tables, the
 * 16 departments); without it, the server must answer. Prints one line; exits 1 when not ready.
 */
export function checkReadyScript(sampleDatabase: string | undefined, expected: string): string {
  const lines = ['#!/bin/bash', '# Is the lab source ready? One line on stdout; exit 1 when not.', ...psqlPrelude()];
  if (sampleDatabase === undefined) {
    lines.push('run -At -d postgres -c "SELECT 1" > /dev/null', 'echo "pgferry-lab: ready (PostgreSQL answers; no sample loaded)"');
  } else {
    lines.push(
      `sample=${shellQuote(conninfoDbname(sampleDatabase))}`,
      `expected=${shellQuote(expected)}`,
      'answer=$(run -At -d "$sample" -f "$dir/ready.sql")',
      'if [ "$answer" != "$expected" ]; then',
      `  echo "pgferry-lab: not ready: ${sampleDatabase.replace(/["$`\\]/g, '')} has $answer, expected $expected" >&2`,
      '  exit 1',
      'fi',
      `echo "pgferry-lab: ready: $answer"`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

export { APT_LOCK_WAIT };

/**
 * What the VM extension runs: wait for cloud-init, then the readiness check. `cloud-init status
 * --wait` exits 2 when cloud-init finished with recoverable errors or warnings (cloud-init 23.4+,
 * e.g. a deprecated key in Azure's own config on Ubuntu 24.04), which must not fail the extension;
 * 1 is a real failure. The check then decides, from the database itself.
 */
export const READY_COMMAND =
  'bash -c \'cloud-init status --wait > /dev/null; rc=$?; if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then cloud-init status --long; exit "$rc"; fi; ' +
  `exec bash ${STATE_DIR}/check-ready.sh'`;
