// The control catalog's record of the foreign keys pgferry drops on a target that cannot apply with
// replica role (pgferry.target_foreign_key; cdc/prepare/targetForeignKeys.ts says why): written before
// the drop, so that no kill can lose a definition, and marked as each is added back.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { ControlStore } from './store';

const T = `${ident(CONTROL_SCHEMA)}.target_foreign_key`;

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

/** How a foreign key came back: as recorded, NOT VALID because rows violate it, or not at all. */
export type ForeignKeyOutcome = 'added' | 'not valid' | 'left out';

/**
 * Records one database's foreign keys, replacing an earlier attempt's: a new copy restored them
 * all into a new target database (schema/database.ts re-creates it), so what an earlier attempt
 * dropped went with the database it dropped them in.
 */
export async function recordForeignKeys(
  store: ControlStore,
  migration: string,
  database: string,
  keys: readonly ForeignKeyRecord[],
  /** 'add': the keys of tables created while streaming, beside the records already there (none deleted). */
  mode: 'replace' | 'add' = 'replace',
): Promise<void> {
  // one statement, so the records are replaced at once: the new ones upserted, the others deleted
  await store.query(
    `WITH k AS (
       SELECT j->>'schema' AS schema_name, j->>'table' AS table_name, j->>'name' AS constraint_name, j->>'definition' AS definition,
              (j->>'validated')::boolean AS validated, ARRAY(SELECT jsonb_array_elements_text(j->'columns')) AS columns,
              j->>'referencedSchema' AS referenced_schema, j->>'referencedTable' AS referenced_table,
              ARRAY(SELECT jsonb_array_elements_text(j->'referencedColumns')) AS referenced_columns, (j->>'matchFull')::boolean AS match_full,
              j->>'comment' AS comment
         FROM jsonb_array_elements($3::jsonb) AS j
     ), upserted AS (
       INSERT INTO ${T} (migration, database, schema_name, table_name, constraint_name, definition, validated, columns,
                         referenced_schema, referenced_table, referenced_columns, match_full, comment)
       SELECT $1, $2, schema_name, table_name, constraint_name, definition, validated, columns,
              referenced_schema, referenced_table, referenced_columns, match_full, comment FROM k
       ON CONFLICT (migration, database, schema_name, table_name, constraint_name) DO UPDATE
          SET definition = excluded.definition, validated = excluded.validated, columns = excluded.columns,
              referenced_schema = excluded.referenced_schema, referenced_table = excluded.referenced_table,
              referenced_columns = excluded.referenced_columns, match_full = excluded.match_full, comment = excluded.comment,
              recorded_at = now(), restored_at = NULL, outcome = NULL, violating_rows = NULL, detail = NULL
     )
     DELETE FROM ${T} t WHERE t.migration = $1 AND t.database = $2 AND $4::boolean
        AND NOT EXISTS (SELECT 1 FROM k WHERE (k.schema_name, k.table_name, k.constraint_name) = (t.schema_name, t.table_name, t.constraint_name))`,
    [migration, database, JSON.stringify(keys), mode === 'replace'],
  );
}

/** The foreign keys of a database not added back yet, in a stable order. */
export async function pendingForeignKeys(store: ControlStore, migration: string, database: string): Promise<ForeignKeyRecord[]> {
  const rows = await store.query<ForeignKeyRow>(
    `SELECT schema_name AS schema, table_name AS table, constraint_name AS name, definition, validated, columns,
            referenced_schema, referenced_table, referenced_columns, match_full, comment
       FROM ${T} WHERE migration = $1 AND database = $2 AND restored_at IS NULL
      ORDER BY schema_name, table_name, constraint_name`,
    [migration, database],
  );
  return rows.map(foreignKeyRecordOf);
}

/** The foreign keys that could not be added back (their rows violate them and the target refuses NOT VALID): reported, left out. */
export async function leftOutForeignKeys(
  store: ControlStore,
  migration: string,
  database: string,
): Promise<{ schema: string; table: string; name: string }[]> {
  return store.query<{ schema: string; table: string; name: string }>(
    `SELECT schema_name AS schema, table_name AS table, constraint_name AS name
       FROM ${T} WHERE migration = $1 AND database = $2 AND outcome = 'left out'`,
    [migration, database],
  );
}

/** Marks a foreign key as dealt with: how it came back, how many rows violate it, and why (a refusal's message). */
export async function markForeignKeyRestored(
  store: ControlStore,
  migration: string,
  database: string,
  key: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>,
  result: { outcome: ForeignKeyOutcome; violatingRows?: number; detail?: string },
): Promise<void> {
  await store.query(
    `UPDATE ${T} SET restored_at = now(), outcome = $6, violating_rows = $7::bigint, detail = $8
      WHERE migration = $1 AND database = $2 AND schema_name = $3 AND table_name = $4 AND constraint_name = $5`,
    [migration, database, key.schema, key.table, key.name, result.outcome, result.violatingRows ?? null, result.detail ?? null],
  );
}
