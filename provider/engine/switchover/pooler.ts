// The pooler in front of the source (spec.pooler, docs/pooler.md): the user's PgBouncer, driven
// through its admin console (the `pgbouncer` database, simple queries only) and its configuration
// file. PAUSE waits for every server connection of a database to be released (in transaction
// pooling, each transaction in flight to end) and holds new queries; RELOAD rereads the file;
// RESUME lets the held queries go to wherever the file then points. PgBouncer's admin console has
// no command that changes a database's address, so the address is changed in the file: only the
// host= and port= of the migrated databases' lines in its [databases] section, the rest of the file
// kept byte for byte, written whole to a new file renamed over the old one (a RELOAD or SIGHUP
// never reads half of it). The record of what was there, and the order of the steps, are the
// footprint's (footprint/poolerPause.ts).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ident } from '../connect/quote';
import { refuseWhenCutOff, trackClient, untrackClient } from '../connect/cutOff';
import { errorMessage, isPgferryError, PgferryError } from '../core/errors';
import { maskSecrets } from '../core/secrets';
import { trace } from '../util/trace';
import type { MigrationSpec, PoolerSpec } from '../input/migrationSpec';

/**
 * The variable the CLI reads the pooler's admin password from: never a flag, since any local user
 * can read a command line. Here, beside the pooler's mechanism, not in the spec's zod schema: a
 * stopped runner's cancel names it, and a runner never loads zod.
 */
export const POOLER_PASSWORD_VARIABLE = 'PGFERRY_POOLER_PASSWORD';

/** PgBouncer's admin console: the database every admin command is sent to. */
const POOLER_ADMIN_DATABASE = 'pgbouncer';

/** How long connecting to the admin console may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/** One line of the admin console's SHOW DATABASES. */
export interface PooledDatabase {
  /** The pooler's name for it (what clients connect to). */
  readonly name: string;
  readonly host: string | null;
  readonly port: number;
  /** The server's database it goes to. */
  readonly database: string;
  /** Its own pool_mode, or null: the pooler's. */
  readonly poolMode: string | null;
  readonly paused: boolean;
}

/** Where a pooler's database points: host= and port= as its line writes them (null: not written). */
export interface PoolerAddress {
  readonly host: string | null;
  readonly port: string | null;
}

/** An error of the pooler, its password masked, naming what was done. */
function poolerError(pooler: PoolerSpec, what: string, error: unknown): PgferryError {
  const why = maskSecrets(errorMessage(error), [pooler.password]);
  return new PgferryError('POOLER_REFUSED', `the pooler at ${pooler.host}:${pooler.port}: ${what}: ${why}`, { cause: error });
}

/** A session on the pooler's admin console (the caller ends it). */
async function openPoolerAdmin(pooler: PoolerSpec): Promise<pg.Client> {
  trace('pooler admin: connecting');
  // counted among the process's clients: a runner cut off from the servers (connect/cutOff.ts) ends it too
  const client = trackClient(
    new pg.Client({
      host: pooler.host,
      port: pooler.port,
      user: pooler.user,
      ...(pooler.password === undefined ? {} : { password: pooler.password }),
      database: POOLER_ADMIN_DATABASE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    }),
  );
  client.on('error', () => undefined); // a console that goes away errs on the next command
  try {
    await client.connect();
  } catch (error) {
    untrackClient(client);
    await client.end().catch(() => undefined);
    throw poolerError(pooler, `could not connect to the admin console as "${pooler.user}"`, error);
  }
  return client;
}

