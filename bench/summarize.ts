// Combines several offline result files (bench/results/*.json) into one summary: every round of
// every run, pooled medians, best-of and per-round ratios. Usage: node dist/bench/summarize.js FILE...
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { OfflineRun } from './offline';
import { offlineSummaryText, summarizeOffline, type BenchReport } from './report';

async function main(files: readonly string[]): Promise<void> {
  if (files.length === 0) throw new Error('usage: node dist/bench/summarize.js RESULT.json ...');
  const pooled: OfflineRun[] = [];
  const out: string[] = [];
  for (const [i, file] of files.entries()) {
    const report = JSON.parse(await fs.readFile(file, 'utf8')) as BenchReport;
    if (!report.offline) continue;
    // Renumber rounds so pooled per-round ratios pair runs of the same round of the same file.
    pooled.push(...report.offline.runs.map((r) => ({ ...r, round: i * 100 + r.round })));
    out.push(`### ${path.basename(file)}`, '', offlineSummaryText(summarizeOffline(report.offline.runs)), '');
  }
  out.push(`### All ${files.length} runs pooled`, '', offlineSummaryText(summarizeOffline(pooled)), '');
  process.stdout.write(`${out.join('\n')}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
