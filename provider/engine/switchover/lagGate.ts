// The cutover's lag gate (cutoverLagBudgetSeconds): how long each stream being cut over would take
// to apply what is pending, predicted from its pending bytes (the end of the source's WAL minus the
// applied position, as `show` reports them) and the rate it applied at while it had a backlog. Over the
// budget, the cutover rolls back before anything irreversible, and a fall-back stops (flow/hold.ts).
//
// The rate is measured while a backlog waited at both ends of an interval, so the applier worked
// the whole time: a stream that keeps up applies only as fast as the source writes, which says
// nothing of how fast it would drain a backlog. When no such interval is in the last minute (the
// stream kept up, or was just started), the gate watches the stream for a short probe instead.
import type pg from 'pg';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { parseLsn } from '../core/lsn';
import { withSession } from '../connect/session';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import type { ServerSpec } from '../input/migrationSpec';
import { flushedPoint } from './flushedPoint';
import { trace } from '../util/trace';
import { displayIdent } from '../connect/quote';

/** The lag budget when fenceWriters is on or a pooler is paused, and cutoverLagBudgetSeconds is not given. */
export const DEFAULT_FENCED_LAG_BUDGET_SECONDS = 30;
/** A backlog this small counts as caught up: applied in well under a second at any rate a stream reaches. */
export const CAUGHT_UP_BYTES = 1024 * 1024;
/** How far back samples count. */
const WINDOW_MS = 60_000;
/** An interval shorter than this says too little about a rate. */
const MIN_INTERVAL_MS = 1000;
/** How long the gate watches a stream whose rate is not known (at most the budget). */
const PROBE_MS = 2000;
/**
 * How often the probe reads the streams: a caught-up stream confirms the gate's point within a
 * keepalive's round trip, and the applications wait through every poll of a paused or fenced cutover.
 */
const PROBE_POLL_MS = 20;
/** How long the gate waits at least for a stream just started (a resumed runner) to report its first position. */
const FIRST_POSITION_MS = 10_000;

export interface LagSample {
  readonly at: number;
  readonly pendingBytes: number;
  /**
   * The end of the last transaction the stream committed on the target (ApplyStats.appliedLsn):
   * what a rate is measured on. Not the position it confirmed when idle, which jumps over a large
   * transaction the walsender is still decoding and would pass for megabytes applied.
   */
  readonly applied: bigint;
}

/** The samples of each stream's pending bytes and applied position, taken as the migration reports them. */
export class ApplyRateMeter {
  private readonly samples = new Map<string, LagSample[]>();

  record(database: string, sample: LagSample): void {
    const list = this.samples.get(database) ?? [];
    list.push(sample);
    while (list.length > 0 && list[0]!.at < sample.at - WINDOW_MS) list.shift();
    this.samples.set(database, list);
  }

  /**
   * Bytes per second applied over the intervals of the last minute that began and ended with a
   * backlog (the applier busy throughout); undefined when there was none.
   */
  busyRate(database: string): number | undefined {
    const list = this.samples.get(database) ?? [];
    let bytes = 0;
    let ms = 0;
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (a.pendingBytes <= CAUGHT_UP_BYTES || b.pendingBytes <= CAUGHT_UP_BYTES || b.at - a.at < MIN_INTERVAL_MS) continue;
      bytes += b.applied > a.applied ? Number(b.applied - a.applied) : 0;
      ms += b.at - a.at;
    }
    return ms > 0 ? (bytes * 1000) / ms : undefined;
  }
}

/**
 * Seconds to apply `pendingBytes` at `rate` bytes per second: 0 when caught up, Infinity when
 * nothing was applied, undefined when the rate is not known.
 */
export function predictCatchUp(pendingBytes: number, rate: number | undefined): number | undefined {
  if (pendingBytes <= CAUGHT_UP_BYTES) return 0;
  if (rate === undefined) return undefined;
  return rate > 0 ? pendingBytes / rate : Infinity;
}

/** One stream's prediction. */
export interface CatchUp {
  readonly database: string;
  readonly pendingBytes: number;
  /** Bytes per second it applied at, when measured. */
  readonly rate?: number;
  /** Over how many seconds the rate was measured (a probe), for the message. */
  readonly probedSeconds?: number;
  /** Predicted seconds; undefined when it could not be told. */
  readonly seconds: number | undefined;
}

/** The stream predicted slowest, if it is over the budget (a stream whose prediction is unknown never is). */
export function overBudget(catchUps: readonly CatchUp[], budgetSeconds: number): CatchUp | undefined {
  const over = catchUps.filter((c) => c.seconds !== undefined && c.seconds > budgetSeconds);
  return over.sort((a, b) => b.seconds! - a.seconds!)[0];
}

interface Reading {
  readonly at: number;
  /** The end of the source's WAL when read. */
  readonly walEnd: bigint;
  /** undefined while the stream has no applied position yet. */
  readonly pendingBytes: number | undefined;
  readonly applied: bigint;
  /** The end of the last transaction committed on the target (LagSample.applied): rates are measured on it. */
  readonly committed: bigint;
  /** The furthest position the walsender reported (ApplyStats.receivedLsn). */
  readonly received: bigint;
}

