// The control catalog's record of tables resynchronised while the others stream
// (pgferry.table_resync, control migrations 19 and 30; flow/tableResync.ts carries them out): a request
// from the user (`pgferry update --resync`), or one the table watch records for a table created on
// the source while streaming, before anything is done for it. A request stays pending until its
// copy committed on the target; a runner that dies on the way leaves it to the next one, which
// starts it again (every step is idempotent, and the copy replaces the table's rows whole).
// A table asked for again while its resync runs (the apply met another change it cannot replay,
// after the copy's pin) is counted (`requests`): the resync ends only the requests it read when it
// started, so the later one stays pending and the table is copied again.
import { displayName, ident } from '../connect/quote';
import { CONTROL_SCHEMA, REQUEST_CHANNEL } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.table_resync`;

/**
 * Why a table is resynchronised: the user asked, it was created on the source while streaming, its
 * shape changed in a way the stream cannot order with its rows (cdc/apply/shapeFollow.ts), or a
 * table reported as not streamed may be published now: the source gave it a usable replica
 * identity (cdc/prepare/tableWatch.ts).
 */
export type ResyncReason = 'requested' | 'created' | 'reshaped' | 'keyed';

export interface TableResync {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
  /** schema.name, as the verification names tables. */
  readonly table: string;
  readonly reason: ResyncReason;
  readonly attempts: number;
  /** How many times the table was asked for: the resync that read this count ends the request only if no other came since. */
  readonly requests: number;
  readonly createdOnTarget: boolean;
  readonly doneAt?: Date;
  readonly resyncedLsn?: string;
  readonly rowsCopied?: number;
  readonly error?: string;
}

interface Row {
  database: string;
  schema: string;
  name: string;
  reason: ResyncReason;
  attempts: number;
  requests: number;
  created: boolean;
  done_at: Date | null;
  lsn: string | null;
  rows: string | null;
  error: string | null;
}

const COLUMNS = `database, schema_name AS schema, table_name AS name, reason, attempts, requests, created_on_target AS created, done_at,
  resynced_lsn AS lsn, rows_copied::text AS rows, error`;

function shape(r: Row): TableResync {
  return {
    database: r.database,
    schema: r.schema,
    name: r.name,
    table: displayName(r.schema, r.name),
    reason: r.reason,
    attempts: r.attempts,
    requests: r.requests,
    createdOnTarget: r.created,
    ...(r.done_at ? { doneAt: r.done_at } : {}),
    ...(r.lsn ? { resyncedLsn: r.lsn } : {}),
    ...(r.rows !== null ? { rowsCopied: Number(r.rows) } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
}

/**
 * Records a request (again pending if it was done), and wakes the runner. A request for a table
 * created on the source keeps that reason when the user asks again: the table may still need
 * creating; the table watch's or the apply's request leaves a pending one's reason, time and
 * created_on_target as they are. Every request counts one and starts the attempts afresh, pending
 * or not: a resync under way when it came ends its own requests only (markResyncDone), so this one
 * is carried out after it. One statement: no resync ends the request between the look and the count.
 */
export async function requestTableResync(
  store: CatalogConnection,
  migration: string,
  database: string,
  table: { readonly schema: string; readonly name: string },
  reason: ResyncReason,
): Promise<void> {
  // a pending request asked for again by the table watch or the apply ($5, the reason)
  const kept = `(${T}.done_at IS NULL AND $5 <> 'requested')`;
  await store.query(
    `INSERT INTO ${T} (migration, database, schema_name, table_name, reason) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (migration, database, schema_name, table_name) DO UPDATE
        SET reason = CASE WHEN ${T}.reason = 'created' OR ${kept} THEN ${T}.reason ELSE excluded.reason END,
            requested_at = CASE WHEN ${kept} THEN ${T}.requested_at ELSE now() END,
            requests = ${T}.requests + 1, attempts = 0, done_at = NULL, error = NULL,
            -- the table watch's request: a new table under the name, not made on the target yet
            created_on_target = CASE WHEN $5 = 'created' AND NOT ${kept} THEN false ELSE ${T}.created_on_target END`,
    [migration, database, table.schema, table.name, reason],
  );
  await store.query('SELECT pg_notify($1, $2)', [REQUEST_CHANNEL, migration]);
}

/** The requests not carried out yet, oldest first, of these databases. */
export async function pendingTableResyncs(
  store: CatalogConnection,
  migration: string,
  databases: readonly string[],
): Promise<TableResync[]> {
  const rows = await store.query<Row>(
    `SELECT ${COLUMNS} FROM ${T} WHERE migration = $1 AND database = ANY($2::text[]) AND done_at IS NULL
      ORDER BY requested_at, database, schema_name, table_name`,
    [migration, [...databases]],
  );
  return rows.map(shape);
}

/** Every request of the migration, done or not (`show`, tests). */
export async function tableResyncs(store: CatalogConnection, migration: string): Promise<TableResync[]> {
  const rows = await store.query<Row>(
    `SELECT ${COLUMNS} FROM ${T} WHERE migration = $1 ORDER BY requested_at, database, schema_name, table_name`,
    [migration],
  );
  return rows.map(shape);
}

type Key = Pick<TableResync, 'database' | 'schema' | 'name'>;

/** pgferry created the table on the target for this request (recorded right after the restore). */
export async function markCreatedOnTarget(store: CatalogConnection, migration: string, key: Key): Promise<void> {
  await store.query(
    `UPDATE ${T} SET created_on_target = true WHERE migration = $1 AND database = $2 AND schema_name = $3 AND table_name = $4`,
    [migration, key.database, key.schema, key.name],
  );
}

/**
 * The copy committed at `lsn` (or the request ended without one: `error` says why, and it is not
 * tried again). Ends the request only if it was not asked for again since the resync read it
 * (`requests`): false then, and it stays pending as the later request left it, to run again.
 */
export async function markResyncDone(
  store: CatalogConnection,
  migration: string,
  request: Key & Pick<TableResync, 'requests'>,
  outcome: { readonly lsn?: string; readonly rows?: number; readonly error?: string },
): Promise<boolean> {
  const rows = await store.query(
    `UPDATE ${T} SET done_at = now(), resynced_lsn = $5, rows_copied = $6, error = $7
      WHERE migration = $1 AND database = $2 AND schema_name = $3 AND table_name = $4 AND requests = $8 RETURNING 1`,
    [
      migration,
      request.database,
      request.schema,
      request.name,
      outcome.lsn ?? null,
      outcome.rows ?? null,
      outcome.error ?? null,
      request.requests,
    ],
  );
  return rows.length > 0;
}

/** An attempt failed (it is tried again): counted, with its error. */
export async function markResyncAttempt(store: CatalogConnection, migration: string, key: Key, error: string): Promise<number> {
  const rows = await store.query<{ attempts: number }>(
    `UPDATE ${T} SET attempts = attempts + 1, error = $5
      WHERE migration = $1 AND database = $2 AND schema_name = $3 AND table_name = $4 RETURNING attempts`,
    [migration, key.database, key.schema, key.name, error],
  );
  return rows[0]?.attempts ?? 0;
}

/** A new copy of the database holds every table as it is now: its earlier requests no longer apply. */
export async function clearTableResyncs(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await store.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2`, [migration, database]);
}
