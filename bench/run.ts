// `npm run bench`: generates the dataset on a local source cluster, times pgferry against
// pgcopydb and pg_dump/pg_restore (offline) and, when available, the online engine, prints a
// results table and writes bench/results/<date>-<kind>.{md,json}.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { parseBenchArgs, type BenchArgs } from './args';
import { argsOrExit } from './commandLine';
import { loadDataset, type DatasetInfo } from './dataset';
import { machineInfo } from './machine';
import { runOfflineBench } from './offline';
import { benchSettings, settingsLabel } from './settings';
import { runOnlineBench } from './online';
import type { OnlineResult } from './onlineTypes';
import type { CutoverBenchResult } from './cutoverBench';
import type { PoolerBenchResult } from './poolerBench';
import type { FallbackBenchResult } from './fallbackBench';
import { markdown, offlineRunsTable, offlineSummaryText, pgferryBreakdown, summarizeOffline, type BenchReport } from './report';
import { ANALYSIS_NOTE, tempWorkDir } from './tools';
import { randomBytes } from 'node:crypto';

/** Where results are committed: bench/results of the checkout (this file runs from dist*). */
const RESULTS_DIR = path.join(__dirname, '..', '..', 'bench', 'results');
const SPLIT_BYTES = 256 * 1024 * 1024;

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** The results' name: which benchmarks ran, and how the run differs from the default. */
function runKind(args: BenchArgs): string {
  return (
    [
      args.offline ? 'offline' : '',
      args.online ? 'online' : '',
      args.cutover && !args.online ? 'cutover' : '',
      args.fallback && !args.online ? 'fallback' : '',
      args.pooler && !args.online ? 'pooler' : '',
    ]
      .filter(Boolean)
      .join('-') +
    (args.quick ? '-quick' : '') +
    (args.pgferrySplitMb !== undefined ? `-split${args.pgferrySplitMb}` : '') +
    (args.tuned ? '-tuned' : '') +
    (args.nativeWithoutOptions ? '-nativeplain' : '') +
    (args.fsyncOff ? '-fsyncoff' : '')
  );
}

/** What a reader of the results must know about how they were measured. */
function reportNotes(args: BenchArgs): string[] {
  const notes: string[] = [
    'Source and target are two clusters on the same 2-CPU machine over loopback, so the servers and the tools compete for the same CPUs; other work on the machine during the run adds noise (see the per-round figures).',
    args.fsyncOff
      ? 'LABELLED EXTRA (--fsync-off): fsync, synchronous_commit and full_page_writes are off on both clusters, unlike a server users run; pg_dump writes with --no-sync.'
      : 'fsync, synchronous_commit and full_page_writes are on on both clusters, as users run PostgreSQL (--fsync-off is a labelled extra).',
    args.tuned
      ? 'LABELLED EXTRA (--tuned): shared_buffers, max_wal_size, checkpoint_timeout, maintenance_work_mem and wal_buffers raised and autovacuum off for the offline runs, unlike a server at its defaults.'
      : "PostgreSQL's defaults on both clusters (the settings line lists them), but what the bench needs to run: wal_level=logical for the online consumers' slots, 16 replication slots and WAL senders for the ones they hold at once (--tuned is a labelled extra).",
  ];
  if (args.offline) {
    notes.push(
      'Wall time and memory of each tool are those of its own process tree (sampled from /proc every 100 ms); the PostgreSQL server backends are not included for any tool.',
      'RSS sums count pages shared by forked processes once per process (this favours single-process tools); PSS divides shared pages among their sharers.',
      args.tuned
        ? "Autovacuum is off for the offline runs, so no background vacuum lands in one tool's run and not another's."
        : "Autovacuum is on, as by default: a background vacuum or analyze may land in any tool's run. The comparison stays fair because every tool's timed run must end in the same state, that of a VACUUM ANALYZE (below), whoever does the work; the source is vacuumed and analyzed after loading, so autovacuum has nothing to do there; the end state column counts autovacuum's vacuums and analyzes in the target database during each run, read the moment the tool exits.",
      `pg_dump writes a directory-format dump (default compression) to local disk${args.fsyncOff ? ', --no-sync' : ', synced'}; pg_restore reads it back. pgferry and pgcopydb stream with no intermediate files.`,
      `pgcopydb runs two ways where both are among the tools: pgcopydb with its own default (no same-table split) and pgcopydb-split with --split-tables-larger-than ${SPLIT_BYTES / 2 ** 20}MB (the only way the bench ran it before 2026-11-29); its figure is the faster way's by median wall, the other beside it. pgferry runs with its default (since 2026-11-25: the same ${SPLIT_BYTES / 2 ** 20} MB, for a table that is also over 1.5 even shares of the copy across the table jobs; before, every table over it was split).`,
      'pgferry runs with verify: false (like the others: no content checksums) but otherwise defaults: validation, roles, ANALYZE.',
      ANALYSIS_NOTE,
    );
  }
  if (args.pgferrySplitMb !== undefined) {
    notes.push(
      `EXPERIMENT: pgferry's split threshold set to ${args.pgferrySplitMb} MB (pgcopydb-split keeps ${SPLIT_BYTES / 2 ** 20} MB).`,
    );
  }
  return notes;
}

