// The online benchmark's figures and printed lines: every drain of every round, the medians and
// per-round ratios, lag, the cutover (with verification, the default) and pgferry's memory.
import type { Drain, OnlineResult } from './onlineTypes';
import type { TreeMemory } from './procTree';

export interface OnlinePlan {
  readonly scale: number;
  readonly backlogSeconds: number;
  readonly loadSeconds: number;
  readonly rounds: number;
  /** The native subscription's options (consumers.ts nativeSubscriptionOptions): native at its fastest. */
  readonly nativeOptions: readonly string[];
}

export interface LagFigures {
  readonly maxTps: number;
  readonly rate: number;
  readonly pacedTps: number;
  /** Catalog latency samples (s). */
  readonly samples: readonly number[];
  /** End-to-end probe-row lags (s). */
  readonly probeLags: readonly number[];
}

export interface OnlineMeasurements {
  readonly plan: OnlinePlan;
  readonly drains: readonly Drain[];
  readonly lag: LagFigures;
  readonly cutover: { readonly downtimeSeconds: number; readonly wallSeconds: number; readonly verified: boolean };
  /** Peak memory of each pgferry process, in the order they ran (the first created the migration, then runners). */
  readonly memory: readonly TreeMemory[];
  readonly events: readonly string[];
}

/** Issue 65's goal: pgferry's catch-up at least this many times native's rate, restart included. */
const DRAIN_GOAL = 2.5;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const rowsPerSecond = (d: Drain) => d.rows / d.seconds;

/** pgferry's rate over native's in each round (the two drains of a round follow the same backlog size). */
function roundRatios(drains: readonly Drain[]): number[] {
  const rounds = [...new Set(drains.map((d) => d.round))];
  return rounds.flatMap((round) => {
    const ferry = drains.find((d) => d.round === round && d.consumer === 'pgferry');
    const native = drains.find((d) => d.round === round && d.consumer === 'native');
    return ferry && native ? [rowsPerSecond(ferry) / rowsPerSecond(native)] : [];
  });
}

function drainFigures(drains: readonly Drain[]): Record<string, number> {
  const of = (name: Drain['consumer']) => drains.filter((d) => d.consumer === name);
  const medianCpu = (name: Drain['consumer'], part: 'source' | 'target' | 'consumer') => median(of(name).map((d) => d.cpu[part] ?? NaN));
  const ratios = roundRatios(drains);
  const decodeOnly = drains.filter((d) => d.decodeOnly !== undefined);
  const nativeRate = median(of('native').map(rowsPerSecond));
  const ferryRate = median(of('pgferry').map(rowsPerSecond));
  return {
    drainRowsPerDrain: median(drains.map((d) => d.rows)),
    nativeDrainRowsPerSecond: nativeRate,
    pgferryDrainRowsPerSecond: ferryRate,
    drainRatio: ferryRate / nativeRate,
    drainRatioMin: Math.min(...ratios),
    drainRatioMax: Math.max(...ratios),
    nativeDrainCpuSource: medianCpu('native', 'source'),
    nativeDrainCpuTarget: medianCpu('native', 'target'),
    pgferryDrainCpuSource: medianCpu('pgferry', 'source'),
    pgferryDrainCpuTarget: medianCpu('pgferry', 'target'),
    pgferryDrainCpuProcess: medianCpu('pgferry', 'consumer'),
    decodeOnlySeconds: median(decodeOnly.map((d) => d.decodeOnly!.seconds)),
    decodeOnlySourceCpu: median(decodeOnly.map((d) => d.decodeOnly!.sourceCpu)),
    pgferryOverDecodeOnly: median(decodeOnly.map((d) => d.seconds / d.decodeOnly!.seconds)),
    nativeFirstProgressSeconds: median(of('native').map((d) => d.firstProgressSeconds)),
    pgferryFirstProgressSeconds: median(of('pgferry').map((d) => d.firstProgressSeconds)),
  };
}

