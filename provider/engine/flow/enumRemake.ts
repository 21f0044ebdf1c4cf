// An enum type the source made again under its name with labels removed or reordered, as drizzle-kit
// writes it (the column to text, DROP TYPE, CREATE TYPE, the column back USING a cast), made again
// on the target by the schema follow (verify/schema/follow.ts `remakeEnum`, once the apply has
// passed where the look saw it): the old type set aside under a name of pgferry's, the new one made
// under the name, each column of it (or of its array) moved to the new one through its text, its
// default taken off and put back as it was, and the old type dropped, in one transaction, so that
// either all of it is done or nothing. Only a type pgferry made (known objects, by its OID), whose
// columns are all the migration's, and on which nothing else depends: anything else is named and
// left to the user, as is a row of the target that holds a removed label (a DBA's), found before
// anything is changed. The old type is dropped without CASCADE: whatever still used it stops it.
// Made again with labels added too (drizzle-kit and Prisma remove one label and add another the
// same way; Prisma sets the old type aside under another name first): the target's type is first
// given the labels it lacks (`widenEnum`, at once, under the same conditions), so that it takes
// the rows streamed on either side of the change; the removals follow as above. Which types the
// source made again is told by their OID there against the one recorded in the control catalog
// (`remadeEnumSteps`), never by their labels alone: a label renamed in place keeps its rows'
// values, and is left to the user with its fix.
import type pg from 'pg';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import { inTransaction } from '../connect/transaction';
import { knownSourceOids, knownWithIdentities, recordSourceOids } from '../control/knownObjects';
import { schemaObjectKey } from '../core/names';
import type { SchemaDifference } from '../core/model';
import type { MigrationRun } from '../run/migrationRun';
import { objectKey, type SchemaObject } from '../verify/schema/catalog';
import { describeObject } from '../verify/schema/fixes';
import { widenEnumStep, type FollowStep } from '../verify/schema/follow';
import { judgeOnTarget } from '../verify/schema/identity';

type Remake = NonNullable<FollowStep['remakeEnum']>;

/** The statements run, or why the follow left it to the user with the statements it would run. */
export type RemakeOutcome = { readonly statements: readonly string[] } | { readonly refused: string; readonly fix: string };

/** A column of the type (or of its array) on a table, with its default as the target has it. */
export interface TypeColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly array: boolean;
  readonly default: string | null;
}

const TYPE_SQL = `
SELECT t.oid::text AS oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = $1 AND t.typname = $2 AND t.typtype = 'e'`;

/** Columns of tables of the type or its array, their own (a partition's or a child's follow their parent's). */
const COLUMNS_SQL = `
SELECT n.nspname AS schema, c.relname AS "table", a.attname AS column, a.atttypid <> t.oid AS array,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS "default"
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_attribute a ON a.atttypid IN (t.oid, t.typarray)
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE t.oid = $1::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attinhcount = 0 AND c.relkind IN ('r', 'p')
 ORDER BY 1, 2, a.attnum`;

/**
 * What else uses the type or its array (a view, a function, a domain, a constraint, a column of
 * another kind of relation): described by the server. A table's column and the default of such a
 * column are moved with it.
 */
const OTHERS_SQL = `
SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.refobjid IN (t.oid, t.typarray)
 WHERE t.oid = $1::pg_catalog.oid AND d.deptype = 'n'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0
                      AND c.oid = d.objid AND c.relkind IN ('r', 'p'))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                    WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND ad.oid = d.objid
                      AND a.atttypid IN (t.oid, t.typarray))
 ORDER BY 1`;

/** A label as the catalog printed it (quote_literal) back to its text. */
function labelText(literal: string): string {
  const escaped = literal.startsWith('E');
  const body = literal.slice(escaped ? 2 : 1, -1).replace(/''/g, "'");
  return escaped ? body.replace(/\\\\/g, '\\') : body;
}

/**
 * Makes the type again on the target as the source made it (see the top of this file). `oid`: the
 * target's type the look saw (the step runs only while the name still holds it).
 */
