// The three offline contenders, each run as child processes with the same parallelism against a
// fresh empty target database: pgferry (library API in bench/pgferryOnce), pgcopydb clone, and
// pg_dump -Fd -j N followed by pg_restore -j N. Each timed run ends with the same end state, every
// table analyzed and its visibility map set (ANALYSIS_NOTE, endState.ts): pgcopydb 0.10 and pgferry
// get there themselves, pg_restore is given the VACUUM ANALYZE it leaves out.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../provider/localpg/cluster';
import { BENCH_DB, PG_BIN, pgEnv } from './dataset';
import type { TreeMemory } from './procTree';
import { redact, runTimed, type TimedRun } from './timedProcess';

/**
 * pgcopydb runs two ways, its own default (no same-table split) and pgcopydb-split (with
 * --split-tables-larger-than, as the bench ran it alone before 2026-11-29): the report takes the
 * faster as pgcopydb's figure and shows the other beside it, each peer at its best.
 */
export type ToolName = 'pgferry' | 'pgcopydb' | 'pgcopydb-split' | 'pg_dump+pg_restore';
export const TOOL_NAMES: readonly ToolName[] = ['pgferry', 'pgcopydb', 'pgcopydb-split', 'pg_dump+pg_restore'];
/** The ways pgcopydb runs; its figure is the faster's. */
export const PGCOPYDB_WAYS: readonly ToolName[] = ['pgcopydb', 'pgcopydb-split'];

interface StepTiming {
  readonly step: string;
  readonly seconds: number;
  /** Seconds since the migration started when the step began. */
  readonly at: number;
}

export interface ToolRun {
  readonly tool: ToolName;
  readonly seconds: number;
  readonly memory: TreeMemory;
  /** Sub-timings: pg_dump/pg_restore parts, pgferry's steps and tables. */
  readonly parts: Readonly<Record<string, number>>;
  readonly steps: readonly StepTiming[];
  readonly tables: readonly { table: string; seconds: number; rows: number; bytes: number; at: number; parts: number }[];
  /** CPU seconds of the tool's own processes (not the servers'). */
  readonly toolCpuSeconds?: number;
  /** pgcopydb: the end of its log (its own per-step summary), secrets redacted. */
  readonly logTail?: string;
}

export interface ToolContext {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly jobs: number;
  /** Same-table split threshold given to pgcopydb-split (pgferry keeps its default unless pgferrySplitBytes is set). */
  readonly splitBytes: number;
  /** pgferry's own threshold when an experiment overrides it. */
  readonly pgferrySplitBytes?: number;
  readonly workDir: string;
  readonly round: number;
  /** The clusters run without fsync (the labelled extra): pg_dump need not sync its files either. */
  readonly fsyncOff: boolean;
}

/**
 * Node arguments that run bench/pgferryOnce; PGFERRY_BENCH_CPU_PROF=<dir> adds V8's sampling
 * profiler (a .cpuprofile per run in that directory) to see where pgferry's own CPU goes.
 */
export function pgferryOnceArgs(): string[] {
  const dir = process.env.PGFERRY_BENCH_CPU_PROF;
  return [...(dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), path.join(__dirname, 'pgferryOnce.js')];
}

/** What each tool's timed run includes to end with the same VACUUM ANALYZE work; printed with the results. */
export const ANALYSIS_NOTE =
  'Same end state for every tool, checked after each run (the end state column): every table analyzed and every page of it ' +
  'and of its TOAST table all-visible (pg_visibility), as after VACUUM ANALYZE. pgcopydb 0.10 runs its own VACUUM ANALYZE ' +
  '(it has no --skip-vacuum); pgferry loads unsplit tables frozen and runs its own VACUUM (ANALYZE) of each table once its ' +
  'indexes are built; pg_restore is followed by vacuumdb --analyze -j N within its time (the parts column shows its seconds).';

/** vacuumdb --analyze -j N on the target database. */
async function vacuumTarget(ctx: ToolContext): Promise<TimedRun> {
  const args = ['--jobs', String(ctx.jobs), '--analyze', '--dbname', BENCH_DB];
  const run = await runTimed(`${PG_BIN}/vacuumdb`, args, { env: pgEnv(ctx.target) });
  if (run.code !== 0) throw failure('vacuumdb', run, ctx);
  return run;
}

