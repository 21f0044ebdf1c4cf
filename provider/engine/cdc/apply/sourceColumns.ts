// A streamed table's columns as the source's catalog has them now: every attribute by attnum, dropped
// ones included (shapeFollow.ts decides renames and drops by them), and a column added on the source
// with its definition (type, default and its volatility, NOT NULL, identity, the existing rows'
// value), and how it is added on the target so that the target's rows get the source's values
// (addColumnPlan): by the apply at its relation message (shapeFollower.ts), and by the schema
// follow for a table not written since (flow/schemaFollow.ts).
import type pg from 'pg';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import { ident, literal, qualified } from '../../connect/quote';
import type { SourceAttribute } from './shapeFollow';

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
export function addColumnPlan(
  schema: string,
  table: string,
  column: SourceColumnDefinition,
  targetHasRows: boolean,
  { source }: StreamWords = FORWARD_STREAM_WORDS,
): AddColumnPlan {
  const add = addColumnSql(schema, table, column);
  if (!targetHasRows) return { kind: 'as-source', statements: [add] };
  // numbered on each server by its own sequence, in each one's row order: the source's values come with the table's copy at a pin
  if (column.identity)
    return { kind: 'per-row', why: `is an identity column: its existing rows were numbered on ${source}`, statements: [add] };
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
    return { kind: 'per-row', why: `has a default evaluated per row on ${source} (${column.defaultExpr ?? ''})`, statements: [add] };
  }
  return { kind: 'as-source', statements: [add] };
}

/** One row of attributeRows: a column of a source table, and the table's name. */
interface AttributeRow {
  rel: string;
  schema_name: string;
  table_name: string;
  attnum: number;
  name: string;
  dropped: boolean;
  generated: boolean;
  type_oid: string;
  type_mod: number;
  type: string;
  not_null: boolean;
  expression: string | null;
}

/** The source's columns of one table, or of every table the publication lists, each row with its table's name. */
async function attributeRows(
  source: pg.Client,
  major: number,
  of: { readonly relation: number } | { readonly publication: string },
): Promise<AttributeRow[]> {
  const generated = major >= 12 ? `a.attgenerated OPERATOR(pg_catalog.<>) ''` : 'false';
  const expression = major >= 12 ? `CASE WHEN ${generated} THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END` : 'NULL::pg_catalog.text';
  const which =
    'relation' in of
      ? 'a.attrelid = $1::pg_catalog.oid'
      : `a.attrelid IN (SELECT c.oid FROM pg_catalog.pg_publication_tables pt
                          JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname
                          JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
                         WHERE pt.pubname = $1)`;
  const { rows } = await source.query<AttributeRow>(
    `SELECT a.attrelid::pg_catalog.int8 AS rel, tn.nspname AS schema_name, tc.relname AS table_name,
            a.attnum::pg_catalog.int4 AS attnum, a.attname AS name, a.attisdropped AS dropped,
            ${generated} AS generated, a.atttypid::pg_catalog.int8 AS type_oid, a.atttypmod AS type_mod,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, ${expression} AS expression
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) a.attrelid
       JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid AND d.adnum OPERATOR(pg_catalog.=) a.attnum
      WHERE ${which} AND a.attnum > 0
      ORDER BY a.attrelid, a.attnum`,
    ['relation' in of ? of.relation : of.publication],
  );
  return rows;
}

/** The rows of attributeRows by table oid. */
function byRelation(rows: readonly AttributeRow[]): Map<number, SourceAttribute[]> {
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

/**
 * The source's columns of the given tables now, dropped ones included (shapeFollow.ts decides by
 * their attnums), or of every table the publication lists. attgenerated exists from PostgreSQL 12.
 */
export async function sourceAttributes(
  source: pg.Client,
  major: number,
  of: { readonly relation: number } | { readonly publication: string },
): Promise<Map<number, SourceAttribute[]>> {
  return byRelation(await attributeRows(source, major, of));
}

/** The tables a publication lists, by name, and their columns by relation OID (publishedAttributes). */
export interface PublishedAttributes {
  readonly tables: { schema: string; name: string }[];
  readonly columns: Map<number, SourceAttribute[]>;
}

/**
 * The columns of every table the publication lists and those tables' names, from one statement:
 * pg_publication_tables is costly to read, and a resumed session's first relation message waited
 * for the names and then the columns, read one after the other. A published table without a
 * column has no row and is not named; its facts are read at its relation message.
 */
export async function publishedAttributes(source: pg.Client, major: number, publication: string): Promise<PublishedAttributes> {
  const rows = await attributeRows(source, major, { publication });
  const tables = new Map<string, { schema: string; name: string }>();
  for (const r of rows) tables.set(r.rel, { schema: r.schema_name, name: r.table_name });
  return { tables: [...tables.values()], columns: byRelation(rows) };
}
