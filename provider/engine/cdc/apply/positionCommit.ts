// Where the target is in the source's stream, recorded in the same transaction as the changes it
// covers: a replication origin (pg_replication_origin_xact_setup, the native way) or, where the
// target user may not use origins (managed servers), a row in PROGRESS_TABLE. Either way a crash
// leaves data and position consistent: both committed or neither.
//
// The origin needs care. pg_replication_origin_xact_setup only sets a session variable, which the
// next commit of the session writes to the origin, and an abort does not clear it. So once it has
// run, ANY later commit on that connection records the position, even if the transaction holding
// the changes aborted: the implicit transaction that drops the session's temporary tables (the
// apply stages) when the connection ends is one. A runner killed between the setup and COMMIT then
// leaves the origin past a batch that never committed, and the next runner skips that batch (found
// by test/cdc/exactlyOnce). Hence the setup travels in one protocol message with the COMMIT, after
// every deferred constraint was checked (apply transactions defer them all: targetTransaction.ts;
// SET CONSTRAINTS ALL IMMEDIATE checks them, and a failure there ends the message before the
// setup): the server receives both or neither, and nothing that can fail runs between them.
import type pg from 'pg';
import { ident, literal, qualified } from '../../connect/quote';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../../connect/sqlstate';
import { COUNT_TABLE, LANE_TABLE, MAKE_CONTROL_SCHEMA_SQL, PROGRESS_TABLE } from '../../core/names';
import type { RowOp } from '../decode/changeEvents';
import { formatLsn, parseLsn } from '../../core/lsn';
import type { LaneRecord } from '../plan/laneRouter';
import { leaseGuardSql } from './leaseGuard';
import type { PipelinedStatement } from './statementPipeline';

/** Where the target records the applied position: its replication origin, or its row in the progress table. */
export interface PositionKey {
  readonly origin: string;
  readonly migration: string;
  readonly database: string;
}

export interface AppliedPosition {
  readonly mode: 'origin' | 'table';
  /** End LSN of the last source transaction the target committed; 0n when none yet. */
  read(): Promise<bigint>;
  /**
   * The statements that end the open target transaction: record `lsn` (the end of the last source
   * transaction it holds) and the changes it applies (`counts`), and COMMIT. The last one answers COMMIT.
   */
  commitStatements(lsn: bigint, commitTimeMs: number, counts: Readonly<Record<RowOp, number>>): PipelinedStatement[];
  /**
   * Before the connection is given up: ends any open transaction and makes sure no position set
   * for a batch that did not commit can be recorded by a later commit (see the top of this file).
   */
  disarm(): Promise<void>;
}

/** The progress table's quoted name (its drop is the footprint's: footprint/appliedPosition.ts). */
export const PROGRESS_TABLE_SQL = qualified(PROGRESS_TABLE.schema, PROGRESS_TABLE.table);

/** A simple-protocol message of `statements` and COMMIT, which answers it. */
function commitMessage(statements: readonly string[]): PipelinedStatement {
  return { text: [...statements, 'COMMIT'].join('; '), expectCommand: 'COMMIT', commits: true };
}

/** The lease check as the statements of a commit message: none without a lease (leaseGuard.ts). */
function leaseCheck(guard: string | undefined): string[] {
  return guard ? [guard] : [];
}

/** What a way of recording the position gives beyond the commit's statements: how it reads, and what its disarm adds. */
interface RecordingWay {
  readonly mode: AppliedPosition['mode'];
  readonly read: () => Promise<bigint>;
  readonly commitStatements: (lsn: bigint, commitTimeMs: number) => PipelinedStatement[];
  /** Run after the ROLLBACK every disarm begins with. */
  readonly afterRollback?: () => Promise<void>;
}

/** The count table's quoted name (its rows go with the applied position: footprint/appliedPosition.ts). */
export const COUNT_TABLE_SQL = qualified(COUNT_TABLE.schema, COUNT_TABLE.table);

/** The changes a stream has applied on the target, as its sessions' commits counted them. */
export interface AppliedCounts {
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
}