function uri(c: Cluster): string {
  return `postgres://${c.user}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${BENCH_DB}?sslmode=disable`;
}

function failure(tool: string, run: TimedRun, ctx: ToolContext): Error {
  const tail = redact(`${run.stderr}\n${run.stdout}`, [ctx.source.password, ctx.target.password]).trim().split('\n').slice(-15).join('\n');
  return new Error(`${tool} exited with ${run.code}:\n${tail}`);
}

function maxMemory(a: TreeMemory, b: TreeMemory): TreeMemory {
  return {
    peakRssBytes: Math.max(a.peakRssBytes, b.peakRssBytes),
    peakPssBytes: Math.max(a.peakPssBytes, b.peakPssBytes),
    peakProcesses: Math.max(a.peakProcesses, b.peakProcesses),
    samples: a.samples + b.samples,
  };
}

/** CPU seconds of several runs, when every one was measured. */
function sumCpu(...runs: readonly TimedRun[]): number | undefined {
  let total = 0;
  for (const run of runs) {
    if (run.cpuSeconds === undefined) return undefined;
    total += run.cpuSeconds;
  }
  return total;
}

type ProgressLine =
  | { t: number; event: { kind: string; step?: string; seconds?: number; table?: string; rows?: number; bytes?: number; parts?: number } }
  | { t: number; status: { state: string; message?: string } };

async function runPgferry(ctx: ToolContext): Promise<ToolRun> {
  const server = (c: Cluster) => ({ host: c.host, port: c.port, user: c.user, password: c.password, sslMode: 'disable' });
  const spec = {
    migrationName: `bench-${Date.now()}-${ctx.round}`,
    source: server(ctx.source),
    target: server(ctx.target),
    databases: [BENCH_DB],
    overwriteDbsInTarget: true,
    tableJobs: ctx.jobs,
    indexJobs: ctx.jobs,
    // pgferry's own default (the same 256 MB, for a table over 1.5 even shares of the copy) unless an experiment sets one
    ...(ctx.pgferrySplitBytes === undefined ? {} : { splitTablesLargerThan: ctx.pgferrySplitBytes }),
    verify: false,
    pgBinDir: PG_BIN,
  };
  const lines: ProgressLine[] = [];
  const run = await runTimed(process.execPath, pgferryOnceArgs(), {
    stdin: JSON.stringify(spec),
    onLine: (line) => {
      if (line.trim()) lines.push(JSON.parse(line) as ProgressLine);
    },
  });
  if (run.code !== 0) throw failure('pgferry', run, ctx);
  const steps: StepTiming[] = [];
  const tables: ToolRun['tables'][number][] = [];
  const starts = new Map<string, number>();
  let finishedAt = 0;
  let firstDataStep: number | undefined;
  const partsOf = new Map<string, number>();
  for (const line of lines) {
    if ('status' in line) {
      finishedAt = line.t;
      continue;
    }
    const e = line.event;
    if (e.kind === 'step' && e.step) {
      starts.set(e.step, line.t);
      if (e.step !== 'validation' && firstDataStep === undefined) firstDataStep = line.t;
    }
    if (e.kind === 'step-done' && e.step)
      steps.push({ step: e.step, seconds: e.seconds ?? 0, at: starts.get(e.step) ?? line.t - (e.seconds ?? 0) });
    if (e.kind === 'table-start' && e.table) partsOf.set(e.table, Math.max(partsOf.get(e.table) ?? 1, e.parts ?? 1));
    if (e.kind === 'table-done' && e.table) {
      tables.push({
        table: e.table,
        seconds: e.seconds ?? 0,
        rows: e.rows ?? 0,
        bytes: e.bytes ?? 0,
        at: line.t - (e.seconds ?? 0),
        parts: partsOf.get(e.table) ?? 1,
      });
    }
  }
  const stepped = steps.reduce((s, x) => s + x.seconds, 0);
  return {
    tool: 'pgferry',
    seconds: run.seconds,
    memory: run.memory,
    parts: {
      // Validation, registration, roles and CREATE DATABASE happen before the first timed step.
      'before first step (validate, roles, create db)': firstDataStep ?? 0,
      'timed steps': stepped,
      'engine total': finishedAt,
      'process start/exit': run.seconds - finishedAt,
    },
    steps,
    tables,
    toolCpuSeconds: run.cpuSeconds,
  };
}

