// Verification while changes stream: each table of a database is compared with the target at one
// exact source position, the apply held there for the moment the target's snapshot is taken
// (cdc/apply/pin.ts; why the pair is exact: docs/verification.md). Each result is recorded
// (control/tableVerification.ts), and from then on the apply counts which keys of the table it
// changes (cdc/apply/changeTracker.ts), so the cutover reads again only those. A difference is
// recorded and shown as a warning naming the table (`show`, the events), and the cutover reads that
// table whole: the cutover stays the authority. The stream goes on meanwhile, since a difference
// may be the target's own doing (an ENABLE REPLICA trigger writing a table the source never
// writes, a job on the target) and stopping would only make the source's slot grow; the table is
// not compared again in the background by this runner, so the warning is said once.
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog';
import { closeSession, openSession, serverMajor } from '../connect/session';
import { errorMessage } from '../core/errors';
import { pinMessagePrefix } from '../core/names';
import { formatLsn, parseLsn } from '../cdc/decode/lsn';
import { ALL_TABLES, type PinnedPosition } from '../cdc/apply/pin';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { recordTableVerification, tableVerifications } from '../control/tableVerification';
import { notStreamedTables } from '../control/sourceTables';
import { readFilterPlan } from '../filter/plan';
import type { MigrationRun } from '../flow/migrationRun';
import { pinStillCurrent } from './pinRecord';
import { parseSnapshot, visibleIn } from './sourcePin';
import { checksum, tableChecksumSql } from '.';

/** Between passes over the tables that need a look. */
const PASS_PAUSE_MS = 2_000;
/** How long the apply may take to reach a boundary and hold (a large source transaction being applied). */
const HOLD_WAIT_MS = 60_000;

/** The snapshot and position, read in the statement that takes the snapshot (REPEATABLE READ: the transaction's). */
const SOURCE_PIN_SQL = `SELECT pg_catalog.txid_current_snapshot()::text AS snapshot, pg_catalog.pg_current_wal_insert_lsn()::text AS lsn`;

/**
 * Transactions the snapshot counts as running that have already committed: one may have been
 * applied before the apply held (its commit was flushed and streamed before it left the source's
 * list of running transactions), and its tables are not known here. The pin is then tried again.
 */
const COMMITTED_RUNNING_SQL = `SELECT count(*)::int AS n FROM pg_catalog.unnest($1::text[]) AS x
  WHERE pg_catalog.txid_status(x::int8) = 'committed'`;

export type PinOutcome = 'verified' | 'inexact' | 'skipped';

export class BackgroundVerification {
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private source: pg.Client | undefined;
  private target: pg.Client | undefined;
  /** Tables found different by this runner: left to the cutover's whole-table verification. */
  private readonly differing = new Set<string>();

  constructor(
    private readonly run: MigrationRun,
    private readonly stream: () => OnlineStream,
  ) {}

  get database(): string {
    return this.stream().database;
  }

