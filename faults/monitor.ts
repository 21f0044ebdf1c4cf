// What the harness watches while a trial runs, on its own direct connections (not through the
// proxies): how many of the trial's runners are alive and which of them write to the target at
// the same moment (sessions mapped to processes through the proxy's ports and /proc), and how much
// WAL the source retains for replication slots.
import type pg from 'pg';
import type { Cluster } from '../test/support';
import type { FaultProxy, ProxyConnection } from '../test/support/faultProxy';
import { isSpare, owningRunner, pidOfConnection, runners, trialProcesses, type TrialProcess } from './processes';

export interface MonitorReport {
  /** Samples taken in full (processes, writers, workers, WAL); the outcome fails a trial with none. */
  samples: number;
  /** Samples that failed part-way (a server restarting, /proc read as a process ended). */
  failedSamples: number;
  /** Most runner processes alive and not stopped at one sample. */
  maxLiveRunners: number;
  /** Longest time two or more runners were alive and not stopped together. */
  longestOverlapMs: number;
  /** Samples in which two runners each had a writing session on a migrated database. */
  twoWriterSamples: number;
  twoWriterDetail?: string;
  /** Samples in which two runners each sent work (statements, COPY data, replication feedback) through a proxy. */
  twoWorkerSamples: number;
  twoWorkerDetail?: string;
  /** Largest WAL a replication slot retained on the source. */
  maxRetainedBytes: number;
}

const SAMPLE_MS = 500;

/** The runner's cancel watch: a read of its migration's cancel flag, no work. */
const CANCEL_POLL = /^SELECT cancel_requested AS c FROM "pgferry"\.migration WHERE/;
/** The online supervisor's read of the per-database requests (control/migrationRequests.ts databaseRequests): no work either. */
const REQUESTS_POLL = /^SELECT database, cutover_requested_at IS NOT NULL AS cutover/;
/** The window loop's read of the stream retry requests (control/migrationRequests.ts applyRetryRequests): no work either. */
const RETRY_POLL = /^SELECT apply_retry_requests AS n FROM "pgferry"\.migration WHERE/;
/**
 * A runner's heartbeat (control/store.ts heartbeat): a runner woken after losing its lease runs its
 * overdue beat before it learns of the loss, and the beat changes only a record that still names
 * that runner, so it is no work beside the successor's.
 */
const HEARTBEAT = /^UPDATE "pgferry"\.migration SET runner = runner \|\| jsonb_build_object\('heartbeatAt'/;
/**
 * A copy round closed (control/copyRounds.ts closeRound): a runner woken after losing its lease may
 * send it before it learns of the loss, and it closes only the round that runner opened, by its
 * snapshot, so its successor's round stays open: no work of the successor's is undone. The proxy
 * keeps only a statement's start, and closeRound is the one statement that empties copy_round.
 */
const ROUND_CLOSE = /^UPDATE "pgferry"\.migration_database SET copy_round = NULL W/;
/**
 * The lease session's name, followed by its runner's pid and host (runner/lease.ts): taking the lease, holding it, probing it. A runner's
 * successor (runner/successor.ts) asks for the lease once its predecessor has exited and leaves when
 * another runner holds it: asking is how runners take turns, not work beside the holder.
 */
export const LEASE_SESSION_PREFIX = 'pgferry runner lease ';

const WRITERS_SQL = `
SELECT client_port, datname, application_name
  FROM pg_stat_activity
 WHERE datname = ANY($1::text[]) AND application_name LIKE 'pgferry%'
   AND (state = 'active' OR backend_xid IS NOT NULL) AND pid <> pg_backend_pid()`;

const RETAINED_SQL = `
SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0)::bigint AS retained
  FROM pg_replication_slots WHERE slot_name LIKE 'pgferry%'`;

/** A direct connection that reconnects after a server restart. */
class Direct {
  private client: pg.Client | undefined;
  constructor(private readonly cluster: Cluster) {}
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      if (!this.client) {
        const c = await this.cluster.connect();
        c.on('error', () => undefined);
        this.client = c;
      }
      return (await this.client.query<R>(sql, params)).rows;
    } catch (error) {
      await this.client?.end().catch(() => undefined);
      this.client = undefined;
      throw error;
    }
  }
  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
  }
}

