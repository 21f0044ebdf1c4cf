#!/usr/bin/env node
// Installs what a fresh machine lacks before `npm test`, `npm run demo` or `npm run bench`:
// node_modules (npm ci), PostgreSQL 15 server, client, PL/Perl (the managed-target tests need
// an untrusted language on the source) and PostGIS, libtcl8.6 (PL/Tcl of the embedded 13),
// systemd (systemd-analyze, for the lab's unit), chromium (the console's browser test) and
// pgbouncer (the pooler a cutover pauses) from
// Debian's packages, and for the benchmark
// pgcopydb. With --demo only the server, the client and pgbouncer (the online part cuts over
// through it), and what it cannot install is left to the demo, which says what to do (or runs
// against --source-url and --target-url; without pgbouncer it fences the writers instead). Plain
// Node.js with no dependencies, because it runs before node_modules exists.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wantBench = process.argv.includes('--bench');
const wantDemo = process.argv.includes('--demo');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

function run(cmd, args, opts = {}) {
  console.error(`[ensure-deps] ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root, ...opts });
}

function nodeModulesFresh() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return false;
  const lock = join(root, 'package-lock.json');
  return !existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs - 1000;
}

/** Whether the dynamic linker finds a shared library (ldconfig's cache, as the server will). */
function sharedLibraryFound(name) {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      return execFileSync(ldconfig, ['-p'], { encoding: 'utf8' }).includes(name);
    } catch {
      // not at this path: try the next
    }
  }
  return false;
}

function hasCommand(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the Debian packages cannot be installed here, or undefined when they can. */
function cannotInstall() {
  if (process.platform !== 'linux') return `this is ${process.platform}, not Linux`;
  if (!hasCommand('apt-get')) return 'no apt-get: not a Debian or Ubuntu machine';
  if (!isRoot) return 'not root';
  return undefined;
}

let aptUpdated = false;
function aptInstall(packages) {
  const why = cannotInstall();
  if (why) {
    throw new Error(
      `missing Debian packages ${packages.join(' ')} (${why}): install them (sudo apt-get install -y ${packages.join(' ')}), ` +
        'or their equivalent so that /usr/lib/postgresql/15/bin holds the server and its tools',
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

/**
 * A node_modules that is a link to another checkout's (a git worktree sharing one install): `npm ci`
 * would empty the folder it points to under every checkout using it, so it is left alone.
 */
function linkedNodeModules() {
  const dir = join(root, 'node_modules');
  return existsSync(dir) && lstatSync(dir).isSymbolicLink() ? realpathSync(dir) : undefined;
}

const linked = linkedNodeModules();
if (linked && !nodeModulesFresh()) {
  console.error(
    `[ensure-deps] node_modules is a link to ${linked}: not reinstalled here (npm ci would empty it for every checkout using it); ` +
      'run npm ci where it lives, or replace the link by a folder of its own',
  );
} else if (!nodeModulesFresh()) {
  const args = [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund'];
  // The embedded PostgreSQL 13 and 16 (devDependencies) are built for Linux x64 only, and npm refuses
  // a dependency of another platform (EBADPLATFORM): --force installs them, unused, so the rest of
  // the checkout still installs and builds (the demo can run against existing servers).
  if (!linuxX64) args.push('--force');
  run('npm', args);
}

const pg15 = '/usr/lib/postgresql/15/bin';
const missing = [];
if (!existsSync(join(pg15, 'postgres'))) missing.push('postgresql-15');
if (!existsSync(join(pg15, 'pg_dump'))) missing.push('postgresql-client-15');
if (!wantDemo) {
  if (!existsSync('/usr/lib/postgresql/15/lib/plperl.so')) missing.push('postgresql-plperl-15');
  // PostGIS, for the tests of extension types streamed to a 15 target (the embedded 16 has none).
  if (!existsSync('/usr/share/postgresql/15/extension/postgis.control')) missing.push('postgresql-15-postgis-3');
  // The embedded PostgreSQL 13 ships PL/Tcl linked against the system's libtcl8.6: the extension
  // check's test creates it on a 13 source. (Not postgresql-pltcl-15: that test needs a 15 target
  // without PL/Tcl.)
  if (!sharedLibraryFound('libtcl8.6.so')) missing.push('libtcl8.6');
  // systemd-analyze, which verifies the lab's agent unit (test/lab-stack/migrationRuntime.test.ts).
  if (!existsSync('/usr/bin/systemd-analyze')) missing.push('systemd');
  // Chromium, which the console's test drives headless through playwright-core (test/console/).
  if (!existsSync('/usr/bin/chromium')) missing.push('chromium');
}
// PgBouncer, the pooler the cutover through a pooler drives, in the tests and the demo's online part
// (provider/localpg/pgbouncer.ts).
if (!existsSync('/usr/sbin/pgbouncer')) missing.push('pgbouncer');
if (wantBench && !existsSync(join(pg15, 'pgbench'))) missing.push('postgresql-contrib');
if (wantBench && !existsSync('/usr/bin/pgcopydb') && !existsSync(join(pg15, 'pgcopydb'))) missing.push('pgcopydb');
// sysbench, the application of the cutover through the pooler's bench (bench/poolerBench.ts), and the pooler itself
if (wantBench && !existsSync('/usr/bin/sysbench')) missing.push('sysbench');
if (wantBench && !existsSync('/usr/sbin/pgbouncer') && !missing.includes('pgbouncer')) missing.push('pgbouncer');
if (missing.length > 0 && wantDemo && cannotInstall()) {
  console.error(`[ensure-deps] not installing ${missing.join(' ')} (${cannotInstall()}): the demo says what it needs`);
} else if (missing.length > 0) {
  aptInstall(missing);
}

if (isRoot && process.platform === 'linux') {
  // initdb refuses root: test/support runs servers as the `postgres` OS user.
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    if (!wantDemo || hasCommand('useradd'))
      run('useradd', ['--system', '--home-dir', '/var/lib/postgresql', '--shell', '/bin/bash', 'postgres']);
  }
}
