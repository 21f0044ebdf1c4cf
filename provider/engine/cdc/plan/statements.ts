// SQL text for applying changes: COPY for inserts, UPDATE ... FROM (VALUES), DELETE ... USING
// (VALUES), one-row statements for REPLICA IDENTITY FULL tables, TRUNCATE. Pure; every name goes
// through the quoting helper and every value is a $n parameter with an explicit cast, or COPY data.
// A group's rows arrive as GroupRows, which each statement renders as COPY data or parameters.
import { displayName, ident, qualified } from '../../connect/quote';
import type { GroupRows } from './groupRows';
import { type Tuple, UNCHANGED } from '../decode/tuple';
import type { Param, StageTable, Statement, TargetTable } from './types';

/** The table as a stop's message prints it (Statement.printed). */
function printedOf(table: Pick<TargetTable, 'schema' | 'name'>): string {
  return displayName(table.schema, table.name);
}

function valuesRows(rows: readonly (readonly Param[])[], casts: readonly string[], params: Param[]): string {
  const out: string[] = [];
  for (const row of rows) {
    const cells = row.map((value, i) => {
      params.push(value);
      return `$${params.length}::${casts[i]}`;
    });
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}

/**
 * Inserts as COPY ... FROM STDIN: much less work for the target than a multi-row INSERT with
 * parameters (docs/bench.md#the-applys-settings). Like PostgreSQL's own apply worker, COPY
 * fires triggers (unless session_replication_role = replica) but not rules, and takes the given
 * values for GENERATED ALWAYS identity columns, as OVERRIDING SYSTEM VALUE would. The values are the
 * source's text output, which the target's input functions read back as a cast would.
 * Tables under row-level security and tables without columns take an INSERT (see insertStatement).
 */
export function copyInsertStatement(table: TargetTable, cols: readonly number[], rows: GroupRows): Statement {
  const target = qualified(table.schema, table.name);
  const names = cols.map((i) => ident(table.columns[i]!.name)).join(', ');
  return {
    op: 'insert',
    target,
    printed: printedOf(table),
    text: `COPY ${target} (${names}) FROM STDIN`,
    params: [],
    rows: rows.rows,
    affects: rows.rows,
    copyData: rows.data(),
  };
}

/**
 * A multi-row INSERT: for tables COPY FROM refuses (row-level security applies to the applying
 * user), and tables without columns (COPY and INSERT both need at least one column to name).
 */
export function insertStatement(table: TargetTable, cols: readonly number[], rows: GroupRows): Statement {
  const target = qualified(table.schema, table.name);
  if (cols.length === 0) {
    const text = `INSERT INTO ${target} SELECT FROM generate_series(1, $1::int)`;
    return { op: 'insert', target, printed: printedOf(table), text, params: [String(rows.rows)], rows: rows.rows, affects: rows.rows };
  }
  const params: Param[] = [];
  const names = cols.map((i) => ident(table.columns[i]!.name)).join(', ');
  const values = valuesRows(
    rows.params(),
    cols.map((i) => table.columns[i]!.cast),
    params,
  );
  const text = `INSERT INTO ${target} (${names}) OVERRIDING SYSTEM VALUE VALUES ${values}`;
  return { op: 'insert', target, printed: printedOf(table), text, params, rows: rows.rows, affects: rows.rows };
}

/**
 * The table an update or delete names: ONLY the table itself, as the source changed it. pgoutput
 * sends a change of an inheritance child under the child's own name, so a statement on the parent
 * that also reached the children would change a child's row with the same key, or an identical
 * one. A partitioned table is the one exception (its rows live in its partitions, and it refuses
 * ONLY); its changes come under a partition's name since the publication stopped publishing via
 * the root, but an older publication's decoded before it was set back may still name it.
 */
function only(table: TargetTable): string {
  return `${table.partitioned ? '' : 'ONLY '}${qualified(table.schema, table.name)}`;
}

/** The rows an update or delete must change: exactly its rows, or at most them where the target's foreign keys act first. */
function affecting(table: TargetTable, op: 'update' | 'delete', rows: number): Pick<Statement, 'affects' | 'mayAffectFewer'> {
  return { affects: rows, mayAffectFewer: (op === 'delete' ? table.cascadedDeletes : table.cascadedUpdates) ?? false };
}

/** Column aliases of a VALUES list or stage: k0.. for the old key, s0.. for the values set. */
function rowAliases(keyCols: readonly number[], setCols: readonly number[]): string[] {
  return [...keyCols.map((_, j) => ident(`k${j}`)), ...setCols.map((_, j) => ident(`s${j}`))];
}

/** `"col" = v."s0", ...`: the SET list from the aliased row v, each value read as `read` says (staged: a type's own cast). */
function setList(table: TargetTable, setCols: readonly number[], read: (j: number) => string = () => ''): string {
  return setCols.map((i, j) => `${ident(table.columns[i]!.name)} = v.${ident(`s${j}`)}${read(j)}`).join(', ');
}

/** Exact comparison of text forms: byte for byte, whatever the column's collation (a nondeterministic one ignores case). */
const EXACT = ' COLLATE pg_catalog."C"';

/**
 * `t."key" OPERATOR("public".=) v."k0" AND ...`: target row t matched by the aliased old key of
 * row v, with each key column's equality (a unique index's, so at most one row matches and the
 * index serves the lookup); a type without one by its text.
 */
function keyMatch(table: TargetTable, keyCols: readonly number[], read: (j: number) => string = () => ''): string {
  return keyCols
    .map((i, j) => {
      const column = table.columns[i]!;
      const t = `t.${ident(column.name)}`;
      const v = `v.${ident(`k${j}`)}${read(j)}`;
      return column.equality ? `${t} ${column.equality} ${v}` : `${t}::text = ${v}::text${EXACT}`;
    })
    .join(' AND ');
}

/** Rows are [...old key values, ...new values of setCols]. */
export function updateStatement(table: TargetTable, keyCols: readonly number[], setCols: readonly number[], rows: GroupRows): Statement {
  const params: Param[] = [];
  const casts = [...keyCols, ...setCols].map((i) => table.columns[i]!.cast);
  const aliases = rowAliases(keyCols, setCols);
  const sets = setList(table, setCols);
  const match = keyMatch(table, keyCols);
  const text =
    `UPDATE ${only(table)} AS t SET ${sets} ` +
    `FROM (VALUES ${valuesRows(rows.params(), casts, params)}) AS v(${aliases.join(', ')}) WHERE ${match}`;
  return {
    op: 'update',
    target: qualified(table.schema, table.name),
    printed: printedOf(table),
    text,
    params,
    rows: rows.rows,
    ...affecting(table, 'update', rows.rows),
  };
}

/** Rows are [...old key values]. */
export function deleteStatement(table: TargetTable, keyCols: readonly number[], rows: GroupRows): Statement {
  const params: Param[] = [];
  const casts = keyCols.map((i) => table.columns[i]!.cast);
  const aliases = rowAliases(keyCols, []);
  const match = keyMatch(table, keyCols);
  const text =
    `DELETE FROM ${only(table)} AS t ` +
    `USING (VALUES ${valuesRows(rows.params(), casts, params)}) AS v(${aliases.join(', ')}) WHERE ${match}`;
  return {
    op: 'delete',
    target: qualified(table.schema, table.name),
    printed: printedOf(table),
    text,
    params,
    rows: rows.rows,
    ...affecting(table, 'delete', rows.rows),
  };
}

/** A cast to a type of the database's own: schema-qualified, as the relation message names it (built-in types are not). */
const OWN_TYPE = /^("(?:[^"]|"")+"|[^".(\s]+)\./;

