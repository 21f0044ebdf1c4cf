// The foreign keys pgferry drops on a target that cannot apply with replica role
// (footprint/targetForeignKeys.ts says why), as the footprint ledger records them
// (control/footprintLedger.ts, change targetForeignKeys, object "schema"."table"."name"): written
// before the drop, so that no kill can lose a definition, and marked undone as each is added back,
// with how it came back (its outcome) in the row's detail.
import type { CatalogConnection } from './connection';
import { changesOf, markUndone, objectKey, pendingChanges, recordChanges } from './footprintLedger';

const CHANGE = 'targetForeignKeys';

/** A foreign key as the target had it once the copy was done. */
export interface ForeignKeyRecord {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  /** pg_get_constraintdef with search_path empty: every name schema-qualified; ends in NOT VALID when not validated. */
  readonly definition: string;
  readonly validated: boolean;
  readonly columns: readonly string[];
  readonly referencedSchema: string;
  readonly referencedTable: string;
  readonly referencedColumns: readonly string[];
  /** MATCH FULL (else MATCH SIMPLE: a row with a NULL in the key is not checked). */
  readonly matchFull: boolean;
  /** Its COMMENT, set again when it is added back (dropping a key drops its comment). */
  readonly comment?: string | null;
}

/** A foreign key as SQL reads it, from the target's catalog or from this record. */
export interface ForeignKeyRow {
  schema: string;
  table: string;
  name: string;
  definition: string;
  validated: boolean;
  columns: string[];
  referenced_schema: string;
  referenced_table: string;
  referenced_columns: string[];
  match_full: boolean;
  comment: string | null;
}

export function foreignKeyRecordOf(r: ForeignKeyRow): ForeignKeyRecord {
  return {
    schema: r.schema,
    table: r.table,
    name: r.name,
    definition: r.definition,
    validated: r.validated,
    columns: r.columns,
    referencedSchema: r.referenced_schema,
    referencedTable: r.referenced_table,
    referencedColumns: r.referenced_columns,
    matchFull: r.match_full,
    comment: r.comment,
  };
}

/**
 * How a foreign key came back: as recorded, NOT VALID because rows violate it, or not at all; or
 * not to come back, the source having dropped it while changes streamed.
 */
export type ForeignKeyOutcome = 'added' | 'not valid' | 'left out' | 'dropped on the source';

/**
 * Records one database's foreign keys, replacing an earlier attempt's: a new copy restored them
 * all into a new target database (schema/database.ts re-creates it), so what an earlier attempt
 * dropped went with the database it dropped them in.
 */
export async function recordForeignKeys(
  store: CatalogConnection,
  migration: string,
  database: string,
  keys: readonly ForeignKeyRecord[],
  /** 'add': the keys of tables created while streaming, beside the records already there (none deleted). */
  mode: 'replace' | 'add' = 'replace',
): Promise<void> {
  const entries = keys.map((key) => ({ object: keyOf(key), undo: { ...key, comment: key.comment ?? null } }));
  await recordChanges<ForeignKeyRecord>(store, migration, database, CHANGE, entries, mode === 'replace' ? 'replace' : 'keep');
}

function keyOf(key: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>): string {
  return objectKey(key.schema, key.table, key.name);
}

/** The foreign keys of a database not added back yet, in a stable order. */
export async function pendingForeignKeys(store: CatalogConnection, migration: string, database: string): Promise<ForeignKeyRecord[]> {
  return (await pendingChanges<ForeignKeyRecord>(store, migration, database, CHANGE)).map((e) => e.undo);
}

/** The foreign keys that could not be added back (their rows violate them and the target refuses NOT VALID): reported, left out. */
export async function leftOutForeignKeys(
  store: CatalogConnection,
  migration: string,
  database: string,
): Promise<{ schema: string; table: string; name: string }[]> {
  return (await changesOf<ForeignKeyRecord>(store, migration, CHANGE))
    .filter((e) => e.database === database && e.undone && e.detail.outcome === 'left out')
    .map(({ undo }) => ({ schema: undo.schema, table: undo.table, name: undo.name }));
}

/** Marks a foreign key as dealt with: how it came back, how many rows violate it, and why (a refusal's message). */
export async function markForeignKeyRestored(
  store: CatalogConnection,
  migration: string,
  database: string,
  key: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>,
  result: { outcome: ForeignKeyOutcome; violatingRows?: number; detail?: string },
): Promise<void> {
  await markUndone(store, migration, database, CHANGE, keyOf(key), result);
}
