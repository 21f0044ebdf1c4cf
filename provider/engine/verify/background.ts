// Verification while changes stream: each table of a database is compared with the target at one
// exact source position, the apply held there for the moment the target's snapshot is taken
// (cdc/pin/pinRequest.ts; why the pair is exact: docs/verification.md). Each result is recorded
// (control/tableVerification.ts), and from then on the apply counts which keys of the table it
// changes (cdc/plan/changeTracker.ts), so the cutover reads again only those. Once a table has
// many changed keys, its pin is moved forward: those keys and its count read again at a new pinned
// position (rollForward), so the cutover's share stays the last seconds' changes. A difference is
// recorded and shown as a warning naming the table (`show`, the events), and the cutover reads that
// table whole: the cutover stays the authority. The stream goes on meanwhile, since a difference
// may be the target's own doing (an ENABLE REPLICA trigger writing a table the source never
// writes, a job on the target) and stopping would only make the source's slot grow; the table is
// not compared again in the background by this runner, so the warning is said once.
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog/introspect';
import { closeSession, openSession, serverMajor, withSession } from '../connect/session';
import { errorMessage } from '../core/errors';
import { formatLsn, parseLsn } from '../core/lsn';
import { ALL_TABLES, type PinnedPosition } from '../cdc/pin/pinRequest';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { recordTableVerification, tableVerifications } from '../control/tableVerification';
import { tableResyncs } from '../control/tableResyncs';
import { notStreamedTables } from '../control/sourceTables';
import { readFilterPlan } from '../filter/plan';
import type { MigrationRun } from '../run/migrationRun';
import { pinStillCurrent } from '../cdc/pin/pinRecord';
import { readPinPosition } from '../cdc/pin/sourcePosition';
import type { TableChanges } from '../cdc/plan/changeTracker';
import type { TargetColumn } from '../cdc/plan/types';
import { checksum, keyedChecksumSql, tableCountSql } from './keyedChecksum';
import { tableChecksumSql, tableColumnsOf } from './verifyTables';

/**
 * Whether the relation a table's name resolves to now is another file than the session's snapshot
 * knew under it (changedSincePin): the table rewritten, or dropped and its name given to a
 * relation the snapshot does not know.
 */
const REWRITTEN_SQL = `
SELECT coalesce((SELECT c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid) FROM pg_catalog.pg_class c WHERE c.oid = r.oid),
                r.oid IS NOT NULL) AS rewritten
  FROM (SELECT pg_catalog.to_regclass($1)::pg_catalog.oid AS oid) AS r`;

/**
 * Whether a table, read in a session's snapshot taken before, changed since in a way that snapshot
 * cannot read through: a statement resolves names and columns through the server's catalog as it is
 * now, and only the rows through the snapshot. A rewrite (ALTER TABLE ... TYPE, TRUNCATE, CLUSTER,
 * VACUUM FULL) is not MVCC-safe, so the old snapshot reads the new file empty; a table replaced by a
 * view of its name reads as the view over tables the snapshot cannot see yet; a column dropped and
 * added again under its name reads as the new, empty column. `table`: quoted and qualified.
 */
export async function changedSincePin(client: pg.Client, table: string): Promise<boolean> {
  if ((await client.query<{ rewritten: boolean }>(REWRITTEN_SQL, [table])).rows[0]?.rewritten === true) return true;
  // the columns as the snapshot knows them, against those a statement sees now: its result's
  // description comes from the catalog as it is now, each with its table and attnum (a column added
  // again under its name has a new one)
  const known = await tableColumnsOf(client, table);
  if (!known) return false;
  const now = await client.query(`SELECT * FROM ONLY ${table} LIMIT 0`);
  const seen = (name: string, relation: number | string, attnum: number) => `${name}:${relation}:${attnum}`;
  return (
    now.fields.map((f) => seen(f.name, f.tableID, f.columnID)).join(',') !==
    known.columns.map((c) => seen(c.name, known.relation, c.attnum)).join(',')
  );
}

