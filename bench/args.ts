// Command-line options of `npm run bench -- ...` (bench/commandLine.ts parses them with commander):
// one option table, generated help. A bad option is one line, exit code 2.
import os from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { oneOf, parseOptions, positiveInt } from './commandLine';
import { TOOL_NAMES, type ToolName } from './tools';

export { UsageError } from './commandLine';

export interface BenchArgs {
  /** Set when --help was asked for: the help text to print, nothing else runs. */
  readonly help?: string;
  readonly quick: boolean;
  readonly jobs: number;
  readonly rounds: number;
  readonly offline: boolean;
  readonly online: boolean;
  /** Cutover time at two sizes (verify on and 'full') and restart to first change, pgferry beside native. */
  readonly cutover: boolean;
  /** A cutover with a fallback window: the reverse stream's lag beside native, and the fall-back's downtime. */
  readonly fallback: boolean;
  /** A cutover through PgBouncer under sysbench oltp_read_write: the application's errors and waits (poolerBench.ts). */
  readonly pooler: boolean;
  /** The pooler bench's pgbench scales (default the scale and ten times it). */
  readonly poolerScales?: readonly number[];
  /** pgbench scale and wide-table rows (overridable for experiments). */
  readonly scale: number;
  readonly wideRows: number;
  /** Experiment: pgferry's split threshold in MB (pgcopydb keeps the default 256 MB). */
  readonly pgferrySplitMb?: number;
  /** Labelled extra: fsync, synchronous_commit and full_page_writes off on both clusters. */
  readonly fsyncOff: boolean;
  /** Labelled extra: the tuned memory, WAL and autovacuum settings (bench/settings.ts) instead of PostgreSQL's defaults. */
  readonly tuned: boolean;
  /** Experiment: the online drain's native subscription without binary and streaming (its own defaults). */
  readonly nativeWithoutOptions: boolean;
  /** Online: seconds of the first backlog and of the paced load (smoke runs shorten them). */
  readonly onlineSeconds?: number;
  /** Offline: the tools timed, in the order of the first round (default all three). */
  readonly tools: readonly ToolName[];
  /**
   * Offline: one untimed run of the first tool before round 1 (default on, off with --quick): on a
   * fresh cluster pair the first run, whichever tool, paid ~20 s more at 5 GB (new WAL segments),
   * which a server in service has long paid.
   */
  readonly warmUp: boolean;
}

/** Table and index jobs for every tool unless --jobs says otherwise: the CPUs, from 2 to 8. */
function defaultJobs(): number {
  return Math.max(2, Math.min(8, os.cpus().length));
}