/** The offline benchmark: the dataset generated on the source, then every tool's rounds; prints its tables. */
async function offlineBench(
  args: BenchArgs,
  source: Cluster,
  target: Cluster,
  workDir: string,
): Promise<{ dataset: DatasetInfo; offline: NonNullable<BenchReport['offline']> }> {
  log('generating the dataset on the source ...');
  const dataset = await loadDataset(source, { scale: args.scale, wideRows: args.wideRows });
  log(`dataset: ${(dataset.databaseBytes / 1e9).toFixed(2)} GB in ${dataset.loadSeconds.toFixed(0)} s`);
  const runs = await runOfflineBench({
    source,
    target,
    jobs: args.jobs,
    splitBytes: SPLIT_BYTES,
    pgferrySplitBytes: args.pgferrySplitMb === undefined ? undefined : args.pgferrySplitMb * 2 ** 20,
    rounds: args.rounds,
    workDir,
    fsyncOff: args.fsyncOff,
    tools: args.tools,
    warmUp: args.warmUp,
    log,
  });
  const offline = { runs, summary: summarizeOffline(runs) };
  process.stdout.write(
    `\nOffline (jobs ${args.jobs}, ${(dataset.databaseBytes / 1e9).toFixed(2)} GB)\n\n${offlineRunsTable(runs)}\n\n${offlineSummaryText(offline.summary)}\n\n${pgferryBreakdown(runs)}\n`,
  );
  return { dataset, offline };
}

/** bench/results/<date>-<kind>-<HHMM>.{json,md}. */
async function writeResults(report: BenchReport): Promise<void> {
  await fs.mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().slice(11, 16).replace(':', '');
  const base = path.join(RESULTS_DIR, `${report.date}-${report.kind}-${stamp}`);
  await fs.writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await fs.writeFile(`${base}.md`, markdown(report));
  log(`results written to ${path.relative(process.cwd(), base)}.{md,json}`);
}

async function main(args: BenchArgs): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const kind = runKind(args);
  const settings = benchSettings({ fsyncOff: args.fsyncOff, tuned: args.tuned });
  log(
    `${kind}: jobs ${args.jobs}` +
      (args.offline ? `, rounds ${args.rounds}, pgbench scale ${args.scale} + ${args.wideRows} wide rows` : ''),
  );
  const workDir = await tempWorkDir();
  const notes = reportNotes(args);
  try {
    const password = randomBytes(12).toString('hex');
    const [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'bench-src', settings, password }),
      startCluster({ major: 15, label: 'bench-dst', settings, password: randomBytes(12).toString('hex') }),
    ]);
    const machine = await machineInfo(source);
    log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, load ${machine.loadAverage.join(' ')}`);
    const { dataset, offline } = args.offline
      ? await offlineBench(args, source, target, workDir)
      : { dataset: undefined, offline: undefined };
    let online: OnlineResult | undefined;
    if (args.online) {
      const { jobs, quick, onlineSeconds: seconds, nativeWithoutOptions: nativeWithout } = args;
      online = await runOnlineBench({ source, target, jobs, quick, seconds, nativeWithout, log });
      process.stdout.write(`\nOnline\n\n${online.lines.join('\n')}\n`);
    }
    let cutover: CutoverBenchResult | undefined;
    if (args.cutover) {
      const { runCutoverBench } = await import('./cutoverBench');
      const options = { source, target, jobs: args.jobs, quick: args.quick, log };
      cutover = await runCutoverBench(options, [args.scale, args.scale * 4]);
      process.stdout.write(`\nCutover and restart\n\n${cutover.lines.join('\n')}\n`);
    }
    let fallback: FallbackBenchResult | undefined;
    if (args.fallback) {
      const { runFallbackBench } = await import('./fallbackBench');
      const options = { source, target, jobs: args.jobs, quick: args.quick, seconds: args.onlineSeconds, log };
      fallback = await runFallbackBench(options, args.scale);
      process.stdout.write(`\nFallback window and fall-back\n\n${fallback.lines.join('\n')}\n`);
    }
    let pooler: PoolerBenchResult | undefined;
    if (args.pooler) {
      const { runPoolerBench } = await import('./poolerBench');
      const options = { source, target, jobs: args.jobs, quick: args.quick, log };
      pooler = await runPoolerBench(options, args.poolerScales ?? [args.scale, args.scale * 10]);
      process.stdout.write(`\nCutover through the pooler\n\n${pooler.lines.join('\n')}\n`);
    }
    await writeResults({
      date,
      kind,
      args,
      machine,
      settings,
      settingsLabel: settingsLabel(args),
      dataset,
      offline,
      online,
      cutover,
      fallback,
      pooler,
      notes,
    });
  } finally {
    await stopAllClusters();
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

const args = argsOrExit('bench', () => parseBenchArgs(process.argv.slice(2)), 'npm run bench -- --help lists the options');
main(args).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
