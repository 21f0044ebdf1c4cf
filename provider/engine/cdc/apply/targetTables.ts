// Maps a streamed relation to the target table the planner writes: the SQL type each text value is
// cast to, whether it is partitioned, and which streamed columns the target lacks (columns added
// on the source while streaming, added on the target here before any row uses them), and the facts
// of the types its columns reach, by which plan/equality.ts picks how old values are compared (read
// here for the target, and by the premigration check of whole-row matches on the source,
// validate/cdcReport.ts).
import type pg from 'pg';
import { ident, literal, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { type Operator, operatorSql, type TypeFacts, typeComparison } from '../plan/equality';
import type { TargetColumn, TargetTable } from '../plan/types';
import type { SourceAttribute, TargetAttribute } from './shapeFollow';
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

/**
 * Every type the columns of the given relations reach (a domain's base, an array's element, a
 * composite's fields, recursively), each with its own default btree-or-hash equality operator
 * and whether its text form could change from one call to the next (a VOLATILE input or output
 * function; PostgreSQL warns when a type is created with one, but allows it).
 */
const TYPE_FACTS_SQL = `
WITH RECURSIVE reached(oid) AS (
  SELECT a.atttypid FROM pg_attribute a
   WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT x.oid FROM reached r JOIN pg_type ty ON ty.oid = r.oid
   CROSS JOIN LATERAL (
     SELECT ty.typbasetype WHERE ty.typtype = 'd'
     UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typlen = -1
     UNION ALL SELECT f.atttypid FROM pg_attribute f
                WHERE ty.typtype = 'c' AND f.attrelid = ty.typrelid AND f.attnum > 0 AND NOT f.attisdropped
   ) AS x(oid)
)
SELECT ty.oid::int8 AS oid, ty.typtype AS kind, ty.typbasetype::int8 AS base,
       CASE WHEN ty.typelem <> 0 AND ty.typlen = -1 THEN ty.typelem ELSE 0 END::int8 AS element,
       ARRAY(SELECT f.atttypid::int8 FROM pg_attribute f
              WHERE ty.typtype = 'c' AND f.attrelid = ty.typrelid AND f.attnum > 0 AND NOT f.attisdropped
              ORDER BY f.attnum) AS fields,
       eq.schema, eq.name,
       (SELECT i.provolatile = 'v' OR o.provolatile = 'v' FROM pg_proc i, pg_proc o
         WHERE i.oid = ty.typinput AND o.oid = ty.typoutput) AS volatile_text
  FROM reached r JOIN pg_type ty ON ty.oid = r.oid
  LEFT JOIN LATERAL (
    SELECT n.nspname AS schema, o.oprname AS name
      FROM pg_opclass oc
      JOIN pg_am am ON am.oid = oc.opcmethod
      JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
                     AND ao.amoprighttype = oc.opcintype AND ao.amopmethod = oc.opcmethod
                     AND ao.amopstrategy = CASE am.amname WHEN 'btree' THEN 3 ELSE 1 END
      JOIN pg_operator o ON o.oid = ao.amopopr
      JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE ty.typtype = 'b' AND oc.opcdefault AND am.amname IN ('btree', 'hash')
       AND (oc.opcintype = ty.oid
            OR EXISTS (SELECT 1 FROM pg_cast k WHERE k.castsource = ty.oid AND k.casttarget = oc.opcintype
                                                 AND k.castmethod = 'b' AND k.castcontext = 'i'))
     ORDER BY am.amname = 'btree' DESC, oc.opcintype = ty.oid DESC, oc.oid
     LIMIT 1
  ) AS eq ON true`;

interface TypeFactsRow {
  oid: string;
  kind: string;
  base: string;
  element: string;
  fields: string[];
  schema: string | null;
  name: string | null;
  volatile_text: boolean | null;
}

/** The facts of every type the columns of `relations` (OIDs) reach, by type OID (plan/equality.ts compares by them). */
export async function readTypeFacts(client: pg.Client, relations: readonly (string | number)[]): Promise<Map<number, TypeFacts>> {
  const { rows } = await client.query<TypeFactsRow>(TYPE_FACTS_SQL, [relations.map(String)]);
  return typeFactsOf(rows);
}

/** The facts of TYPE_FACTS_SQL's rows, by type OID. */
function typeFactsOf(rows: readonly TypeFactsRow[]): Map<number, TypeFacts> {
  return new Map(
    rows.map((r) => [
      Number(r.oid),
      {
        kind: r.kind,
        base: Number(r.base),
        element: Number(r.element),
        fields: r.fields.map(Number),
        ...(r.schema !== null && r.name !== null ? { eq: { schema: r.schema, name: r.name } } : {}),
        volatileText: r.volatile_text ?? false,
      },
    ]),
  );
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
interface TargetTableFacts {
  /** The table's columns by name, generated ones marked (compared with the stream's: columnChanges). */
  readonly present: readonly { name: string; generated: boolean }[];
  readonly table: TableRow | undefined;
  /** SQL type names of the built-in columns' types, by column index. */
  readonly casts: ReadonlyMap<number, string>;
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

/**
 * Reads everything resolveTargetTable and columnChanges need in one simple-query message of six
 * statements: one round trip instead of six. A resumed apply meets every table's relation message
 * before its first commit, and on a loaded target each round trip waited for a scheduled backend
 * (0.4-1.0 s per table measured with load 16 on 2 CPUs, most of a resume's time to its first
 * change). Values are quoted by the quoting helper; the table is named by to_regclass of its
 * quoted name, so a missing table reads as no rows.
 */
async function readTargetTable(target: pg.Client, relation: Relation): Promise<TargetTableFacts> {
  const schema = literal(relation.schema);
  const name = literal(relation.name);
  const oid = `to_regclass(${literal(qualified(relation.schema, relation.name))})::oid`;
  const builtins = relation.columns.map((c, i) => (c.typeOid < FIRST_NORMAL_OID || !relation.typeNames[i] ? i : -1)).filter((i) => i >= 0);
  const statements = [
    bind(PRESENT_COLUMNS_SQL, [schema, name]),
    bind(TABLE_SQL, [schema, name]),
    bind(FORMAT_TYPES_SQL, [
      intArray(builtins),
      intArray(builtins.map((i) => relation.columns[i]!.typeOid)),
      intArray(builtins.map((i) => relation.columns[i]!.typeMod)),
    ]),
    bind(COLUMNS_SQL, [oid]),
    bind(UNIQUE_KEYS_SQL, [oid]),
    // a function, not a string: a replacement string would read $' or $& in a table's name
    TYPE_FACTS_SQL.replace('ANY($1::oid[])', () => `ANY(ARRAY[${oid}])`),
  ];
  const results = (await target.query(statements.join(';\n'))) as unknown as pg.QueryResult[];
  const rows = <R>(i: number): R[] => results[i]!.rows as R[];
  return {
    present: rows<{ name: string; generated: boolean }>(0),
    table: rows<TableRow>(1)[0],
    casts: new Map(rows<{ i: number; t: string }>(2).map((r) => [r.i, r.t])),
    columns: rows<ColumnRow>(3),
    keys: rows<UniqueKeyRow>(4),
    facts: typeFactsOf(rows<TypeFactsRow>(5)),
  };
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
): Promise<TargetTable> {
  return targetTableOf(relation, await readTargetTable(target, relation), foreignKeysFire, leftOut);
}

const NONE_LEFT_OUT: ReadonlySet<string> = new Set();

/** Pure: the target table from what its catalog said (readTargetTable), the streamed columns `leftOut` written nowhere. */
function targetTableOf(
  relation: Relation,
  read: TargetTableFacts,
  foreignKeysFire: boolean,
  leftOut: ReadonlySet<string> = NONE_LEFT_OUT,
): TargetTable {
  const table = read.table;
  if (!table) {
    throw new PgferryError(
      'CDC_TABLE_MISSING',
      `table ${qualified(relation.schema, relation.name)} is streamed from the source but does not exist on the target`,
      {
        category: 'target',
        fix: 'a table created or attached as a partition on the source while streaming is created on the target within seconds and the stream tried again (see `show`); a table renamed on the source: rename it on the target; otherwise create it on the target',
      },
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
  return {
    oid: relation.oid,
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
      if (!cast) throw new Error(`no type name for column "${c.name}" (type oid ${c.typeOid})`);
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
 * already carries the new shape, with no earlier one to compare it with (diffRelation).
 */
function columnChanges(relation: Relation, read: TargetTableFacts): { missing: string[]; extra: string[]; retyped: string[] } {
  const have = new Set(read.present.map((r) => r.name));
  const streamed = new Set(relation.columns.map((c) => c.name));
  const targetTypes = new Map(read.columns.map((c) => [c.name, c]));
  const retyped = relation.columns.filter((c) => {
    const t = targetTypes.get(c.name);
    return t !== undefined && c.typeOid < FIRST_NORMAL_OID && (Number(t.type) !== c.typeOid || t.mod !== c.typeMod);
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
 * table resolved again: resolveTargetTable).
 */
export async function inspectTargetTable(
  target: pg.Client,
  relation: Relation,
  foreignKeysFire: boolean,
): Promise<{
  missing: string[];
  extra: string[];
  retyped: string[];
  table?: TargetTable;
  columns: TargetAttribute[];
  present: readonly { name: string; generated: boolean }[];
}> {
  const read = await readTargetTable(target, relation);
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

/** A column added on the source, as the source's catalog has it now (sourceColumnDefinitions). */
export interface SourceColumnDefinition {
  readonly name: string;
  /** Its attnum on the source (recorded with the known objects: a rename keeps it). */
  readonly attnum?: number;
  /** format_type of the column's type: the source catalog's own SQL. */
  readonly type: string;
  /** pg_get_expr of its default: the source catalog's own SQL; null without one. */
  readonly defaultExpr: string | null;
  readonly notNull: boolean;
  /** An identity column: each existing row got the next value of the source's sequence. */
  readonly identity: SourceIdentity | null;
  /** The default calls a function or operator that is not IMMUTABLE (or a node that evaluates like one). */
  readonly mutableDefault: boolean;
  /**
   * The value the source's rows that existed when the column was added have, as text
   * (pg_attribute.attmissingval, set when a non-volatile default was evaluated once instead of
   * rewriting the table); null when there is none or the source user may not read it.
   */
  readonly existingValue: string | null;
}

/** An identity column's kind and sequence as the source has them: the target's is made the same. */
interface SourceIdentity {
  readonly kind: 'ALWAYS' | 'BY DEFAULT';
  /** The sequence's name, in the table's schema (an identity's sequence cannot leave it). */
  readonly sequence: string;
  /** Its options, as pg_sequence holds them (int8 text). */
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
  /** Its last value handed out; null when none was yet, or the source user may not read it. */
  readonly lastValue: string | null;
}

/**
 * An identity column's sequence (pg_depend's internal dependency of the sequence on the column)
 * with its options and last value, for the pg_attribute row `a`; no row for other columns.
 */
const IDENTITY_SQL = `LEFT JOIN LATERAL (
  SELECT sc.relname AS sequence, q.seqstart::pg_catalog.text AS start, q.seqincrement::pg_catalog.text AS increment,
         q.seqmin::pg_catalog.text AS min, q.seqmax::pg_catalog.text AS max, q.seqcache::pg_catalog.text AS cache, q.seqcycle AS cycle,
         CASE WHEN pg_catalog.has_sequence_privilege(sc.oid, 'SELECT') THEN pg_catalog.pg_sequence_last_value(sc.oid)::pg_catalog.text END AS last_value
    FROM pg_catalog.pg_depend dp
    JOIN pg_catalog.pg_class sc ON sc.oid OPERATOR(pg_catalog.=) dp.objid AND sc.relkind OPERATOR(pg_catalog.=) 'S'
    JOIN pg_catalog.pg_sequence q ON q.seqrelid OPERATOR(pg_catalog.=) sc.oid
   WHERE dp.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND dp.refobjid OPERATOR(pg_catalog.=) a.attrelid AND dp.refobjsubid OPERATOR(pg_catalog.=) a.attnum AND dp.deptype OPERATOR(pg_catalog.=) 'i'
   LIMIT 1
) s ON a.attidentity OPERATOR(pg_catalog.<>) ''`;

interface IdentityRow {
  identity_kind: string;
  sequence: string | null;
  start: string | null;
  increment: string | null;
  min: string | null;
  max: string | null;
  cache: string | null;
  cycle: boolean | null;
  last_value: string | null;
}

/** Pure: the identity of IDENTITY_SQL's row; null for a column that is not one. */
function identityOf(r: IdentityRow): SourceIdentity | null {
  if (r.identity_kind !== 'a' && r.identity_kind !== 'd') return null;
  if (r.sequence === null) throw new Error(`identity column without a sequence in the source's catalog`);
  return {
    kind: r.identity_kind === 'a' ? 'ALWAYS' : 'BY DEFAULT',
    sequence: r.sequence,
    start: r.start!,
    increment: r.increment!,
    min: r.min!,
    max: r.max!,
    cache: r.cache!,
    cycle: r.cycle === true,
    lastValue: r.last_value,
  };
}

/**
 * Expression nodes that evaluate a function without naming it by :funcid or :opno in the stored
 * tree: SQLValueFunction (CURRENT_TIMESTAMP, CURRENT_USER...: STABLE), NextValueExpr (identity:
 * VOLATILE), CoerceViaIO (the types' output and input functions: text to timestamptz is STABLE),
 * RowCompareExpr (a list of operators) and the SQL/JSON constructors. Counted as not immutable,
 * as PostgreSQL's contain_mutable_functions counts them.
 */
const MUTABLE_NODES = '\\{(SQLVALUEFUNCTION|NEXTVALUEEXPR|COERCEVIAIO|ROWCOMPAREEXPR|JSON[A-Z]*) ';

/**
 * Whether a default (the pg_attrdef row `d`) is not IMMUTABLE: the functions it depends on
 * (pg_depend of the pg_attrdef entry on pg_proc, and on pg_operator through each operator's
 * oprcode) and, because PostgreSQL records no dependency on its built-in (pinned) functions,
 * the functions and operators its stored expression names (`:funcid`, `:opfuncid`, `:opno`), each
 * judged by its provolatile; plus the nodes of MUTABLE_NODES.
 */
const MUTABLE_DEFAULT_SQL = `(d.adbin::pg_catalog.text OPERATOR(pg_catalog.~) '${MUTABLE_NODES}'
  OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.provolatile OPERATOR(pg_catalog.<>) 'i' AND p.oid IN (
       SELECT dp.refobjid FROM pg_catalog.pg_depend dp
        WHERE dp.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dp.objid = d.oid AND dp.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       UNION ALL
       SELECT o.oprcode::pg_catalog.oid FROM pg_catalog.pg_depend dp JOIN pg_catalog.pg_operator o ON o.oid = dp.refobjid
        WHERE dp.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dp.objid = d.oid AND dp.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
       UNION ALL
       SELECT m[2]::pg_catalog.oid FROM pg_catalog.regexp_matches(d.adbin::pg_catalog.text, ':(funcid|opfuncid) ([0-9]+)', 'g') AS m
       UNION ALL
       SELECT o.oprcode::pg_catalog.oid FROM pg_catalog.regexp_matches(d.adbin::pg_catalog.text, ':opno ([0-9]+)', 'g') AS m
         JOIN pg_catalog.pg_operator o ON o.oid = m[1]::pg_catalog.oid)))`;

/** The source user may read pg_attribute.attmissingval (a server may revoke it from PUBLIC). */
const MISSING_READABLE_SQL = `SELECT pg_catalog.has_column_privilege('pg_catalog.pg_attribute'::pg_catalog.regclass, 'attmissingval', 'SELECT') AS readable`;

/** The one element of attmissingval, as text (an array's own text for an array column). */
const EXISTING_VALUE_SQL = `CASE WHEN a.atthasmissing THEN pg_catalog.array_to_string(a.attmissingval, '') END`;

/** Column definitions as the source has them now (type, default and its volatility, NOT NULL, the existing rows' value), read by the relation's source OID. */
export async function sourceColumnDefinitions(
  source: pg.Client,
  relationOid: number,
  columns: readonly string[],
): Promise<SourceColumnDefinition[]> {
  const readable = (await source.query<{ readable: boolean }>(MISSING_READABLE_SQL)).rows[0]?.readable === true;
  const { rows } = await source.query<
    IdentityRow & {
      name: string;
      attnum: number;
      type: string;
      default_expr: string | null;
      not_null: boolean;
      mutable_default: boolean | null;
      existing_value: string | null;
    }
  >(
    `SELECT a.attname AS name, a.attnum::pg_catalog.int4 AS attnum, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
            a.attnotnull AS not_null, a.attidentity::pg_catalog.text AS identity_kind, s.*,
            d.oid IS NOT NULL AND ${MUTABLE_DEFAULT_SQL} AS mutable_default,
            ${readable ? EXISTING_VALUE_SQL : 'NULL::pg_catalog.text'} AS existing_value
       FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       ${IDENTITY_SQL}
      WHERE a.attrelid = $1 AND a.attname = ANY($2::pg_catalog.text[]) AND NOT a.attisdropped ORDER BY a.attnum`,
    [relationOid, columns],
  );
  return rows.map((r) => ({
    name: r.name,
    attnum: r.attnum,
    type: r.type,
    defaultExpr: r.default_expr,
    notNull: r.not_null,
    identity: identityOf(r),
    mutableDefault: r.mutable_default === true,
    existingValue: r.existing_value,
  }));
}

/**
 * ALTER TABLE ... ADD COLUMN for columns added on the source. The type and default expression are
 * the source catalog's own SQL (format_type / pg_get_expr output), not user input; names are quoted.
 * A constant default gives existing target rows the value the source's existing rows have.
 */
function addColumnSql(
  schema: string,
  table: string,
  column: { name: string; type: string; defaultExpr: string | null; notNull: boolean; identity?: SourceIdentity | null },
): string {
  const def = column.defaultExpr ? ` DEFAULT ${column.defaultExpr}` : '';
  const identity = column.identity ? ` ${identityClause(schema, column.identity)}` : '';
  const notNull = column.notNull ? ' NOT NULL' : '';
  return `ALTER TABLE ${qualified(schema, table)} ADD COLUMN IF NOT EXISTS ${ident(column.name)} ${column.type}${def}${identity}${notNull}`;
}

const INT8_TEXT = /^-?\d{1,19}$/;

/**
 * GENERATED ... AS IDENTITY with the source's kind, sequence name and options: the same name, so
 * that the cutover's sequence sync (by name) sets its value, and the same options, so that the
 * target hands out what the source would. The numbers are pg_sequence's int8 values, checked as such.
 */
function identityClause(schema: string, identity: SourceIdentity): string {
  const numbers = [identity.start, identity.increment, identity.min, identity.max, identity.cache];
  if (!numbers.every((n) => INT8_TEXT.test(n))) throw new Error(`identity sequence ${identity.sequence}: options are not integers`);
  return (
    `GENERATED ${identity.kind} AS IDENTITY (SEQUENCE NAME ${qualified(schema, identity.sequence)} START WITH ${identity.start} ` +
    `INCREMENT BY ${identity.increment} MINVALUE ${identity.min} MAXVALUE ${identity.max} CACHE ${identity.cache}${identity.cycle ? ' CYCLE' : ' NO CYCLE'})`
  );
}

/** How a column added on the source is added on the target (addColumnPlan). */
export type AddColumnPlan =
  /** The target evaluates the column's default for its existing rows: none, an immutable one, or no rows. */
  | { readonly kind: 'as-source'; readonly statements: readonly string[] }
  /** The target's existing rows get the value the source's have (attmissingval), then the source's default is set. */
  | { readonly kind: 'existing-value'; readonly statements: readonly string[] }
  /**
   * The source evaluated a value per row (a volatile default, which rewrote the table; identity):
   * the target cannot. `statements` add the column as the source has it (an identity with the
   * source's kind, sequence and options), its values for the existing rows the target's own until
   * the table is copied again at a pin (a resync).
   */
  | { readonly kind: 'per-row'; readonly why: string; readonly statements?: readonly string[] };

/**
 * An identity column's sequence set on the target to the source's last value read with its
 * definition (never lower than what the source handed out then; the cutover sets it to the
 * source's final one): `$1` the sequence, `$2` the value. Undefined when the source handed none out.
 */
export function identityPosition(schema: string, column: SourceColumnDefinition): { text: string; params: string[] } | undefined {
  if (!column.identity || column.identity.lastValue === null) return undefined;
  return {
    text: 'SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::pg_catalog.int8, true)',
    params: [qualified(schema, column.identity.sequence), column.identity.lastValue],
  };
}

/**
 * Pure: how to add a column the source gained to a target table, so that the target's existing
 * rows get the values the source's have. An empty target table, a column without default or with
 * an IMMUTABLE one: as the source did it. A default that is not immutable (now(), nextval(),
 * gen_random_uuid()...) is never evaluated on the target over existing rows: a non-volatile one
 * was evaluated once on the source, which kept that value for its existing rows
 * (attmissingval): the column is added with that value as a constant default, and the source's
 * default set after, in the same transaction. Without that value (a volatile default, evaluated
 * per row while the source rewrote the table, or a table rewritten since), the target cannot know
 * the source's values: 'per-row', for which the table is copied again at a pin, or the stream stops.
 */
export function addColumnPlan(schema: string, table: string, column: SourceColumnDefinition, targetHasRows: boolean): AddColumnPlan {
  const add = addColumnSql(schema, table, column);
  if (!targetHasRows) return { kind: 'as-source', statements: [add] };
  // numbered on each server by its own sequence, in each one's row order: the source's values come with the table's copy at a pin
  if (column.identity)
    return { kind: 'per-row', why: 'is an identity column: its existing rows were numbered on the source', statements: [add] };
  // a domain's own default (no column default) evaluated once on the source has a value too
  if (column.existingValue !== null && (column.mutableDefault || column.defaultExpr === null)) {
    const value = `CAST(${literal(column.existingValue)} AS ${column.type})`;
    const setDefault = column.defaultExpr ? `SET DEFAULT ${column.defaultExpr}` : 'DROP DEFAULT';
    return {
      kind: 'existing-value',
      statements: [
        addColumnSql(schema, table, { ...column, defaultExpr: value }),
        `ALTER TABLE ${qualified(schema, table)} ALTER COLUMN ${ident(column.name)} ${setDefault}`,
      ],
    };
  }
  if (column.mutableDefault) {
    return { kind: 'per-row', why: `has a default evaluated per row on the source (${column.defaultExpr ?? ''})`, statements: [add] };
  }
  return { kind: 'as-source', statements: [add] };
}

/**
 * The source's columns of the given tables now, dropped ones included (shapeFollow.ts decides by
 * their attnums), or of every table the publication lists. attgenerated exists from PostgreSQL 12.
 */
export async function sourceAttributes(
  source: pg.Client,
  major: number,
  of: { readonly relation: number } | { readonly publication: string },
): Promise<Map<number, SourceAttribute[]>> {
  const generated = major >= 12 ? `a.attgenerated OPERATOR(pg_catalog.<>) ''` : 'false';
  const expression = major >= 12 ? `CASE WHEN ${generated} THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END` : 'NULL::pg_catalog.text';
  const which =
    'relation' in of
      ? 'a.attrelid = $1::pg_catalog.oid'
      : `a.attrelid IN (SELECT c.oid FROM pg_catalog.pg_publication_tables pt
                          JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname
                          JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
                         WHERE pt.pubname = $1)`;
  const { rows } = await source.query<{
    rel: string;
    attnum: number;
    name: string;
    dropped: boolean;
    generated: boolean;
    type_oid: string;
    type_mod: number;
    type: string;
    not_null: boolean;
    expression: string | null;
  }>(
    `SELECT a.attrelid::pg_catalog.int8 AS rel, a.attnum::pg_catalog.int4 AS attnum, a.attname AS name, a.attisdropped AS dropped,
            ${generated} AS generated, a.atttypid::pg_catalog.int8 AS type_oid, a.atttypmod AS type_mod,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, ${expression} AS expression
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid AND d.adnum OPERATOR(pg_catalog.=) a.attnum
      WHERE ${which} AND a.attnum > 0
      ORDER BY a.attrelid, a.attnum`,
    ['relation' in of ? of.relation : of.publication],
  );
  const out = new Map<number, SourceAttribute[]>();
  for (const r of rows) {
    const list = out.get(Number(r.rel)) ?? [];
    list.push({
      attnum: r.attnum,
      name: r.name,
      dropped: r.dropped,
      generated: r.generated,
      typeOid: Number(r.type_oid),
      typeMod: r.type_mod,
      type: r.type,
      notNull: r.not_null,
      ...(r.expression !== null ? { expression: r.expression } : {}),
    });
    out.set(Number(r.rel), list);
  }
  return out;
}