async function runPgcopydb(ctx: ToolContext, tool: 'pgcopydb' | 'pgcopydb-split'): Promise<ToolRun> {
  const dir = path.join(ctx.workDir, `pgcopydb-${ctx.round}`);
  await fs.rm(dir, { recursive: true, force: true });
  const split = tool === 'pgcopydb-split' ? ['--split-tables-larger-than', `${Math.round(ctx.splitBytes / (1024 * 1024))}MB`] : [];
  const run = await runTimed(
    'pgcopydb',
    ['clone', '--dir', dir, '--table-jobs', String(ctx.jobs), '--index-jobs', String(ctx.jobs), ...split],
    {
      // URIs through the environment, so they appear neither in argv (ps) nor in our output.
      env: {
        ...process.env,
        PATH: `${PG_BIN}:${process.env.PATH ?? ''}`,
        PGCOPYDB_SOURCE_PGURI: uri(ctx.source),
        PGCOPYDB_TARGET_PGURI: uri(ctx.target),
      },
    },
  );
  if (run.code !== 0) throw failure(tool, run, ctx);
  await fs.rm(dir, { recursive: true, force: true });
  const logTail = redact(run.stderr, [ctx.source.password, ctx.target.password]).trim().split('\n').slice(-30).join('\n');
  return {
    tool,
    seconds: run.seconds,
    memory: run.memory,
    parts: {},
    steps: [],
    tables: [],
    toolCpuSeconds: run.cpuSeconds,
    logTail,
  };
}

async function runDumpRestore(ctx: ToolContext): Promise<ToolRun> {
  const dir = path.join(ctx.workDir, `dump-${ctx.round}`);
  await fs.rm(dir, { recursive: true, force: true });
  // pg_dump syncs its files as the servers sync theirs; --no-sync only when the servers do not either.
  const noSync = ctx.fsyncOff ? ['--no-sync'] : [];
  const dump = await runTimed(`${PG_BIN}/pg_dump`, ['-Fd', '-j', String(ctx.jobs), ...noSync, '-f', dir, BENCH_DB], {
    env: pgEnv(ctx.source),
  });
  if (dump.code !== 0) throw failure('pg_dump', dump, ctx);
  const restore = await runTimed(`${PG_BIN}/pg_restore`, ['-j', String(ctx.jobs), '-d', BENCH_DB, dir], { env: pgEnv(ctx.target) });
  if (restore.code !== 0) throw failure('pg_restore', restore, ctx);
  const vacuum = await vacuumTarget(ctx);
  const dumpBytes = await dirBytes(dir);
  await fs.rm(dir, { recursive: true, force: true });
  return {
    tool: 'pg_dump+pg_restore',
    seconds: dump.seconds + restore.seconds + vacuum.seconds,
    memory: maxMemory(maxMemory(dump.memory, restore.memory), vacuum.memory),
    parts: { pg_dump: dump.seconds, pg_restore: restore.seconds, 'vacuumdb --analyze': vacuum.seconds, 'dump size MB': dumpBytes / 1e6 },
    steps: [],
    tables: [],
    toolCpuSeconds: sumCpu(dump, restore, vacuum),
  };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir)) total += (await fs.stat(path.join(dir, name))).size;
  return total;
}

export async function runTool(tool: ToolName, ctx: ToolContext): Promise<ToolRun> {
  if (tool === 'pgferry') return runPgferry(ctx);
  if (tool === 'pgcopydb' || tool === 'pgcopydb-split') return runPgcopydb(ctx, tool);
  return runDumpRestore(ctx);
}

export function tempWorkDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-bench-'));
}
