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
// an equality in turn. Pure: the facts are read once per table from the catalog of the server the
// comparison runs on, by those who compare (apply/typeFacts.ts readTypeFacts).
import { operator } from '../../connect/quote';

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

/** pg_catalog's polymorphic equality: array_eq, record_eq, enum_eq, range_eq, multirange_eq. */
const POLYMORPHIC_EQ: Operator = { schema: 'pg_catalog', name: '=' };

export interface Comparison {
  /** The type's equality operator; undefined when it has none (json, xml, point, box, a composite holding json ...). */
  readonly eq?: Operator;
  /** Its text form is a function of its value (no VOLATILE input or output function anywhere in it). */
  readonly stableText: boolean;
}

/** How values of a type are compared, from the facts read for it (apply/typeFacts.ts readTypeFacts). */
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