/**
 * The changes a commit applies, added to its session's row of the count table in the transaction
 * that commits them, so the counts and the rows are committed together or not at all, whenever
 * the runner is killed; none when the commit applies no change (a position alone).
 */
function countStatements(origin: string, lane: number, counts: Readonly<Record<RowOp, number>>): PipelinedStatement[] {
  if (counts.insert + counts.update + counts.delete === 0) return [];
  return [
    {
      text: `INSERT INTO ${COUNT_TABLE_SQL} AS c (origin, lane, inserts, updates, deletes) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (origin, lane) DO UPDATE SET inserts = c.inserts + EXCLUDED.inserts, updates = c.updates + EXCLUDED.updates,
         deletes = c.deletes + EXCLUDED.deletes`,
      params: [origin, lane, counts.insert, counts.update, counts.delete],
    },
  ];
}

/** The applied position of one way, recorded on the apply session `client` of the stream `origin` (its lane: 0 for the first session). */
function recorded(client: pg.Client, way: RecordingWay, origin: string, lane = 0): AppliedPosition {
  return {
    mode: way.mode,
    read: way.read,
    commitStatements: (lsn, commitTimeMs, counts) => [...countStatements(origin, lane, counts), ...way.commitStatements(lsn, commitTimeMs)],
    disarm: async () => {
      await client.query('ROLLBACK');
      await way.afterRollback?.();
    },
  };
}

/** The replication origin `key.origin`, already bound to the session `client`. */
function originPosition(client: pg.Client, key: PositionKey, guard: string | undefined): AppliedPosition {
  return recorded(
    client,
    {
      mode: 'origin',
      read: async () => {
        const { rows } = await client.query<{ lsn: string | null }>('SELECT pg_replication_origin_progress($1, true)::text AS lsn', [
          key.origin,
        ]);
        return rows[0]?.lsn ? parseLsn(rows[0].lsn) : 0n;
      },
      commitStatements: (lsn, commitTimeMs) => {
        // One simple-protocol message (see the top of this file), so its values are quoted literals.
        // The lease check comes before the setup: nothing that can fail runs between setup and COMMIT.
        const setup = `SELECT pg_replication_origin_xact_setup(${literal(formatLsn(lsn))}::pg_lsn, ${literal(new Date(commitTimeMs).toISOString())}::timestamptz)`;
        return [commitMessage(['SET CONSTRAINTS ALL IMMEDIATE', ...leaseCheck(guard), setup])];
      },
      // A COMMIT that fails after the setup in its message (only an internal error can, once deferred
      // checks passed) leaves the position set; the commit that drops temporary tables at disconnect
      // would record it. Clearing it closes that last gap while the connection still answers.
      afterRollback: async () => {
        await client.query('SELECT pg_replication_origin_xact_reset()');
      },
    },
    key.origin,
  );
}

/** The row of `key` in the progress table, written in the transaction it records. */
function tablePosition(client: pg.Client, key: PositionKey, guard: string | undefined): AppliedPosition {
  return recorded(
    client,
    {
      mode: 'table',
      read: async () => {
        const { rows } = await client.query<{ lsn: string }>(
          `SELECT lsn::text AS lsn FROM ${PROGRESS_TABLE_SQL} WHERE migration = $1 AND database = $2`,
          [key.migration, key.database],
        );
        return rows[0] ? parseLsn(rows[0].lsn) : 0n;
      },
      commitStatements: (lsn, commitTimeMs) => {
        // the row is part of the transaction: an abort takes it back with the changes
        const record = {
          text: `INSERT INTO ${PROGRESS_TABLE_SQL} (migration, database, lsn, source_commit_at, applied_at) VALUES ($1, $2, $3::pg_lsn, $4::timestamptz, now())
       ON CONFLICT (migration, database) DO UPDATE SET lsn = EXCLUDED.lsn, source_commit_at = EXCLUDED.source_commit_at, applied_at = now()`,
          params: [key.migration, key.database, formatLsn(lsn), new Date(commitTimeMs).toISOString()],
        };
        return [record, commitMessage(leaseCheck(guard))];
      },
    },
    key.origin,
  );
}