/** Between passes over the tables that need a look. */
const PASS_PAUSE_MS = 2_000;
/** Changed keys that move a table's pin forward (rollForward), so the cutover reads at most about this many. */
const ROLL_FORWARD_KEYS = 1_000;
/** At most this often per table: each roll-forward counts the table's rows on both servers. */
const ROLL_FORWARD_EVERY_MS = 20_000;
/**
 * A stream further behind the source's WAL than this is catching up (a backlog after a restart or
 * an outage): the verifier waits. Its reads would take both servers' CPU from the catch-up, a pin
 * would hold the apply, and a runner's first pass reads every table whole (the keys changed since
 * each pin are tracked in memory). Two of the apply's queue budgets: a stream that keeps up stays
 * within a few kilobytes (keepalives move it past WAL that holds nothing for it).
 */
const CATCHING_UP_BYTES = 16n * 1024n * 1024n;
/** How long the apply may take to reach a boundary and hold (a large source transaction being applied). */
const HOLD_WAIT_MS = 60_000;

/**
 * What one pin of a table came to: read and recorded (a match, or a difference warned of); not
 * exact (the apply could not hold at a boundary for it); read but no result (its shape change is
 * still to reach the target, or it changed after the pin); or given up (a stop, a slow hold).
 */
export type PinOutcome = 'verified' | 'inexact' | 'no result' | 'skipped';

/** Why a pin reads no result while a table's shape change is on its way to the target (comparedColumns). */
const SHAPE_PENDING = 'a change of its columns is still to reach the target';

export class BackgroundVerification {
  private stopped = false;
  /** Settles at stop(): a wait for the apply (a pin it has not reached) ends with it. */
  private readonly stopping: Promise<void>;
  private signalStop: () => void = () => undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private source: pg.Client | undefined;
  private target: pg.Client | undefined;
  /** The verifier sessions' backends, so that a stop can cancel a read in flight (cancelReads). */
  private pids: { source: number; target: number } | undefined;
  /** A table is being read on both servers: a whole table's checksum may take seconds. */
  private reading = false;
  /** Tables found different by this runner: left to the cutover's whole-table verification. */
  private readonly differing = new Set<string>();
  /** When each table's pin was last moved forward (rollForward), so a busy table is not counted every pass. */
  private readonly rolledAt = new Map<string, number>();

  constructor(
    private readonly run: MigrationRun,
    private readonly stream: () => OnlineStream,
  ) {
    this.stopping = new Promise((resolve) => (this.signalStop = resolve));
  }

  get database(): string {
    return this.stream().database;
  }

  start(): void {
    this.loop = this.passes().catch((error: unknown) => {
      // passes() handles its failures: this is a bug, said rather than hidden (the cutover then verifies whole tables)
      void this.run.warn(`background verification stopped: ${errorMessage(error)}; the cutover verifies every table whole`, this.database);
    });
  }

  /**
   * Stops the loop, cancelling a read in flight on both servers: the cutover waits for this, and a
   * large table's checksum would otherwise add its seconds to the downtime.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    this.wake?.();
    if (this.reading) await this.cancelReads();
    await this.loop;
    await this.closeSessions();
  }

  private async closeSessions(): Promise<void> {
    await Promise.all([closeSession(this.source), closeSession(this.target)]);
    this.source = this.target = undefined;
    this.pids = undefined;
  }

  /** Cancels the verifier sessions' statements from a session of their own on each server (same user: no privilege needed). */
  private async cancelReads(): Promise<void> {
    const { spec } = this.run;
    const pids = this.pids;
    if (!pids) return;
    const cancel = async (server: typeof spec.source, pid: number) =>
      withSession(server, { database: this.database, purpose: 'verify' }, (c) => c.query('SELECT pg_cancel_backend($1)', [pid])).catch(
        () => undefined, // a server gone: so is the read
      );
    await Promise.all([cancel(spec.source, pids.source), cancel(spec.target, pids.target)]);
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
      if (this.stopped) return; // a stop during the pass woke nothing: do not sleep PASS_PAUSE_MS before seeing it
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
    this.pids ??= { source: await backendPid(this.source), target: await backendPid(this.target) };
  }

