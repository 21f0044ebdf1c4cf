// How a value on the target is compared with one from the stream when an UPDATE or DELETE looks
// for its row: with the equality operator of the column's type, named with its schema, because
// every session's search_path is empty (connect/session.ts) and an extension's operator (hstore,
// citext, ltree, cube, isn, PostGIS ...) lives outside pg_catalog. Unqualified, `=` then fails
// ("operator does not exist: public.hstore = public.hstore", "operator is not unique:
// public.geometry = public.geometry"), or, worse, finds another type's operator through an
// implicit cast: citext = citext silently became text = text, which no citext index can serve.
//
// The operator is the one PostgreSQL's type cache picks (lookup_type_cache, TYPECACHE_EQ_OPR),
// which is also what its own apply worker compares REPLICA IDENTITY FULL rows with: the equality
// member of the type's default btree operator class, else of its default hash class (an exact
// match of the type first, else a class of a type it is binary-coercible to, as varchar uses
// text's); a domain's is its base type's; arrays, composites, enums and ranges use pg_catalog's
// polymorphic `=` (array_eq, record_eq ...), which works only when every element or field type has
// an equality in turn. Read once per table from the catalog of the server the comparison runs on.
import type pg from 'pg';
import { operator } from '../../connect/quote';

/**
 * Every type the columns of the given relations reach (a domain's base, an array's element, a
 * composite's fields, recursively), each with its own default btree-or-hash equality operator
 * and whether its text form could change from one call to the next (a VOLATILE input or output
 * function; PostgreSQL warns when a type is created with one, but allows it).
 */
export const TYPE_FACTS_SQL = `
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

export interface TypeFacts {
  /** pg_type.typtype: b base, c composite, d domain, e enum, r range, m multirange, p pseudo. */
  readonly kind: string;
  /** A domain's base type. */
  readonly base: number;
  /** A true array's element type (0 otherwise). */
  readonly element: number;
  /** A composite type's field types. */
  readonly fields: readonly number[];
  /** A base type's own default btree (else hash) equality. */
  readonly eq?: Operator;
  readonly volatileText: boolean;
}

export interface Operator {
  readonly schema: string;
  readonly name: string;
}

export interface TypeFactsRow {
  oid: string;
  kind: string;
  base: string;
  element: string;
  fields: string[];
  schema: string | null;
  name: string | null;
  volatile_text: boolean | null;
}

/** The facts of every type the columns of `relations` (OIDs) reach, by type OID. */
export async function readTypeFacts(client: pg.Client, relations: readonly (string | number)[]): Promise<Map<number, TypeFacts>> {
  const { rows } = await client.query<TypeFactsRow>(TYPE_FACTS_SQL, [relations.map(String)]);
  return typeFactsOf(rows);
}

/** The facts of TYPE_FACTS_SQL's rows, by type OID. */
export function typeFactsOf(rows: readonly TypeFactsRow[]): Map<number, TypeFacts> {
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

/** pg_catalog's polymorphic equality: array_eq, record_eq, enum_eq, range_eq, multirange_eq. */
const POLYMORPHIC_EQ: Operator = { schema: 'pg_catalog', name: '=' };

export interface Comparison {
  /** The type's equality operator; undefined when it has none (json, xml, point, box, a composite holding json ...). */
  readonly eq?: Operator;
  /** Its text form is a function of its value (no VOLATILE input or output function anywhere in it). */
  readonly stableText: boolean;
}

/** Pure: how values of a type are compared, from the facts read for it (readTypeFacts). */
export function typeComparison(type: number, facts: ReadonlyMap<number, TypeFacts>): Comparison {
  return { eq: equalityOf(type, facts, 0), stableText: !volatileText(type, facts, 0) };
}

/** Deep enough for any real nesting; the recursion cannot loop (PostgreSQL forbids a type containing itself) but a bound is cheap. */
const MAX_DEPTH = 32;

function equalityOf(type: number, facts: ReadonlyMap<number, TypeFacts>, depth: number): Operator | undefined {
  const t = facts.get(type);
  if (!t || depth > MAX_DEPTH) return undefined;
  switch (t.kind) {
    case 'd':
      return equalityOf(t.base, facts, depth + 1);
    case 'e':
    case 'r':
    case 'm':
      // enum_ops, range_ops, multirange_ops: a range's subtype always has a btree class
      return POLYMORPHIC_EQ;
    case 'c':
      return t.fields.every((f) => equalityOf(f, facts, depth + 1) !== undefined) ? POLYMORPHIC_EQ : undefined;
    case 'b':
      if (t.eq) return t.eq;
      if (t.element !== 0 && equalityOf(t.element, facts, depth + 1)) return POLYMORPHIC_EQ;
      return undefined;
    default:
      return undefined;
  }
}

function volatileText(type: number, facts: ReadonlyMap<number, TypeFacts>, depth: number): boolean {
  const t = facts.get(type);
  if (!t || depth > MAX_DEPTH) return false;
  if (t.volatileText) return true;
  const inner = [t.kind === 'd' ? t.base : 0, t.element, ...t.fields].filter((o) => o !== 0);
  return inner.some((o) => volatileText(o, facts, depth + 1));
}

/** `OPERATOR("schema".=)`, for SQL text. */
export function operatorSql(op: Operator): string {
  return operator(op.schema, op.name);
}
