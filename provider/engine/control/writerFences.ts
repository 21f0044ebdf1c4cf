// The control catalog's record of the writer fences of a cutover (pgferry.writer_fence): per
// database, the value of the source database's own default_transaction_read_only before pgferry
// set it on, recorded before the ALTER DATABASE, so a fence is always lifted to exactly what was
// there, after a crash too. A row exists while a fence may be on the source; lifting deletes it,
// a cut-over database keeps it (kept_at) so `show` says the fence stays and how to lift it.
import { ident, literal } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { WriterFence } from '../core/model';
import type { CutoverOptions } from '../input/migrationSpec';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.writer_fence`;
const M = `${ident(CONTROL_SCHEMA)}.migration`;

interface FenceRow {
  database: string;
  prior_setting: string | null;
  fenced_at: Date;
  sessions_ended: number | null;
  kept_at: Date | null;
}

/** The fence of one database as recorded; `priorSetting` null: the database had no value of its own. */
export interface FenceRecord {
  readonly database: string;
  readonly priorSetting: string | null;
  readonly kept: boolean;
}

/**
 * Records a fence about to be applied, with the database's value before it. An existing record
 * keeps its value: it was read before an earlier attempt's fence, which may still be on (a runner
 * killed after the ALTER DATABASE reads pgferry's own `on` now). Returns the record in force.
 */
export async function recordFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  prior: string | null,
): Promise<FenceRecord> {
  await store.install(); // a runner resumed on a catalog an older pgferry made: the table comes with version 15
  const rows = await store.query<FenceRow>(
    `INSERT INTO ${T} (migration, database, prior_setting) VALUES ($1, $2, $3)
     ON CONFLICT (migration, database) DO UPDATE SET prior_setting = ${T}.prior_setting
     RETURNING database, prior_setting, fenced_at, sessions_ended, kept_at`,
    [migration, database, prior],
  );
  return toRecord(rows[0]!);
}

export async function recordSessionsEnded(store: CatalogConnection, migration: string, database: string, ended: number): Promise<void> {
  await store.query(`UPDATE ${T} SET sessions_ended = coalesce(sessions_ended, 0) + $3 WHERE migration = $1 AND database = $2`, [
    migration,
    database,
    ended,
  ]);
}

/** The fence recorded for a database, if any (undefined on a catalog older than version 15: it had none). */
export async function fenceOf(store: CatalogConnection, migration: string, database: string): Promise<FenceRecord | undefined> {
  if (!(await hasFenceTable(store))) return undefined;
  const rows = await store.query<FenceRow>(
    `SELECT database, prior_setting, fenced_at, sessions_ended, kept_at FROM ${T} WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  return rows[0] && toRecord(rows[0]);
}

/** The fence is lifted on the source: nothing is left to undo. */
export async function clearFence(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await store.query(`DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND kept_at IS NULL`, [migration, database]);
}

/** The database was cut over: its fence stays on the source on purpose, and no cancel or failure lifts it. */
export async function keepFence(store: CatalogConnection, migration: string, database: string): Promise<void> {
  if (!(await hasFenceTable(store))) return; // older than version 15: nothing was fenced
  await store.query(`UPDATE ${T} SET kept_at = coalesce(kept_at, now()) WHERE migration = $1 AND database = $2`, [migration, database]);
}

/** Every fence of a migration, for its status (`show`); empty on a catalog older than version 15. */
export async function fencesOf(store: CatalogConnection, migration: string): Promise<Map<string, WriterFence>> {
  if (!(await hasFenceTable(store))) return new Map();
  const rows = await store.query<FenceRow>(
    `SELECT database, prior_setting, fenced_at, sessions_ended, kept_at FROM ${T} WHERE migration = $1`,
    [migration],
  );
  return new Map(
    rows.map((r) => [
      r.database,
      {
        fencedAt: r.fenced_at.toISOString(),
        priorSetting: r.prior_setting ?? undefined,
        sessionsEnded: r.sessions_ended ?? undefined,
        kept: r.kept_at !== null,
        lift: liftStatement(r.database, r.prior_setting),
      },
    ]),
  );
}

/** The statement that sets a database's default_transaction_read_only back to what it was before the fence. */
export function liftStatement(database: string, prior: string | null): string {
  return prior === null
    ? `ALTER DATABASE ${ident(database)} RESET default_transaction_read_only`
    : `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = ${literal(prior)}`;
}

/** Records what a cutover request sets for that cutover alone. */
export async function recordCutoverOptions(store: CatalogConnection, migration: string, options: CutoverOptions): Promise<void> {
  await store.install(); // the column comes with version 15
  await store.query(`UPDATE ${M} SET cutover_options = $2::jsonb WHERE name = $1`, [migration, JSON.stringify(options)]);
}

/** The cutover request they came with was acted on (completed, or cleared): the spec's values hold again. */
export async function clearCutoverOptions(store: CatalogConnection, migration: string): Promise<void> {
  if (!(await hasFenceTable(store))) return; // older than version 15: there are none
  await store.query(`UPDATE ${M} SET cutover_options = NULL WHERE name = $1`, [migration]);
}

/** What the pending cutover request set for that cutover alone (empty: the spec's values hold). */
export async function cutoverOptionsOf(store: CatalogConnection, migration: string): Promise<CutoverOptions> {
  const rows = await store.query<{ o: CutoverOptions | null }>(`SELECT to_jsonb(m) -> 'cutover_options' AS o FROM ${M} m WHERE name = $1`, [
    migration,
  ]);
  const options = rows[0]?.o;
  return options && typeof options === 'object' ? options : {};
}

function toRecord(r: FenceRow): FenceRecord {
  return { database: r.database, priorSetting: r.prior_setting, kept: r.kept_at !== null };
}

const tables = new WeakMap<CatalogConnection, boolean>();

/** Whether the catalog has the table (version 15 on); once found it stays. */
async function hasFenceTable(store: CatalogConnection): Promise<boolean> {
  if (tables.get(store)) return true;
  const [row] = await store.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [T]);
  if (row?.ok) tables.set(store, true);
  return row?.ok === true;
}
