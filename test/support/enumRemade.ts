// An enum type made again on the source, as ORMs make it to remove or reorder labels: the table both
// enum-remade tests start from (enum `e` with labels a, b, c on column `t.c`), drizzle-kit's
// statements for a new list of labels, and what the tests read back on each server to compare them.
import type { Cluster } from '../../provider/localpg/cluster';
import { literal } from '../../provider/engine/connect/quote';

/** The source's table of the enum tests: enum `e` (a, b, c), table `t` of 200 rows using a and b. */
export const ENUM_TABLE_SCHEMA = `
CREATE TYPE e AS ENUM ('a', 'b', 'c');
CREATE TABLE t (id int PRIMARY KEY, c e NOT NULL);
INSERT INTO t SELECT g, (ARRAY['a', 'b'])[1 + g % 2]::e FROM generate_series(1, 200) g;`;

/**
 * drizzle-kit 0.31's statements for the labels of enum `e` changed to `labels`: the column to text,
 * the type dropped and made again, the column back USING c::e, in one transaction.
 */
export function drizzleRemake(labels: readonly string[]): string {
  return `BEGIN;
ALTER TABLE t ALTER COLUMN c SET DATA TYPE text;
DROP TYPE e;
CREATE TYPE e AS ENUM (${labels.map(literal).join(', ')});
ALTER TABLE t ALTER COLUMN c SET DATA TYPE e USING c::e;
COMMIT`;
}

const LABELS = `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = to_regtype('public.e')`;
const COLUMN = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'`;
const TYPES = `SELECT string_agg(typname, ',' ORDER BY typname) AS l FROM pg_type WHERE typtype = 'e'`;
const ROWS = `SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM t`;

/** `e`'s labels, the column's type, the database's enum types, and the rows' count and md5, read on one server: `a,b,d | e | e | 210 <md5>`. */
export async function enumState(cluster: Cluster, db: string): Promise<string> {
  const [l] = await cluster.query<{ l: string }>(LABELS, [], db);
  const [c] = await cluster.query<{ t: string }>(COLUMN, [], db);
  const [types] = await cluster.query<{ l: string }>(TYPES, [], db);
  const [r] = await cluster.query<{ h: string }>(ROWS, [], db);
  return `${l?.l} | ${c?.t} | ${types?.l} | ${r?.h}`;
}