/**
 * The column types of a group's staging table: the types the VALUES casts name, a type of the
 * database's own as its text (stagedStatements says why). Part of the stage's identity
 * (planner.ts stage): a column retyped on the source while streaming needs a stage of its new type,
 * since the one made before would refuse the values only the new type holds.
 */
export function stageColumnTypes(table: TargetTable, keyCols: readonly number[], setCols: readonly number[]): string[] {
  return [...keyCols, ...setCols].map((i) => {
    const cast = table.columns[i]!.cast;
    return OWN_TYPE.test(cast) ? 'text' : cast;
  });
}

/**
 * An update or delete group through a staging table: COPY the rows into a temporary table, then
 * one statement deletes them from the stage and applies them by key. For a 2,000-row group the
 * target does about a third less work than with UPDATE ... FROM (VALUES $n ...), whose thousands
 * of parameters are each parsed, planned and bound. The stage is ON COMMIT DELETE ROWS and emptied
 * by each use, so it holds one group at a time; its columns have the same types the VALUES casts
 * name (a type of the database's own its text, cast where it is read), so every value is read by
 * the same input function.
 * Rows are [...old key values, ...new values of setCols] (updates) or [...old key values] (deletes).
 */
export function stagedStatements(
  table: TargetTable,
  op: 'update' | 'delete',
  keyCols: readonly number[],
  setCols: readonly number[],
  rows: GroupRows,
  stage: StageTable,
): Statement[] {
  const stageName = `pg_temp.${ident(stage.name)}`;
  const aliases = rowAliases(keyCols, setCols);
  const casts = [...keyCols, ...setCols].map((i) => table.columns[i]!.cast);
  // A type of the database's own (an enum, a domain) is staged as its text and cast where it is
  // read: the stage lives as long as its session, and one of such a type would hold it, so that
  // the schema follow could not drop the type it makes again (flow/enumRemake.ts), and the stage
  // would still read values as the old type.
  const own = casts.map((c) => OWN_TYPE.test(c));
  const read = (j: number) => (own[j] ? `::${casts[j]!}` : '');
  const stageTypes = stageColumnTypes(table, keyCols, setCols);
  const create = `CREATE TEMPORARY TABLE ${stageName} (${aliases.map((a, j) => `${a} ${stageTypes[j]!}`).join(', ')}) ON COMMIT DELETE ROWS`;
  const target = qualified(table.schema, table.name);
  const printed = printedOf(table);
  const fill: Statement = {
    op,
    target,
    printed,
    text: `COPY ${stageName} (${aliases.join(', ')}) FROM STDIN`,
    params: [],
    rows: rows.rows,
    affects: rows.rows,
    copyData: rows.data(),
    requires: { key: stage.name, sql: create },
  };
  const staged = `WITH v AS (DELETE FROM ${stageName} RETURNING *) `;
  const match = keyMatch(table, keyCols, read);
  const apply =
    op === 'delete'
      ? `${staged}DELETE FROM ${only(table)} AS t USING v WHERE ${match}`
      : `${staged}UPDATE ${only(table)} AS t SET ${setList(table, setCols, (j) => read(keyCols.length + j))} FROM v WHERE ${match}`;
  return [fill, { op, target, printed, text: apply, params: [], rows: rows.rows, ...affecting(table, op, rows.rows) }];
}

