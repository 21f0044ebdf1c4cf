// Whether this machine can run the demo's own servers, and if not, what to do: which packages to
// install, or how to point the demo at two servers the user has. The facts are gathered once
// (inspectMachine) and judged by a pure function, so every refusal can be shown without the machine.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGBOUNCER_PATH, pgbouncerInstalled } from '../localpg/pgbouncer';

const execFileAsync = promisify(execFile);

/** Where Debian's and Ubuntu's packages put PostgreSQL 15, which the demo's source runs from. */
const PG15_BIN = '/usr/lib/postgresql/15/bin';

/** What the demo's own servers need of the machine. */
export interface DemoMachine {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly isRoot: boolean;
  /** An OS user named postgres exists (servers run as it under root: initdb refuses root). */
  readonly postgresUser: boolean;
  /** The PostgreSQL 15 server (postgres, initdb, pg_ctl) is in PG15_BIN. */
  readonly server15: boolean;
  /** pg_dump and pg_restore of 15 are in PG15_BIN (the migration needs them at least at the source's version). */
  readonly client15: boolean;
  /** apt-get is on PATH (a Debian or Ubuntu machine). */
  readonly apt: boolean;
  /** The embedded PostgreSQL 16 (the checkout's pg-bin-16, Linux x64) is installed: the target's version. */
  readonly embedded16: boolean;
  /** Debian's PgBouncer is in /usr/sbin: the online part cuts over through it. */
  readonly pgbouncer: boolean;
}

async function commandExists(name: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

async function osUserExists(name: string): Promise<boolean> {
  try {
    await execFileAsync('id', ['-u', name]);
    return true;
  } catch {
    return false;
  }
}

function embedded16Installed(): boolean {
  return (require.resolve.paths('pg-bin-16') ?? []).some((dir) => existsSync(path.join(dir, 'pg-bin-16', 'native', 'bin', 'postgres')));
}

export async function inspectMachine(): Promise<DemoMachine> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return {
    platform: process.platform,
    arch: process.arch,
    isRoot,
    postgresUser: await osUserExists('postgres'),
    server15: ['postgres', 'initdb', 'pg_ctl'].every((tool) => existsSync(path.join(PG15_BIN, tool))),
    client15: ['pg_dump', 'pg_restore'].every((tool) => existsSync(path.join(PG15_BIN, tool))),
    apt: await commandExists('apt-get'),
    embedded16: embedded16Installed(),
    pgbouncer: pgbouncerInstalled(),
  };
}

/** The lines that say how to run the demo against existing servers; `command` is how it was started. */
export function existingServersHint(command: string, database: string): string[] {
  return [
    'Or run it against two servers you have (a source with wal_level = logical for the online half, a target of the',
    "same or a newer major version, and pg_dump/pg_restore of at least the source's version on PATH):",
    `  ${command} --source-url postgres://USER@SOURCE-HOST:5432/postgres --target-url postgres://USER@TARGET-HOST:5432/postgres`,
    `Passwords come from PGPASSWORD or ~/.pgpass, never the URL. The demo creates the database "${database}" on the`,
    "source, migrates it to the target, and leaves both, and its migrations in the target's catalog, for you to look at.",
  ];
}

/** Why the demo cannot start its own servers here, one line each with what to do; empty when it can. */
export function ownServersProblems(machine: DemoMachine): string[] {
  if (machine.platform !== 'linux') {
    return [
      `its own servers run on Linux only (PostgreSQL 15 from Debian or Ubuntu packages, the embedded 16 for x64); this is ${machine.platform} ${machine.arch}`,
    ];
  }
  const problems: string[] = [];
  const packages = [...(machine.server15 ? [] : ['postgresql-15']), ...(machine.client15 ? [] : ['postgresql-client-15'])];
  if (packages.length > 0) {
    const missing = `PostgreSQL 15 is not installed in ${PG15_BIN} (packages ${packages.join(', ')})`;
    if (!machine.apt) {
      problems.push(`${missing}, and there is no apt-get: install PostgreSQL 15's server and client so that ${PG15_BIN} holds them`);
    } else if (!machine.isRoot) {
      problems.push(
        `${missing}: sudo apt-get install -y ${packages.join(' ')} (from apt.postgresql.org where the release lacks 15); npm run demo installs them itself as root`,
      );
    } else {
      problems.push(`${missing}: apt-get install -y ${packages.join(' ')} (from apt.postgresql.org where the release lacks 15)`);
    }
  }
  if (machine.isRoot && !machine.postgresUser) {
    problems.push(
      'it runs as root and there is no "postgres" OS user to run the servers as (initdb refuses root): useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres (the postgresql-15 package creates it too)',
    );
  }
  return problems;
}

/** What the demo's own servers will differ in from the lab (said, not refused). */
export function ownServersNotes(machine: DemoMachine): string[] {
  if (machine.embedded16) return [];
  return [
    'note: no embedded PostgreSQL 16 here (a Linux x64 devDependency of the checkout, installed by npm run demo): the target is a second PostgreSQL 15',
  ];
}

/**
 * What the online part lacks to cut over through a pooler, in one line, or undefined when it has
 * PgBouncer: without it the cutover fences the source's writers instead, which the line says.
 */
export function poolerMissing(machine: DemoMachine): string | undefined {
  if (machine.pgbouncer) return undefined;
  const install = !machine.apt
    ? `install PgBouncer so that it is at ${PGBOUNCER_PATH}`
    : machine.isRoot
      ? 'apt-get install -y pgbouncer'
      : 'sudo apt-get install -y pgbouncer (npm run demo installs it itself as root)';
  return `note: no PgBouncer at ${PGBOUNCER_PATH} (${install}): the online part cuts over with the writer fence instead of through a pooler`;
}