/** Runs fn on an admin console session, ended after. */
export async function withPoolerAdmin<T>(pooler: PoolerSpec, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = await openPoolerAdmin(pooler);
  try {
    return await fn(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** One admin command (no parameters: the console takes the simple protocol alone). */
async function command<R extends pg.QueryResultRow>(pooler: PoolerSpec, admin: pg.Client, text: string): Promise<R[]> {
  try {
    trace(`pooler admin: ${text}`);
    return (await admin.query<R>(text)).rows;
  } catch (error) {
    throw poolerError(pooler, text, error);
  }
}

/** The pooler's databases as SHOW DATABASES lists them (its own `pgbouncer` left out). */
export async function pooledDatabases(pooler: PoolerSpec, admin: pg.Client): Promise<PooledDatabase[]> {
  const rows = await command<{
    name: string;
    host: string | null;
    port: number | string;
    database: string;
    pool_mode: string | null;
    paused: number | string;
  }>(pooler, admin, 'SHOW DATABASES');
  return rows
    .filter((r) => r.name !== POOLER_ADMIN_DATABASE)
    .map((r) => ({
      name: r.name,
      host: r.host,
      port: Number(r.port),
      database: r.database,
      poolMode: r.pool_mode || null,
      paused: Number(r.paused) === 1,
    }));
}

/** The pooler's settings as SHOW CONFIG lists them. */
export async function poolerSettings(pooler: PoolerSpec, admin: pg.Client): Promise<ReadonlyMap<string, string>> {
  const rows = await command<{ key: string; value: string | null }>(pooler, admin, 'SHOW CONFIG');
  return new Map(rows.map((r) => [r.key, r.value ?? '']));
}

/**
 * Why the pooler's admin user may not PAUSE, or undefined: PgBouncer lets only admin_users pause
 * and resume (a stats_users user may SHOW, no more).
 */
export async function poolerAdminRefusal(pooler: PoolerSpec): Promise<{ readonly message: string; readonly fix: string } | undefined> {
  const settings = await withPoolerAdmin(pooler, (admin) => poolerSettings(pooler, admin));
  const admins = (settings.get('admin_users') ?? '').split(/[\s,]+/).filter(Boolean);
  if (admins.includes(pooler.user)) return undefined;
  return {
    message: `the pooler's user "${pooler.user}" is not in its admin_users (${admins.join(', ') || 'none'}): it may not PAUSE, RELOAD or RESUME`,
    fix: `add "${pooler.user}" to admin_users in the pooler's configuration (stats_users may only SHOW), then RELOAD it, or give pooler.user a user of admin_users`,
  };
}

/** The pooler's databases a migration pauses and repoints: pooler.databases, or one per migrated database of its name. */
export function poolerNames(spec: MigrationSpec, databases: readonly string[]): readonly string[] {
  return spec.pooler?.databases ?? databases;
}

/**
 * PAUSE one database of the pooler: it returns once the database's server connections are
 * released (its transactions in flight ended); new queries wait. One that waits longer than
 * pauseTimeoutSeconds is resumed from a second session (the transactions in flight would hold the
 * cutover, and the applications, for longer than they were promised) and refused; `admin` is then
 * still waiting for the PAUSE, and only good for ending.
 */
export async function pausePooled(pooler: PoolerSpec, admin: pg.Client, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), pooler.pauseTimeoutSeconds * 1000)));
  const paused = command(pooler, admin, `PAUSE ${ident(name)}`);
  paused.catch(() => undefined);
  try {
    if ((await Promise.race([paused, late])) !== 'late') return;
  } finally {
    clearTimeout(timer);
  }
  await withPoolerAdmin(pooler, (other) => resumePooled(pooler, other, name));
  // the PAUSE itself never returns once resumed from elsewhere: its session is ended by the caller (withPoolerAdmin)
  throw new PgferryError(
    'POOLER_REFUSED',
    `the pooler's PAUSE of "${name}" waited more than ${pooler.pauseTimeoutSeconds} s for the transactions in flight to end; the database was resumed`,
    {
      fix: 'end the long transactions on the source (pg_stat_activity), or raise pooler.pauseTimeoutSeconds, then request the cutover again',
    },
  );
}

/** RESUME one database of the pooler; one that is not paused is left as it is. */
export async function resumePooled(pooler: PoolerSpec, admin: pg.Client, name: string): Promise<void> {
  try {
    await admin.query(`RESUME ${ident(name)}`);
  } catch (error) {
    if (/is not paused/.test(errorMessage(error))) return;
    throw poolerError(pooler, `RESUME ${ident(name)}`, error);
  }
}

/** RELOAD: the pooler reads its configuration file again. */
export async function reloadPooler(pooler: PoolerSpec, admin: pg.Client): Promise<void> {
  await command(pooler, admin, 'RELOAD');
}

/** One line of the [databases] section: its index in the file, its connection string's keys in order. */
interface EntryLine {
  readonly index: number;
  readonly name: string;
  readonly keys: { key: string; value: string }[];
}

/** `key=value` pairs of a PgBouncer connection string, a value single-quoted or bare. */
const PAIR = /([A-Za-z_]+)\s*=\s*('(?:[^']|'')*'|[^\s]*)/g;
const ENTRY = /^\s*("(?:[^"]|"")+"|[^\s=;#]+)\s*=\s*(.*?)\s*$/;

function unquotedName(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name;
}

/** The [databases] lines of a configuration file's text. */
function entryLines(lines: readonly string[]): EntryLine[] {
  const found: EntryLine[] = [];
  let section = '';
  for (const [index, line] of lines.entries()) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      continue;
    }
    if (section !== 'databases' || /^\s*[;#]/.test(line)) continue;
    const entry = ENTRY.exec(line);
    if (!entry) continue;
    const keys = [...entry[2]!.matchAll(PAIR)].map((m) => ({ key: m[1]!.toLowerCase(), value: m[2]! }));
    found.push({ index, name: unquotedName(entry[1]!), keys });
  }
  return found;
}

async function readConfig(pooler: PoolerSpec): Promise<string[]> {
  try {
    return (await fs.readFile(pooler.configFile, 'utf8')).split('\n');
  } catch (error) {
    throw poolerError(pooler, `could not read its configuration file ${pooler.configFile}`, error);
  }
}