/** The benchmarks --only and --skip name. */
const BENCHMARKS = ['offline', 'online', 'cutover', 'fallback', 'pooler'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const OPTIONS = (): Option[] => [
  new Option('--quick', 'small dataset (pgbench scale 2 + 50k wide rows), one round'),
  new Option('--jobs <N>', 'table and index jobs for every tool').argParser(positiveInt).default(defaultJobs(), 'CPUs, from 2 to 8'),
  new Option('--rounds <R>', 'offline rounds, tool order rotated each round (default 2, quick 1)').argParser(positiveInt),
  new Option(
    '--only <kind>',
    'run only one benchmark (offline | online | cutover | fallback | pooler; online includes cutover, fallback and pooler)',
  ).argParser(oneOf(...BENCHMARKS)),
  new Option('--skip-online', 'same as --only offline'),
  new Option('--skip <list>', `leave out these benchmarks, comma-separated (${BENCHMARKS.join(', ')})`).argParser(
    namesAmong(BENCHMARKS, 'benchmark'),
  ),
  new Option(
    '--scale <S>',
    'pgbench scale of the offline dataset and of the smaller cutover size (4x the larger) (default 20, quick 2)',
  ).argParser(positiveInt),
  new Option('--pooler-scales <list>', 'pooler: the pgbench scales cut over, comma-separated (default the scale and 10x it)').argParser(
    scaleList,
  ),
  new Option('--wide-rows <N>', 'offline dataset: wide-table rows (default 500000, quick 50000; a smoke run: 1000)').argParser(positiveInt),
  new Option('--online-seconds <S>', 'online backlog and paced load length (default 60, quick 15)').argParser(positiveInt),
  new Option('--fsync-off', 'labelled extra: fsync, synchronous_commit and full_page_writes off (default: on, as users run)'),
  new Option(
    '--tuned',
    "labelled extra: larger shared_buffers, max_wal_size, checkpoint_timeout, maintenance_work_mem and wal_buffers, autovacuum off (default: PostgreSQL's defaults)",
  ),
  new Option(
    '--native-without-options',
    'experiment: online native subscription without binary and streaming (default: both on where the servers allow)',
  ),
  new Option('--no-warm-up', 'offline: no untimed run of the first tool before round 1 (default: one; none with --quick)'),
  new Option('--tools <list>', `offline: the tools timed, comma-separated (${TOOL_NAMES.join(', ')}; default all)`).argParser(
    namesAmong(TOOL_NAMES, 'tool'),
  ),
  new Option(
    '--pgferry-split-mb <N>',
    "experiment: pgferry's same-table split threshold only (default: pgferry's own; pgcopydb-split keeps 256)",
  ).argParser(positiveInt),
];

/** A comma-separated list of pgbench scales, each a positive whole number. */
function scaleList(value: string): number[] {
  const scales = value.split(',').map((n) => Number(n.trim()));
  if (scales.length === 0 || scales.some((n) => !Number.isInteger(n) || n < 1))
    throw new InvalidArgumentError(`must be positive whole numbers, comma-separated, got ${value}`);
  return scales;
}

/** A comma-separated list of names among `allowed`, each named once: the tools or benchmarks (`what`, singular). */
function namesAmong<T extends string>(allowed: readonly T[], what: string): (value: string) => T[] {
  return (value) => {
    const names = value.split(',').map((n) => n.trim());
    if (names.some((n) => !(allowed as readonly string[]).includes(n)))
      throw new InvalidArgumentError(`must name ${what}s among ${allowed.join(', ')}, got ${value}`);
    if (new Set(names).size !== names.length) throw new InvalidArgumentError(`names a ${what} twice: ${value}`);
    return names as T[];
  };
}

/** Parses argv (without node and script); throws a UsageError on a bad command line. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const parsed = parseOptions(
    'npm run bench --',
    'times pgferry against pgcopydb and pg_dump/pg_restore (offline) and native logical replication (online)',
    OPTIONS(),
    argv,
  );
  return parsed.help !== undefined ? { ...fromOptions({}), help: parsed.help } : fromOptions(parsed.values);
}

/** The options with their defaults, some of which --quick changes. */
function fromOptions(o: Record<string, unknown>): BenchArgs {
  const quick = o.quick === true;
  const only = o.only as Benchmark | undefined;
  const skip = new Set((o.skip as Benchmark[] | undefined) ?? []);
  // online's own part, or one of the three it includes
  const onlinePart = (b: Benchmark) =>
    (only === undefined || only === b || (only === 'online' && b !== 'online')) && o.skipOnline !== true && !skip.has(b);
  return {
    quick,
    jobs: (o.jobs as number | undefined) ?? defaultJobs(),
    rounds: (o.rounds as number | undefined) ?? (quick ? 1 : 2),
    offline: (only === undefined || only === 'offline') && !skip.has('offline'),
    online: onlinePart('online'),
    cutover: onlinePart('cutover'),
    fallback: onlinePart('fallback'),
    pooler: onlinePart('pooler'),
    scale: (o.scale as number | undefined) ?? (quick ? 2 : 20),
    poolerScales: o.poolerScales as number[] | undefined,
    wideRows: (o.wideRows as number | undefined) ?? (quick ? 50_000 : 500_000),
    pgferrySplitMb: o.pgferrySplitMb as number | undefined,
    fsyncOff: o.fsyncOff === true,
    tuned: o.tuned === true,
    nativeWithoutOptions: o.nativeWithoutOptions === true,
    onlineSeconds: o.onlineSeconds as number | undefined,
    tools: (o.tools as ToolName[] | undefined) ?? TOOL_NAMES,
    warmUp: o.warmUp !== false && !quick,
  };
}