  private async pass(): Promise<void> {
    const database = this.database;
    await this.openSessions();
    if (await this.catchingUp()) return;
    const tables = await this.tablesToRead();
    for (const table of await this.tablesDue(tables)) {
      if (this.stopped || this.stream().failure) return;
      const outcome = await this.verifyTable(table);
      if (outcome === 'inexact')
        this.run.onProgress({ kind: 'info', database, message: `background verification of ${table.display}: pin inexact, tried again` });
    }
    for (const table of await this.rollForwardDue(tables)) {
      if (this.stopped || this.stream().failure) return;
      await this.rollForward(table); // an inexact pin is tried again after ROLL_FORWARD_EVERY_MS
    }
  }

  /**
   * Every table pinned once more, now, whatever its changes since its last pin: read whole if its
   * pin no longer stands, else its count and the keys changed since (rollForward). Run by a cutover
   * through a pooler before the PAUSE (switchover/pinBeforePause.ts), the applications still
   * running, so that inside the pause only the keys changed since are left to read. The verifier's
   * loop is not started for it. Returns each table whose new pin matched, with its rows there.
   */
  async pinEveryTable(): Promise<Map<string, PinnedTable>> {
    const { spec, store } = this.run;
    await this.openSessions();
    const tables = await this.tablesToRead();
    const due = new Set((await this.tablesDue(tables)).map((t) => t.sql));
    const pinned = new Map<string, bigint>();
    for (const table of tables) {
      if (this.stopped || this.stream().failure) break;
      const outcome = due.has(table.sql) ? await this.verifyTable(table) : await this.rollForward(table);
      const since = this.stream().applier.tracker.entry(table.sql)?.since;
      if (outcome === 'verified' && since !== undefined) pinned.set(table.sql, since);
    }
    const records = new Map((await tableVerifications(store, spec.migrationName, this.database)).map((r) => [r.table, r]));
    const matched = new Map<string, PinnedTable>();
    for (const table of tables) {
      const entry = this.stream().applier.tracker.entry(table.sql);
      const record = records.get(table.display);
      if (entry?.since === pinned.get(table.sql) && pinStillCurrent(entry, record))
        matched.set(table.sql, { since: entry.since, rows: record!.sourceRows });
    }
    return matched;
  }

  /** The tables a pin may read: streamed, their rows moved by the filters, their copy at a pin done. */
  private async tablesToRead(): Promise<SourceTable[]> {
    const { spec, store } = this.run;
    const database = this.database;
    const skipped = new Set((await notStreamedTables(store, spec.migrationName, [database])).map((t) => t.table));
    // What the filters leave behind, or move without rows (schema-only), is not compared: as at cutover.
    const filter = await readFilterPlan(this.source!, spec);
    // a table whose copy at a pin is still to come (created on the source while streaming, or
    // resynchronised) holds on the target what the copy left there so far, not the source's rows
    const copying = await this.copyPending();
    return (await listTables(this.source!, await serverMajor(this.source!), filter.leftOut)).filter(
      (t) => !t.unlogged && !skipped.has(t.display) && filter.rowsMove(t.oid) && !copying(t, undefined),
    );
  }

