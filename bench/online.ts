// The online benchmark (issue 3): drain rate vs native logical replication, lag under load,
// cutover downtime and runner memory.
import type { Cluster } from '../provider/localpg/cluster';
import type { Drain } from './onlineScenarios';

export interface OnlineResult {
  /** Why it did not run, when it did not. */
  readonly skipped?: string;
  readonly figures: Readonly<Record<string, number>>;
  /** Human-readable lines for the table and the results file. */
  readonly lines: readonly string[];
  /** pgferry's warnings, info and step timings during the online run, with seconds since its start. */
  readonly events?: readonly string[];
  /** Every drain of every round, as measured. */
  readonly drains?: readonly Drain[];
}

export interface OnlineOptions {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly jobs: number;
  readonly quick: boolean;
  /** Backlog and paced-load seconds (default 60, quick 15). */
  readonly seconds?: number;
  readonly log: (line: string) => void;
}

export async function runOnlineBench(options: OnlineOptions): Promise<OnlineResult> {
  const { runOnlineScenarios } = await import('./onlineScenarios');
  return runOnlineScenarios(options);
}
