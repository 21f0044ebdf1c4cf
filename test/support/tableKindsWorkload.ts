// An application writing to every kind of table on the source (keyed, key-less, DEFERRABLE key,
// partitioned, unlogged, and tables created while streaming), as the source-side smoke test needs
// it (safety/onlineSource.test.ts): each round inserts, updates and deletes a row of each table it knows, and
// swaps two keys of a DEFERRABLE primary key (what such keys are for). Every error is kept: the
// test asserts there is none.
import type pg from 'pg';

/** How the workload writes one table: `id` is unique per round, `old` names a row inserted earlier. */
interface TableKind {
  readonly insert: string;
  readonly update: string;
  readonly remove: string;
  /** First id of this table's rows (partitions take ranges). */
  readonly base: number;
}

const PLAIN = (table: string, base = 0): TableKind => ({
  insert: `INSERT INTO ${table} (id, v) VALUES ($1, 0)`,
  update: `UPDATE ${table} SET v = v + 1 WHERE id = $1`,
  remove: `DELETE FROM ${table} WHERE id = $1`,
  base,
});

/** The tables of the source database and how they are written. */
const WORKLOAD_TABLES: Readonly<Record<string, TableKind>> = {
  plain: PLAIN('plain'),
  swap_pk: PLAIN('swap_pk'),
  nokey: PLAIN('nokey'),
  parted: PLAIN('parted'),
  parted_nokey: PLAIN('parted_nokey'),
  scratch: PLAIN('scratch'),
  // created while the migration streams
  fresh: PLAIN('fresh'),
  fresh_nokey: PLAIN('fresh_nokey'),
  parted_later: PLAIN('parted', 1_000_000),
  parted_nokey_later: PLAIN('parted_nokey', 1_000_000),
};

export const WORKLOAD_SCHEMA = `
CREATE TABLE plain (id int PRIMARY KEY, v int);
CREATE TABLE swap_pk (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v int);
CREATE TABLE nokey (id int, v int);
CREATE TABLE parted (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000000);
CREATE TABLE parted_nokey (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_nokey_1 PARTITION OF parted_nokey FOR VALUES FROM (0) TO (1000000);
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v int);
CREATE TABLE keyed (id int PRIMARY KEY, v int);
INSERT INTO keyed SELECT g, 0 FROM generate_series(1, 100) g;
${['plain', 'swap_pk', 'nokey', 'parted', 'parted_nokey', 'scratch'].map((t) => `INSERT INTO ${t} SELECT g, 0 FROM generate_series(1, 100) g;`).join('\n')}
`;

/** The application's DDL while the migration streams: new tables and new partitions. */
export const CREATED_LATER = `
CREATE TABLE fresh (id int PRIMARY KEY, v int);
CREATE TABLE fresh_nokey (id int, v int);
CREATE TABLE parted_nokey_2 PARTITION OF parted_nokey FOR VALUES FROM (1000000) TO (2000000);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (1000000) TO (2000000);`;

/** Rounds over every kind of table, every error kept: the job is to show the application saw none. */
export class TableKindsWorkload {
  readonly errors: string[] = [];
  private readonly tables = new Set<string>(['plain', 'swap_pk', 'nokey', 'parted', 'parted_nokey', 'scratch']);
  private round = 0;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly client: pg.Client) {}

  /** Adds tables (keys of WORKLOAD_TABLES) to write from the next round on. */
  include(...tables: string[]): void {
    for (const t of tables) this.tables.add(t);
  }

  /** Runs `rounds` rounds, or until stopped when `rounds` is undefined. */
  start(rounds?: number): Promise<void> {
    this.stopped = false;
    this.running = (async () => {
      for (let i = 0; rounds === undefined ? !this.stopped : i < rounds; i++) await this.oneRound();
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  get rounds(): number {
    return this.round;
  }

  private async run(sql: string, params: unknown[]): Promise<void> {
    try {
      await this.client.query(sql, params);
    } catch (error) {
      this.errors.push(`${sql} ${JSON.stringify(params)}: ${(error as { code?: string }).code} ${(error as Error).message}`);
      await this.client.query('ROLLBACK').catch(() => undefined);
    }
  }

  private async oneRound(): Promise<void> {
    this.round += 1;
    const r = this.round;
    await this.run('BEGIN', []);
    for (const name of this.tables) {
      const kind = WORKLOAD_TABLES[name]!;
      const id = kind.base + 1000 + r;
      await this.run(kind.insert, [id]);
      await this.run(kind.update, [kind.base + 1 + (r % 100)]);
      if (r > 3) await this.run(kind.remove, [id - 3]);
    }
    // the reason for a DEFERRABLE key: swapping two keys in one statement
    const a = 1 + 2 * (r % 50);
    await this.run('UPDATE swap_pk SET id = CASE id WHEN $1::int THEN $2::int ELSE $1::int END WHERE id IN ($1, $2)', [a, a + 1]);
    await this.run('COMMIT', []);
  }
}
