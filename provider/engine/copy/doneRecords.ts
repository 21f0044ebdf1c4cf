// The copy's ledger in each target database (pgferry.copy_done, pgferry.copy_epoch): what makes a
// copy item exactly-once. An item's rows and its done-record commit in ONE target transaction, and
// that transaction first checks, on the epoch row, that the claim it was copied under is still the
// latest: a worker that lost its claim (a newer epoch was raised) rolls its rows back. The done
// table's key makes a second commit of one item impossible whatever the epochs say.
import type pg from 'pg';
import { qualified, ident } from '../connect/quote';
import { UNDEFINED_TABLE, sqlState } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import { COPY_LEDGER, MAKE_CONTROL_SCHEMA_SQL } from '../core/names';
import { inTransaction } from '../connect/transaction';

const DONE = qualified(COPY_LEDGER.schema, COPY_LEDGER.done);
const EPOCH = qualified(COPY_LEDGER.schema, COPY_LEDGER.epoch);

export interface DoneRecord {
  readonly item: string;
  readonly epoch: number;
  readonly rows: number;
  readonly bytes: number;
}

/** Creates the ledger's tables in the target database (idempotent). */
export async function createLedger(target: pg.Client): Promise<void> {
  await target.query(MAKE_CONTROL_SCHEMA_SQL);
  // a copy started by a version that called this table copy_fence resumes on the same rows
  const { rows } = await target.query<{ old: boolean }>('SELECT to_regclass($1) IS NULL AND to_regclass($2) IS NOT NULL AS old', [
    EPOCH,
    qualified(COPY_LEDGER.schema, COPY_LEDGER.formerEpoch),
  ]);
  if (rows[0]?.old)
    await target.query(`ALTER TABLE ${qualified(COPY_LEDGER.schema, COPY_LEDGER.formerEpoch)} RENAME TO ${ident(COPY_LEDGER.epoch)}`);
  await target.query(
    `CREATE TABLE IF NOT EXISTS ${EPOCH} (migration text NOT NULL, item text NOT NULL, epoch bigint NOT NULL, PRIMARY KEY (migration, item))`,
  );
  await target.query(
    `CREATE TABLE IF NOT EXISTS ${DONE} (migration text NOT NULL, item text NOT NULL, epoch bigint NOT NULL,
       rows bigint NOT NULL, bytes bigint NOT NULL, done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (migration, item))`,
  );
}

/**
 * Ends the copy sessions an earlier run left in this target database (a killed runner whose
 * connections the server has not noticed closing yet): they hold no right to commit (their epoch is old),
 * but their open COPY holds locks a resumed copy would wait for. Only the caller holding the
 * migration's lease may do this; it names sessions by pgferry's own application_name.
 */
export async function endEarlierCopySessions(target: pg.Client): Promise<number> {
  const { rows } = await target.query<{ ended: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS ended FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ANY($1::text[])`,
    [['pgferry copy', 'pgferry index']],
  );
  return rows[0]?.ended ?? 0;
}

/** The done-records of a migration in this target database; empty when the ledger is not there. */
export async function readDoneRecords(target: pg.Client, migration: string): Promise<Map<string, DoneRecord>> {
  try {
    const { rows } = await target.query<{ item: string; epoch: string; rows: string; bytes: string }>(
      `SELECT item, epoch, rows, bytes FROM ${DONE} WHERE migration = $1`,
      [migration],
    );
    return new Map(rows.map((r) => [r.item, { item: r.item, epoch: Number(r.epoch), rows: Number(r.rows), bytes: Number(r.bytes) }]));
  } catch (error) {
    if (sqlState(error) === UNDEFINED_TABLE) return new Map();
    throw error;
  }
}

/**
 * Raises an item's epoch row to a new claim's epoch, before its copy starts: from then on a commit under
 * an older epoch fails. Waits only while an older claimant is committing (it holds the epoch row for
 * its last statements), and then finds the item done (doneRecordOf).
 */
export async function raiseEpoch(target: pg.Client, migration: string, item: string, epoch: number): Promise<void> {
  await target.query(
    `INSERT INTO ${EPOCH} (migration, item, epoch) VALUES ($1, $2, $3)
     ON CONFLICT (migration, item) DO UPDATE SET epoch = excluded.epoch WHERE ${EPOCH}.epoch < excluded.epoch`,
    [migration, item, epoch],
  );
}

export async function doneRecordOf(target: pg.Client, migration: string, item: string): Promise<DoneRecord | undefined> {
  const { rows } = await target.query<{ epoch: string; rows: string; bytes: string }>(
    `SELECT epoch, rows, bytes FROM ${DONE} WHERE migration = $1 AND item = $2`,
    [migration, item],
  );
  const r = rows[0];
  return r ? { item, epoch: Number(r.epoch), rows: Number(r.rows), bytes: Number(r.bytes) } : undefined;
}

/**
 * Inside the item's transaction, just before COMMIT: the epoch row must still carry this claim's epoch
 * (the UPDATE holds its row until COMMIT, so no newer claim can slip in between), then the
 * done-record. Either failing rolls the item's rows back with it.
 */
export async function recordItemDone(target: pg.Client, migration: string, done: DoneRecord): Promise<void> {
  const current = await target.query(`UPDATE ${EPOCH} SET epoch = epoch WHERE migration = $1 AND item = $2 AND epoch = $3`, [
    migration,
    done.item,
    done.epoch,
  ]);
  if (current.rowCount !== 1) {
    throw new PgferryError(
      'COPY_CLAIM_LOST',
      `copy item ${done.item}: its claim (epoch ${done.epoch}) was taken over; its rows were not committed`,
      {
        category: 'target',
      },
    );
  }
  await target.query(`INSERT INTO ${DONE} (migration, item, epoch, rows, bytes) VALUES ($1, $2, $3, $4, $5)`, [
    migration,
    done.item,
    done.epoch,
    done.rows,
    done.bytes,
  ]);
}

/** Empties tables to copy again and forgets their items' done-records, in one transaction. */
export async function forgetTables(
  target: pg.Client,
  migration: string,
  tables: readonly { sql: string; items: readonly string[] }[],
): Promise<void> {
  if (tables.length === 0) return;
  await inTransaction(target, async () => {
    for (const table of tables) await target.query(`TRUNCATE ONLY ${table.sql}`);
    await target.query(`DELETE FROM ${DONE} WHERE migration = $1 AND item = ANY($2::text[])`, [migration, tables.flatMap((t) => t.items)]);
  });
}

/** Drops the ledger once the copy is past resuming inside (its schema is the footprint's to drop: footprint/controlSchema.ts). */
export async function dropLedger(target: pg.Client): Promise<void> {
  await target.query(`DROP TABLE IF EXISTS ${DONE}, ${EPOCH}, ${qualified(COPY_LEDGER.schema, COPY_LEDGER.formerEpoch)}`);
}

/** An index pgferry built, recorded in the build's own transaction (so a resume does not build it twice). */
export async function recordIndexDone(target: pg.Client, migration: string, indexOid: string): Promise<void> {
  await target.query(`INSERT INTO ${DONE} (migration, item, epoch, rows, bytes) VALUES ($1, $2, 0, 0, 0) ON CONFLICT DO NOTHING`, [
    migration,
    indexItem(indexOid),
  ]);
}

/** The done-record key of an index build. */
export function indexItem(indexOid: string): string {
  return `index/${indexOid}`;
}
