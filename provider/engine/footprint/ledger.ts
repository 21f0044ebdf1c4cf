// The footprint ledger (pgferry.footprint, control migration 20): one row per reversible change
// pgferry makes on a server for an online migration and must give back (engine/footprint/), written
// before the change is made, with what undoes it. The one place the footprint is recorded: the
// writer fence (its database's earlier default_transaction_read_only), each target foreign key set
// aside (its definition), each source table set to REPLICA IDENTITY FULL (the identity it had),
// the event trigger of a source database (its names, and whether its schema was made for it), each
// of the pooler's databases paused at a cutover or a fall-back (where its line pointed), the
// target's guard of a held cutover (whether it made the control schema), each target trigger and
// rule switched while streaming (its OID on the target, the state it had), the rows a fall-back
// carried into each old source's table of its window (the table's OID there, the carry's transaction).
// A row is pending until it is undone (undone_at) or kept on purpose (kept_at: a writer fence of a
// database that was cut over). The slot, publication and applied position need no row: their
// names derive from migration.instance.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from '../control/connection';

const T = `${ident(CONTROL_SCHEMA)}.footprint`;

/** The footprint modules that keep rows here (their file names in engine/footprint/). */
export type LedgerChange =
  | 'writerFence'
  | 'poolerPause'
  | 'poolerPauseBack'
  | 'targetGuard'
  | 'targetFence'
  | 'windowCarry'
  | 'targetForeignKeys'
  | 'targetFiring'
  | 'replicaIdentity'
  | 'sourceEventTrigger';

/** One recorded change. `undo` is what gives it back; `detail` what was learned on the way (a report, never needed to undo). */
export interface LedgerEntry<U> {
  readonly change: LedgerChange;
  readonly database: string;
  /** Which object of the database: '' for the database itself, a table's source OID, a quoted constraint name. */
  readonly object: string;
  readonly undo: U;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly madeAt: Date;
  readonly undone: boolean;
  readonly kept: boolean;
}

interface Row {
  change: LedgerChange;
  database: string;
  object: string;
  undo: unknown;
  detail: Record<string, unknown>;
  made_at: Date;
  undone_at: Date | null;
  kept_at: Date | null;
}

const COLUMNS = 'change, database, object, undo, detail, made_at, undone_at, kept_at';

function entryOf<U>(r: Row): LedgerEntry<U> {
  return {
    change: r.change,
    database: r.database,
    object: r.object,
    undo: r.undo as U,
    detail: r.detail,
    madeAt: r.made_at,
    undone: r.undone_at !== null,
    kept: r.kept_at !== null,
  };
}

/** A constraint's (or any schema object's) object key: each name double-quoted, as the migration moving older rows writes it. */
export function objectKey(...names: readonly string[]): string {
  return names.map((n) => `"${n.replaceAll('"', '""')}"`).join('.');
}

/**
 * Records changes about to be made. A row still pending keeps its undo: it was read before an
 * earlier attempt's change, which may still be on the server (a runner killed after the change
 * reads pgferry's own state now); a row already undone is made pending again with the new undo.
 * `replace`: the database was copied anew (a new target database, so what an earlier attempt
 * changed went with it): every row given overwrites its own, and the change's other rows of the
 * database are deleted. Returns the rows in force, in the order given.
 */
export async function recordChanges<U>(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
  entries: readonly { readonly object: string; readonly undo: U }[],
  mode: 'keep' | 'replace' = 'keep',
): Promise<LedgerEntry<U>[]> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: the ledger comes with version 20
  const replace = mode === 'replace';
  // one statement, so a replacement is all or nothing
  const rows = await catalog.query<Row & { ord: number }>(
    `WITH e AS (
       SELECT j->>'object' AS object, j->'undo' AS undo, ord FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS x(j, ord)
     ), gone AS (
       DELETE FROM ${T} f WHERE $5::boolean AND f.migration = $1 AND f.database = $2 AND f.change = $3
          AND NOT EXISTS (SELECT 1 FROM e WHERE e.object = f.object)
     ), upserted AS (
       INSERT INTO ${T} AS f (migration, database, change, object, undo)
       SELECT $1, $2, $3, object, undo FROM e
       ON CONFLICT (migration, database, change, object) DO UPDATE
          SET undo = CASE WHEN f.undone_at IS NULL AND NOT $5::boolean THEN f.undo ELSE excluded.undo END,
              detail = CASE WHEN f.undone_at IS NULL AND NOT $5::boolean THEN f.detail ELSE '{}' END,
              made_at = CASE WHEN f.undone_at IS NULL AND NOT $5::boolean THEN f.made_at ELSE now() END,
              undone_at = NULL, kept_at = CASE WHEN $5::boolean THEN NULL ELSE f.kept_at END
       RETURNING ${COLUMNS}
     )
     SELECT u.*, e.ord FROM upserted u JOIN e USING (object) ORDER BY e.ord`,
    [migration, database, change, JSON.stringify(entries), replace],
  );
  return rows.map((r) => entryOf<U>(r));
}