function method(plan: OnlinePlan): string {
  return (
    'Method: a native subscription and pgferry follow the same source database side by side. ' +
    (plan.nativeOptions.length > 0
      ? `The subscription is created WITH (${plan.nativeOptions.join(', ')}), native at its fastest on these servers. `
      : 'The subscription has no options (EXPERIMENT --native-without-options, or servers older than 14). ') +
    'For each drain one of them is ' +
    `stopped while a pgbench backlog is written (-c 4 for ${plan.backlogSeconds} s the first time, then -t with as many transactions) ` +
    'while the other applies it live; once the other has applied it, it is stopped in turn and the first starts again alone. Both ' +
    'are stopped the same way, their process and their connection to the source end (the slot goes inactive): native by ALTER ' +
    'SUBSCRIPTION DISABLE (the apply worker exits), pgferry by killing its process; and both start again inside the timed drain: ' +
    'native by ENABLE (the launcher starts a worker), pgferry by a runner resuming the migration from its recorded position. ' +
    `The drain ends when a marker row committed after the backlog is visible on its target. ${plan.rounds} round(s), native first ` +
    "in odd rounds and second in even ones; every drain is listed, the ratio is of the median rates with each round's ratio beside it. " +
    'Rows = 4 × pgbench transactions + the marker. Before the rounds, 20 pgbench transactions and a marker are applied so both ' +
    "consumers have loaded every table's metadata already (each restart loads it again, for both). Autovacuum is on for the online " +
    "part, and pgbench's tables are vacuumed before each backlog. pgferry runs with its defaults, verification included: its cutover " +
    'downtime includes counting and checksumming every table. Latency is what the engine writes to the control catalog (every ~2 s), ' +
    'sampled every 250 ms. Decode-only: after each pgferry drain, the same backlog is decoded alone to the same WAL position by ' +
    "pg_recvlogical on a slot of its own (pgoutput, pgferry's publication, logical messages on), which reads every byte as it " +
    'arrives; the source CPU is its walsender, mostly.'
  );
}

