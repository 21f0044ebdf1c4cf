// Command-line options of bench/drainLab (bench/commandLine.ts parses them with commander): one
// option table, generated help. A bad option is one line, exit code 2.
import { Option } from 'commander';
import { oneOf, parseOptions, positiveInt } from './commandLine';

export { UsageError } from './commandLine';

export interface DrainLabArgs {
  /** Set when --help was asked for: the help text to print, nothing else runs. */
  readonly help?: string;
  /** pgbench scale of the lab database on both sides. */
  readonly scale: number;
  /** pgbench transactions per client in the backlog. */
  readonly tx: number;
  readonly clients: number;
  /** The consumers that drain the backlog, each on clusters of its own. */
  readonly native: boolean;
  readonly pgferry: boolean;
  /** fsync, synchronous_commit and full_page_writes off on both clusters. */
  readonly fsyncOff: boolean;
}

const DEFAULTS = { scale: 10, tx: 5000, clients: 4 } as const;

const OPTIONS = (): Option[] => [
  new Option('--scale <S>', 'pgbench scale of the lab database').argParser(positiveInt).default(DEFAULTS.scale),
  new Option('--tx <N>', 'backlog: pgbench transactions per client').argParser(positiveInt).default(DEFAULTS.tx),
  new Option('--clients <N>', 'backlog: pgbench clients').argParser(positiveInt).default(DEFAULTS.clients),
  new Option('--only <consumer>', 'drain with one consumer only (default: both, then their ratio)').argParser(oneOf('pgferry', 'native')),
  new Option('--fsync-off', 'fsync, synchronous_commit and full_page_writes off on both clusters'),
];

// The experiments drainLab.ts reads from the environment are named in the help too.
const DESCRIPTION =
  "drains one pgbench backlog with a native subscription and with pgferry's Applier in this process " +
  '(experiments: DRAIN_TIMELINE=1|2, DRAIN_ALLOC_PROFILE=file, PGFERRY_MAX_ROWS, PGFERRY_QUEUE_MB, NATIVE_BINARY=1)';

/** Parses argv (without node and script); throws a UsageError on a bad command line. */
export function parseDrainLabArgs(argv: readonly string[]): DrainLabArgs {
  const { help, values } = parseOptions('node dist/bench/drainLab.js', DESCRIPTION, OPTIONS(), argv);
  const only = values.only as 'pgferry' | 'native' | undefined;
  return {
    ...(help !== undefined ? { help } : {}),
    scale: (values.scale as number | undefined) ?? DEFAULTS.scale,
    tx: (values.tx as number | undefined) ?? DEFAULTS.tx,
    clients: (values.clients as number | undefined) ?? DEFAULTS.clients,
    native: only !== 'pgferry',
    pgferry: only !== 'native',
    fsyncOff: values.fsyncOff === true,
  };
}