/** Records one change about to be made (recordChanges, one row). */
export async function recordChange<U>(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
  object: string,
  undo: U,
): Promise<LedgerEntry<U>> {
  const [entry] = await recordChanges(catalog, migration, database, change, [{ object, undo }]);
  return entry!;
}

/** What of a change is still to give back in a database (neither undone nor kept), in object order. */
export async function pendingChanges<U>(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
): Promise<LedgerEntry<U>[]> {
  if (!(await hasLedger(catalog))) return [];
  const rows = await catalog.query<Row>(
    `SELECT ${COLUMNS} FROM ${T} WHERE migration = $1 AND database = $2 AND change = $3 AND undone_at IS NULL AND kept_at IS NULL
      ORDER BY object`,
    [migration, database, change],
  );
  return rows.map((r) => entryOf<U>(r));
}

/**
 * Every row of a change in a migration, undone and kept ones too (`show`, reports); of several
 * changes in one statement, each row naming its change.
 */
export async function changesOf<U>(
  catalog: CatalogConnection,
  migration: string,
  change: LedgerChange | readonly LedgerChange[],
): Promise<LedgerEntry<U>[]> {
  if (!(await hasLedger(catalog))) return [];
  const rows = await catalog.query<Row>(
    `SELECT ${COLUMNS} FROM ${T} WHERE migration = $1 AND change = ANY($2::text[]) ORDER BY database, object`,
    [migration, typeof change === 'string' ? [change] : change],
  );
  return rows.map((r) => entryOf<U>(r));
}

/**
 * One object's change is given back; `detail` is merged into what the row already reports (how it
 * came back). A change kept on purpose is given back only by the user's own command (`pgferry
 * fence lift`, `kept`): it leaves the ledger's kept rows once what it changed is set back.
 */
export async function markUndone(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
  object: string,
  detail: Readonly<Record<string, unknown>> = {},
  kept = false,
): Promise<void> {
  const which = kept ? 'kept_at IS NOT NULL AND undone_at IS NULL' : 'kept_at IS NULL';
  await catalog.query(
    `UPDATE ${T} SET undone_at = now(), detail = detail || $5::jsonb
      WHERE migration = $1 AND database = $2 AND change = $3 AND object = $4 AND ${which}`,
    [migration, database, change, object, JSON.stringify(detail)],
  );
}

/** Adds to what a pending change reports (the sessions a fence ended), without giving it back. */
export async function noteDetail(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
  object: string,
  detail: Readonly<Record<string, unknown>>,
): Promise<void> {
  await catalog.query(
    `UPDATE ${T} SET detail = detail || $5::jsonb WHERE migration = $1 AND database = $2 AND change = $3 AND object = $4`,
    [migration, database, change, object, JSON.stringify(detail)],
  );
}

/**
 * Adds to what a pending row's undo holds, learned while it could not be given back yet: the
 * target's OID of a table whose replica identity a fallback window keeps FULL (replicaIdentity.ts),
 * found by identity from then on.
 */
export async function amendUndo(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
  object: string,
  set: Readonly<Record<string, unknown>>,
): Promise<void> {
  await catalog.query(
    `UPDATE ${T} SET undo = undo || $5::jsonb
      WHERE migration = $1 AND database = $2 AND change = $3 AND object = $4 AND undone_at IS NULL`,
    [migration, database, change, object, JSON.stringify(set)],
  );
}

/** A change of a database that was cut over stays on purpose: no cancel or failure gives it back from here on. */
export async function markKept(catalog: CatalogConnection, migration: string, database: string, change: LedgerChange): Promise<void> {
  if (!(await hasLedger(catalog))) return; // older than version 20 and not installed: nothing was recorded here
  await catalog.query(
    `UPDATE ${T} SET kept_at = coalesce(kept_at, now()) WHERE migration = $1 AND database = $2 AND change = $3 AND undone_at IS NULL`,
    [migration, database, change],
  );
}

/**
 * A change kept on purpose is to be given back after all: the old source's writer fence once a
 * fall-back has made it the primary again (docs/fallback.md). Pending again, so its own undo lifts it.
 */
export async function markPendingAgain(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  change: LedgerChange,
): Promise<void> {
  await catalog.query(`UPDATE ${T} SET kept_at = NULL WHERE migration = $1 AND database = $2 AND change = $3 AND undone_at IS NULL`, [
    migration,
    database,
    change,
  ]);
}

/**
 * Whether the catalog has the ledger (version 20 on); once found it is not looked for again
 * (CatalogConnection.tableExists). A reader (`show`) on a catalog an older pgferry made, not
 * upgraded yet, finds nothing recorded here: the runner that resumes the migration upgrades it,
 * moving the older tables' rows in.
 */
function hasLedger(catalog: CatalogConnection): Promise<boolean> {
  return catalog.tableExists(T);
}
