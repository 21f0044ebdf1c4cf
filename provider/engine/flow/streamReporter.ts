// The online supervisor's reporter (flow/supervisor.ts): while changes stream, every
// REPORT_INTERVAL_MS each stream's counters, apply latency, pending bytes and applied position are
// written to the control catalog (what `show`, `--wait` and the console read), with a sample for the
// console's charts, the slot's retained WAL is warned about past slotRetainedWarnBytes, and the
// pending bytes feed the cutover's lag gate (switchover/lagGate.ts ApplyRateMeter). On a timer of its
// own rather than in the supervisor's loop: a slow source (restarting, far away) delays the figures,
// never the answer to a cutover or cancel request. An apply that waits for a lock someone else's
// session holds on the target (a report's long read transaction, a DBA's) is warned about, naming
// that session: the apply waits as PostgreSQL's own apply worker would, and only latency told it. Stopped, and its report in flight awaited, before
// a cutover or a cancel runs, so no report writes over what they record.
import type pg from 'pg';
import { formatLsn, parseLsn } from '../core/lsn';
import { appliedUpTo, streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { APPLICATION_NAME_PREFIX, closeSession, openSession } from '../connect/session';
import { endHoldersWords, holderWords, lockHolders } from '../connect/lockHolders';
import { recordStreamSample } from '../control/streamSamples';
import type { ApplyRateMeter } from '../switchover/lagGate';
import type { MigrationRun } from '../run/migrationRun';
import { updateDatabase } from '../control/store';
import { holdpoint } from '../util/failpoints';
import { displayIdent } from '../connect/quote';

const REPORT_INTERVAL_MS = 2_000;

export class StreamReporter {
  /** The slots warned about for the WAL they retain, so each is told once until it falls back. */
  private readonly warned = new Set<string>();
  /** The sessions an apply was told to wait for, by database and pid, each told once while it lasts. */
  private readonly waits = new Set<string>();
  /** The source session that reads the slots' positions, opened on first use and after a failure. */
  private source: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  /** `streams` is the supervisor's own list: a stream restarted after a stop is reported as it replaces the old one. */
  constructor(
    private readonly run: MigrationRun,
    private readonly streams: readonly OnlineStream[],
    private readonly meter: ApplyRateMeter,
  ) {}

  /** Reports now, then REPORT_INTERVAL_MS after each report ends (never two at once). */
  start(): void {
    if (this.stopped || this.running) return;
    this.running = this.reportOnce().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => this.start(), REPORT_INTERVAL_MS);
      this.timer.unref();
    });
  }

  /** No report after this; the one in flight is awaited and the source session closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await closeSession(this.source);
    this.source = undefined;
  }

  private async reportOnce(): Promise<void> {
    // a test holds the reports here: what a runner killed between two of them leaves must not depend on them
    await holdpoint('stream-report');
    try {
      this.source ??= await openSession(this.run.spec.source, { purpose: 'monitor' });
      await report(this.run, this.streams, this.source, this.warned, this.meter);
      await warnLockWaits(this.run, this.streams, this.waits);
    } catch {
      await closeSession(this.source);
      this.source = undefined; // the source may be restarting: the appliers reconnect on their own
    }
  }
}

/** The source's current WAL position, and how far back a slot holds WAL from (current - restart_lsn is what it retains). */
interface SlotPosition {
  readonly currentLsn: bigint;
  /** undefined when the slot does not exist. */
  readonly restartLsn?: bigint;
}

const SLOT_POSITIONS_SQL = `
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS current,
       u.name AS slot, s.restart_lsn::text AS restart
  FROM unnest($1::text[]) AS u(name) LEFT JOIN pg_replication_slots s ON s.slot_name = u.name`;

/** Every database's slot read on one connection: the position of the source (of a standby, its replay) and each slot's restart. */
async function readSlotPositions(source: pg.Client, slots: readonly string[]): Promise<Map<string, SlotPosition>> {
  const { rows } = await source.query<{ current: string; slot: string; restart: string | null }>(SLOT_POSITIONS_SQL, [slots]);
  return new Map(rows.map((r) => [r.slot, { currentLsn: parseLsn(r.current), restartLsn: r.restart ? parseLsn(r.restart) : undefined }]));
}