/** The lane table's quoted name (its rows go with the applied position: footprint/appliedPosition.ts). */
export const LANE_TABLE_SQL = qualified(LANE_TABLE.schema, LANE_TABLE.table);

/** What a parallel apply session's record names: its lane, and the source transactions (their commit records' positions) of the part of the batch it commits. */
export interface LaneKey {
  readonly lane: number;
  readonly transactions: () => readonly bigint[];
  /** The end of the last batch whose first session's COMMIT has returned: the lane's records up to it prove nothing more. */
  readonly recorded: () => bigint;
}

/**
 * A parallel apply session's record (docs/safety.md#parallel-apply-applysessions-issue-65):
 * committed with its part of a batch, the batch's end and the source transactions of its part, keyed
 * by the stream's origin name, which is new with each instance of the migration, the lane and the
 * batch's end. One row a batch, so a lane's COMMIT never replaces a record that still proves a part
 * of a batch the first session has not committed: the lane need not wait for that COMMIT. The same
 * transaction deletes the lane's rows the applied position already covers.
 */
export function lanePosition(client: pg.Client, key: PositionKey, guard: string | undefined, lane: LaneKey): AppliedPosition {
  return recorded(
    client,
    {
      mode: 'table',
      // a lane reads nothing: the session's start reads every lane's record (readLaneRecords)
      read: () => Promise.resolve(0n),
      commitStatements: (lsn) => {
        const record = {
          text: `INSERT INTO ${LANE_TABLE_SQL} (origin, lane, lsn, transactions) VALUES ($1, $2, $3::pg_lsn, $4::pg_lsn[])
       ON CONFLICT (origin, lane, lsn) DO UPDATE SET transactions = EXCLUDED.transactions`,
          params: [key.origin, lane.lane, formatLsn(lsn), lane.transactions().map(formatLsn)],
        };
        const recorded = lane.recorded();
        // a batch's end is past every position recorded before it; the guard keeps this batch's row whatever
        const covered = {
          text: `DELETE FROM ${LANE_TABLE_SQL} WHERE origin = $1 AND lane = $2 AND lsn <= $3::pg_lsn AND lsn < $4::pg_lsn`,
          params: [key.origin, lane.lane, formatLsn(recorded), formatLsn(lsn)],
        };
        return [record, ...(recorded > 0n ? [covered] : []), commitMessage(['SET CONSTRAINTS ALL IMMEDIATE', ...leaseCheck(guard)])];
      },
    },
    key.origin,
    lane.lane,
  );
}

/**
 * The first session's position under parallel apply: its commit ends every batch, so it must move
 * the origin even when it wrote no row itself, and a transaction without an ID commits no origin.
 */
export function withTransactionId(position: AppliedPosition): AppliedPosition {
  return {
    mode: position.mode,
    read: () => position.read(),
    commitStatements: (lsn, commitTimeMs, counts) => [
      { text: 'SELECT txid_current()' },
      ...position.commitStatements(lsn, commitTimeMs, counts),
    ],
    disarm: () => position.disarm(),
  };
}

/**
 * Makes the lane table (parallel apply only), one row a lane and batch. A table an earlier version
 * made kept one row a lane: its key gains the batch's end (its rows are unique on that too).
 */