export class TrialMonitor {
  readonly report: MonitorReport = {
    samples: 0,
    failedSamples: 0,
    maxLiveRunners: 0,
    longestOverlapMs: 0,
    twoWriterSamples: 0,
    twoWorkerSamples: 0,
    maxRetainedBytes: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private overlapSince: number | undefined;
  private readonly source: Direct;
  private readonly target: Direct;
  /** Proxy connection -> the runner that opened it (found once). */
  private readonly owners = new WeakMap<ProxyConnection, number>();
  /** Every process of the trial seen in a sample, by pid: who a finding names, with its start and command. */
  private readonly seen = new Map<number, TrialProcess>();

  private lastSampleAt = Date.now();

  constructor(
    private readonly trial: string,
    private readonly databases: readonly string[],
    clusters: { source: Cluster; target: Cluster },
    private readonly targetProxy: FaultProxy,
    private readonly sourceProxy: FaultProxy,
    private readonly killed: ReadonlySet<number>,
    /** The trial's clock: when its workload started (faultWindow's and the application's errors' origin). */
    private readonly origin: number,
  ) {
    this.source = new Direct(clusters.source);
    this.target = new Direct(clusters.target);
  }

  start(): void {
    const tick = (): void => {
      this.running = this.sample()
        .then(() => void (this.report.samples += 1))
        .catch(() => void (this.report.failedSamples += 1))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, SAMPLE_MS);
        });
    };
    this.timer = setTimeout(tick, SAMPLE_MS);
  }

  async stop(): Promise<MonitorReport> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await Promise.all([this.source.close(), this.target.close()]);
    return this.report;
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    const processes = await trialProcesses(this.trial);
    for (const p of processes) this.seen.set(p.pid, p);
    const live = runners(processes).filter((p) => p.state !== 'T' && p.state !== 't');
    this.report.maxLiveRunners = Math.max(this.report.maxLiveRunners, live.length);
    if (live.length >= 2) {
      this.overlapSince ??= now;
      this.report.longestOverlapMs = Math.max(this.report.longestOverlapMs, now - this.overlapSince);
    } else this.overlapSince = undefined;
    await Promise.all([this.sampleWriters(processes), this.sampleWorkers(processes, this.lastSampleAt), this.sampleWal()]);
    this.lastSampleAt = now;
  }

  /** The runner (or, negated, an orphaned pg_dump/pg_restore) that opened a proxy connection; cached (0: neither). */
  private async ownerOf(conn: ProxyConnection, proxy: FaultProxy, processes: readonly TrialProcess[]): Promise<number | undefined> {
    if (!this.owners.has(conn)) {
      // once the client's end has closed its port may be another connection's: nobody to find any more
      if (conn.clientClosed) return undefined;
      const pid = await pidOfConnection(
        conn.clientPort,
        proxy.port,
        processes.map((p) => p.pid),
      );
      if (pid === undefined) return undefined; // not found (yet): try again next sample
      // The pgferry command itself (create, resume, update) talks to the catalog: not a runner.
      const orphanTool = /pg_dump|pg_restore/.test(processes.find((p) => p.pid === pid)?.command ?? '');
      this.owners.set(conn, owningRunner(pid, processes) ?? (orphanTool ? -pid : 0));
    }
    const owner = this.owners.get(conn);
    return owner === 0 ? undefined : owner;
  }

  /** A process named in a finding: its pid, state, parent, start on the trial's clock and command. */
  private who(pid: number, processes: readonly TrialProcess[]): string {
    const p = processes.find((q) => q.pid === Math.abs(pid)) ?? this.seen.get(Math.abs(pid));
    const label = pid < 0 ? `orphan ${-pid}` : `${p && isSpare(p) ? 'spare runner' : 'runner'} ${pid}`;
    if (!p) return `${label} (gone)`;
    const started = p.startedAt === undefined ? '?' : `${((p.startedAt - this.origin) / 1000).toFixed(1)} s`;
    return `${label} (${p.state}, parent ${p.ppid}, started ${started}, ${p.command.slice(-80)})`;
  }

  /** Milliseconds on the trial's clock. */
  private clock(at: number): string {
    return `${((at - this.origin) / 1000).toFixed(1)} s`;
  }

  /** Two runners sending work in one sample interval: the second did not wait for the lease. */
  private async sampleWorkers(processes: readonly TrialProcess[], since: number): Promise<void> {
    const workers = new Map<number, string>();
    for (const [side, proxy] of [
      ['source', this.sourceProxy],
      ['target', this.targetProxy],
    ] as const) {
      for (const conn of [...proxy.connections]) {
        if (conn.lastWorkAt === undefined || conn.lastWorkAt < since) continue;
        const owner = await this.ownerOf(conn, proxy, processes);
        // a stopped runner does no work: what the proxy forwards for it now (a statement the fault
        // held and let go) it sent before it stopped, and its session checks the lease it lost
        if (processes.find((p) => p.pid === owner)?.state === 'T') continue;
        // nor does a runner that is gone (an agent SIGKILLed): what the proxy still forwards for
        // it, COPY data it had buffered, it sent before it died (the agent-kill trial at
        // copy-split-table was flagged for that beside the next agent opening its lease session;
        // the rows are judged apart, and were whole)
        if (owner !== undefined && owner > 0 && !processes.some((p) => p.pid === owner)) continue;
        // nor does a runner the trial has SIGKILLed, though /proc may still list it while it exits
        // (a loaded machine was seen listing it beside the resumed runner): a killed process sends
        // nothing new, so what the proxy forwards for it was sent before the signal
        if (owner !== undefined && this.killed.has(owner)) continue;
        // nor is a read of its cancel flag: every runner polls it once a second whatever its lease
        // (flow/orchestrator.ts watchCancel), and a runner woken after losing its lease runs that
        // overdue timer before it learns of the loss (two lease-loss trials at cutover-fence were
        // flagged for it alone, the new runner working meanwhile); the same for its online watch
        // loop's overdue read of the cutover and cancel requests (a lease-loss trial at verify-pin),
        // and the window loop's of the stream retry requests (a lease-loss trial at reverse-stream),
        // and its heartbeat, which changes only its own record (a lease-loss trial at fallback-sequences)
        if ([CANCEL_POLL, REQUESTS_POLL, RETRY_POLL, HEARTBEAT].some((poll) => poll.test(conn.lastWork ?? ''))) continue;
        // nor is the close of its own copy round, guarded by that round's snapshot (an
        // agent-lease-loss trial while streaming was flagged for it alone)
        if (ROUND_CLOSE.test(conn.lastWork ?? '')) continue;
        if (conn.startup?.application_name?.startsWith(LEASE_SESSION_PREFIX)) continue;
        if (owner !== undefined) workers.set(owner, `${side} ${conn.startup?.application_name ?? ''}: ${conn.lastWork ?? ''}`);
      }
    }
    if (workers.size >= 2) {
      this.report.twoWorkerSamples += 1;
      // each runner's /proc state, parent, start and command said too, so a runner seen while it
      // exits, or a process taken for a runner, can be told from a second live runner
      if (this.report.twoWorkerDetail === undefined) {
        const what = [...workers].map(([pid, work]) => `${this.who(pid, processes)}: ${work}`);
        this.report.twoWorkerDetail = `sample at ${this.clock(Date.now())} since ${this.clock(since)}: ${what.join('; ')}`;
      }
    }
  }

  private async sampleWriters(processes: readonly TrialProcess[]): Promise<void> {
    const rows = await this.target.query<{ client_port: number; datname: string; application_name: string }>(WRITERS_SQL, [
      [...this.databases],
    ]);
    const writers = new Map<number, string>();
    for (const row of rows) {
      const conn = [...this.targetProxy.connections].find((c) => c.upstreamPort === row.client_port);
      if (!conn) continue;
      const owner = await this.ownerOf(conn, this.targetProxy, processes);
      // a stopped runner writes nothing: its session shows active (a COPY it was in when stopped)
      // or holds a transaction id, as sampleWorkers says; once woken, a write of its is seen here
      // (an agent-lease-loss trial was flagged for the stopped runner's open COPY of the other
      // database beside the new runner's apply)
      if (processes.find((p) => p.pid === owner)?.state === 'T') continue;
      if (owner !== undefined) writers.set(owner, `${row.application_name}@${row.datname}`);
    }
    if (writers.size >= 2) {
      this.report.twoWriterSamples += 1;
      this.report.twoWriterDetail ??= `sample at ${this.clock(Date.now())}: ${[...writers]
        .map(([pid, what]) => `${this.who(pid, processes)}: ${what}`)
        .join('; ')}`;
    }
  }

  private async sampleWal(): Promise<void> {
    const [row] = await this.source.query<{ retained: string }>(RETAINED_SQL);
    this.report.maxRetainedBytes = Math.max(this.report.maxRetainedBytes, Number(row?.retained ?? 0));
  }
}
