// The facts of every type a table's columns reach (a domain's base, an array's element, a
// composite's fields), by which plan/equality.ts picks how a streamed old value is compared: read
// on the target with each table's relation message (targetTables.ts, inside its one round trip),
// and on the source by the premigration check of whole-row matches (validate/cdcReport.ts).
import type pg from 'pg';
import type { TypeFacts } from '../plan/equality';

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

/** The facts of every type the columns of `relations` (OIDs) reach, by type OID (plan/equality.ts compares by them). */
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

/**
 * TYPE_FACTS_SQL for the tables whose OIDs `oids` gives, SQL expressions separated by commas
 * (targetTables.ts sends it among the statements of its one round trip).
 */
export function typeFactsSqlOf(oids: string): string {
  // a function, not a string: a replacement string would read $' or $& in a table's name
  return TYPE_FACTS_SQL.replace('ANY($1::oid[])', () => `ANY(ARRAY[${oids}])`);
}
