// The online benchmark's types, apart from its scenarios and report so that neither imports the
// other's module for them: what a run is given (OnlineOptions), what it gives back (OnlineResult),
// and each drain as measured (Drain).
import type { Cluster } from '../provider/localpg/cluster';

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
  /** Experiment: native's subscription with none of its options (binary, streaming), an A/B of what they give it. */
  readonly nativeWithout?: boolean;
  readonly log: (line: string) => void;
}

/** One drain of a backlog, by native logical replication or by pgferry, as measured. */
export interface Drain {
  readonly round: number;
  /** Which of the round's two drains this was. */
  readonly turn: 'first' | 'second';
  readonly consumer: 'native' | 'pgferry';
  readonly rows: number;
  readonly transactions: number;
  readonly seconds: number;
  /** CPU seconds spent during the drain by the source server, the target server and (pgferry) its process. */
  readonly cpu: { readonly source: number; readonly target: number; readonly consumer?: number };
  /** Seconds from the resume to the first change applied (start-up stalls, apart from apply speed). */
  readonly firstProgressSeconds: number;
  /**
   * pgferry's drains: the same backlog decoded alone, to the same point, by pg_recvlogical (pgoutput,
   * pgferry's publication, output to /dev/null) on a slot of its own: the walsender's own speed.
   */
  readonly decodeOnly?: { readonly seconds: number; readonly sourceCpu: number };
}