export function onlineResult(m: OnlineMeasurements): OnlineResult {
  const { plan, drains, lag, cutover } = m;
  const ratios = roundRatios(drains);
  const peakRss = Math.max(...m.memory.map((x) => x.peakRssBytes)) / 2 ** 20;
  const peakPss = Math.max(...m.memory.map((x) => x.peakPssBytes)) / 2 ** 20;
  const figures: Record<string, number> = {
    drainRounds: plan.rounds,
    ...drainFigures(drains),
    maxTps: lag.maxTps,
    pacedTps: lag.pacedTps,
    lagP50Seconds: percentile(lag.samples, 50),
    lagP99Seconds: percentile(lag.samples, 99),
    lagMaxSeconds: Math.max(...lag.samples),
    lagSamples: lag.samples.length,
    probeLagP50Seconds: percentile(lag.probeLags, 50),
    probeLagP99Seconds: percentile(lag.probeLags, 99),
    probeLagMaxSeconds: Math.max(...lag.probeLags),
    probeLagSamples: lag.probeLags.length,
    cutoverDowntimeSeconds: cutover.downtimeSeconds,
    cutoverRequestToSucceededSeconds: cutover.wallSeconds,
    cutoverVerified: cutover.verified ? 1 : 0,
    pgferryProcesses: m.memory.length,
    runnerPeakRssMiB: peakRss,
    runnerPeakPssMiB: peakPss,
  };
  const cpu = (d: Drain) =>
    `CPU s source ${f(d.cpu.source)} / target ${f(d.cpu.target)}${d.cpu.consumer === undefined ? '' : ` / pgferry process ${f(d.cpu.consumer)}`}`;
  const lines = [
    `| figure | value | target |`,
    `|---|---|---|`,
    ...drains.map(
      (d) =>
        `| (a) round ${d.round}, ${d.turn}: ${d.consumer} | ${d.rows.toLocaleString('en-US')} rows in ${f(d.seconds)} s = ${f(rowsPerSecond(d), 0)} rows/s; ` +
        `first change applied after ${f(d.firstProgressSeconds, 2)} s; ${cpu(d)} | |`,
    ),
    `| (a) median drain rate (${plan.rounds} each) | native ${f(figures.nativeDrainRowsPerSecond!, 0)} rows/s, pgferry ${f(figures.pgferryDrainRowsPerSecond!, 0)} rows/s | |`,
    `| (a) median CPU s per drain: source / target / pgferry process | native ${f(figures.nativeDrainCpuSource!)} / ${f(figures.nativeDrainCpuTarget!)} / –; pgferry ${f(figures.pgferryDrainCpuSource!)} / ${f(figures.pgferryDrainCpuTarget!)} / ${f(figures.pgferryDrainCpuProcess!)} | |`,
    `| (a) decode-only, pgferry's backlogs (pg_recvlogical, pgoutput, to /dev/null; median of ${drains.filter((d) => d.decodeOnly).length}) | ${f(figures.decodeOnlySeconds!, 2)} s, source CPU ${f(figures.decodeOnlySourceCpu!)} s (per drain: ${drains
      .filter((d) => d.decodeOnly)
      .map((d) => `${f(d.decodeOnly!.seconds, 2)} s / ${f(d.decodeOnly!.sourceCpu)} CPU-s`)
      .join(
        ', ',
      )}); pgferry's drain / decode-only ${f(figures.pgferryOverDecodeOnly!, 2)} | ≤ 1.1 ${figures.pgferryOverDecodeOnly! <= 1.1 ? 'MET' : 'NOT MET'} |`,
    `| (a) first applied change after the restart (median) | native ${f(figures.nativeFirstProgressSeconds!, 2)} s, pgferry ${f(figures.pgferryFirstProgressSeconds!, 2)} s | |`,
    `| (a) pgferry / native drain rate (median rates; per round ${ratios.map((r) => f(r, 2)).join(', ')}) | ${f(figures.drainRatio!, 2)} | ≥ ${DRAIN_GOAL} ${figures.drainRatio! >= DRAIN_GOAL ? 'MET' : 'NOT MET'} |`,
    `| (b) load | max ${f(lag.maxTps, 0)} TPS; paced at ${f(lag.rate, 0)} → ${f(lag.pacedTps, 0)} TPS for ${plan.loadSeconds} s | |`,
    `| (b) lag p50 / p99 / max (${lag.samples.length} catalog samples) | ${f(figures.lagP50Seconds!, 2)} / ${f(figures.lagP99Seconds!, 2)} / ${f(figures.lagMaxSeconds!, 2)} s | p99 < 1 s ${figures.lagP99Seconds! < 1 ? 'MET' : 'NOT MET'} |`,
    `| (b) end-to-end lag p50 / p99 / max (${lag.probeLags.length} probe rows, ±50 ms) | ${f(figures.probeLagP50Seconds!, 2)} / ${f(figures.probeLagP99Seconds!, 2)} / ${f(figures.probeLagMaxSeconds!, 2)} s | |`,
    `| (c) cutover downtime (engine), verification on (the default)${cutover.verified ? '' : ' — VERIFICATION DID NOT PASS'} | ${f(cutover.downtimeSeconds, 2)} s (request → Succeeded ${f(cutover.wallSeconds, 2)} s) | < 2 s ${cutover.downtimeSeconds < 2 ? 'MET' : 'NOT MET'} |`,
    `| (d) pgferry peak RSS / PSS, highest of its ${m.memory.length} process(es) | ${f(peakRss, 0)} / ${f(peakPss, 0)} MiB | |`,
    '',
    method(plan),
  ];
  return { figures, lines, events: m.events, drains };
}