/**
 * Reports counters, latency, pending bytes and slot retention; warns past slotRetainedWarnBytes.
 * Each stream's pending bytes and applied position also go to `meter`, which the cutover's lag gate
 * predicts from.
 */
async function report(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  source: pg.Client,
  warned: Set<string>,
  meter: ApplyRateMeter,
): Promise<void> {
  const positions = await readSlotPositions(
    source,
    streams.map((s) => s.slot),
  );
  const at = Date.now();
  for (const s of streams) {
    const stats = s.applier.stats();
    const pos = positions.get(s.slot);
    const applied = appliedUpTo(stats);
    const pending = pos && applied > 0n && pos.currentLsn > applied ? Number(pos.currentLsn - applied) : 0;
    // the rate is measured on committed transactions (LagSample.applied), the backlog on the confirmed position
    if (pos && applied > 0n && stats.appliedLsn > 0n) meter.record(s.database, { at, pendingBytes: pending, applied: stats.appliedLsn });
    const retained = pos?.restartLsn !== undefined && pos.currentLsn > pos.restartLsn ? Number(pos.currentLsn - pos.restartLsn) : null;
    await updateDatabase(run.store, run.spec.migrationName, s.database, {
      ...streamCounts(s),
      latencySeconds: stats.latencySeconds,
      pendingBytes: pending,
      slotRetainedBytes: retained,
      ...(stats.appliedLsn > 0n ? { appliedLsn: formatLsn(stats.appliedLsn) } : {}),
    });
    // the console's charts: one row every few seconds (control/streamSamples.ts bounds the rate)
    await recordStreamSample(
      run.store,
      run.spec.migrationName,
      s.database,
      { latencySeconds: stats.latencySeconds, pendingBytes: pending },
      { nowMs: at },
    );
    if (retained !== null && retained > run.spec.slotRetainedWarnBytes && !warned.has(s.slot)) {
      warned.add(s.slot);
      await run.warn(
        `replication slot ${s.slot} retains ${(retained / 1024 / 1024).toFixed(0)} MiB of WAL on the source (warning threshold ${(run.spec.slotRetainedWarnBytes / 1024 / 1024).toFixed(0)} MiB): the target is falling behind or the runner is stopped`,
        s.database,
      );
    } else if (retained !== null && retained <= run.spec.slotRetainedWarnBytes) {
      warned.delete(s.slot);
    }
  }
}

/** How long an apply statement waits for a lock on the target before the session holding it is named. */
const LOCK_WAIT_TOLD_SECONDS = 5;

/**
 * Warns once of each session on the target that holds a lock a stream's apply waits for, with how
 * to end the wait; forgotten when the wait is over, so a later one is told again.
 */
async function warnLockWaits(run: MigrationRun, streams: readonly OnlineStream[], told: Set<string>): Promise<void> {
  // read on the control catalog's session: pg_stat_activity is the server's
  const rows = await run.store.exclusive((client) =>
    lockHolders(client, {
      waiters: `${APPLICATION_NAME_PREFIX}apply`,
      databases: streams.map((s) => s.database),
      waitedSeconds: LOCK_WAIT_TOLD_SECONDS,
      othersOnly: true,
    }),
  );
  const now = new Set(rows.map((r) => `${r.database}\0${r.pid}`));
  for (const key of told) if (!now.has(key)) told.delete(key);
  for (const r of rows) {
    const key = `${r.database}\0${r.pid}`;
    if (told.has(key)) continue;
    told.add(key);
    await run.warn(
      `the apply of ${displayIdent(r.database)} has waited ${r.waited ?? '?'} s for a lock on the target held by ${holderWords(r)}: changes wait behind it, and the cutover would too; fix: end that transaction (COMMIT or ROLLBACK in it, or ${endHoldersWords([r])} on the target), and the apply goes on by itself`,
      r.database,
    );
  }
}