  /**
   * Whether a table's own copy at a pin comes after `lsn` (undefined: after now): a request not
   * carried out yet, one under way (the apply skips its changes until its pin), or one copied at a
   * later position. Read at a position before its own copy, a table has on the target what the
   * copy has not filled yet: no difference of anyone's making, so nothing is recorded or warned.
   */
  private async copyPending(): Promise<(table: SourceTable, lsn: bigint | undefined) => boolean> {
    const { spec, store } = this.run;
    const database = this.database;
    const requests = (await tableResyncs(store, spec.migrationName)).filter((r) => r.database === database);
    const resyncing = this.stream().applier.tracker.resyncing;
    return (table, lsn) =>
      resyncing.has(table.sql) ||
      requests.some(
        (r) =>
          r.table === table.display &&
          (r.doneAt === undefined || (lsn !== undefined && r.resyncedLsn !== undefined && parseLsn(r.resyncedLsn) > lsn)),
      );
  }

  /** Whether the stream is more than CATCHING_UP_BYTES behind the source's WAL: then nothing is read this pass. */
  private async catchingUp(): Promise<boolean> {
    const { rows } = await this.source!.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
    const behind = parseLsn(rows[0]!.lsn) - appliedUpTo(this.stream().applier.stats());
    return behind > CATCHING_UP_BYTES;
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

  /** One table at one pinned position: both sides read whole there, compared, recorded. */
  async verifyTable(table: SourceTable): Promise<PinOutcome> {
    const tracker = this.stream().applier.tracker;
    return this.atPin(
      table,
      (lsn) => tracker.startAt(table.sql, lsn, table.isPartition),
      (lsn) => this.readWhole(table, lsn),
    );
  }

  /**
   * Tables whose pinned verification still stands but which the stream changed in many keys since:
   * their pin is moved forward (rollForward) so that the cutover has only the last few keys to read.
   */
  async rollForwardDue(tables: readonly SourceTable[]): Promise<SourceTable[]> {
    const { spec, store } = this.run;
    const records = new Map((await tableVerifications(store, spec.migrationName, this.database)).map((r) => [r.table, r]));
    const tracker = this.stream().applier.tracker;
    const now = Date.now();
    return tables.filter((t) => {
      const entry = tracker.entry(t.sql);
      if (this.differing.has(t.sql) || !pinStillCurrent(entry, records.get(t.display)) || entry.keys === 'all') return false;
      return entry.keys.size >= ROLL_FORWARD_KEYS && now - (this.rolledAt.get(t.sql) ?? 0) >= ROLL_FORWARD_EVERY_MS;
    });
  }

  /**
   * Moves a table's verification to a new pinned position by reading again, there, only the rows of
   * the keys changed since its last one, and its count on both sides: what the cutover would do, done
   * while streaming so the cutover's share stays the changes of its last seconds, whatever the
   * table's size or the hours it streamed. The table is read whole instead if its changes stopped
   * being known by key meanwhile.
   */
  async rollForward(table: SourceTable): Promise<PinOutcome> {
    const tracker = this.stream().applier.tracker;
    const before = tracker.entry(table.sql);
    let changed: TableChanges | undefined;
    this.rolledAt.set(table.sql, Date.now());
    return this.atPin(
      table,
      (lsn) => {
        changed = tracker.entry(table.sql);
        tracker.startAt(table.sql, lsn, table.isPartition);
      },
      async (lsn) => {
        if (!changed || changed !== before || changed.keys === 'all') return this.readWhole(table, lsn);
        return this.readChangedKeys(table, lsn, [...changed.keys], changed.keyColumns ?? []);
      },
    );
  }

  /**
   * Holds the apply at a pinned source position, with both verifier sessions in snapshots of it
   * (docs/verification.md): `onExact` runs while the apply waits there (the change tracking is
   * moved to the position), `read` once the apply goes on, in the same snapshots.
   */
  private async atPin(table: SourceTable, onExact: (lsn: bigint) => void, read: (lsn: bigint) => Promise<boolean>): Promise<PinOutcome> {
    const source = this.source!;
    const target = this.target!;
    const applier = this.stream().applier;
    let position: PinnedPosition | undefined;
    let exact = false;
    await target.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const pin = applier.requestPin(async (inexact) => {
        await target.query('SELECT 1'); // the target's snapshot: everything before the position is committed, nothing after
        exact = !inexact.has(table.sql) && !inexact.has(ALL_TABLES);
        if (exact) onExact(position!.lsn);
      });
      // a stop does not wait for an apply that is slow to hold (a large transaction, a target lock):
      // the cutover waits for this verifier to stop
      if (!(await within(Promise.race([pin.held, this.stopping]), HOLD_WAIT_MS)) || this.stopped) {
        applier.cancelPin(pin);
        return 'skipped';
      }
      try {
        position = await readPinPosition(
          source,
          { server: this.run.spec.source, database: this.database, migration: this.run.spec.migrationName },
          (error) => this.refused(error),
        );
        if (!position) {
          pin.release(undefined);
          return 'inexact';
        }
        pin.release(position);
      } catch (error) {
        pin.release(undefined);
        throw error;
      }
      const reached = pin.done.then(() => true);
      reached.catch(() => undefined); // a rejection after a stop won the race is not lost: the session's end says it
      if (!(await Promise.race([reached, this.stopping.then(() => false)]))) {
        // stopped while the apply had not reached the position: the pin is withdrawn
        applier.cancelPin(pin);
        return 'skipped';
      }
      if (!exact) return 'inexact';
      if (this.stopped) return 'skipped';
      this.reading = true;
      let recorded: boolean;
      try {
        recorded = await read(position.lsn);
      } finally {
        this.reading = false;
      }
      return recorded ? 'verified' : 'no result';
    } finally {
      await Promise.all([source.query('ROLLBACK').catch(() => undefined), target.query('ROLLBACK').catch(() => undefined)]);
    }
  }