/** Where each named database's line points (host=, port= as written); a name without a line is refused. */
export async function configuredAddresses(pooler: PoolerSpec, names: readonly string[]): Promise<Map<string, PoolerAddress>> {
  const entries = entryLines(await readConfig(pooler));
  const out = new Map<string, PoolerAddress>();
  for (const name of names) {
    const entry = entries.find((e) => e.name === name);
    if (!entry) throw missingLine(pooler, name);
    const value = (key: string) => entry.keys.find((k) => k.key === key)?.value ?? null;
    out.set(name, { host: value('host'), port: value('port') });
  }
  return out;
}

function missingLine(pooler: PoolerSpec, name: string): PgferryError {
  return new PgferryError(
    'POOLER_REFUSED',
    `the pooler's configuration file ${pooler.configFile} has no line for "${name}" in its [databases] section`,
    {
      fix: `write "${name} = host=... port=... dbname=..." in the [databases] section of ${pooler.configFile} itself (not in an %include), or leave "${name}" out of pooler.databases`,
    },
  );
}

/** A value as a connection string holds it: bare when it can be, else single-quoted. */
function connValue(value: string): string {
  return /^[A-Za-z0-9._:/[\]-]+$/.test(value) ? value : `'${value.replaceAll("'", "''")}'`;
}

/**
 * Points the named databases' lines at the given addresses (host= and port= set, or removed where
 * null), the rest of the file unchanged; the file keeps its mode and, where this process may, its
 * owner. Lines already pointing there are left as they are (nothing is written when none changes).
 */
export async function pointDatabases(pooler: PoolerSpec, addresses: ReadonlyMap<string, PoolerAddress>): Promise<void> {
  const lines = await readConfig(pooler);
  const entries = entryLines(lines);
  let changed = false;
  for (const [name, address] of addresses) {
    const entry = entries.find((e) => e.name === name);
    if (!entry) throw missingLine(pooler, name);
    const line = pointedLine(lines[entry.index]!, address);
    if (line === lines[entry.index]) continue;
    lines[entry.index] = line;
    changed = true;
  }
  if (!changed) return;
  await writeWhole(pooler, lines.join('\n'));
}

/**
 * A [databases] line with its host= and port= values replaced where they are (added at its end
 * where absent, removed where the address has none), everything else as written.
 */
function pointedLine(line: string, address: PoolerAddress): string {
  const at = line.indexOf('=') + 1;
  let conn = line.slice(at);
  for (const key of ['host', 'port'] as const) {
    const value = address[key];
    const pair = new RegExp(`(^|\\s)${key}\\s*=\\s*('(?:[^']|'')*'|[^\\s]*)`, 'i');
    if (pair.test(conn)) conn = conn.replace(pair, value === null ? '' : `$1${key}=${value}`);
    else if (value !== null) conn = `${conn.trimEnd()} ${key}=${value}`;
  }
  return line.slice(0, at) + conn;
}

/** The target as the pooler reaches it: pooler.targetHost/targetPort, else the target's own. */
export function targetAddress(spec: MigrationSpec): PoolerAddress {
  return {
    host: connValue(spec.pooler?.targetHost ?? spec.target.host),
    port: String(spec.pooler?.targetPort ?? spec.target.port),
  };
}

/**
 * Replaces the file whole (a rename, so the pooler never reads half of it). A runner cut off from
 * the servers (its lease lost, connect/cutOff.ts) writes it no more than it sends a statement: its
 * successor may be pointing the pooler already. The rename is the write, so the cut is checked
 * right before it too, with nothing awaited between.
 */
async function writeWhole(pooler: PoolerSpec, text: string): Promise<void> {
  refuseWhenCutOff();
  const file = pooler.configFile;
  const next = path.join(path.dirname(file), `.${path.basename(file)}.pgferry-${process.pid}`);
  try {
    const stat = await fs.stat(file);
    await fs.writeFile(next, text, { mode: stat.mode & 0o7777 });
    await fs.chown(next, stat.uid, stat.gid).catch(() => undefined); // not root: the file becomes ours, readable as before
    refuseWhenCutOff();
    await fs.rename(next, file);
  } catch (error) {
    await fs.rm(next, { force: true });
    if (isPgferryError(error) && error.code === 'RUNNER_CUT_OFF') throw error;
    throw poolerError(pooler, `could not write its configuration file ${file}`, error);
  }
}

/** Whether the file can be written where it is (its directory too: it is replaced by a rename). */
export async function configWritable(pooler: PoolerSpec): Promise<string | undefined> {
  for (const [what, where] of [
    ['the file', pooler.configFile],
    ['its directory', path.dirname(pooler.configFile)],
  ] as const) {
    try {
      await fs.access(where, fs.constants.R_OK | fs.constants.W_OK);
    } catch (error) {
      return `${what} ${where} cannot be read and written by pgferry (${errorMessage(error)})`;
    }
  }
  return undefined;
}
