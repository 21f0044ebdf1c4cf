// Maps a streamed relation to the target table the planner writes: the SQL type each text value is
// cast to, whether it is partitioned, the key its old rows are matched by, and which streamed
// columns the target lacks (added there before any row uses them: sourceColumns.ts) or has alone;
// read in one round trip with the facts of the types its columns reach (typeFacts.ts).
import type pg from 'pg';
import { displayIdent, displayName, literal, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import { type Operator, operatorSql, type TypeFacts, typeComparison } from '../plan/equality';
import { typeFactsOf, typeFactsSqlOf, type TypeFactsRow } from './typeFacts';
import type { TargetColumn, TargetTable } from '../plan/types';
import { textShapeOf } from '../plan/recordText';
import type { TargetAttribute } from './shapeFollow';
import type { Relation } from '../decode/changeEvents';

/** OIDs below this are built in and identical on every server (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

/**
 * The table's kind and row security, and whether a foreign key of it acts on its rows: deletes
 * them (ON DELETE CASCADE) or changes them (ON UPDATE CASCADE, SET NULL, SET DEFAULT; ON DELETE
 * SET NULL, SET DEFAULT, which a REPLICA IDENTITY FULL table's old row no longer matches).
 */
const TABLE_SQL = `
SELECT c.oid::int8::text AS oid, c.relkind = 'p' AS partitioned, c.relispartition AS partition, c.relrowsecurity AS row_security,
       EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confdeltype = 'c') AS cascaded_deletes,
       EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND (f.confupdtype IN ('c', 'n', 'd') OR f.confdeltype IN ('n', 'd'))) AS cascaded_updates
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2`;

interface TableRow {
  oid: string;
  partitioned: boolean;
  partition: boolean;
  row_security: boolean;
  cascaded_deletes: boolean;
  cascaded_updates: boolean;
}

/** The target table's columns: their type (compared by its equality, plan/equality.ts) and GENERATED ALWAYS identity. */
const COLUMNS_SQL = `
SELECT a.attname AS name, a.atttypid::int8 AS type, a.atttypmod AS mod, a.attidentity = 'a' AS identity_always,
       a.attnotnull AS not_null, a.attgenerated <> '' AS generated, format_type(a.atttypid, a.atttypmod) AS type_name,
       a.atthasdef OR a.attidentity <> '' AS has_default
  FROM pg_attribute a
 WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

interface ColumnRow {
  name: string;
  type: string;
  mod: number;
  identity_always: boolean;
  not_null: boolean;
  generated: boolean;
  type_name: string;
  /** A default or an identity: an INSERT that does not name the column still gives it a value. */
  has_default: boolean;
}

/**
 * The target table's unique indexes that identify a row as a replica identity index would
 * (PostgreSQL's rule, catalog/identityVerdict.ts): unique, immediate (a DEFERRABLE one may hold
 * duplicates until commit, and every apply transaction defers), valid, not partial, no
 * expressions, every key column NOT NULL. Each with its key columns and the equality operator of
 * each column's operator class (what an index scan on it can serve), best first: the primary key,
 * the replica identity index, then the fewest columns.
 */
const UNIQUE_KEYS_SQL = `
SELECT ic.relname AS name,
       array_agg(a.attname::text ORDER BY k.pos) AS columns,
       array_agg(n.nspname::text ORDER BY k.pos) AS eq_schemas,
       array_agg(o.oprname::text ORDER BY k.pos) AS eq_names
  FROM pg_index x
  JOIN pg_class ic ON ic.oid = x.indexrelid
 CROSS JOIN LATERAL unnest(x.indkey::int2[], x.indclass::oid[]) WITH ORDINALITY AS k(attnum, opclass, pos)
  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
  JOIN pg_opclass oc ON oc.oid = k.opclass
  LEFT JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype
                      AND ao.amopmethod = oc.opcmethod AND ao.amopstrategy = 3
  LEFT JOIN pg_operator o ON o.oid = ao.amopopr
  LEFT JOIN pg_namespace n ON n.oid = o.oprnamespace
 WHERE x.indrelid = $1::oid AND x.indisunique AND x.indimmediate AND x.indisvalid AND x.indislive
   AND x.indpred IS NULL AND x.indexprs IS NULL AND k.pos <= x.indnkeyatts
 GROUP BY x.indexrelid, ic.relname, x.indisprimary, x.indisreplident, x.indnkeyatts
HAVING bool_and(a.attnotnull) AND bool_and(o.oid IS NOT NULL)
 ORDER BY x.indisprimary DESC, x.indisreplident DESC, x.indnkeyatts, ic.relname`;

interface UniqueKeyRow {
  name: string;
  columns: string[];
  eq_schemas: string[];
  eq_names: string[];
}

/**
 * Pure: the columns a streamed table's old rows are matched by on the target, and with which
 * operator. A table whose source identity is a key (primary key, USING INDEX) is matched by those
 * key columns, with the operators of the target's unique index on exactly them where there is
 * one. A REPLICA IDENTITY FULL table that has a usable unique index on the target (the user chose
 * FULL and kept a primary key) is matched by that index, as PostgreSQL's own apply worker does: one
 * index lookup instead of comparing every column, and the ordinary batched statements by key; its
 * old row carries every column, those included. A FULL table without one (pgferry's key-less
 * tables) is matched by all its old values, one row at a time (plan/statements.ts). (An index on a
 * parent with inheritance children covers the parent's own rows, all that a statement, naming the
 * table ONLY, reaches.)
 */
export function chooseMatch(
  relation: Pick<Relation, 'replicaIdentity' | 'columns'>,
  keys: readonly { readonly columns: readonly string[]; readonly eq: readonly Operator[] }[],
): { keyColumns: ReadonlySet<string>; keyEq: ReadonlyMap<string, Operator>; wholeRow: boolean } {
  const streamed = new Set(relation.columns.map((c) => c.name));
  const eqOf = (key: (typeof keys)[number]): Map<string, Operator> => new Map(key.columns.map((c, j) => [c, key.eq[j]!]));
  if (relation.replicaIdentity !== 'full') {
    const keyColumns = new Set(relation.columns.filter((c) => c.isKey).map((c) => c.name));
    const same = keys.find((k) => k.columns.length === keyColumns.size && k.columns.every((c) => keyColumns.has(c)));
    return { keyColumns, keyEq: same ? eqOf(same) : new Map(), wholeRow: false };
  }
  const usable = keys.find((k) => k.columns.every((c) => streamed.has(c)));
  if (!usable) return { keyColumns: new Set(), keyEq: new Map(), wholeRow: true };
  return { keyColumns: new Set(usable.columns), keyEq: eqOf(usable), wholeRow: false };
}

/** What the target's catalog says about a streamed relation's table: read in one round trip (readTargetTable). */
interface TargetTableFacts extends TableFactsRead {
  /** SQL type names of the built-in columns' types, by column index. */
  readonly casts: ReadonlyMap<number, string>;
}

/** A table's facts that do not depend on its relation message (all but the casts): what readTargetTablesAhead reads. */
export interface TableFactsRead {
  /** The table's columns by name, generated ones marked (compared with the stream's: columnChanges). */
  readonly present: readonly { name: string; generated: boolean }[];
  readonly table: TableRow | undefined;
  readonly columns: readonly ColumnRow[];
  readonly keys: readonly UniqueKeyRow[];
  readonly facts: ReadonlyMap<number, TypeFacts>;
}

/** Replaces $1, $2 ... in `sql` with SQL fragments already quoted (the simple protocol takes no parameters). */
function bind(sql: string, fragments: readonly string[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => fragments[Number(n) - 1]!);
}

/** An int array as a quoted literal. */
function intArray(values: readonly number[]): string {
  return `${literal(`{${values.map((v) => String(Math.trunc(v))).join(',')}}`)}`;
}

/** The table's OID, as SQL: to_regclass of its quoted name, so a missing table reads as no rows. */
function tableOid(schema: string, table: string): string {
  return `to_regclass(${literal(qualified(schema, table))})::oid`;
}

/**
 * The statements of a table's facts that do not depend on its relation message, but for the facts
 * of its columns' types (typeFactsSqlOf, which takes several tables at once) and the casts
 * (FORMAT_TYPES_SQL).
 */
function tableStatements(schema: string, table: string): string[] {
  const oid = tableOid(schema, table);
  return [
    bind(PRESENT_COLUMNS_SQL, [literal(schema), literal(table)]),
    bind(TABLE_SQL, [literal(schema), literal(table)]),
    bind(COLUMNS_SQL, [oid]),
    bind(UNIQUE_KEYS_SQL, [oid]),
  ];
}

/** A table's facts but its casts, from the results of tableStatements at `at` and the facts of the types its columns reach. */
function factsAt(results: readonly pg.QueryResult[], at: number, facts: ReadonlyMap<number, TypeFacts>): TableFactsRead {
  const rows = <R>(i: number): R[] => results[at + i]!.rows as R[];
  return {
    present: rows<{ name: string; generated: boolean }>(0),
    table: rows<TableRow>(1)[0],
    columns: rows<ColumnRow>(2),
    keys: rows<UniqueKeyRow>(3),
    facts,
  };
}

/** The columns whose casts FORMAT_TYPES_SQL gives: built-in types, and types the relation message does not name. */
function builtinColumns(relation: Relation): number[] {
  return relation.columns.map((c, i) => (c.typeOid < FIRST_NORMAL_OID || !relation.typeNames[i] ? i : -1)).filter((i) => i >= 0);
}

/**
 * Reads everything resolveTargetTable and columnChanges need in one simple-query message of six
 * statements: one round trip instead of six. A resumed apply meets every table's relation message
 * before its first commit, and on a loaded target each round trip waited for a scheduled backend,
 * most of a resume's time to its first change (docs/bench.md#the-applys-settings). Values are
 * quoted by the quoting helper; the table is named by to_regclass of its quoted name, so a missing
 * table reads as no rows. With the table's facts read ahead (readTargetTablesAhead), no round
 * trip at all when the target's columns give every cast.
 */
async function readTargetTable(target: pg.Client, relation: Relation, ahead?: TableFactsRead): Promise<TargetTableFacts> {
  const builtins = builtinColumns(relation);
  const casts = ahead && castsFromTarget(relation, builtins, ahead.columns);
  if (ahead && casts) return { ...ahead, casts };
  const statements = [
    bind(FORMAT_TYPES_SQL, [
      intArray(builtins),
      intArray(builtins.map((i) => relation.columns[i]!.typeOid)),
      intArray(builtins.map((i) => relation.columns[i]!.typeMod)),
    ]),
    ...tableStatements(relation.schema, relation.name),
    typeFactsSqlOf(tableOid(relation.schema, relation.name)),
  ];
  const results = (await target.query(statements.join(';\n'))) as unknown as pg.QueryResult[];
  return {
    ...factsAt(results, 1, typeFactsOf(results[statements.length - 1]!.rows as TypeFactsRow[])),
    casts: new Map((results[0]!.rows as { i: number; t: string }[]).map((r) => [r.i, r.t])),
  };
}

/**
 * The casts FORMAT_TYPES_SQL would give, from the target's own columns: each such column's type
 * printed by format_type on the target, as that statement prints it, when the target's column has
 * the very type and modifier the message gives; undefined when one has not (read them instead).
 */
function castsFromTarget(relation: Relation, builtins: readonly number[], columns: readonly ColumnRow[]): Map<number, string> | undefined {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const casts = new Map<number, string>();
  for (const i of builtins) {
    const c = relation.columns[i]!;
    const onTarget = byName.get(c.name);
    if (!onTarget || Number(onTarget.type) !== c.typeOid || onTarget.mod !== c.typeMod) return undefined;
    casts.set(i, onTarget.type_name);
  }
  return casts;
}

/** Tables read ahead at most: past it, the one message would be large and most of it read for nothing before the first change. */
const AHEAD_MAX_TABLES = 64;

/**
 * The facts of these target tables (the streamed ones, by name), read ahead of their relation
 * messages in one round trip, while the stream starts: a resumed apply otherwise read each table
 * as its message came, one round trip each before its first commit. Keyed by qualified name;
 * empty when there are more than AHEAD_MAX_TABLES. Read-only catalog reads that cannot fail on a
 * name (to_regclass), so sent inside an open transaction they never end it.
 */
export async function readTargetTablesAhead(
  target: pg.Client,
  tables: readonly { readonly schema: string; readonly name: string }[],
): Promise<Map<string, TableFactsRead>> {
  if (tables.length === 0 || tables.length > AHEAD_MAX_TABLES) return new Map();
  const perTable = tables.map((t) => tableStatements(t.schema, t.name));
  // the types' facts of every table in one statement, the most costly of a table's: the type facts
  // are keyed by type, so each table takes them all and looks up its own columns' types
  const statements = [...perTable.flat(), typeFactsSqlOf(tables.map((t) => tableOid(t.schema, t.name)).join(', '))];
  const results = (await target.query(statements.join(';\n'))) as unknown as pg.QueryResult[];
  const facts = typeFactsOf(results[statements.length - 1]!.rows as TypeFactsRow[]);
  const per = perTable[0]!.length;
  return new Map(tables.map((t, i) => [qualified(t.schema, t.name), factsAt(results, i * per, facts)]));
}

const PRESENT_COLUMNS_SQL = `
SELECT a.attname AS name, a.attgenerated <> '' AS generated
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`;

/** A target table's columns by name, generated ones marked (generatedFollow.ts compares them with the source's). */
export async function readTargetColumns(target: pg.Client, schema: string, table: string): Promise<{ name: string; generated: boolean }[]> {
  const { rows } = await target.query<{ name: string; generated: boolean }>(PRESENT_COLUMNS_SQL, [schema, table]);
  return rows;
}

const FORMAT_TYPES_SQL = 'SELECT u.i::int AS i, format_type(u.o, u.m) AS t FROM unnest($1::int[], $2::oid[], $3::int[]) AS u(i, o, m)';

/**
 * The target table a relation's rows are written to. `foreignKeysFire`: the session applies without
 * replica role, so the target's referential actions change rows on their own (see TargetTable).
 */
export async function resolveTargetTable(
  target: pg.Client,
  relation: Relation,
  foreignKeysFire: boolean,
  leftOut: ReadonlySet<string> = NONE_LEFT_OUT,
  words: StreamWords = FORWARD_STREAM_WORDS,
): Promise<TargetTable> {
  return targetTableOf(relation, await readTargetTable(target, relation), foreignKeysFire, leftOut, words);
}

const NONE_LEFT_OUT: ReadonlySet<string> = new Set();

/**
 * How a streamed table missing where it is applied is made there. Forward, the table watch makes
 * the source's new tables on the target by itself; back, nothing makes the new server's partitions
 * on the old source (the reverse publication lists the tables and the roots of partitions).
 */
function missingTableFix(words: StreamWords): string {
  const { source, target } = words;
  if (words.direction === 'forward')
    return `a table created or attached as a partition on ${source} while streaming is created on ${target} within seconds and the stream tried again (see \`show\`); a table renamed on ${source}: rename it on ${target}; otherwise create it on ${target}`;
  return `a partition made, attached or renamed on ${source} in the window is not made on ${target} by pgferry: make it there as it is on ${source}`;
}

/**
 * Pure: the target table from what its catalog said (readTargetTable), the streamed columns `leftOut`
 * written nowhere; a table missing there is refused in `words`, the direction's.
 */
function targetTableOf(
  relation: Relation,
  read: TargetTableFacts,
  foreignKeysFire: boolean,
  leftOut: ReadonlySet<string> = NONE_LEFT_OUT,
  words: StreamWords = FORWARD_STREAM_WORDS,
): TargetTable {
  const table = read.table;
  if (!table) {
    throw new PgferryError(
      'CDC_TABLE_MISSING',
      `table ${displayName(relation.schema, relation.name)} is streamed from ${words.source} but does not exist on ${words.target}`,
      // the table travels quoted as in SQL, the stop's table: the rename follow matches on it (flow/tableDropsFollow.ts)
      { category: 'target', field: qualified(relation.schema, relation.name), fix: missingTableFix(words) },
    );
  }
  const casts = read.casts;
  const facts = read.facts;
  const targetColumns = new Map(read.columns.map((r) => [r.name, r]));
  const keys = read.keys.map((k) => ({
    columns: k.columns,
    eq: k.columns.map((_, j) => ({ schema: k.eq_schemas[j]!, name: k.eq_names[j]! })),
  }));
  const match = chooseMatch(relation, keys);
  const shapes = relation.columns.map((c) => {
    const onTarget = targetColumns.get(c.name);
    return onTarget ? textShapeOf(Number(onTarget.type), facts) : undefined;
  });
  return {
    ...(shapes.some((s) => s !== undefined) ? { textShapes: shapes } : {}),
    oid: relation.oid,
    targetOid: Number(table.oid),
    schema: relation.schema,
    name: relation.name,
    identityFull: match.wholeRow,
    partitioned: table.partitioned,
    partition: table.partition,
    rowSecurity: table.row_security,
    cascadedDeletes: foreignKeysFire && table.cascaded_deletes,
    cascadedUpdates: foreignKeysFire && table.cascaded_updates,
    columns: relation.columns.map((c, i): TargetColumn => {
      const named = relation.typeNames[i];
      const cast = named && c.typeOid >= FIRST_NORMAL_OID ? qualified(named.schema, named.name) : casts.get(i);
      if (!cast) throw new Error(`no type name for column ${displayIdent(c.name)} (type oid ${c.typeOid})`);
      const onTarget = targetColumns.get(c.name);
      // a column the target lacks is added before any row uses it, and the table resolved again
      const compared = onTarget ? typeComparison(Number(onTarget.type), facts) : { stableText: true };
      const eq = match.keyEq.get(c.name) ?? compared.eq;
      return {
        name: c.name,
        cast,
        isKey: match.keyColumns.has(c.name),
        ...(eq ? { equality: operatorSql(eq) } : {}),
        stableText: compared.stableText,
        identityAlways: onTarget?.identity_always ?? false,
        ...(!onTarget && leftOut.has(c.name) ? { leftOut: true } : {}),
      };
    }),
  };
}

/**
 * Streamed columns the target lacks (added on the source), and target columns the stream lacks
 * (dropped or renamed on the source: pgoutput sends every column but generated ones before PG18).
 * Comparing with the target, not only with the previous relation message, also catches changes
 * made while no applier was running.
 */
/**
 * The stream's columns against the target's, by name: missing on the target, extra there, and of
 * another type. Types are compared where their OIDs mean the same on both servers (built-in
 * types, with their modifiers); a retyped column would otherwise take the new values in the old
 * type (numeric(12,4) rounded into numeric(12,2)) whenever a session's first relation message
 * already carries the new shape, with no earlier one to compare it with (diffRelation). A user's
 * type on one side and a built-in one on the other differ whatever their OIDs: a column retyped
 * from text to an enum made in the same transaction (Sequelize's changeColumn) is still followed
 * when the stream resumes after the enum was missing on the target.
 */
function columnChanges(relation: Relation, read: TargetTableFacts): { missing: string[]; extra: string[]; retyped: string[] } {
  const have = new Set(read.present.map((r) => r.name));
  const streamed = new Set(relation.columns.map((c) => c.name));
  const targetTypes = new Map(read.columns.map((c) => [c.name, c]));
  const retyped = relation.columns.filter((c) => {
    const t = targetTypes.get(c.name);
    if (t === undefined) return false;
    if (c.typeOid >= FIRST_NORMAL_OID) return Number(t.type) < FIRST_NORMAL_OID;
    return Number(t.type) !== c.typeOid || t.mod !== c.typeMod;
  });
  return {
    missing: relation.columns.map((c) => c.name).filter((n) => !have.has(n)),
    extra: read.present.filter((r) => !r.generated && !streamed.has(r.name)).map((r) => r.name),
    retyped: retyped.map((c) => c.name),
  };
}

/**
 * A relation message's table on the target, in one round trip: its column changes (columnChanges)
 * and, when no column is missing, the resolved table (a missing one is added first, then the
 * table resolved again: resolveTargetTable). `ahead`: its facts read ahead (readTargetTablesAhead),
 * when nothing has changed it on the target since.
 */
export async function inspectTargetTable(
  target: pg.Client,
  relation: Relation,
  foreignKeysFire: boolean,
  ahead?: TableFactsRead,
): Promise<{
  missing: string[];
  extra: string[];
  retyped: string[];
  table?: TargetTable;
  columns: TargetAttribute[];
  present: readonly { name: string; generated: boolean }[];
}> {
  const read = await readTargetTable(target, relation, ahead);
  const changes = { ...columnChanges(relation, read), columns: targetAttributes(read), present: read.present };
  if (changes.extra.length > 0 || changes.missing.length > 0 || changes.retyped.length > 0) return changes;
  return { ...changes, table: targetTableOf(relation, read, foreignKeysFire) };
}

/** The target table's streamed (not generated) columns, in order, as shapeFollow.ts compares them. */
function targetAttributes(read: TargetTableFacts): TargetAttribute[] {
  return read.columns
    .filter((c) => !c.generated)
    .map((c) => ({
      name: c.name,
      typeOid: Number(c.type),
      typeMod: c.mod,
      type: c.type_name,
      notNull: c.not_null,
      hasDefault: c.has_default,
    }));
}
