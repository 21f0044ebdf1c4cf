// Foreign keys on a target that cannot apply with replica role. Under session_replication_role =
// replica PostgreSQL skips the triggers that check and act for foreign keys (as its own apply
// worker does): the source checked its rows, and the stream brings every row its referential
// actions changed. Without that role the target checks and acts on its own, and fails where the
// source did not: a source whose DBA deleted parent rows under replica role (a usual bulk fix)
// holds child rows that reference nothing, and the first streamed change of such a child fails
// on the target ("violates foreign key constraint"), failing the migration. So on such a target
// pgferry drops the foreign keys once the copy is done, and adds them back when nothing streams
// any more (cutover, cancel, failure):
// * Recorded first (in the footprint ledger: pg_get_constraintdef as the target has it), then
//   dropped one by one: a kill between the two leaves a recorded key that still exists, which the
//   restore skips; a kill before the database is recorded as streaming copies it again into a new
//   target database (flow/online.ts), which records again.
// * Added back as recorded, validated in the same statement as pg_restore builds it (one scan,
//   and the clones a reference to a partitioned table makes are validated too, as the source's
//   are; VALIDATE CONSTRAINT leaves those clones marked not validated). Where rows violate it
//   (the source holds them as well) it is added NOT VALID instead and reported with how many rows
//   violate it and the server's own example, without failing the cutover; where PostgreSQL
//   refuses NOT VALID (a partitioned referencing table, before PostgreSQL 18) it is left out and
//   reported, its definition kept in the catalog.
// * Idempotent: a key that exists is not added again (one a killed restore left NOT VALID is
//   validated again), and each is marked as dealt with, so a resumed cutover carries on.
// Only a table's own foreign keys are dropped and added back (conparentid = 0): the clones on a
// partitioned table's partitions, and those a reference to a partitioned table makes, go and come
// back with them. The control catalog's own keys (in the maintenance database) are never touched.
//
// This file holds the change whole, as a reversible change of the footprint: its ledger rows, the
// drop and the adding back at release.
import type pg from 'pg';
import { displayIdent, displayName, ident, literal, qualified } from '../connect/quote';
import { withSession } from '../connect/session';
import { isRetryable, sqlState } from '../connect/sqlstate';
import { errorMessage } from '../core/errors';
import { failpoint } from '../util/failpoints';
import type { MigrationRun } from '../run/migrationRun';
import { CONTROL_SCHEMA } from '../core/names';
import { ownerRightsRefusal } from '../schema/ownerAccess';
import type { CatalogConnection } from '../control/connection';
import type { ReversibleChange } from './change';
import { changesOf, markUndone, objectKey, pendingChanges, recordChanges } from './ledger';