export async function remakeEnum(run: MigrationRun, database: string, client: pg.Client, remake: Remake): Promise<RemakeOutcome> {
  const oid = (await client.query<{ oid: string }>(TYPE_SQL, [remake.schema, remake.name])).rows[0]?.oid;
  if (oid === undefined) throw new Error('the target no longer has it');
  const columns = (await client.query<TypeColumn>(COLUMNS_SQL, [oid])).rows;
  const statements = remakeStatements(remake, oid, columns);
  const fix = `BEGIN; ${statements.map((s) => `${s};`).join(' ')} COMMIT;`;
  const refused = (await notOurs(run, database, client, remake, oid, columns)) ?? (await removedInRows(client, remake, columns));
  if (refused !== undefined) return { refused, fix };
  try {
    await inTransaction(client, async () => {
      for (const statement of statements) await client.query(statement);
    });
  } catch (error) {
    return {
      refused: `making ${displayName(remake.schema, remake.name)} again failed: ${error instanceof Error ? error.message : String(error)}`,
      fix,
    };
  }
  return { statements: statements.map((s) => `${s};`) };
}

/** The target's labels of a type, in their order, as the catalog prints them (quote_literal). */
const LABELS_SQL = `
SELECT pg_catalog.quote_literal(e.enumlabel) AS label FROM pg_catalog.pg_enum e
 WHERE e.enumtypid = $1::pg_catalog.oid ORDER BY e.enumsortorder`;

/** Labels as the catalog reads them (`'a', 'b'`), one literal each. */
const literals = (labels: string): string[] => labels.match(/E?'(?:[^']|'')*'/g) ?? [];

/**
 * Gives the target's type the source's labels it lacks, each after the source's label before it
 * (see the top of this file): only a type pgferry made whose columns are all the migration's, as
 * for making it again. Each ADD VALUE is its own statement: a label added in a transaction block
 * cannot be used before that block commits.
 */
export async function widenEnum(run: MigrationRun, database: string, client: pg.Client, remake: Remake): Promise<RemakeOutcome> {
  const type = qualified(remake.schema, remake.name);
  const oid = (await client.query<{ oid: string }>(TYPE_SQL, [remake.schema, remake.name])).rows[0]?.oid;
  if (oid === undefined) throw new Error('the target no longer has it');
  const have = (await client.query<{ label: string }>(LABELS_SQL, [oid])).rows.map((r) => r.label);
  const want = literals(remake.labels);
  const statements = want.flatMap((label, i) => {
    if (have.includes(label)) return [];
    const place = i > 0 ? ` AFTER ${want[i - 1]!}` : have.length > 0 ? ` BEFORE ${have[0]!}` : '';
    return [`ALTER TYPE ${type} ADD VALUE IF NOT EXISTS ${label}${place}`];
  });
  const fix = statements.map((s) => `${s};`).join(' ');
  const columns = (await client.query<TypeColumn>(COLUMNS_SQL, [oid])).rows;
  const refused = await notOurs(run, database, client, remake, oid, columns);
  if (refused !== undefined) return { refused, fix };
  try {
    for (const statement of statements) await client.query(statement);
  } catch (error) {
    return {
      refused: `adding the source's labels to ${displayName(remake.schema, remake.name)} failed: ${error instanceof Error ? error.message : String(error)}`,
      fix,
    };
  }
  return { statements: statements.map((s) => `${s};`) };
}

/** The source OIDs recorded for the migration's enum types, by the type's qualified SQL name (the apply's key). */
export type RecordedEnumOids = ReadonlyMap<string, string>;

/**
 * Which enum types the source made again under their name, told by their OID there against the one
 * recorded when the target's type last matched it (control/knownObjects.ts: the copy's snapshot, or
 * a look), never by their labels alone: a label renamed in place keeps its rows' values, and is left
 * to the user with its fix. Being recorded, the change is told at any look, the first after a start
 * or a resume included, whether or not a runner saw it happen. Each labels difference of such a type
 * that no step follows (labels added) is given the step that widens the target's type
 * (widenEnumStep); the OID is recorded anew once the labels no longer differ, and first where none
 * is (a type first seen, or known before OIDs were recorded). Returns the steps, and the recorded
 * OIDs for the apply (cdc/apply/watchWait.ts tells a label renamed in place by them at once).
 */