  /**
   * The columns a pinned read hashes, in the pin's snapshots: the source's, by name (a column the
   * target alone has, a DBA's, is not the source's to compare); 'shape pending' when the target
   * lacks one of them or holds it as another type: a change of shape the stream follows at the
   * table's next write, or the cutover once drained, is still to come there, and compared now every
   * row would differ. Undefined (the whole row) when either side has no such table: the checksum says so.
   */
  private async comparedColumns(table: SourceTable): Promise<string[] | 'shape pending' | undefined> {
    const [source, target] = await Promise.all([tableColumnsOf(this.source!, table.sql), tableColumnsOf(this.target!, table.sql)]);
    if (!source || !target) return undefined;
    const [onSource, onTarget] = [source.columns, target.columns];
    const same = onSource.every((c) => onTarget.some((t) => t.name === c.name && t.type === c.type));
    return same ? onSource.map((c) => c.name) : 'shape pending';
  }

  private async readWhole(table: SourceTable, lsn: bigint): Promise<boolean> {
    const columns = await this.comparedColumns(table);
    if (columns === 'shape pending') return this.noResult(table, SHAPE_PENDING);
    const sql = tableChecksumSql(table.sql, columns);
    const [src, dst] = await Promise.all([checksum(this.source!, sql), checksum(this.target!, sql)]);
    const at = formatLsn(lsn);
    let reason: string | undefined;
    if (src.rows !== dst.rows) reason = `row count differs at source position ${at}: source ${src.rows}, target ${dst.rows}`;
    else if (src.hash !== dst.hash) reason = `content checksum differs at source position ${at} (same row count, different values)`;
    return this.record(table, lsn, { sourceRows: src.rows, targetRows: dst.rows, reason });
  }

