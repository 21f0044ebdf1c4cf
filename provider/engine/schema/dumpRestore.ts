// pg_dump / pg_restore orchestration: one custom-format schema dump (pre-data and post-data,
// read in the copy's snapshot), restored section by section. Passwords travel in the
// environment only.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { libpqEnv } from '../connect/client';
import { refuseWhenCutOff, trackTool } from '../connect/cutOff';
import { withSession } from '../connect/session';
import { grantStatements, runEachGrant } from './grantReplay';
import { ownerChange, restoreDefaultPrivileges, restoreOwners } from './ownership';
import { conninfoDbname, displayIdent } from '../connect/quote';
import { PgferryError } from '../core/errors';
import type { ServerSpec } from '../input/migrationSpec';

export interface PgToolPaths {
  readonly pgDump: string;
  readonly pgRestore: string;
}

interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runTool(file: string, args: readonly string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ToolRun> {
  refuseWhenCutOff();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], signal });
    // a runner cut off from the servers kills it (connect/cutOff.ts)
    trackTool(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      // keep the head of a flood of errors; it names the first problems
      if (stderr.length < 1_000_000) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Dumps pre-data and post-data of one database, in `snapshot` when given, to a custom-format file. */
export async function dumpSchema(args: {
  tools: PgToolPaths;
  source: ServerSpec;
  database: string;
  snapshot?: string;
  /** pg_dump takes ACCESS SHARE on every table too: never wait longer than this for one. */
  lockTimeoutSeconds?: number;
  file: string;
  signal?: AbortSignal;
  /** Relations the filters leave out: pg_dump neither reads nor locks them. */
  excludeRelations?: readonly { readonly schema: string; readonly name: string }[];
  /** Only these tables (`pg_dump -t`, each by its exact name): a table created on the source while streaming. */
  onlyTables?: readonly { readonly schema: string; readonly name: string }[];
}): Promise<void> {
  const argv = [
    '--format=custom',
    '--section=pre-data',
    '--section=post-data',
    '--no-publications',
    '--no-subscriptions',
    `--file=${args.file}`,
  ];
  if (args.snapshot) argv.push(`--snapshot=${args.snapshot}`);
  if (args.lockTimeoutSeconds) argv.push(`--lock-wait-timeout=${args.lockTimeoutSeconds}s`);
  for (const r of args.excludeRelations ?? []) argv.push(`--exclude-table=${exactPattern(r.schema)}.${exactPattern(r.name)}`);
  for (const r of args.onlyTables ?? []) argv.push(`--table=${exactPattern(r.schema)}.${exactPattern(r.name)}`);
  argv.push(`--dbname=${conninfoDbname(args.database)}`);
  const run = await runTool(args.tools.pgDump, argv, await libpqEnv(args.source, args.database), args.signal);
  if (run.code !== 0) {
    throw new PgferryError('SCHEMA_DUMP', `pg_dump of database ${displayIdent(args.database)} failed: ${firstLines(run.stderr)}`, {
      // the copy holds its snapshot until the dump ends: one pg_dump cannot import went away with
      // its session (a reset, a restart), and the database's copy starts again like any lost connection
      transient: lostConnection(run.stderr) || (args.snapshot !== undefined && SNAPSHOT_GONE_MESSAGE.test(run.stderr)),
      category: 'source',
      field: `database ${displayIdent(args.database)}`,
    });
  }
}

/** A pg_dump pattern that matches exactly this name: inside double quotes nothing is special but `"`, written twice. */
function exactPattern(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** One TOC entry of `pg_restore --list --verbose`. */
export interface TocEntry {
  /** The line as pg_restore printed it. */
  readonly line: string;
  readonly dumpId: number;
  /** OID of the object's system catalog (pg_depend's classid); 0 for ACL, COMMENT ... */
  readonly catalogOid: string;
  /** OID of the object in the source catalog. */
  readonly objectOid: string;
  /** Entry type, e.g. INDEX, CONSTRAINT, FK CONSTRAINT, TRIGGER. */
  readonly desc: string;
  /** Dump IDs of the entries this one needs restored first (an ACL needs its object). */
  readonly dependsOn: readonly number[];
}

const TOC_LINE = /^(\d+); (\d+) (\d+) (.+)$/;
const TOC_DEPENDS = /^;\s+depends on:((?: \d+)+)\s*$/;
/** Entry descriptions, longest first so "FK CONSTRAINT" wins over "CONSTRAINT". */
const TOC_DESCS = [
  'MATERIALIZED VIEW DATA',
  'PROCEDURAL LANGUAGE',
  'SECURITY LABEL',
  'ROW SECURITY',
  'FK CONSTRAINT',
  'DEFAULT ACL',
  'INDEX ATTACH',
  'EVENT TRIGGER',
  'CONSTRAINT',
  'STATISTICS',
  'TRIGGER',
  'POLICY',
  'INDEX',
  'RULE',
  'ACL',
  'COMMENT',
];

/** Parses `pg_restore --list [--verbose]` output (pure); `;\tdepends on: 2 17` lines follow their entry. */
export function parseToc(listing: string): TocEntry[] {
  const entries: { -readonly [K in keyof TocEntry]: TocEntry[K] }[] = [];
  for (const line of listing.split('\n')) {
    const deps = TOC_DEPENDS.exec(line);
    if (deps && entries.length > 0) {
      entries[entries.length - 1]!.dependsOn = deps[1]!.trim().split(' ').map(Number);
      continue;
    }
    const m = TOC_LINE.exec(line);
    if (!m) continue;
    const rest = m[4]!;
    const desc = TOC_DESCS.find((d) => rest.startsWith(`${d} `)) ?? rest.split(' ')[0]!;
    entries.push({ line, dumpId: Number(m[1]), catalogOid: m[2]!, objectOid: m[3]!, desc, dependsOn: [] });
  }
  return entries;
}

export async function listToc(tools: PgToolPaths, file: string): Promise<TocEntry[]> {
  // --verbose adds each entry's dependencies, which say what goes with an object left out.
  const run = await runTool(tools.pgRestore, ['--list', '--verbose', file], process.env);
  if (run.code !== 0) {
    throw new PgferryError('SCHEMA_LIST', `pg_restore --list failed: ${firstLines(run.stderr)}`, { category: 'internal' });
  }
  return parseToc(run.stdout);
}

/** One entry of a `pg_restore --verbose --file=-` script: its header and its SQL. */
export interface EntryScript {
  /** From the header `-- Name: t t_perl; Type: TRIGGER; Schema: public; Owner: postgres`. */
  readonly name: string;
  readonly type: string;
  readonly schema: string;
  readonly sql: string;
}

const ENTRY_HEADER = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/m;

/** The script of each entry, by dump ID (pure). */
export function parseEntryScripts(script: string): Map<number, EntryScript> {
  const scripts = new Map<number, EntryScript>();
  // Each entry opens with "--\n-- TOC entry N (class C OID O)\n-- ...\n--\n"; the script closes
  // with "-- Completed on ..." and "--\n-- PostgreSQL database dump complete".
  const blocks = script.split(/^--\n-- TOC entry (\d+) \(class \d+ OID \d+\)\n/m);
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const block = blocks[i + 1]!;
    const header = ENTRY_HEADER.exec(block);
    const body = block.replace(/^(--.*\n)*/, '').split(/^(?:-- Completed on |--\n-- PostgreSQL database dump complete)/m)[0]!;
    scripts.set(Number(blocks[i]), {
      name: header?.[1] ?? '',
      type: header?.[2] ?? '',
      schema: header?.[3] ?? '-',
      sql: body.trim(),
    });
  }
  return scripts;
}

/** The scripts that recreate the given entries, by dump ID (nothing runs on any server). */
export async function entryScripts(tools: PgToolPaths, file: string, entries: readonly TocEntry[]): Promise<Map<number, EntryScript>> {
  if (entries.length === 0) return new Map();
  const listFile = `${file}.left-behind.list`;
  await fs.writeFile(listFile, `${entries.map((e) => e.line).join('\n')}\n`);
  const run = await runTool(tools.pgRestore, ['--verbose', `--use-list=${listFile}`, '--file=-', file], process.env);
  if (run.code !== 0) {
    throw new PgferryError('SCHEMA_LIST', `pg_restore --file=- failed: ${firstLines(run.stderr)}`, { category: 'internal' });
  }
  return parseEntryScripts(run.stdout);
}

/** A statement pg_restore could not run. */
export interface RestoreError {
  readonly message: string;
  readonly command: string;
}

/**
 * The statement text pg_restore prints after a failure: `Command was: ` and every line after it up
 * to a blank line or pg_restore's next message (an entry can hold several statements, one per line).
 */
function commandAfter(lines: readonly string[], failure: number): string {
  for (let j = failure + 1; j < lines.length && j <= failure + 4; j++) {
    const first = /^Command was: (.*)$/.exec(lines[j]!);
    if (!first) continue;
    const command = [first[1]!];
    for (let k = j + 1; k < lines.length && lines[k] !== '' && !lines[k]!.startsWith('pg_restore:'); k++) command.push(lines[k]!);
    return command.join('\n').trim();
  }
  return '';
}

/** Parses pg_restore's stderr into the failed statements (pure). */
export function parseRestoreErrors(stderr: string): RestoreError[] {
  const errors: RestoreError[] = [];
  const lines = stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /could not execute query: (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const message = m[1]!.replace(/^ERROR:\s+/, '').trim();
    errors.push({ message, command: commandAfter(lines, i) });
  }
  return errors;
}

/**
 * Statements whose failure leaves the data and schema intact: ownership, grants, comments on
 * extensions, security labels. A managed target may refuse them; they are reported, not fatal.
 */
export function isTolerableRestoreError(error: RestoreError): boolean {
  return (
    /^(ALTER \S.* OWNER TO |GRANT |REVOKE |COMMENT ON EXTENSION |SECURITY LABEL |ALTER DEFAULT PRIVILEGES )/is.test(error.command) ||
    // an ACL entry that opens with a grant of another grantor's (SET SESSION AUTHORIZATION ...)
    grantStatements(error.command) !== undefined
  );
}

export interface RestoreOutcome {
  /** Tolerated failures (ownership, grants ...), one line each. */
  readonly warnings: readonly string[];
}

/** Restores one section (optionally limited by a TOC list) into the target database. */
export async function restoreSection(args: {
  tools: PgToolPaths;
  target: ServerSpec;
  database: string;
  file: string;
  section: 'pre-data' | 'post-data';
  /** Only these TOC entries (a pg_restore -L file is written next to the dump). */
  only?: readonly TocEntry[];
  jobs?: number;
  noOwner?: boolean;
  signal?: AbortSignal;
}): Promise<RestoreOutcome> {
  // every object into the target database's default tablespace: the target may lack the source's
  // tablespaces, and a managed one offers none (validate/tablespaces.ts says what moves)
  const argv = [`--section=${args.section}`, '--no-tablespaces', `--dbname=${conninfoDbname(args.database)}`];
  if (args.noOwner) argv.push('--no-owner');
  if (args.jobs && args.jobs > 1) argv.push(`--jobs=${args.jobs}`);
  if (args.only) {
    if (args.only.length === 0) return { warnings: [] };
    const listFile = `${args.file}.${args.section}.list`;
    await fs.writeFile(listFile, `${args.only.map((e) => e.line).join('\n')}\n`);
    argv.push(`--use-list=${listFile}`);
  }
  argv.push(args.file);
  // PGDATABASE is never expanded as a connection string; --dbname is, hence the quoted form.
  const run = await runTool(args.tools.pgRestore, argv, await libpqEnv(args.target, args.database), args.signal);
  if (run.code === 0) return { warnings: [] };
  const errors = parseRestoreErrors(run.stderr);
  if (errors.length === 0) {
    throw new PgferryError(
      'SCHEMA_RESTORE',
      `pg_restore ${args.section} into ${displayIdent(args.database)} failed: ${firstLines(run.stderr)}`,
      {
        transient: lostConnection(run.stderr),
        category: 'target',
        field: `database ${displayIdent(args.database)}`,
      },
    );
  }
  const fatal = errors.filter((e) => !isTolerableRestoreError(e));
  if (fatal.length > 0) {
    const first = fatal[0]!;
    throw new PgferryError(
      'SCHEMA_RESTORE',
      `restoring the ${args.section} schema of ${displayIdent(args.database)} failed: ${first.message} (statement: ${truncate(first.command, 200)})${fatal.length > 1 ? ` and ${fatal.length - 1} more error(s)` : ''}`,
      { category: 'target', field: `database ${displayIdent(args.database)}`, transient: lostConnection(run.stderr) },
    );
  }
  return { warnings: await replayRefused(args.target, args.database, errors) };
}

/**
 * The warnings of a restore whose failures were all tolerable, after running again what a
 * non-superuser can do another way: refused owner changes with the new owner's CREATE granted for
 * the moment (schema/ownership.ts); default privileges of a role the admin can never act as, as the
 * admin's; an entry that was a list of grants, statement by statement (schema/grantReplay.ts), so
 * only its grants that fail alone are left out. Owners come first, as in pg_restore: a grant made
 * by the admin on an object it still owns is handed to the new owner with the object.
 */
async function replayRefused(target: ServerSpec, database: string, errors: readonly RestoreError[]): Promise<string[]> {
  const owners = errors.filter((e) => ownerChange(e.command) !== undefined);
  const defaults = errors.filter((e) => /^ALTER DEFAULT PRIVILEGES /i.test(e.command));
  const grants = errors.map((e) => ({ error: e, grants: grantStatements(e.command) })).filter((g) => g.grants);
  const others = errors.filter((e) => !owners.includes(e) && !defaults.includes(e) && !grants.some((g) => g.error === e));
  const warnings = others.map((e) => `${e.message} (statement: ${truncate(e.command, 160)})`);
  if (owners.length + defaults.length + grants.length === 0) return warnings;
  await withSession(target, { database, purpose: 'restore grants', writable: true }, async (client) => {
    warnings.push(
      ...(await restoreOwners(
        client,
        owners.map((e) => ({ statement: e.command, message: e.message })),
      )),
    );
    for (const e of defaults) warnings.push(...(await restoreDefaultPrivileges(client, e.command, e.message)));
    for (const g of grants) warnings.push(...(await runEachGrant(client, g.grants!)));
  });
  return warnings;
}

/** One line of at most `max` characters (a failed entry's statements span several lines). */
function truncate(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** A client tool's stderr saying the server went away or could not be reached: worth another try. */
function lostConnection(stderr: string): boolean {
  return /could not connect|connection to server .* failed|server closed the connection unexpectedly|timeout expired|Connection refused|terminating connection|the database system is (starting up|shutting down|in recovery mode)|no connection to the server|SSL SYSCALL error/i.test(
    stderr,
  );
}

/**
 * What pg_dump prints when it cannot import the copy's snapshot because the session that exported
 * it has ended (the server's messages for connect/sqlstate.ts SNAPSHOT_GONE_CODES).
 */
const SNAPSHOT_GONE_MESSAGE = /invalid snapshot identifier|could not import the requested snapshot|snapshot "[^"]*" does not exist/i;

function firstLines(text: string): string {
  return truncate(text.trim().split('\n').slice(0, 3).join(' | '), 400) || 'no output';
}

export function dumpFile(workDir: string, database: string): string {
  return path.join(workDir, `${encodeURIComponent(database)}.schema.dump`);
}
