// The offline comparison: for each round, every tool in turn (order rotated between rounds so no
// tool always runs first) into a freshly dropped target database, then a row-count check and a
// catalog snapshot; each tool's catalog is compared with pg_dump + pg_restore's of the round.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Cluster } from '../provider/localpg/cluster';
import { treeCpuSeconds } from './procTree';
import { readEndState, type EndState } from './endState';
import { BENCH_DB, compareCounts, tableRowCounts } from './dataset';
import { runTool, type ToolName, type ToolRun } from './tools';
import { describeDifference, diffSnapshots, readCatalogSnapshot, type CatalogSnapshot } from '../test/support/catalogSnapshot';
import { unexplained } from '../test/support/fidelityDifferences';

/** The tool whose target catalog the others are compared with (issue 16). */
const REFERENCE_TOOL: ToolName = 'pg_dump+pg_restore';

export interface OfflineRun extends ToolRun {
  readonly round: number;
  readonly countsOk: boolean;
  readonly countsLine: string;
  /** Every table analyzed and its visibility map set, after the timed run (endState.ts). */
  readonly endStateOk?: boolean;
  readonly endStateLine?: string;
  /** Autovacuum's vacuums and analyzes in the target database during the run (endState.ts). */
  readonly autovacuum?: EndState['automatic'];
  /** CPU seconds the source and target servers (postmaster and all backends) spent during the run. */
  readonly serverCpuSeconds: { readonly source: number; readonly target: number };
  /** Catalog differences from pg_dump + pg_restore's target in the same round, but the deliberate ones. */
  readonly catalogDifferences?: readonly string[];
}

/** Each tool's differences from the round's reference catalog (pure). */
function withCatalogDifferences(runs: readonly OfflineRun[], catalogs: ReadonlyMap<ToolName, CatalogSnapshot>): OfflineRun[] {
  const reference = catalogs.get(REFERENCE_TOOL);
  return runs.map((run) => {
    const actual = catalogs.get(run.tool);
    if (!reference || !actual || run.tool === REFERENCE_TOOL) return run;
    return { ...run, catalogDifferences: unexplained(diffSnapshots(reference, actual), { reference, actual }).map(describeDifference) };
  });
}

async function postmasterPid(cluster: Cluster): Promise<number> {
  const text = await fs.readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8');
  return Number(text.split('\n')[0]);
}

export interface OfflineOptions {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly jobs: number;
  readonly splitBytes: number;
  readonly pgferrySplitBytes?: number;
  readonly rounds: number;
  readonly workDir: string;
  readonly fsyncOff: boolean;
  /** The tools timed, rotated between rounds. */
  readonly tools: readonly ToolName[];
  /** One untimed run of round 1's first tool first (BenchArgs.warmUp says why). */
  readonly warmUp: boolean;
  readonly log: (line: string) => void;
}

/** Drops the target database and creates it empty: pgcopydb and pg_restore need it to exist. */
async function freshTarget(target: Cluster, source: Cluster): Promise<void> {
  await target.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  await target.query(`CREATE DATABASE ${BENCH_DB} TEMPLATE template0`);
  // Start every tool with no checkpoint debt left by the previous one.
  await target.query('CHECKPOINT');
  await source.query('CHECKPOINT');
}

/** What every run of a tool is given, but its round. */
function toolOptions(options: OfflineOptions) {
  const { source, target, jobs, splitBytes, pgferrySplitBytes, workDir, fsyncOff } = options;
  return { source, target, jobs, splitBytes, pgferrySplitBytes, workDir, fsyncOff };
}

export async function runOfflineBench(options: OfflineOptions): Promise<OfflineRun[]> {
  const { source, target, log } = options;
  const sourceCounts = await tableRowCounts(source, BENCH_DB);
  const [sourcePid, targetPid] = [await postmasterPid(source), await postmasterPid(target)];
  const runs: OfflineRun[] = [];
  if (options.warmUp) {
    const tool = options.tools[0]!;
    await freshTarget(target, source);
    log(`warm-up (untimed): ${tool} ...`);
    const run = await runTool(tool, { ...toolOptions(options), round: 0 });
    log(`warm-up (untimed): ${tool} ${run.seconds.toFixed(1)} s`);
  }
  for (let round = 1; round <= options.rounds; round++) {
    const { tools } = options;
    const order: ToolName[] = tools.map((_, i) => tools[(i + round - 1) % tools.length]!);
    const roundRuns: OfflineRun[] = [];
    const catalogs = new Map<ToolName, CatalogSnapshot>();
    for (const tool of order) {
      await freshTarget(target, source);
      log(`round ${round}: ${tool} ...`);
      const before = [await treeCpuSeconds(sourcePid), await treeCpuSeconds(targetPid)];
      const run = await runTool(tool, { ...toolOptions(options), round });
      const serverCpuSeconds = {
        source: (await treeCpuSeconds(sourcePid)) - before[0]!,
        target: (await treeCpuSeconds(targetPid)) - before[1]!,
      };
      // read first, so that an autovacuum starting after the tool's exit adds nothing to its end state
      const end = await readEndState(target);
      const counts = compareCounts(sourceCounts, await tableRowCounts(target, BENCH_DB));
      log(
        `round ${round}: ${tool} ${run.seconds.toFixed(1)} s, peak RSS ${(run.memory.peakRssBytes / 2 ** 20).toFixed(0)} MiB, row counts ${counts.line}`,
      );
      log(`round ${round}: ${tool} end state: ${end.line}`);
      catalogs.set(tool, await readCatalogSnapshot(target, BENCH_DB));
      roundRuns.push({
        ...run,
        round,
        countsOk: counts.ok,
        countsLine: counts.line,
        endStateOk: end.ok,
        endStateLine: end.line,
        autovacuum: end.automatic,
        serverCpuSeconds,
      });
    }
    for (const run of withCatalogDifferences(roundRuns, catalogs)) {
      if (run.catalogDifferences)
        log(`round ${round}: ${run.tool} catalog differences from ${REFERENCE_TOOL}: ${run.catalogDifferences.length}`);
      runs.push(run);
    }
  }
  await target.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  return runs;
}
