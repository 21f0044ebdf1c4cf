// The types a stop's fix needs on the server it runs on, made there first. A column retyped in a
// fallback window to a type the new server made for it (CREATE TYPE, then ALTER COLUMN ... TYPE)
// stops the reverse stream with the ALTER COLUMN for the old source; no schema watch runs back, so
// the old source lacks the type, and the statement alone would fail there as printed. Each type the
// table's columns use on the new server that the old source has not is read from the new server's
// catalog and printed before it: an enum with its labels, a domain with its base type, default,
// NOT NULL and checks, a composite type with its attributes. Names go through the quoting helper,
// labels as literals, and types and expressions are the catalog's own deparsed text. A type of
// another kind (a range, a base type) is named for the user to make, not guessed.
import type pg from 'pg';
import { displayName, ident, literal, qualified } from '../../connect/quote';

/** The user types a table's columns use (an array's element, not the array), with what makes each. */
const TABLE_TYPES_SQL = `
SELECT DISTINCT n.nspname AS schema, t.typname AS name, t.typtype::text AS kind,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base,
       t.typnotnull AS not_null,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.pg_get_expr(t.typdefaultbin, 0) END AS default,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(c.conname::text, pg_catalog.pg_get_constraintdef(c.oid)) ORDER BY c.conname)
          FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS checks,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(f.attname::text, pg_catalog.format_type(f.atttypid, f.atttypmod)) ORDER BY f.attnum)
          FROM pg_catalog.pg_attribute f WHERE t.typtype = 'c' AND f.attrelid = t.typrelid AND f.attnum > 0 AND NOT f.attisdropped) AS attributes
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type c ON c.oid = a.atttypid
  JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN c.typelem <> 0 AND c.typlen = -1 THEN c.typelem ELSE c.oid END
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND t.oid >= 16384
 ORDER BY 1, 2`;

/** Which of the types (as qualified SQL names) the session's server lacks. */
const ABSENT_SQL = `
SELECT x.name FROM pg_catalog.unnest($1::text[]) AS x(name) WHERE pg_catalog.to_regtype(x.name) IS NULL`;

interface TypeRow {
  schema: string;
  name: string;
  kind: string;
  labels: string[];
  base: string | null;
  not_null: boolean;
  default: string | null;
  checks: [string, string][] | null;
  attributes: [string, string][] | null;
}

/** The statement that makes one type as the catalog read it; undefined for a kind not printed here. */
function createType(t: TypeRow): string | undefined {
  const name = qualified(t.schema, t.name);
  if (t.kind === 'e') return `CREATE TYPE ${name} AS ENUM (${t.labels.map(literal).join(', ')})`;
  if (t.kind === 'c') return `CREATE TYPE ${name} AS (${(t.attributes ?? []).map(([a, type]) => `${ident(a)} ${type}`).join(', ')})`;
  if (t.kind !== 'd' || t.base === null) return undefined;
  const parts = [`CREATE DOMAIN ${name} AS ${t.base}`];
  if (t.default !== null) parts.push(`DEFAULT ${t.default}`);
  if (t.not_null) parts.push('NOT NULL');
  for (const [constraint, definition] of t.checks ?? []) parts.push(`CONSTRAINT ${ident(constraint)} ${definition}`);
  return parts.join(' ');
}

/** What makes the types a table uses on `from` that `to` lacks: the statements, and the types not printed (named for the user). */
export interface TypesToMake {
  readonly statements: readonly string[];
  readonly unprinted: readonly string[];
}

/**
 * The types `table` (a qualified SQL name on `from`) uses that `to` lacks, each made as `from`'s
 * catalog has it, in name order. Read on both servers' sessions, each in its own catalog.
 */
export async function typesToMake(from: pg.Client, to: pg.Client, table: string): Promise<TypesToMake> {
  const { rows } = await from.query<TypeRow>(TABLE_TYPES_SQL, [table]);
  if (rows.length === 0) return { statements: [], unprinted: [] };
  const { rows: absent } = await to.query<{ name: string }>(ABSENT_SQL, [rows.map((t) => qualified(t.schema, t.name))]);
  const lacking = new Set(absent.map((r) => r.name));
  const missing = rows.filter((t) => lacking.has(qualified(t.schema, t.name)));
  return {
    statements: missing.flatMap((t) => createType(t) ?? []),
    unprinted: missing.filter((t) => createType(t) === undefined).map((t) => displayName(t.schema, t.name)),
  };
}
