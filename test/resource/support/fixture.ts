// A small source database for the resource's lifecycle tests, and a content fingerprint to
// prove a target identical to its source.
import type { Cluster } from '../../support';

const SHOP_SQL = `
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE NOT NULL, created date);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id bigint REFERENCES customers(id), total numeric(10,2), note text);
CREATE TABLE "Odd ""Name"".t" (k int PRIMARY KEY, v jsonb);
INSERT INTO customers (email, created) SELECT 'user' || g || '@example.com', date '2024-01-01' + g FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, total, note) SELECT 1 + g % 500, g * 1.25, repeat('x', g % 40) FROM generate_series(1, 2000) g;
INSERT INTO "Odd ""Name"".t" SELECT g, jsonb_build_object('g', g) FROM generate_series(1, 50) g;
`;

/** Creates `database` on the cluster with the shop tables and rows. */
export async function loadShop(cluster: Cluster, database: string): Promise<void> {
  await cluster.query(`CREATE DATABASE "${database}"`);
  await cluster.query(SHOP_SQL, [], database);
}

/** Per table: row count and an md5 over the rows in key order. */
export async function fingerprint(cluster: Cluster, database: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, key] of [
    ['customers', 'id'],
    ['orders', 'id'],
    ['"Odd ""Name"".t"', 'k'],
  ] as const) {
    const rows = await cluster.query<{ n: number; h: string }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY ${key}), '')) AS h FROM ${table} t`,
      [],
      database,
    );
    out[table] = `${rows[0]!.n}:${rows[0]!.h}`;
  }
  return out;
}
