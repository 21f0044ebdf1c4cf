// Turns measurements into the printed table and the committed Markdown/JSON results.
import type { BenchArgs } from './args';
import type { DatasetInfo } from './dataset';
import type { MachineInfo } from './machine';
import type { OfflineRun } from './offline';
import type { CutoverBenchResult } from './cutoverBench';
import type { PoolerBenchResult } from './poolerBench';
import type { FallbackBenchResult } from './fallbackBench';
import type { OnlineResult } from './onlineTypes';
import { PGCOPYDB_WAYS, TOOL_NAMES, type ToolName } from './tools';

const MiB = 2 ** 20;
const fmt = (n: number, digits = 1) => n.toFixed(digits);

interface ToolSummary {
  readonly tool: ToolName;
  /** Median wall seconds over rounds (the mean of the two middle values for an even count). */
  readonly medianSeconds: number;
  readonly bestSeconds: number;
  readonly peakRssMiB: number;
  readonly peakPssMiB: number;
}

export interface OfflineSummary {
  readonly tools: readonly ToolSummary[];
  /** The faster way pgcopydb ran (lower median wall): the ratios below are against it. */
  readonly pgcopydbBest?: ToolName;
  /** The other way pgcopydb ran, reported beside the faster, when both ran. */
  readonly pgcopydbOther?: ToolName;
  readonly ratioVsPgcopydb?: number;
  readonly ratioVsDumpRestore?: number;
  readonly perRoundRatioVsPgcopydb: readonly number[];
  /** Best pgferry run / best pgcopydb run: noise only ever adds time, so this is the least noisy. */
  readonly bestRatioVsPgcopydb?: number;
  /** Median of the per-round ratios (pgferry and pgcopydb in the same round). */
  readonly pairedRatioVsPgcopydb?: number;
  readonly meetsTarget?: boolean;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Issue 65's goal: pgferry's median wall at most this share of pgcopydb's at its best. */
const PGFERRY_TARGET_RATIO = 0.65;

export function summarizeOffline(runs: readonly OfflineRun[]): OfflineSummary {
  const tools = TOOL_NAMES.map((tool) => {
    const mine = runs.filter((r) => r.tool === tool);
    if (mine.length === 0) return undefined;
    return {
      tool,
      medianSeconds: median(mine.map((r) => r.seconds)),
      bestSeconds: Math.min(...mine.map((r) => r.seconds)),
      peakRssMiB: Math.max(...mine.map((r) => r.memory.peakRssBytes)) / MiB,
      peakPssMiB: Math.max(...mine.map((r) => r.memory.peakPssBytes)) / MiB,
    };
  }).filter((t): t is ToolSummary => t !== undefined);
  const get = (tool: ToolName) => tools.find((t) => t.tool === tool);
  const ferry = get('pgferry');
  const ways = tools.filter((t) => PGCOPYDB_WAYS.includes(t.tool)).sort((a, b) => a.medianSeconds - b.medianSeconds);
  const copydb = ways[0];
  const dump = get('pg_dump+pg_restore');
  const rounds = [...new Set(runs.map((r) => r.round))];
  const perRound = rounds
    .map((round) => {
      const f = runs.find((r) => r.round === round && r.tool === 'pgferry');
      const c = runs.find((r) => r.round === round && r.tool === copydb?.tool);
      return f && c ? f.seconds / c.seconds : undefined;
    })
    .filter((x): x is number => x !== undefined);
  const ratioVsPgcopydb = ferry && copydb ? ferry.medianSeconds / copydb.medianSeconds : undefined;
  return {
    tools,
    pgcopydbBest: copydb?.tool,
    pgcopydbOther: ways[1]?.tool,
    ratioVsPgcopydb,
    ratioVsDumpRestore: ferry && dump ? ferry.medianSeconds / dump.medianSeconds : undefined,
    perRoundRatioVsPgcopydb: perRound,
    bestRatioVsPgcopydb: ferry && copydb ? ferry.bestSeconds / copydb.bestSeconds : undefined,
    pairedRatioVsPgcopydb: perRound.length > 0 ? median(perRound) : undefined,
    meetsTarget: ratioVsPgcopydb === undefined ? undefined : ratioVsPgcopydb <= PGFERRY_TARGET_RATIO,
  };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function offlineRunsTable(runs: readonly OfflineRun[]): string {
  return table(
    [
      'round',
      'tool',
      'wall s',
      'CPU s tool / source / target',
      'peak RSS MiB (tree)',
      'peak PSS MiB (tree)',
      'max procs',
      'details',
      'row counts',
      'end state',
    ],
    runs.map((r) => [
      String(r.round),
      r.tool,
      fmt(r.seconds),
      `${r.toolCpuSeconds === undefined ? '?' : fmt(r.toolCpuSeconds)} / ${fmt(r.serverCpuSeconds.source)} / ${fmt(r.serverCpuSeconds.target)}`,
      fmt(r.memory.peakRssBytes / MiB, 0),
      fmt(r.memory.peakPssBytes / MiB, 0),
      String(r.memory.peakProcesses),
      Object.entries(r.parts)
        .filter(([k]) => !k.startsWith('timed') && !k.startsWith('engine'))
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join('; '),
      r.catalogDifferences === undefined
        ? r.countsLine
        : `${r.countsLine}; catalog: ${r.catalogDifferences.length} difference(s) from pg_dump + pg_restore`,
      r.endStateLine ?? '–',
    ]),
  );
}

export function offlineSummaryText(summary: OfflineSummary): string {
  const lines = [
    table(
      ['tool', 'median wall s', 'best wall s', 'peak RSS MiB', 'peak PSS MiB'],
      summary.tools.map((t) => [t.tool, fmt(t.medianSeconds), fmt(t.bestSeconds), fmt(t.peakRssMiB, 0), fmt(t.peakPssMiB, 0)]),
    ),
    '',
  ];
  const medianOf = (tool: ToolName | undefined) => summary.tools.find((t) => t.tool === tool)?.medianSeconds ?? NaN;
  if (summary.pgcopydbBest !== undefined) {
    const other = summary.pgcopydbOther;
    lines.push(
      `pgcopydb at its best: ${summary.pgcopydbBest} (median ${fmt(medianOf(summary.pgcopydbBest))} s)` +
        (other === undefined
          ? ' (the only way it ran)'
          : `; beside it ${other} (median ${fmt(medianOf(other))} s, ${fmt(medianOf(other) / medianOf(summary.pgcopydbBest), 2)} x)`),
    );
  }
  if (summary.ratioVsPgcopydb !== undefined) {
    lines.push(
      `pgferry / pgcopydb at its best (median wall): ${fmt(summary.ratioVsPgcopydb, 2)} ` +
        `(per round: ${summary.perRoundRatioVsPgcopydb.map((r) => fmt(r, 2)).join(', ')}); ` +
        `target ≤ ${PGFERRY_TARGET_RATIO}: ${summary.meetsTarget ? 'MET' : 'NOT MET'}`,
    );
    lines.push(
      `pgferry / pgcopydb, best run of each: ${fmt(summary.bestRatioVsPgcopydb ?? NaN, 2)}; median of per-round ratios: ${fmt(summary.pairedRatioVsPgcopydb ?? NaN, 2)}`,
    );
  }
  if (summary.ratioVsDumpRestore !== undefined) {
    lines.push(`pgferry / (pg_dump + pg_restore) (median wall): ${fmt(summary.ratioVsDumpRestore, 2)}`);
  }
  return lines.join('\n');
}

/** pgferry's own step and table timings, per round: where its time goes. */
export function pgferryBreakdown(runs: readonly OfflineRun[]): string {
  const out: string[] = [];
  for (const r of runs.filter((x) => x.tool === 'pgferry')) {
    out.push(`Round ${r.round} (wall ${fmt(r.seconds)} s):`, '');
    const rows: string[][] = Object.entries(r.parts).map(([k, v]) => [k, '', fmt(v)]);
    for (const s of r.steps) rows.push([`step: ${s.step}`, fmt(s.at), fmt(s.seconds)]);
    for (const t of [...r.tables].sort((a, b) => b.seconds - a.seconds)) {
      const split = t.parts > 1 ? `, ${t.parts} parts` : '';
      rows.push([
        `copy: ${t.table} (${t.rows.toLocaleString('en-US')} rows, ${fmt(t.bytes / 1e6, 0)} MB${split})`,
        fmt(t.at),
        fmt(t.seconds),
      ]);
    }
    out.push(table(['what', 'started at s', 'seconds'], rows), '');
  }
  return out.join('\n');
}

export interface BenchReport {
  readonly date: string;
  readonly kind: string;
  readonly args: BenchArgs;
  readonly machine: MachineInfo;
  readonly settings: Readonly<Record<string, string>>;
  /** What the settings are: PostgreSQL's defaults, or which labelled extra (bench/settings.ts). */
  readonly settingsLabel?: string;
  readonly dataset?: DatasetInfo;
  readonly offline?: { runs: readonly OfflineRun[]; summary: OfflineSummary };
  readonly online?: OnlineResult;
  readonly cutover?: CutoverBenchResult;
  readonly fallback?: FallbackBenchResult;
  readonly pooler?: PoolerBenchResult;
  readonly notes: readonly string[];
}

/** The online, cutover and fallback sections, each with pgferry's events during its runs. */
function onlineSections(report: BenchReport): string[] {
  const parts: string[] = [];
  if (report.online) {
    parts.push('## Online', '', ...report.online.lines, '');
    if (report.online.events?.length) parts.push('### pgferry events during the online run', '', '```', ...report.online.events, '```', '');
  }
  if (report.cutover) {
    parts.push('## Cutover and restart', '', ...report.cutover.lines, '');
    if (report.cutover.events.length)
      parts.push('### pgferry events during the cutover runs', '', '```', ...report.cutover.events, '```', '');
  }
  if (report.fallback) {
    parts.push('## Fallback window and fall-back', '', ...report.fallback.lines, '');
    if (report.fallback.events.length)
      parts.push('### pgferry events during the fallback run', '', '```', ...report.fallback.events, '```', '');
  }
  if (report.pooler) {
    parts.push('## Cutover through the pooler', '', ...report.pooler.lines, '');
    if (report.pooler.events.length) parts.push('### pgferry events during the pooler runs', '', '```', ...report.pooler.events, '```', '');
  }
  return parts;
}

export function markdown(report: BenchReport): string {
  const m = report.machine;
  const parts: string[] = [
    `# pgferry benchmark — ${report.kind}, ${report.date}`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, Linux ${m.kernel}; ` +
      `load average at start ${m.loadAverage.join(' / ')}.`,
    '',
    'Versions: ' +
      Object.entries(m.versions)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
    '',
    `pgferry: commit ${m.git.commit}` +
      (m.git.dirtyEngineFiles > 0
        ? ` plus ${m.git.dirtyEngineFiles} uncommitted file(s) under provider/ (other work in progress in the checkout)`
        : '') +
      '.',
    '',
    `Parallelism: --jobs ${report.args.jobs} (table jobs = index jobs = ${report.args.jobs} for every tool; pg_dump -j and pg_restore -j the same).`,
    '',
    report.args.warmUp && report.offline
      ? `Offline warm-up: one untimed run of ${report.args.tools[0]} before round 1 (a fresh cluster pair's first run pays for creating WAL segments, whichever tool it is).`
      : "Offline warm-up: none (the first round includes a fresh cluster pair's first run).",
    '',
    `Server settings (both clusters, every tool)${report.settingsLabel ? `, ${report.settingsLabel}` : ''}: ` +
      Object.entries(report.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
    '',
  ];
  if (report.dataset) {
    const d = report.dataset;
    parts.push(
      `## Dataset`,
      '',
      `pgbench scale ${d.scale} + bench_wide ${d.wideRows.toLocaleString('en-US')} rows; database size ${fmt(d.databaseBytes / 1e9, 2)} GB; generated in ${fmt(d.loadSeconds)} s.`,
      '',
      table(
        ['table', 'rows', 'heap MB', 'TOAST MB', 'total with indexes MB'],
        d.tables.map((t) => [
          t.table,
          t.rows.toLocaleString('en-US'),
          fmt(t.heapBytes / 1e6, 0),
          fmt(t.toastBytes / 1e6, 0),
          fmt(t.bytes / 1e6, 0),
        ]),
      ),
      '',
    );
  }
  if (report.offline) {
    parts.push(
      '## Offline',
      '',
      offlineSummaryText(report.offline.summary),
      '',
      '### Every run',
      '',
      offlineRunsTable(report.offline.runs),
      '',
      "### Where pgferry's time goes",
      '',
      pgferryBreakdown(report.offline.runs),
    );
    const copydb = [...report.offline.runs].reverse().find((r) => PGCOPYDB_WAYS.includes(r.tool) && r.logTail);
    if (copydb) parts.push(`### pgcopydb's own summary (${copydb.tool}, round ${copydb.round})`, '', '```', copydb.logTail!, '```', '');
  }
  parts.push(...onlineSections(report));
  if (report.notes.length > 0) parts.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}
