// What a campaign prints and writes: one line per trial, a summary (outcomes, faults by kind,
// recovery median and p95, rows lost, extra or changed), and the JSON report.
import type { TrialResult } from './outcome';

export interface CampaignSummary {
  /** Trials in which the fault really happened (the campaign's N). */
  readonly trials: number;
  /** Those trials by outcome. */
  readonly outcomes: Record<string, number>;
  /**
   * Trials drawn whose fault never happened, by outcome (`not-reached`, `no-fault`, or `failed` when
   * the migration went wrong with no fault at all); not counted in `trials`: the campaign drew others.
   */
  readonly withoutFault: Record<string, number>;
  /** Per fault kind: trials and their outcomes. */
  readonly faults: Record<string, Record<string, number>>;
  readonly phases: Record<string, Record<string, number>>;
  readonly recoverySeconds: { readonly count: number; readonly median?: number; readonly p95?: number; readonly max?: number };
  readonly lostRows: number;
  readonly extraRows: number;
  readonly changedRows: number;
  readonly rowsCompared: number;
  readonly largeObjectsCompared: number;
  readonly resumes: number;
  readonly stoppedMessages: readonly string[];
  readonly replicaIdentityLeftFull: number;
  /** Trials (with a fault) whose cutover fenced the source's writers. */
  readonly fencedTrials: number;
  /** Trials (with a fault) whose streams applied with several target sessions (parallel apply). */
  readonly parallelApplyTrials: number;
  /** Per bystander kind: drawn, made, harmed (what became of it: bystander.ts), and stopping the migration. */
  readonly bystanders: Record<string, Record<string, number>>;
  /**
   * The application's column or table made in a fallback window (windowChange.ts), by kind and the
   * user's answer: trials, made, fell back with it carried back, closed, and the stops fixed.
   */
  readonly windowChanges: Record<string, Record<string, number>>;
  /** Most WAL a slot retained on the source in any trial. */
  readonly maxRetainedMiB: number;
  readonly wallSeconds: number;
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function trialLine(r: TrialResult): string {
  const recovery = r.recoveryMs === undefined ? '-' : `${(r.recoveryMs / 1000).toFixed(1)} s`;
  return [
    pad(`#${r.index}`, 5),
    pad(`seed ${r.seed}`, 16),
    pad(r.fault, 32),
    pad(
      `@ ${r.phase}${r.fenceWriters ? ' +fence' : ''}${r.applySessions ? ` +${r.applySessions} sessions` : ''}${r.bystander?.items.length ? ` +${r.bystander.items.length} bystander` : ''}${r.windowChange ? ` +window ${r.windowChange.kinds.join('+')}/${r.windowChange.answer}` : ''}`,
      30,
    ),
    pad(r.outcome, 15),
    pad(`recovery ${recovery}`, 17),
    pad(`total ${(r.totalMs / 1000).toFixed(0)} s`, 11),
    `resumes ${r.resumes}`,
  ].join(' ');
}

/**
 * Why a trial stopped where it did: the user closed its fallback windows (then the migration's own
 * message is empty, its state Succeeded), else the migration's message.
 */
function stoppedReason(r: TrialResult): string {
  const closed = r.fallback?.closed;
  if (closed !== undefined) return `fallback windows closed: ${closed}`;
  return r.message ?? '';
}

/**
 * What a trial whose phase never came did instead, so a phase never reached can be told from a
 * trigger that stopped matching: how the migration ended, and the user's cancel when they gave up.
 */
function notReachedWhy(r: TrialResult): string {
  const canceled = r.schemaChange?.canceled;
  if (canceled !== undefined) return `ended ${r.finalState ?? '-'}: the user canceled, ${canceled.slice(0, 120)}`;
  return `ended ${r.finalState ?? '-'}`;
}

/** The lines under a trial that did not pass: why, and how to replay it. */
export function trialDetail(r: TrialResult, replay: string): string[] {
  if (r.outcome === 'passed') return [];
  const out: string[] = [];
  if (r.outcome === 'no-fault') out.push(`      the fault did nothing: ${r.faultDetail ?? ''}; not counted`);
  else if (r.outcome === 'not-reached') out.push(`      the phase was never reached (${notReachedWhy(r)}); not counted`);
  else out.push(`      state ${r.finalState ?? '-'}: ${stoppedReason(r)}`);
  for (const reason of r.reasons.slice(0, 8)) out.push(`      ${reason}`);
  if (r.outcome === 'failed') out.push(`      replay: ${replay}`);
  return out;
}

function tally(into: Record<string, Record<string, number>>, key: string, outcome: string): void {
  const row = (into[key] ??= {});
  row.trials = (row.trials ?? 0) + 1;
  row[outcome] = (row[outcome] ?? 0) + 1;
}

export function summarize(results: readonly TrialResult[], wallSeconds: number): CampaignSummary {
  const outcomes: Record<string, number> = {};
  const faults: Record<string, Record<string, number>> = {};
  const phases: Record<string, Record<string, number>> = {};
  const withoutFault: Record<string, number> = {};
  for (const r of results) {
    if (!r.faulted) {
      withoutFault[r.outcome] = (withoutFault[r.outcome] ?? 0) + 1;
      continue; // outcomes, faults and phases tally the faults that really happened
    }
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    tally(faults, r.faultKind, r.outcome);
    tally(phases, r.phase.replace(/#\d+$/, ''), r.outcome);
  }
  const recoveries = results
    .map((r) => r.recoveryMs)
    .filter((v): v is number => v !== undefined)
    .map((ms) => ms / 1000)
    .sort((a, b) => a - b);
  const sum = (f: (r: TrialResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  const bystanders: Record<string, Record<string, number>> = {};
  for (const r of results) {
    for (const b of r.bystander?.items ?? []) {
      const row = (bystanders[b.kind] ??= { drawn: 0, made: 0, harmed: 0 });
      row.drawn! += 1;
      if (b.made) row.made! += 1;
      if (b.harm.length > 0) row.harmed! += 1;
    }
    if (r.bystander?.blocked) bystanders.blocked = { trials: (bystanders.blocked?.trials ?? 0) + 1 };
  }
  const windowChanges: Record<string, Record<string, number>> = {};
  for (const r of results) {
    const w = r.windowChange;
    if (!w) continue;
    const row = (windowChanges[`${w.kinds.join('+')} ${w.answer}`] ??= { trials: 0, made: 0, fellBack: 0, closed: 0, fixes: 0 });
    row.trials! += 1;
    if (w.made) row.made! += 1;
    if (r.fallback?.fellBack) row.fellBack! += 1;
    if (r.fallback?.closed !== undefined) row.closed! += 1;
    row.fixes! += r.fallback?.fixes ?? 0;
  }
  return {
    trials: results.filter((r) => r.faulted).length,
    outcomes,
    withoutFault,
    faults,
    phases,
    recoverySeconds: {
      count: recoveries.length,
      median: percentile(recoveries, 50),
      p95: percentile(recoveries, 95),
      max: recoveries[recoveries.length - 1],
    },
    lostRows: sum((r) => r.lostRows),
    extraRows: sum((r) => r.extraRows),
    changedRows: sum((r) => r.changedRows),
    rowsCompared: sum((r) => r.rowsCompared),
    largeObjectsCompared: sum((r) => r.largeObjectsCompared ?? 0),
    resumes: sum((r) => r.resumes),
    stoppedMessages: [...new Set(results.filter((r) => r.outcome === 'stopped-safely').map((r) => `${r.finalState}: ${stoppedReason(r)}`))],
    replicaIdentityLeftFull: results.filter((r) => (r.leftovers?.replicaIdentityFull.length ?? 0) > 0).length,
    fencedTrials: results.filter((r) => r.faulted && r.fenceWriters).length,
    parallelApplyTrials: results.filter((r) => r.faulted && r.applySessions).length,
    bystanders,
    windowChanges,
    maxRetainedMiB: Math.max(0, ...results.map((r) => (r.monitor?.maxRetainedBytes ?? 0) / 1048576)),
    wallSeconds,
  };
}

export function summaryLines(s: CampaignSummary): string[] {
  const fmt = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(1)} s`);
  const table = (rows: Record<string, Record<string, number>>): string[] =>
    Object.entries(rows)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([k, v]) =>
          `  ${pad(k, 22)} ${Object.entries(v)
            .map(([o, n]) => `${o} ${n}`)
            .join(', ')}`,
      );
  const listed = (outcomes: Record<string, number>): string =>
    Object.entries(outcomes)
      .map(([o, n]) => `${n} ${o}`)
      .join(', ');
  const without = Object.values(s.withoutFault).reduce((a, n) => a + n, 0);
  return [
    `${s.trials} trials with a fault in ${(s.wallSeconds / 60).toFixed(1)} min: ${listed(s.outcomes) || 'none'}`,
    ...(without > 0 ? [`${without} more drawn whose fault never happened, not counted above: ${listed(s.withoutFault)}`] : []),
    `rows compared ${s.rowsCompared}; lost ${s.lostRows}, extra ${s.extraRows}, changed ${s.changedRows}; large objects compared ${s.largeObjectsCompared}`,
    `most WAL a slot retained on the source: ${s.maxRetainedMiB.toFixed(0)} MiB`,
    `recovery (${s.recoverySeconds.count} trials): median ${fmt(s.recoverySeconds.median)}, p95 ${fmt(s.recoverySeconds.p95)}, max ${fmt(s.recoverySeconds.max)}; resumes ${s.resumes}`,
    'faults by kind:',
    ...table(s.faults),
    'phases:',
    ...table(s.phases),
    ...(s.stoppedMessages.length ? ['stopped safely with:', ...s.stoppedMessages.map((m) => `  ${m}`)] : []),
    `source tables left with REPLICA IDENTITY FULL after the end: ${s.replicaIdentityLeftFull} trial(s)`,
    `cutovers that fenced the source's writers: ${s.fencedTrials} trial(s)`,
    `streams applied by several target sessions (applySessions): ${s.parallelApplyTrials} trial(s)`,
    ...(Object.keys(s.bystanders).length ? ['bystanders (drawn, made, harmed):', ...table(s.bystanders)] : []),
    ...(Object.keys(s.windowChanges).length
      ? ["the application's column or table in a fallback window (by kind and the user's answer):", ...table(s.windowChanges)]
      : []),
  ];
}
