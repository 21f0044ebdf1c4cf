// The writer fences of a cutover, as the footprint ledger records them (control/footprintLedger.ts,
// change writerFence, object '' for the database itself): per database, the value of the source
// database's own default_transaction_read_only before pgferry set it on, recorded before the ALTER
// DATABASE, so a fence is always lifted to exactly what was there, after a crash too. Lifting marks
// it undone; a cut-over database keeps it (kept) so `show` says the fence stays and how to lift it.
// And what a cutover request sets for that cutover alone (migration.cutover_options).
import { ident, literal, qualified } from '../connect/quote';
import { CONTROL_SCHEMA, fenceNamesOf } from '../core/names';
import type { WriterFence } from '../core/model';
import type { CutoverOptions } from '../input/migrationSpec';
import type { CatalogConnection } from './connection';
import {
  changesOf,
  markKept,
  markPendingAgain,
  markUndone,
  noteDetail,
  pendingChanges,
  recordChange,
  type LedgerEntry,
} from './footprintLedger';

const M = `${ident(CONTROL_SCHEMA)}.migration`;
/**
 * Which fence: the source's at a cutover (writerFence), or the target's at a fall-back
 * (targetFence, docs/fallback.md), the same mechanism on the other server.
 */
export type FenceChange = 'writerFence' | 'targetFence';
const CHANGE: FenceChange = 'writerFence';
/** The fence changes the database itself. */
const DATABASE = '';

interface FenceUndo {
  readonly priorSetting: string | null;
  /** The fence created the control schema in the database for its triggers (dropped with them when empty). */
  readonly schemaCreated?: boolean;
}

/** The fence of one database as recorded; `priorSetting` null: the database had no value of its own. */
export interface FenceRecord {
  readonly database: string;
  readonly priorSetting: string | null;
  readonly schemaCreated: boolean;
  readonly kept: boolean;
}

/**
 * Records a fence about to be applied, with the database's value before it. A record still in force
 * keeps its value: it was read before an earlier attempt's fence, which may still be on (a runner
 * killed after the ALTER DATABASE reads pgferry's own `on` now). Returns the record in force.
 */
export async function recordFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  prior: string | null,
  change: FenceChange = CHANGE,
  schemaCreated = false,
): Promise<FenceRecord> {
  return toRecord(await recordChange<FenceUndo>(store, migration, database, change, DATABASE, { priorSetting: prior, schemaCreated }));
}

export async function recordSessionsEnded(
  store: CatalogConnection,
  migration: string,
  database: string,
  ended: number,
  change: FenceChange = CHANGE,
): Promise<void> {
  const fence = (await changesOf<FenceUndo>(store, migration, change)).find((f) => f.database === database);
  const before = typeof fence?.detail.sessionsEnded === 'number' ? fence.detail.sessionsEnded : 0;
  await noteDetail(store, migration, database, change, DATABASE, { sessionsEnded: before + ended });
}

/** The fence in force for a database (on, or kept after its cutover), if any. */
export async function fenceOf(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<FenceRecord | undefined> {
  const fence = (await changesOf<FenceUndo>(store, migration, change)).find((f) => f.database === database && !f.undone);
  return fence && toRecord(fence);
}

/** The fences still to lift in a database (none, or the one). */
export async function pendingFences(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<FenceRecord[]> {
  return (await pendingChanges<FenceUndo>(store, migration, database, change)).map(toRecord);
}

/** The fence is lifted: nothing is left to undo. */
export async function clearFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<void> {
  await markUndone(store, migration, database, change, DATABASE);
}

/** The database was cut over (or fell back): its fence stays on purpose, and no cancel or failure lifts it. */
export async function keepFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<void> {
  await markKept(store, migration, database, change);
}

/** A fall-back makes the old source the primary again: its kept fence is to be lifted (liftWriterFence) after all. */
export async function reclaimFence(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await markPendingAgain(store, migration, database, CHANGE);
}

/** Every fence of a migration in force, for its status (`show`). */
export async function fencesOf(store: CatalogConnection, migration: string): Promise<Map<string, WriterFence>> {
  const fences = (await changesOf<FenceUndo>(store, migration, CHANGE)).filter((f) => !f.undone);
  return new Map(
    fences.map((f) => [
      f.database,
      {
        fencedAt: f.madeAt.toISOString(),
        priorSetting: f.undo.priorSetting ?? undefined,
        sessionsEnded: typeof f.detail.sessionsEnded === 'number' ? f.detail.sessionsEnded : undefined,
        kept: f.kept,
        lift: liftStatement(f.database, f.undo.priorSetting),
        liftInDatabase: liftTriggersStatement(migration, f.database),
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

/**
 * The statement, run in the fenced database itself, that takes the fence's triggers away
 * (switchover/fenceTriggers.ts): its function dropped with the triggers that call it, which are the
 * fence's alone (the function is pgferry's, made for the fence).
 */
export function liftTriggersStatement(migration: string, database: string): string {
  return `DROP FUNCTION IF EXISTS ${qualified(CONTROL_SCHEMA, fenceNamesOf(migration, database).function)}() CASCADE`;
}

/** Both statements of a lift, as told to the user: the database's setting, then its triggers in it. */
export function liftStatements(migration: string, database: string, prior: string | null): string {
  return `${liftStatement(database, prior)}; in ${ident(database)}: ${liftTriggersStatement(migration, database)}`;
}

/** Records what a cutover request sets for that cutover alone. */
export async function recordCutoverOptions(store: CatalogConnection, migration: string, options: CutoverOptions): Promise<void> {
  await store.install(); // the column comes with version 15
  await store.query(`UPDATE ${M} SET cutover_options = $2::jsonb WHERE name = $1`, [migration, JSON.stringify(options)]);
}

/** The cutover request they came with was acted on (completed, or cleared): the spec's values hold again. */
export async function clearCutoverOptions(store: CatalogConnection, migration: string): Promise<void> {
  await store.install(); // the column comes with version 15
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

function toRecord(f: LedgerEntry<FenceUndo>): FenceRecord {
  return { database: f.database, priorSetting: f.undo.priorSetting, schemaCreated: f.undo.schemaCreated === true, kept: f.kept };
}