/**
 * One row of a REPLICA IDENTITY FULL table without a usable unique index: the first row whose
 * every old value matches (duplicates are legal, and identical rows are interchangeable).
 *
 * Each column is compared twice, `s.c OPERATOR(ns.=) $1::t AND s.c::text = $1::t::text COLLATE "C"`:
 * - the type's equality (equality.ts) lets the target use an index on the column, and is the only
 *   comparison PostgreSQL offers for some types;
 * - but an equality may be looser than identity (citext ignores case, numeric 1.0 = 1.00, float
 *   -0 = 0, a nondeterministic collation), and a FULL table may hold rows that differ only so:
 *   'Abc' and 'abc'. Equality alone could then change 'Abc' when the source changed 'abc', and the
 *   tables would differ from then on, silently until the cutover's checksum. Equal text forms
 *   are the identity the verification compares (md5 of each row's text), so the row changed is
 *   one the source could have changed. The stream's text is read back through the target's own
 *   input and output functions (`$1::t::text`) rather than compared as sent: the two servers may
 *   print one value differently (a PostgreSQL 11 source prints floats with 17 digits, 12+ with the
 *   fewest that read back exactly), and only the target's functions are on both sides.
 * The text comparison runs only on rows that passed the cheaper equality (PostgreSQL orders quals
 * by cost), so it costs one more comparison per matching row. A type without equality (json,
 * point ...) is compared by text only; a column whose text form comes from a VOLATILE function is
 * compared by equality only, and if it has none, by text anyway (validation warns, cdcCheck.ts): a
 * changed text finds no row, which stops the stream (CDC_TARGET_DIVERGED) rather than changing
 * another row.
 */