/**
 * The end of the WAL inserted on the source: what a stream has to reach to be caught up. Not
 * pg_current_wal_lsn(), the position written out, which lags it by what asynchronous commits
 * (synchronous_commit off) have not flushed yet: up to wal_writer_delay's worth of writes.
 */
const WAL_END_SQL = `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END::text AS lsn`;

/**
 * How far short of the end of the WAL read a stream may stop and still be caught up, where the gate
 * cannot write its own point (a standby source): the insert position points past a page header when
 * the last record ended a page, and a stream that has applied everything confirms the end of that
 * record.
 */
const PAGE_HEADER_SLACK = 64n;

/**
 * The point the probe holds each stream to: written on the held server (switchover/flushedPoint.ts),
 * so that everything before it is flushed and a stream that confirms it has applied everything
 * committed before the gate began. A standby cannot write one, nor a role refused
 * pg_logical_emit_message: then the end of the WAL read, within PAGE_HEADER_SLACK.
 */
async function probeGoal(client: pg.Client, prefix: string): Promise<bigint | undefined> {
  const { rows } = await client.query<{ standby: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS standby');
  if (rows[0]!.standby) return undefined;
  try {
    return await flushedPoint(client, prefix);
  } catch (error) {
    if (sqlState(error) === INSUFFICIENT_PRIVILEGE) return undefined;
    throw error;
  }
}

/** What the gate reads of a stream: its database and applier (a forward stream, or a fallback window's reverse one). */
export type GatedStream = Pick<OnlineStream, 'database' | 'applier'>;

async function read(client: pg.Client, streams: readonly GatedStream[]): Promise<Map<string, Reading>> {
  // an idle stream confirms the WAL that holds nothing for it only on a keepalive: ask for one
  for (const s of streams) s.applier.requestPosition();
  const { rows } = await client.query<{ lsn: string }>(WAL_END_SQL);
  const walEnd = parseLsn(rows[0]!.lsn);
  const at = Date.now();
  return new Map(
    streams.map((s) => {
      const stats = s.applier.stats();
      const applied = appliedUpTo(stats);
      const pendingBytes = applied === 0n ? undefined : walEnd > applied ? Number(walEnd - applied) : 0;
      return [s.database, { at, walEnd, pendingBytes, applied, committed: stats.appliedLsn, received: stats.receivedLsn }];
    }),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Predicts each stream's catch-up now, its WAL read on `server`: the source for the forward
 * streams at a cutover, the target for a fallback window's reverse one at a fall-back. Without
 * `probe` (before the fence, the source still writing): from the pending bytes and the rate of the
 * last minute; a backlog under CAUGHT_UP_BYTES counts as none, and a stream with a backlog but no
 * measured rate stays unknown.
 *
 * With `probe` (the writers fenced, or no fence asked): each stream is watched, for at most the
 * probe, until it has confirmed a point written when the gate began (probeGoal), past everything
 * committed before. The pending bytes alone cannot tell: a stream confirms positions as its
 * walsender reads the WAL, and one that is still decoding a large transaction (sent whole at its
 * commit) confirms the WAL up to that commit without having received the transaction, so its few
 * bytes left may hide megabytes of rows. A
 * stream that does not get there is predicted from what is left at the faster of the rate of the
 * last minute and the rate it showed during the probe; one that showed none never fits.
 */
export async function measureCatchUp(
  server: ServerSpec,
  streams: readonly GatedStream[],
  meter: ApplyRateMeter,
  options: { readonly probe: boolean; readonly budgetSeconds: number; readonly goalPrefix: string },
): Promise<CatchUp[]> {
  // the probe writes its goal (probeGoal); a prediction alone only reads
  const access = options.probe ? {} : { readOnly: true };
  return withSession(server, { purpose: 'lag gate', ...access }, async (client) => {
    const record = (readings: Map<string, Reading>) => {
      for (const [database, r] of readings) {
        if (r.pendingBytes !== undefined && r.committed > 0n)
          meter.record(database, { at: r.at, pendingBytes: r.pendingBytes, applied: r.committed });
      }
    };
    let first = await read(client, streams);
    if (!options.probe) {
      record(first);
      return streams.map((s): CatchUp => {
        const r = first.get(s.database)!;
        const rate = meter.busyRate(s.database);
        const seconds = r.pendingBytes === undefined ? undefined : predictCatchUp(r.pendingBytes, rate);
        return { database: s.database, pendingBytes: r.pendingBytes ?? 0, rate, seconds };
      });
    }
    trace('lag gate: probing');
    const written = await probeGoal(client, options.goalPrefix);
    trace('lag gate: goal written');
    // A stream just (re)started has no position until its target session is open, and then its
    // walsender reads the WAL again from the slot's restart point up to where the stream starts,
    // sending nothing and reporting positions behind it: neither says how fast the stream applies.
    // The gate waits for both, as long as the budget lets the applications wait.
    const started = (r: Reading) => r.pendingBytes !== undefined && r.received >= r.applied;
    const deadline = Date.now() + Math.max(FIRST_POSITION_MS, options.budgetSeconds * 1000);
    while (![...first.values()].every(started) && Date.now() < deadline) {
      await sleep(200);
      first = await read(client, streams);
    }
    record(first);
    const goal = written ?? [...first.values()][0]?.walEnd ?? 0n;
    const slack = written === undefined ? PAGE_HEADER_SLACK : 0n;
    const reached = (r: Reading) => r.pendingBytes !== undefined && r.applied + slack >= goal;
    const probeEnd = Date.now() + Math.min(PROBE_MS, options.budgetSeconds * 1000);
    let last = first;
    while (![...last.values()].every(reached) && Date.now() < probeEnd) {
      await sleep(PROBE_POLL_MS);
      last = await read(client, streams);
    }
    record(last);
    trace('lag gate: reached');
    return streams.map((s): CatchUp => {
      const a = first.get(s.database)!;
      const b = last.get(s.database)!;
      const probedSeconds = (b.at - a.at) / 1000;
      if (reached(b)) return { database: s.database, pendingBytes: 0, seconds: probedSeconds };
      // no position at all: nothing can be told to fit
      if (a.pendingBytes === undefined || b.pendingBytes === undefined) return { database: s.database, pendingBytes: 0, seconds: Infinity };
      const left = Number(goal - b.applied);
      // committed transactions only: a confirmed position jumps over a transaction still being decoded
      const shown =
        probedSeconds > 0 && a.committed > 0n && b.committed > a.committed ? Number(b.committed - a.committed) / probedSeconds : 0;
      const busy = meter.busyRate(s.database) ?? 0;
      // the rate the prediction stands on, and over what it was measured (the message says which)
      const measured = busy > shown ? { rate: busy } : { rate: shown, probedSeconds };
      return { database: s.database, pendingBytes: left, ...measured, seconds: measured.rate > 0 ? left / measured.rate : Infinity };
    });
  });
}

/** Where the gate stopped a cutover: before fencing (or pausing) anybody, after (the fence lifted, the pooler resumed), or with neither asked for. */
export type GateStage = 'before the fence' | 'fence lifted' | 'no fence' | 'before the pause' | 'pause lifted';

/**
 * The roll-back's message: what was predicted, against which budget (`defaulted`: the default of
 * a fenced or paused cutover, none given, and which), and the two ways on.
 */
export function overBudgetMessage(c: CatchUp, budgetSeconds: number, stage: GateStage, defaulted: BudgetDefault): string {
  const field = 'cutoverLagBudgetSeconds';
  const [what, how] = {
    'before the fence': ['cutover not started', 'the source was not fenced, and changes stream on'],
    'fence lifted': ['cutover rolled back', 'the writer fence is lifted and changes stream on'],
    'no fence': ['cutover not started', 'changes stream on'],
    'before the pause': ['cutover not started', 'the pooler was not paused, and changes stream on'],
    'pause lifted': ['cutover rolled back', 'the pooler is resumed on the old source and changes stream on'],
  }[stage];
  return `${what}: ${overBudgetWords(c, budgetSeconds, defaulted)}; ${how}: request the cutover again once its pending bytes (pgferry show) have dropped, or raise ${field}`;
}

/** What was predicted against which budget, in words: `"db" would take about N s to catch up (...), over the lag budget of B s (...)`. */
export function overBudgetWords(c: CatchUp, budgetSeconds: number, defaulted: BudgetDefault): string {
  const mib = (bytes: number) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  const rate =
    c.rate === undefined || c.rate === 0
      ? `nothing applied${c.probedSeconds === undefined ? ' while it had a backlog' : ` in ${c.probedSeconds.toFixed(1)} s`}`
      : `applied at ${mib(c.rate)}/s${c.probedSeconds === undefined ? ' over the last minute' : ` over ${c.probedSeconds.toFixed(1)} s`}`;
  const predicted = Number.isFinite(c.seconds) ? `about ${Math.ceil(c.seconds!)} s` : 'longer than any budget';
  return `${displayIdent(c.database)} would take ${predicted} to catch up (${mib(c.pendingBytes)} pending, ${rate}), over the lag budget of ${budgetWords(budgetSeconds, defaulted)}`;
}

/** Whose default a lag budget is, none being given (a held switchover's: its applications wait for the catch-up); false: given. */
export type BudgetDefault = false | 'fenceWriters' | 'a pooler' | "the fall-back's fence";

/** A switchover's lag budget: its seconds (undefined: no gate), and whose default it is, for the messages. */
export interface LagBudget {
  readonly budget: number | undefined;
  readonly defaulted: BudgetDefault;
}

/** The lag budget in words: `B s (cutoverLagBudgetSeconds)`, or which hold's default it is. */
export function budgetWords(budgetSeconds: number, defaulted: BudgetDefault): string {
  return `${budgetSeconds} s (cutoverLagBudgetSeconds${defaulted ? `, the default with ${defaulted}` : ''})`;
}
