// The cutover's re-read of only the rows the stream changed after a table was verified: the rows
// whose keys the apply touched since (cdc/plan/changeTracker.ts), found by each key column's own
// equality (as the apply finds them), with the same checksum as a whole table's.
import type pg from 'pg';
import { ident } from '../connect/quote';
import type { TargetColumn } from '../cdc/plan/types';

/**
 * The text of a row of table alias `t` that a checksum hashes: its columns by name, in the given
 * order (the source's column list: the same list and order on both servers, so that a column
 * placed elsewhere on the target hashes alike and a column missing there fails to read), or the
 * whole row `t::text` without a list. Both print alike for the same columns in the same order.
 */
function rowTextSql(columns?: readonly string[]): string {
  return columns ? `ROW(${columns.map((c) => `t.${ident(c)}`).join(', ')})::pg_catalog.text` : 't::text';
}

/**
 * The count and checksum of the rows of table alias `t` in `from` (a relation or a subquery, with
 * what joins it): the sum of the first 64 bits of md5(row text), as numeric so it cannot overflow.
 * Every checksum the verification compares is this one, so both servers' figures agree.
 */
export const rowsChecksumSql = (from: string, columns?: readonly string[]): string =>
  `SELECT count(*)::int8::text AS n,
          coalesce(sum(('x' || substr(md5(${rowTextSql(columns)}), 1, 16))::bit(64)::int8::numeric), 0)::text AS h
     FROM ${from}`;

export interface Checksum {
  readonly rows: number;
  readonly hash: string;
}

/** Reads a checksum query's one row (rowsChecksumSql, or any giving `n` and `h`). */
export async function checksum(client: pg.Client, sql: string, params: unknown[] = []): Promise<Checksum> {
  const { rows } = await client.query<{ n: string; h: string }>(sql, params);
  return { rows: Number(rows[0]!.n), hash: rows[0]!.h };
}

/**
 * Count and checksum of the rows of `qualifiedTable` whose key is one of $1 (a JSON array of
 * arrays of key column texts, in `keyColumns` order). The keys arrive as one parameter, whatever
 * their number; each is cast to its column's type and compared with the column's equality (its
 * text where the type has none), so an index on the key serves the look-up. `columns`: the row's
 * columns by name (rowTextSql); the whole row without.
 */
export function keyedChecksumSql(qualifiedTable: string, keyColumns: readonly TargetColumn[], columns?: readonly string[]): string {
  const picks = keyColumns.map((c, i) => `(k.e ->> ${i})::${c.cast} AS ${ident(`k${i}`)}`).join(', ');
  const match = keyColumns
    .map((c, i) => {
      const t = `t.${ident(c.name)}`;
      const k = `k.${ident(`k${i}`)}`;
      return c.equality ? `${t} ${c.equality} ${k}` : `${t}::pg_catalog.text OPERATOR(pg_catalog.=) ${k}::pg_catalog.text`;
    })
    .join(' AND ');
  return rowsChecksumSql(
    `(SELECT ${picks} FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) AS k(e)) AS k JOIN ONLY ${qualifiedTable} AS t ON ${match}`,
    columns,
  );
}

/** Row count of one table (the cutover's look at a table no change reached since its verification). */
export const tableCountSql = (qualifiedTable: string): string => `SELECT count(*)::int8::text AS n, '' AS h FROM ONLY ${qualifiedTable}`;