export function fullIdentityStatement(table: TargetTable, op: 'update' | 'delete', old: Tuple, values?: Tuple): Statement {
  const params: Param[] = [];
  const add = (value: Param, cast: string): string => {
    params.push(value);
    return `$${params.length}::${cast}`;
  };
  const conds: string[] = [];
  table.columns.forEach((column, i) => {
    const value = old.value(i); // UNCHANGED also past the tuple's end
    if (value === UNCHANGED || column.leftOut) return;
    const col = `s.${ident(column.name)}`;
    if (value === null) {
      conds.push(`${col} IS NULL`);
      return;
    }
    const typed = add(value, column.cast);
    if (column.equality) conds.push(`${col} ${column.equality} ${typed}`);
    if (!column.equality || column.stableText) conds.push(`${col}::text = ${typed}::text${EXACT}`);
  });
  const q = qualified(table.schema, table.name);
  const where = conds.length > 0 ? conds.join(' AND ') : 'true';
  const found = `WITH f AS (SELECT s.tableoid AS o, s.ctid AS c FROM ${only(table)} AS s WHERE ${where} LIMIT 1) `;
  if (op === 'delete') {
    return {
      op,
      target: q,
      printed: printedOf(table),
      text: `${found}DELETE FROM ${only(table)} AS t USING f WHERE t.tableoid = f.o AND t.ctid = f.c`,
      params,
      rows: 1,
      ...affecting(table, op, 1),
    };
  }
  const sets: string[] = [];
  table.columns.forEach((column, i) => {
    const value = values?.value(i);
    if (value === UNCHANGED || value === undefined || column.identityAlways || column.leftOut) return;
    sets.push(`${ident(column.name)} = ${add(value, column.cast)}`);
  });
  if (sets.length === 0) return { op, target: q, printed: printedOf(table), text: 'SELECT 1', params: [], rows: 1 };
  return {
    op,
    target: q,
    printed: printedOf(table),
    text: `${found}UPDATE ${only(table)} AS t SET ${sets.join(', ')} FROM f WHERE t.tableoid = f.o AND t.ctid = f.c`,
    params,
    rows: 1,
    ...affecting(table, op, 1),
  };
}

/**
 * A replayed TRUNCATE of the tables it names, never CASCADE (as PostgreSQL's own apply worker): the
 * tables a CASCADE emptied on the source come in the same message when they are streamed, and a
 * table outside the stream that references one of them is not the migration's to empty (the
 * server refuses then, and the stream stops naming it: targetTransaction.ts).
 */
export function truncateStatement(tables: readonly TargetTable[], restartIdentity: boolean): Statement {
  // ONLY keeps inheritance children the source did not truncate; a partitioned table refuses ONLY.
  const names = tables.map((t) => `${t.partitioned ? '' : 'ONLY '}${qualified(t.schema, t.name)}`).join(', ');
  const text = `TRUNCATE ${names}${restartIdentity ? ' RESTART IDENTITY' : ''}`;
  return {
    op: 'truncate',
    target: tables.map((t) => qualified(t.schema, t.name)).join(', '),
    printed: tables.map(printedOf).join(', '),
    tables: tables.map((t) => ({ schema: t.schema, name: t.name, ...(t.targetOid === undefined ? {} : { targetOid: t.targetOid }) })),
    text,
    params: [],
    rows: 0,
  };
}
