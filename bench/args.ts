// Command-line options of `npm run bench -- ...`; a bad option is one line and exit code 2.
import os from 'node:os';

export interface BenchArgs {
  readonly quick: boolean;
  readonly jobs: number;
  readonly rounds: number;
  readonly offline: boolean;
  readonly online: boolean;
  /** pgbench scale and wide-table rows (overridable for experiments). */
  readonly scale: number;
  readonly wideRows: number;
  /** Experiment: pgferry's split threshold in MB (pgcopydb keeps the default 256 MB). */
  readonly pgferrySplitMb?: number;
  /** Labelled extra: fsync, synchronous_commit and full_page_writes off on both clusters. */
  readonly fsyncOff: boolean;
  /** Online: seconds of the first backlog and of the paced load (smoke runs shorten them). */
  readonly onlineSeconds?: number;
}

export const USAGE = `usage: npm run bench -- [--quick] [--jobs N] [--rounds R] [--only offline|online] [--skip-online] [--scale S] [--wide-rows N]
                      [--online-seconds S] [--fsync-off]
  --quick         small dataset (pgbench scale 2 + 50k wide rows), one round
  --jobs N        table and index jobs for every tool (default: CPUs, from 2 to 8)
  --rounds R      offline rounds, tool order rotated each round (default 2, quick 1)
  --only KIND     run only the offline or the online benchmark
  --skip-online   same as --only offline
  --scale S, --wide-rows N   offline dataset size (a smoke run: --scale 1 --wide-rows 1000)
  --online-seconds S   online backlog and paced load length (default 60, quick 15)
  --fsync-off     labelled extra: fsync, synchronous_commit and full_page_writes off (default: on, as users run)
  --pgferry-split-mb N   experiment: pgferry's same-table split threshold only (default 256 like pgcopydb)`;

export class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!value || !Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got ${value ?? 'nothing'}`);
  return n;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let jobs = Math.max(2, Math.min(8, os.cpus().length));
  let rounds: number | undefined;
  let only: 'offline' | 'online' | undefined;
  let skipOnline = false;
  let scale: number | undefined;
  let wideRows: number | undefined;
  let pgferrySplitMb: number | undefined;
  let fsyncOff = false;
  let onlineSeconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--jobs') jobs = positiveInt('--jobs', argv[++i]);
    else if (arg === '--rounds') rounds = positiveInt('--rounds', argv[++i]);
    else if (arg === '--scale') scale = positiveInt('--scale', argv[++i]);
    else if (arg === '--wide-rows') wideRows = positiveInt('--wide-rows', argv[++i]);
    else if (arg === '--pgferry-split-mb') pgferrySplitMb = positiveInt('--pgferry-split-mb', argv[++i]);
    else if (arg === '--online-seconds') onlineSeconds = positiveInt('--online-seconds', argv[++i]);
    else if (arg === '--fsync-off') fsyncOff = true;
    else if (arg === '--skip-online') skipOnline = true;
    else if (arg === '--only') {
      const kind = argv[++i];
      if (kind !== 'offline' && kind !== 'online') throw new UsageError(`--only must be offline or online, got ${kind ?? 'nothing'}`);
      only = kind;
    } else if (arg === '--help' || arg === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${arg}`);
  }
  return {
    quick,
    jobs,
    rounds: rounds ?? (quick ? 1 : 2),
    offline: only !== 'online',
    online: only !== 'offline' && !skipOnline,
    scale: scale ?? (quick ? 2 : 20),
    wideRows: wideRows ?? (quick ? 50_000 : 500_000),
    pgferrySplitMb,
    fsyncOff,
    onlineSeconds,
  };
}