// The keys as the footprint ledger records them (change targetForeignKeys, object
// "schema"."table"."name"): written before the drop, so that no kill can lose a definition, and
// marked undone as each is added back, with how it came back (its outcome) in the row's detail.
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
interface ForeignKeyRow {
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

function foreignKeyRecordOf(r: ForeignKeyRow): ForeignKeyRecord {
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
async function recordForeignKeys(
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

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Foreign keys of user tables, with what adding one back and counting its violations needs. The
 * session's empty search_path makes pg_get_constraintdef qualify the referenced table.
 */
const FOREIGN_KEYS_SQL = `
SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS definition,
       k.convalidated AS validated,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, i)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.i)::text[] AS columns,
       rn.nspname AS referenced_schema, r.relname AS referenced_table,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, i)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.i)::text[] AS referenced_columns,
       k.confmatchtype = 'f' AS match_full, obj_description(k.oid, 'pg_constraint') AS comment
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = k.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE k.contype = 'f' AND k.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname !~ '^pg_toast'
 ORDER BY 1, 2, 3`;

/** A table's own foreign key of that name, and whether it is validated. */
const EXISTING_KEY_SQL = `
SELECT k.convalidated AS validated
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3 AND k.contype = 'f' AND k.conparentid = 0`;

const PARTITIONED_SQL = `
SELECT c.relkind = 'p' AS partitioned FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2`;

/** What holding and restoring foreign keys needs of a migration (a running one, or a cancel without its runner). */
export type ForeignKeyContext = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'onProgress'>;

/** The foreign keys of the database `client` is connected to: the target's, or the source's for a key created there while streaming. */
async function readForeignKeys(client: pg.Client): Promise<ForeignKeyRecord[]> {
  const { rows } = await client.query<ForeignKeyRow>(FOREIGN_KEYS_SQL, [CONTROL_SCHEMA]);
  return rows.map(foreignKeyRecordOf);
}

/** Records the foreign keys of the target database `client` is connected to, before they are dropped; returns them. */
async function recordTargetForeignKeys(
  run: ForeignKeyContext,
  client: pg.Client,
  database: string,
  mode: 'replace' | 'add' = 'replace',
): Promise<ForeignKeyRecord[]> {
  const keys = await readForeignKeys(client);
  await recordForeignKeys(run.store, run.spec.migrationName, database, keys, mode);
  return keys;
}

/**
 * Records, then drops, the foreign keys of the target database `client` is connected to (see the
 * top of this file); returns how many. Called once the copy is done, before changes stream.
 * `add`: the records of keys dropped already are kept (the forward stream made again after a
 * fall-back, which a killed runner does twice: the second time reads no key it dropped the first).
 */
export async function setAsideForeignKeys(
  run: ForeignKeyContext,
  client: pg.Client,
  database: string,
  mode: 'replace' | 'add' = 'replace',
): Promise<number> {
  const keys = await recordTargetForeignKeys(run, client, database, mode);
  failpoint(`foreign-keys-recorded:${database}`);
  // Not ONLY: a partitioned table's key must go with its clones; a key of an inheritance parent is
  // never inherited, so no child loses one.
  for (const key of keys) await client.query(`ALTER TABLE ${qualified(key.schema, key.table)} DROP CONSTRAINT ${ident(key.name)}`);
  return keys.length;
}

/**
 * The same for tables created on the target while streaming (flow/tableResync.ts): their own
 * foreign keys recorded beside those held since the copy, then dropped; added back with them.
 */
export async function holdForeignKeysOf(
  run: ForeignKeyContext,
  client: pg.Client,
  database: string,
  tables: readonly { readonly schema: string; readonly name: string }[],
): Promise<number> {
  const names = new Set(tables.map((t) => `${t.schema}\0${t.name}`));
  const keys = (await readForeignKeys(client)).filter((k) => names.has(`${k.schema}\0${k.table}`));
  if (keys.length === 0) return 0;
  await recordForeignKeys(run.store, run.spec.migrationName, database, keys, 'add');
  for (const key of keys) await client.query(`ALTER TABLE ${qualified(key.schema, key.table)} DROP CONSTRAINT ${ident(key.name)}`);
  return keys.length;
}

/** The tables of these names the database `client` is connected to has, as `schema\0table`. */
async function existingTables(client: pg.Client, tables: readonly { schema: string; table: string }[]): Promise<Set<string>> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  return new Set(rows.map((r) => `${r.schema}\0${r.table}`));
}

const sameKey = (a: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>, b: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>) =>
  a.schema === b.schema && a.table === b.table && a.name === b.name;

/**
 * A foreign key created on the source while changes stream, for a target that applies without
 * replica role: recorded from the source's catalog beside the keys set aside since the copy (its
 * definition as the source prints it with search_path empty, as the target's would read), so the
 * release adds it with them, never while streaming. False when the source no longer has it.
 */
export async function setAsideSourceForeignKey(
  run: ForeignKeyContext,
  source: pg.Client,
  database: string,
  key: Pick<ForeignKeyRecord, 'schema' | 'table' | 'name'>,
): Promise<boolean> {
  const found = (await readForeignKeys(source)).find((k) => sameKey(k, key));
  if (!found) return false;
  await recordForeignKeys(run.store, run.spec.migrationName, database, [found], 'add');
  return true;
}

/**
 * The keys set aside that the source dropped while changes stream (its table is still there, the
 * key is not), marked dealt with so that the release does not add back what the source no longer
 * has; returns them. A key whose table the source no longer has under that name stays pending: a
 * table renamed or dropped is the table watch's to report or follow.
 */
export async function forgetKeysDroppedOnSource(run: ForeignKeyContext, source: pg.Client, database: string): Promise<ForeignKeyRecord[]> {
  const pending = await pendingForeignKeys(run.store, run.spec.migrationName, database);
  if (pending.length === 0) return [];
  const onSource = await readForeignKeys(source);
  const tables = await existingTables(source, pending);
  const dropped = pending.filter((k) => tables.has(`${k.schema}\0${k.table}`) && !onSource.some((s) => sameKey(s, k)));
  for (const key of dropped)
    await markForeignKeyRestored(run.store, run.spec.migrationName, database, key, { outcome: 'dropped on the source' });
  return dropped;
}

function addStatement(key: ForeignKeyRecord, notValid: boolean): string {
  // the definition is the target catalog's own output (pg_get_constraintdef), not user input
  return `ALTER TABLE ${qualified(key.schema, key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.definition}${notValid ? ' NOT VALID' : ''}`;
}

function describeKey(key: ForeignKeyRecord): string {
  return `foreign key ${displayIdent(key.name)} of ${displayName(key.schema, key.table)}`;
}

async function isPartitioned(client: pg.Client, schema: string, table: string): Promise<boolean> {
  const { rows } = await client.query<{ partitioned: boolean }>(PARTITIONED_SQL, [schema, table]);
  return rows[0]?.partitioned === true;
}

/**
 * Rows of the referencing table the key refuses, as its check does: each with no referenced row
 * (MATCH SIMPLE: unless a key column is NULL), and under MATCH FULL also each with some key columns
 * NULL and not all. Undefined where it cannot be counted (an equality operator outside pg_catalog).
 */
async function countViolations(client: pg.Client, key: ForeignKeyRecord): Promise<number | undefined> {
  try {
    const only = async (schema: string, table: string) => ((await isPartitioned(client, schema, table)) ? '' : 'ONLY ');
    const child = `${await only(key.schema, key.table)}${qualified(key.schema, key.table)}`;
    const parent = `${await only(key.referencedSchema, key.referencedTable)}${qualified(key.referencedSchema, key.referencedTable)}`;
    const cols = key.columns.map((c) => `c.${ident(c)}`);
    const matches = key.columns.map((c, i) => `p.${ident(key.referencedColumns[i]!)} = c.${ident(c)}`).join(' AND ');
    const allSet = cols.map((c) => `${c} IS NOT NULL`).join(' AND ');
    const partlySet = key.matchFull && cols.length > 1 ? ` OR num_nonnulls(${cols.join(', ')}) BETWEEN 1 AND $1::int - 1` : '';
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::int8::text AS n FROM ${child} c
        WHERE (${allSet} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${matches}))${partlySet}`,
      partlySet ? [cols.length] : [],
    );
    return Number(rows[0]!.n);
  } catch (error) {
    if (isRetryable(error)) throw error;
    return undefined;
  }
}

export interface Restored {
  readonly outcome: ForeignKeyOutcome;
  readonly violatingRows?: number;
  readonly detail?: string;
}

/** The server's own example of a violating row ("Key (parent_id)=(3) is not present in table ..."). */
function example(error: unknown): string {
  const detail = (error as { detail?: unknown }).detail;
  return typeof detail === 'string' ? detail : errorMessage(error);
}

/** Adds one recorded key back (or validates one left NOT VALID); see the top of this file. */
async function restoreOne(client: pg.Client, key: ForeignKeyRecord): Promise<Restored> {
  const { rows } = await client.query<{ validated: boolean }>(EXISTING_KEY_SQL, [key.schema, key.table, key.name]);
  const existing = rows[0];
  if (existing && (existing.validated || !key.validated)) return { outcome: 'added' };
  let violation: unknown;
  try {
    if (existing) await client.query(`ALTER TABLE ${qualified(key.schema, key.table)} VALIDATE CONSTRAINT ${ident(key.name)}`);
    else await client.query(addStatement(key, false));
    return { outcome: 'added' };
  } catch (error) {
    if (sqlState(error) !== FOREIGN_KEY_VIOLATION) throw error;
    violation = error;
  }
  const violatingRows = await countViolations(client, key);
  if (existing) return { outcome: 'not valid', violatingRows, detail: example(violation) };
  try {
    await client.query(addStatement(key, true));
    return { outcome: 'not valid', violatingRows, detail: example(violation) };
  } catch (error) {
    // PostgreSQL before 18 refuses NOT VALID on a partitioned referencing table (42809)
    if (isRetryable(error)) throw error;
    return { outcome: 'left out', violatingRows, detail: `${example(violation)}; and ${errorMessage(error)}` };
  }
}

function rowsText(count: number | undefined): string {
  return count === undefined ? 'some rows' : `${count} row(s)`;
}

/** Pure: the warning for a key that did not come back as recorded; its statements keep the SQL quoting. */
export function warningFor(key: ForeignKeyRecord, restored: Restored): string {
  const table = qualified(key.schema, key.table);
  const kept = `its definition is kept in ${displayName(CONTROL_SCHEMA, 'footprint')}`;
  if (restored.outcome === 'not valid') {
    return `${describeKey(key)} is back on the target NOT VALID: ${rowsText(restored.violatingRows)} violate it, as on the source (changes made there under session_replication_role = replica skip foreign key checks), e.g. ${restored.detail}; once they are fixed: ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(key.name)}`;
  }
  return `${describeKey(key)} could not be added back on the target (${restored.detail}); ${kept}: ALTER TABLE ${table} ADD CONSTRAINT ${ident(key.name)} ${key.definition}`;
}

/**
 * Adds back the foreign keys pgferry dropped in one target database (see the top of this file),
 * warning for each that does not come back as it was; none recorded, nothing is opened. A server
 * that goes away ends it with its error (what is not marked yet is done again by the next call).
 */
async function restoreForeignKeys(run: ForeignKeyContext, database: string): Promise<void> {
  const name = run.spec.migrationName;
  const keys = await pendingForeignKeys(run.store, name, database);
  if (keys.length === 0) return;
  let added = 0;
  await withSession(run.spec.target, { database, purpose: 'foreign keys', writable: true }, async (client) => {
    for (const key of keys) {
      let restored: Restored;
      try {
        restored = await restoreOne(client, key);
        // COMMENT takes no parameters: the text goes through the quoting helper
        if (restored.outcome !== 'left out' && key.comment)
          await client.query(`COMMENT ON CONSTRAINT ${ident(key.name)} ON ${qualified(key.schema, key.table)} IS ${literal(key.comment)}`);
      } catch (error) {
        if (isRetryable(error)) throw error;
        restored = { outcome: 'left out', detail: errorMessage(error) };
      }
      failpoint(`foreign-key-restored:${database}`);
      await markForeignKeyRestored(run.store, name, database, key, restored);
      if (restored.outcome === 'added') added += 1;
      else await run.warn(warningFor(key, restored), database);
    }
  });
  run.onProgress({ kind: 'info', message: `${added} of ${keys.length} foreign key(s) added back on the target as they were`, database });
}

export const targetForeignKeys = {
  name: 'targetForeignKeys',
  server: 'target',
  describe: 'target foreign keys dropped while streaming, added back (NOT VALID where rows violate them)',
  ledger: `${CONTROL_SCHEMA}.footprint (change targetForeignKeys: undo.definition, undone_at, detail.outcome)`,
  rights: {
    server: 'target',
    needs: 'ownership of the tables (ALTER TABLE ... DROP and ADD CONSTRAINT)',
    refusal: (s) =>
      ownerRightsRefusal(s.source, s.target, s.database, s.spec.migrateRoles, 'ALTER TABLE ... DROP CONSTRAINT and ADD CONSTRAINT'),
  },
  madeFor: (spec) => spec.mode === 'Online',
  pending: async (ctx, database) =>
    (await pendingForeignKeys(ctx.store, ctx.spec.migrationName, database)).map(
      (key) => `ALTER TABLE ${qualified(key.schema, key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.definition}`,
    ),
  undo: restoreForeignKeys,
  failure: () => ({
    what: "could not add the target's foreign keys back",
    left: `the ones still to add are in ${CONTROL_SCHEMA}.footprint on the target`,
  }),
} satisfies ReversibleChange;