  start(): void {
    this.loop = this.passes().catch((error: unknown) => {
      // passes() handles its failures: this is a bug, said rather than hidden (the cutover then verifies whole tables)
      void this.run.warn(`background verification stopped: ${errorMessage(error)}; the cutover verifies every table whole`, this.database);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.closeSessions();
  }

  private async closeSessions(): Promise<void> {
    await Promise.all([closeSession(this.source), closeSession(this.target)]);
    this.source = this.target = undefined;
  }

  /** Verifies each table not verified by this runner yet, or changed wholesale since; then waits and looks again. */
  private async passes(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pass();
      } catch {
        // a server restarting, the stream reconnecting: tried again next pass
        await this.closeSessions();
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, PASS_PAUSE_MS);
      });
    }
  }

  /** The verifier's two sessions (kept from one table to the next). */
  async openSessions(): Promise<void> {
    const { spec } = this.run;
    const database = this.database;
    this.source ??= await openSession(spec.source, { database, purpose: 'verify', writable: true });
    this.target ??= await openSession(spec.target, { database, purpose: 'verify' });
  }

  private async pass(): Promise<void> {
    const { spec, store } = this.run;
    const database = this.database;
    await this.openSessions();
    const skipped = new Set((await notStreamedTables(store, spec.migrationName, [database])).map((t) => t.table));
    // What the filters leave behind, or move without rows (schema-only), is not compared: as at cutover.
    const filter = await readFilterPlan(this.source!, spec);
    const tables = (await listTables(this.source!, await serverMajor(this.source!), filter.leftOut)).filter(
      (t) => !t.unlogged && !skipped.has(t.display) && filter.rowsMove(t.oid),
    );
    for (const table of await this.tablesDue(tables)) {
      if (this.stopped || this.stream().failure) return;
      const outcome = await this.verifyTable(table);
      if (outcome === 'inexact')
        this.run.onProgress({ kind: 'info', database, message: `background verification of ${table.display}: pin inexact, tried again` });
    }
  }

  /**
   * The tables to pin now: those this runner does not track, those changed wholesale since, and
   * those whose record is no longer their pin's (a cutover that stopped on a mismatch recorded how
   * it checked them; the keys tracked since the pin then no longer stand on a record of a match).
   */
  async tablesDue(tables: readonly SourceTable[]): Promise<SourceTable[]> {
    const { spec, store } = this.run;
    const records = new Map((await tableVerifications(store, spec.migrationName, this.database)).map((r) => [r.table, r]));
    const tracker = this.stream().applier.tracker;
    return tables.filter((t) => {
      if (this.differing.has(t.sql)) return false;
      const entry = tracker.entry(t.sql);
      return !pinStillCurrent(entry, records.get(t.display)) || entry.keys === 'all';
    });
  }

  /**
   * The source refused the pin's message (a role without EXECUTE on pg_logical_emit_message): no
   * pin can ever succeed, so rather than failing every pass unseen, the verifier says so once (a
   * warning `show` lists) and stops; the cutover then reads every table whole, as verify: 'full'.
   */
  private refused(error: unknown): never {
    const code = (error as { code?: unknown }).code;
    if (code === '42501' || code === '42883') {
      this.stopped = true;
      void this.run.warn(
        `background verification cannot pin tables on this source: pg_logical_emit_message was refused (${errorMessage(error)}); ` +
          `the cutover reads every table whole, as verify: 'full' does: grant EXECUTE on pg_logical_emit_message to the source user to verify while streaming`,
        this.database,
      );
    }
    throw error;
  }

  /** One table at one pinned position: both sides read there, compared, recorded. */
  async verifyTable(table: SourceTable): Promise<PinOutcome> {
    const source = this.source!;
    const target = this.target!;
    const applier = this.stream().applier;
    const tracker = applier.tracker;
    let position: PinnedPosition | undefined;
    let exact = false;
    await target.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const pin = applier.requestPin(async (inexact) => {
        await target.query('SELECT 1'); // the target's snapshot: everything before the position is committed, nothing after
        exact = !inexact.has(table.sql) && !inexact.has(ALL_TABLES);
        if (exact) tracker.startAt(table.sql, position!.lsn, table.isPartition);
      });
      if (!(await within(pin.held, HOLD_WAIT_MS))) {
        applier.cancelPin(pin);
        return 'skipped';
      }
      try {
        const { rows } = await source.query<{ snapshot: string; lsn: string }>(SOURCE_PIN_SQL);
        const snapshot = parseSnapshot(rows[0]!.snapshot);
        const running = [...snapshot.running].map(String);
        const committed = running.length ? (await source.query<{ n: number }>(COMMITTED_RUNNING_SQL, [running])).rows[0]!.n : 0;
        if (committed > 0) {
          pin.release(undefined);
          return 'inexact';
        }
        // a record past the position, so that an idle source still shows the apply it is passed
        await source
          .query(`SELECT pg_catalog.pg_logical_emit_message(false, $1, '')`, [pinMessagePrefix(this.run.spec.migrationName)])
          .catch((error: unknown) => this.refused(error));
        position = { lsn: parseLsn(rows[0]!.lsn), visible: (xid) => visibleIn(snapshot, xid) };
        pin.release(position);
      } catch (error) {
        pin.release(undefined);
        throw error;
      }
      await pin.done;
      if (!exact) return 'inexact';
      const sql = tableChecksumSql(table.sql);
      const [src, dst] = await Promise.all([checksum(source, sql), checksum(target, sql)]);
      await this.record(table, position.lsn, src, dst);
      return 'verified';
    } finally {
      await Promise.all([source.query('ROLLBACK').catch(() => undefined), target.query('ROLLBACK').catch(() => undefined)]);
    }
  }

  private async record(
    table: SourceTable,
    lsn: bigint,
    src: { rows: number; hash: string },
    dst: { rows: number; hash: string },
  ): Promise<void> {
    const { run } = this;
    const database = this.database;
    const at = formatLsn(lsn);
    let reason: string | undefined;
    if (src.rows !== dst.rows) reason = `row count differs at source position ${at}: source ${src.rows}, target ${dst.rows}`;
    else if (src.hash !== dst.hash) reason = `content checksum differs at source position ${at} (same row count, different values)`;
    await recordTableVerification(run.store, run.spec.migrationName, {
      database,
      table: table.display,
      method: 'background',
      verifiedLsn: at,
      sourceRows: src.rows,
      targetRows: dst.rows,
      matches: reason === undefined,
      reason,
    });
    if (reason === undefined) {
      run.onProgress({ kind: 'info', database, message: `verified ${table.display} while streaming: ${src.rows} rows match at ${at}` });
      return;
    }
    this.stream().applier.tracker.forget(table.sql);
    this.differing.add(table.sql);
    await run.warn(
      `background verification: table ${table.display}: ${reason}; the cutover verifies it whole and stops there if it still differs: ` +
        `find what wrote to the target table outside pgferry (an application, a job, a trigger) and make its rows match the source`,
      database,
    );
  }
}

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