  private async readChangedKeys(table: SourceTable, lsn: bigint, keys: string[], keyColumns: readonly TargetColumn[]): Promise<boolean> {
    const columns = await this.comparedColumns(table);
    if (columns === 'shape pending') return this.noResult(table, SHAPE_PENDING);
    const count = tableCountSql(table.sql);
    const sql = keyedChecksumSql(table.sql, keyColumns, columns);
    const param = [`[${keys.join(',')}]`];
    // no key changed since the last pin (a pin taken before a pooler's pause): the count is all there is to read
    const none = { rows: 0, hash: '' };
    const [src, dst, a, b] = await Promise.all([
      checksum(this.source!, count),
      checksum(this.target!, count),
      keys.length > 0 ? checksum(this.source!, sql, param) : none,
      keys.length > 0 ? checksum(this.target!, sql, param) : none,
    ]);
    const at = formatLsn(lsn);
    let reason: string | undefined;
    if (src.rows !== dst.rows) reason = `row count differs at source position ${at}: source ${src.rows}, target ${dst.rows}`;
    else if (a.rows !== b.rows)
      reason = `rows changed while streaming differ at source position ${at}: source has ${a.rows} of the ${keys.length} key(s) changed, target ${b.rows}`;
    else if (a.hash !== b.hash) reason = `content checksum of the ${keys.length} key(s) changed differs at source position ${at}`;
    return this.record(table, lsn, { sourceRows: src.rows, targetRows: dst.rows, reason, keysChecked: keys.length });
  }

  /** Whether the table changed on either server after the pin's snapshots were taken so that what they read is not a result (changedSincePin). */
  private async changedSincePin(table: SourceTable): Promise<boolean> {
    const [source, target] = await Promise.all([changedSincePin(this.source!, table.sql), changedSincePin(this.target!, table.sql)]);
    return source || target;
  }

  /** A pin that read no result: its change tracking moved to this pin, which records nothing; tried again. */
  private noResult(table: SourceTable, why: string): false {
    // the cutover reads it whole unless a later pin records it (cdc/pin/pinRecord.ts)
    this.stream().applier.tracker.forget(table.sql);
    this.run.onProgress({
      kind: 'info',
      database: this.database,
      message: `background verification of ${table.display}: no result, ${why}; tried again`,
    });
    return false;
  }

  /** Records what a pin read; false when it is not a result (a change since the pin: tried again). */
  private async record(table: SourceTable, lsn: bigint, outcome: ReadOutcome): Promise<boolean> {
    const { run } = this;
    const database = this.database;
    const at = formatLsn(lsn);
    const { reason, keysChecked } = outcome;
    if (reason !== undefined && (await this.changedSincePin(table))) return this.noResult(table, 'it changed after the pin');
    if (reason !== undefined && (await this.copyPending())(table, lsn)) return this.noResult(table, 'its copy at a pin is still to come');
    await recordTableVerification(run.store, run.spec.migrationName, {
      database,
      relation: { schema: table.schema, name: table.name },
      table: table.display,
      method: 'background',
      verifiedLsn: at,
      sourceRows: outcome.sourceRows,
      targetRows: outcome.targetRows,
      ...(keysChecked === undefined ? {} : { keysChecked }),
      matches: reason === undefined,
      reason,
    });
    if (reason === undefined) {
      const how = keysChecked === undefined ? '' : ` (${keysChecked} changed key(s) read again)`;
      run.onProgress({
        kind: 'info',
        database,
        message: `verified ${table.display} while streaming: ${outcome.sourceRows} rows match at ${at}${how}`,
      });
      return true;
    }
    this.stream().applier.tracker.forget(table.sql);
    this.differing.add(table.sql);
    await run.warn(
      `background verification: table ${table.display}: ${reason}; the cutover verifies it whole and stops there if it still differs: ` +
        `find what wrote to the target table outside pgferry (an application, a job, a trigger) and make its rows match the source`,
      database,
    );
    return true;
  }
}

/** A table whose pin matched (pinEveryTable): the source position of the pin and its rows there. */
export interface PinnedTable {
  readonly since: bigint;
  readonly rows: number;
}

/** A table read at a pinned position: its counts on both sides, and why it differs if it does. */
interface ReadOutcome {
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly reason: string | undefined;
  /** Rolled forward: the keys changed since the previous pin that were read again (the rest counted). */
  readonly keysChecked?: number;
}

async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
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