export async function createLaneTable(client: pg.Client): Promise<void> {
  await client.query(MAKE_CONTROL_SCHEMA_SQL);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${LANE_TABLE_SQL} (origin text NOT NULL, lane int NOT NULL, lsn pg_lsn NOT NULL,
       transactions pg_lsn[] NOT NULL, PRIMARY KEY (origin, lane, lsn))`,
  );
  const { rows } = await client.query<{ name: string; columns: number }>(
    `SELECT k.conname AS name, cardinality(k.conkey) AS columns FROM pg_constraint k WHERE k.conrelid = $1::regclass AND k.contype = 'p'`,
    [LANE_TABLE_SQL],
  );
  const key = rows[0];
  if (key && key.columns < 3) {
    await client.query(`ALTER TABLE ${LANE_TABLE_SQL} DROP CONSTRAINT ${ident(key.name)}, ADD PRIMARY KEY (origin, lane, lsn)`);
  }
}

/** Every lane's record of this stream; none where no parallel apply ran. */
export async function readLaneRecords(client: pg.Client, origin: string): Promise<LaneRecord[]> {
  const { rows: found } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [LANE_TABLE_SQL]);
  if (!found[0]?.ok) return [];
  const { rows } = await client.query<{ lane: number; lsn: string; transactions: string[] }>(
    `SELECT lane, lsn::text AS lsn, transactions::text[] AS transactions FROM ${LANE_TABLE_SQL} WHERE origin = $1`,
    [origin],
  );
  return rows.map((r) => ({ lane: r.lane, lsn: parseLsn(r.lsn), transactions: r.transactions.map(parseLsn) }));
}

/**
 * Makes the count table (every apply session's first steps: openAppliedPosition), both statements
 * sent at once: on the apply's pipelined session they take one round trip, run in order.
 */
async function createCountTable(client: pg.Client): Promise<void> {
  await Promise.all([
    client.query(MAKE_CONTROL_SCHEMA_SQL),
    client.query(
      `CREATE TABLE IF NOT EXISTS ${COUNT_TABLE_SQL} (origin text NOT NULL, lane int NOT NULL, inserts bigint NOT NULL,
       updates bigint NOT NULL, deletes bigint NOT NULL, PRIMARY KEY (origin, lane))`,
    ),
  ]);
}

/**
 * The origin made if it is missing and bound to the session, in one statement: a refused make ends
 * it before the binding (a session bound to an origin records it at every commit). Volatile, the
 * CTE is run whole before the binding reads its row.
 */
const BIND_ORIGIN_SQL = `WITH made AS (SELECT CASE WHEN pg_replication_origin_oid($1::text) IS NULL THEN pg_replication_origin_create($1::text) END)
SELECT pg_replication_origin_session_setup($1::text) FROM made`;

/**
 * The changes the stream `origin` has applied on the target, read from the count table: what a
 * resumed stream's counters start from. Undefined where no session counted there (a stream an
 * earlier version of pgferry applied).
 */
export async function readAppliedCounts(client: pg.Client, origin: string): Promise<AppliedCounts | undefined> {
  const { rows: found } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [COUNT_TABLE_SQL]);
  if (!found[0]?.ok) return undefined;
  const { rows } = await client.query<{ n: number; inserts: string; updates: string; deletes: string }>(
    `SELECT count(*)::int AS n, coalesce(sum(inserts), 0)::text AS inserts, coalesce(sum(updates), 0)::text AS updates,
            coalesce(sum(deletes), 0)::text AS deletes FROM ${COUNT_TABLE_SQL} WHERE origin = $1`,
    [origin],
  );
  const row = rows[0]!;
  return row.n === 0 ? undefined : { inserts: Number(row.inserts), updates: Number(row.updates), deletes: Number(row.deletes) };
}

async function createTable(client: pg.Client): Promise<void> {
  await client.query(MAKE_CONTROL_SCHEMA_SQL);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE_SQL} (migration text NOT NULL, database text NOT NULL, lsn pg_lsn NOT NULL,
       source_commit_at timestamptz, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (migration, database))`,
  );
}

/**
 * Opens progress tracking on the apply session: the origin when permitted (created if missing and
 * bound to this session), else the table. With `leaseSessionPid` (a runner's), every COMMIT checks
 * that the lease session still holds its lock.
 */
export async function openAppliedPosition(
  client: pg.Client,
  key: PositionKey,
  preferTable = false,
  leaseSessionPid?: number,
): Promise<AppliedPosition> {
  const guard = leaseGuardSql(leaseSessionPid);
  // the table and the origin's binding sent together: one round trip before a resumed stream starts
  const counting = createCountTable(client);
  const binding = preferTable ? undefined : client.query(BIND_ORIGIN_SQL, [key.origin]);
  binding?.catch(() => undefined); // awaited below, after the count table; a rejection is not lost
  await counting;
  if (binding) {
    try {
      await binding;
      return originPosition(client, key, guard);
    } catch (error) {
      if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) throw error;
    }
  }
  await createTable(client);
  return tablePosition(client, key, guard);
}