export async function remadeEnumSteps(
  run: MigrationRun,
  database: string,
  differences: readonly SchemaDifference[],
  steps: readonly (FollowStep | undefined)[],
  sourceObjects: readonly SchemaObject[],
): Promise<{ readonly steps: (FollowStep | undefined)[]; readonly recorded: RecordedEnumOids }> {
  const [store, migration] = [run.store, run.spec.migrationName];
  let recorded = await knownSourceOids(store, migration, database);
  const judged = judgeRemade(recorded, differences, steps, sourceObjects);
  if (judged.anew.size > 0) {
    await recordSourceOids(store, migration, database, judged.anew);
    recorded = await knownSourceOids(store, migration, database);
  }
  const byName = sourceObjects.flatMap((o) => {
    const oid = o.kind === 'enum type' ? recorded.get(objectKey(o)) : undefined;
    return oid === undefined ? [] : [[qualified(o.schema, o.name), oid] as const];
  });
  return { steps: judged.steps, recorded: new Map(byName) };
}

/**
 * Pure: remadeEnumSteps' judgement over the source OIDs recorded by key. `anew`: the OIDs to record,
 * by key (none recorded yet, or another OID whose labels no longer differ).
 */
export function judgeRemade(
  recorded: ReadonlyMap<string, string>,
  differences: readonly SchemaDifference[],
  steps: readonly (FollowStep | undefined)[],
  sourceObjects: readonly SchemaObject[],
): { readonly steps: (FollowStep | undefined)[]; readonly anew: ReadonlyMap<string, string> } {
  const differing = new Set(differences.flatMap((d) => (d.detail.startsWith('labels: ') ? [d.object] : [])));
  const remade = new Map<string, SchemaObject>();
  const anew = new Map<string, string>();
  for (const o of sourceObjects) {
    if (o.kind !== 'enum type') continue;
    const was = recorded.get(objectKey(o));
    if (was === o.objectId) continue;
    if (was !== undefined && differing.has(describeObject(o))) remade.set(describeObject(o), o);
    else anew.set(objectKey(o), o.objectId);
  }
  const out = steps.map((step, i) => {
    const o = remade.get(differences[i]?.object ?? '');
    if (!o || !differences[i]!.detail.startsWith('labels: ')) return step;
    return step ?? widenEnumStep(o, typeof o.props.labels === 'string' ? o.props.labels : '');
  });
  return { steps: out, anew };
}

/**
 * The source's OIDs of its enum types, read in the copy's snapshot (the types the restore made on
 * the target), recorded for those the copy made known: a type the source makes again later, even
 * while no runner runs, is then told at the next look (remadeEnumSteps).
 */
export async function recordRestoredEnums(run: MigrationRun, database: string, source: pg.Client): Promise<void> {
  const { rows } = await source.query<{ schema: string; name: string; oid: string }>(ENUMS_SQL);
  const oids = rows.map((r) => [schemaObjectKey('enum type', r.schema, null, r.name, null), r.oid] as const);
  await recordSourceOids(run.store, run.spec.migrationName, database, new Map(oids));
}

/** The enum types of a database, with their OIDs. */
const ENUMS_SQL = `
SELECT n.nspname AS schema, t.typname AS name, t.oid::text AS oid
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype = 'e'`;

/** The type set aside, made again, its columns moved to it through their text, the old one dropped (no CASCADE). */
function remakeStatements(remake: Remake, oid: string, columns: readonly TypeColumn[]): string[] {
  const type = qualified(remake.schema, remake.name);
  // a name of pgferry's, by the old type's OID: no one else's, and gone at the transaction's end
  const aside = `pgferry_enum_${oid}`;
  const moves = columns.flatMap((c) => {
    const alter = `ALTER TABLE ${qualified(c.schema, c.table)} ALTER COLUMN ${ident(c.column)}`;
    const to = c.array ? `${type}[]` : type;
    const retype = `${alter} TYPE ${to} USING ${ident(c.column)}::text${c.array ? '[]' : ''}::${to}`;
    // read with an empty search_path, the default names the type by its qualified name: the new one
    return c.default === null ? [retype] : [`${alter} DROP DEFAULT`, retype, `${alter} SET DEFAULT ${c.default}`];
  });
  return [
    `ALTER TYPE ${type} RENAME TO ${ident(aside)}`,
    `CREATE TYPE ${type} AS ENUM (${remake.labels})`,
    ...moves,
    `DROP TYPE ${qualified(remake.schema, aside)}`,
  ];
}

