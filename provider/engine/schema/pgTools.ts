// Finding pg_dump, pg_restore and pg_dumpall of a major version ≥ the source's: spec.pgBinDir
// only when given, else PATH, else /usr/lib/postgresql/*/bin, newest first.
import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PgferryError } from '../core/errors';
import type { MigrationSpec } from '../input/migrationSpec';

const execFileAsync = promisify(execFile);

const PG_TOOL_NAMES = ['pg_dump', 'pg_restore', 'pg_dumpall'] as const;
type PgToolName = (typeof PG_TOOL_NAMES)[number];

export interface PgTools {
  /** Directory the three tools were taken from. */
  readonly binDir: string;
  readonly pgDump: string;
  readonly pgRestore: string;
  readonly pgDumpall: string;
  /** Lowest major version among the three (they normally agree). */
  readonly major: number;
  /** Version text of pg_dump, e.g. `15.4`. */
  readonly version: string;
}

/** Where Debian/Ubuntu packages put each major version's binaries. */
const DISTRO_ROOT = '/usr/lib/postgresql';

/**
 * Parses `pg_dump (PostgreSQL) 15.4 (Debian 15.4-1)`, `… 9.6.24`, `… 17devel`, `… 16beta1`.
 * Major is the first number, matching serverMajor() (9.6 → 9).
 */
export function parseToolVersion(output: string): { major: number; version: string } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)((?:\.\d+)*)([A-Za-z]+\d*)?/.exec(output);
  if (!match) return undefined;
  return { major: Number(match[1]), version: `${match[1]}${match[2] ?? ''}${match[3] ?? ''}` };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function toolVersion(file: string): Promise<{ major: number; version: string } | undefined> {
  try {
    const { stdout } = await execFileAsync(file, ['--version'], { timeout: 15_000 });
    return parseToolVersion(stdout);
  } catch {
    return undefined;
  }
}

/** Numeric-descending list of /usr/lib/postgresql/<n>/bin directories that exist. */
async function distroBinDirs(): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(DISTRO_ROOT);
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+(\.\d+)?$/.test(e))
    .sort((a, b) => Number(b) - Number(a))
    .map((e) => path.join(DISTRO_ROOT, e, 'bin'));
}

/** Candidate directories in search order, without duplicates. */
async function candidateBinDirs(spec: Pick<MigrationSpec, 'pgBinDir'>, envPath = process.env.PATH ?? ''): Promise<string[]> {
  if (spec.pgBinDir) return [path.resolve(spec.pgBinDir)];
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), ...(await distroBinDirs())];
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

interface Found {
  readonly binDir: string;
  readonly versions: Readonly<Record<PgToolName, { major: number; version: string } | undefined>>;
}

async function inspectDir(binDir: string): Promise<Found | undefined> {
  const present = await Promise.all(PG_TOOL_NAMES.map((t) => isExecutable(path.join(binDir, t))));
  if (!present.some(Boolean)) return undefined;
  const versions = await Promise.all(PG_TOOL_NAMES.map(async (t, i) => (present[i] ? toolVersion(path.join(binDir, t)) : undefined)));
  return { binDir, versions: { pg_dump: versions[0], pg_restore: versions[1], pg_dumpall: versions[2] } };
}

function describe(found: Found): string {
  return PG_TOOL_NAMES.map((t) => `${t} ${found.versions[t]?.version ?? 'missing'}`).join(', ') + ` in ${found.binDir}`;
}

/**
 * Resolves the client tools the schema and role steps run. Throws PG_TOOLS_MISSING when no
 * directory holds all three, PG_TOOLS_TOO_OLD when the best ones are older than the source.
 */
export async function resolvePgTools(spec: MigrationSpec, sourceMajor: number): Promise<PgTools> {
  const dirs = await candidateBinDirs(spec);
  const seen: Found[] = [];
  for (const dir of dirs) {
    const found = await inspectDir(dir);
    if (!found) continue;
    seen.push(found);
    const all = PG_TOOL_NAMES.map((t) => found.versions[t]);
    if (all.some((v) => v === undefined)) continue;
    const major = Math.min(...all.map((v) => v!.major));
    if (major < sourceMajor) continue;
    return {
      binDir: found.binDir,
      pgDump: path.join(found.binDir, 'pg_dump'),
      pgRestore: path.join(found.binDir, 'pg_restore'),
      pgDumpall: path.join(found.binDir, 'pg_dumpall'),
      major,
      version: found.versions.pg_dump!.version,
    };
  }
  const where = spec.pgBinDir ? `pgBinDir ${spec.pgBinDir}` : `PATH and ${DISTRO_ROOT}/*/bin`;
  const installHint = `install the PostgreSQL ${sourceMajor} (or newer) client tools (e.g. apt-get install postgresql-client-${Math.max(sourceMajor, 15)})`;
  const complete = seen.filter((f) => PG_TOOL_NAMES.every((t) => f.versions[t]));
  if (complete.length === 0) {
    const partial = seen.length ? `; found only ${seen.map(describe).join('; ')}` : '';
    throw new PgferryError(
      'PG_TOOLS_MISSING',
      `pg_dump, pg_restore and pg_dumpall (major ≥ ${sourceMajor}) not found in ${where}${partial}`,
      { category: 'validation', field: 'pgBinDir', fix: `${installHint}, or set pgBinDir to the directory that holds them` },
    );
  }
  throw new PgferryError(
    'PG_TOOLS_TOO_OLD',
    `the source is PostgreSQL ${sourceMajor} but the client tools found are older: ${complete.map(describe).join('; ')}`,
    {
      category: 'validation',
      field: 'pgBinDir',
      fix: `${installHint}, or set pgBinDir to a directory with pg_dump ${sourceMajor} or newer`,
    },
  );
}