/** Why the type or something that uses it is not the migration's to change; undefined when all of it is. */
async function notOurs(
  run: MigrationRun,
  database: string,
  client: pg.Client,
  remake: Remake,
  oid: string,
  columns: readonly TypeColumn[],
): Promise<string | undefined> {
  const { known, knownIdentities } = await knownWithIdentities(run.store, run.spec.migrationName, database);
  const key = schemaObjectKey('enum type', remake.schema, null, remake.name, null);
  if (!known.has(key) || judgeOnTarget(knownIdentities.get(key), { relation: '', object: oid }) === 'other')
    return `the target's ${displayName(remake.schema, remake.name)} is not the one pgferry made: kept; make it again with the source's labels yourself`;
  const foreign = columns.filter((c) => !known.has(schemaObjectKey('column', c.schema, c.table, c.column, null)));
  const others = (await client.query<{ what: string }>(OTHERS_SQL, [oid])).rows.map((r) => r.what);
  const users = [...foreign.map((c) => `column ${displayName(c.schema, c.table)}.${displayIdent(c.column)}`), ...others];
  if (users.length === 0) return undefined;
  return `${users.join(', ')} use${users.length === 1 ? 's' : ''} it on the target, which pgferry did not make or does not move with the type: kept, and the change waits for you to make it around ${users.length === 1 ? 'it' : 'them'}`;
}

/**
 * The first removed label a row of the target still holds, said with the rows that hold it and how
 * to find them; undefined when none does. Read before anything is changed: the apply has passed the
 * change, so no row the source wrote holds one, and such a row is someone else's on the target.
 */
async function removedInRows(client: pg.Client, remake: Remake, columns: readonly TypeColumn[]): Promise<string | undefined> {
  const removed = remake.removed.map(labelText);
  if (removed.length === 0) return undefined;
  for (const c of columns) {
    const [table, column] = [qualified(c.schema, c.table), ident(c.column)];
    const sql = c.array
      ? `SELECT e::text AS label, count(DISTINCT r.ctid)::int8 AS n FROM ${table} AS r CROSS JOIN LATERAL pg_catalog.unnest(r.${column}) AS e
          WHERE e::text = ANY($1::text[]) GROUP BY 1 ORDER BY 1 LIMIT 1`
      : `SELECT ${column}::text AS label, count(*)::int8 AS n FROM ${table} WHERE ${column}::text = ANY($1::text[]) GROUP BY 1 ORDER BY 1 LIMIT 1`;
    const found = (await client.query<{ label: string; n: string }>(sql, [removed])).rows[0];
    if (!found) continue;
    return removedLabelMessage(remake, c, remake.removed[removed.indexOf(found.label)]!, found.n);
  }
  return undefined;
}

/**
 * Pure: a removed label still held by `n` rows of column `c`, said with the type's and the column's
 * names as every message prints them; the query that finds the rows keeps the SQL quoting, so it
 * can be pasted and run. `label` is the label as the catalog printed it (quote_literal).
 */
export function removedLabelMessage(
  remake: { readonly schema: string; readonly name: string },
  c: TypeColumn,
  label: string,
  n: string,
): string {
  const [table, column] = [qualified(c.schema, c.table), ident(c.column)];
  const where = c.array ? `${label} = ANY(${column}::text[])` : `${column}::text = ${label}`;
  const rows = n === '1' ? '1 row' : `${n} rows`;
  const shown = `${displayName(c.schema, c.table)}.${displayIdent(c.column)}`;
  return `column ${shown} holds the label ${label}, which the source's ${displayName(remake.schema, remake.name)} no longer has, in ${rows} of the target: change or delete ${n === '1' ? 'it' : 'them'} (SELECT * FROM ${table} WHERE ${where}), and the next look makes the type again`;
}
