// The background verifier's guard against a table changed after its pin's snapshot (verify/
// background.ts changedSincePin). A statement resolves names and columns through the catalog as it
// is now and reads rows through the snapshot, so a table changed since reads wrong in that snapshot:
// a rewrite (ALTER COLUMN ... TYPE, TRUNCATE) is read empty, which a full CI run showed as a false
// "row count differs: source 0" while a retype streamed; a table replaced by a view of its name, and
// a column dropped and added again under its name, as an application's release does (issue 62),
// read as the view and as the new, empty column. This reads each hazard on a real server and that
// the guard tells it, and only it.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startCluster, type Cluster } from '../../provider/localpg/cluster';
import { changedSincePin } from '../../provider/engine/verify/background';

describe('background verification: a table changed after the pin', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  const clients: pg.Client[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await cluster?.stop();
  });

  /** Two sessions: one whose snapshot is taken now (the pin's), one that changes the tables after it. */
  async function pinnedAndOther(setup: string): Promise<{ pinned: pg.Client; other: pg.Client }> {
    cluster ??= await startCluster({ major: 15, label: 'pinchange' });
    const pinned = await cluster.connect();
    const other = await cluster.connect();
    clients.push(pinned, other);
    await other.query(setup);
    await pinned.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await pinned.query('SELECT 1'); // the snapshot
    return { pinned, other };
  }

  const count = async (c: pg.Client, table: string) =>
    Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${table}`)).rows[0]!.n);

  it("a rewritten table is read empty by the pin's snapshot, and the guard says so; a table not rewritten is not flagged", async () => {
    const { pinned, other } = await pinnedAndOther(
      `CREATE TABLE "Odd t" (id int PRIMARY KEY, code int); INSERT INTO "Odd t" SELECT g, g FROM generate_series(1, 500) g;
       CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 10)`,
    );
    await other.query(`ALTER TABLE "Odd t" ALTER COLUMN code TYPE text USING 'c' || code`);
    assert.equal(await count(pinned, '"public"."Odd t"'), 0, 'the hazard: the old snapshot reads the rewritten table empty');
    assert.equal(await count(pinned, '"public"."kept"'), 10);
    assert.equal(await changedSincePin(pinned, '"public"."Odd t"'), true);
    assert.equal(await changedSincePin(pinned, '"public"."kept"'), false);
    assert.equal(await changedSincePin(pinned, '"public"."no such"'), false);
    await pinned.query('ROLLBACK');
  });

  it("a table replaced by a view of its name after the pin: the pin's snapshot reads the view empty, and the guard says so", async () => {
    const { pinned, other } = await pinnedAndOther(
      `CREATE TABLE "Jobs q" (id int PRIMARY KEY); INSERT INTO "Jobs q" SELECT generate_series(1, 40)`,
    );
    await other.query(`BEGIN; CREATE TABLE jobs_store AS SELECT id FROM "Jobs q"; DROP TABLE "Jobs q";
      CREATE VIEW "Jobs q" AS SELECT id FROM jobs_store; COMMIT`);
    assert.equal(
      await count(pinned, '"public"."Jobs q"'),
      0,
      'the hazard: the name resolves to the view, whose table the snapshot cannot see',
    );
    assert.equal(await changedSincePin(pinned, '"public"."Jobs q"'), true);
    await pinned.query('ROLLBACK');
  });

  it("a column dropped and added again under its name after the pin: the pin's snapshot reads the new, empty column, and the guard says so; a table with a domain column, unchanged, is not flagged", async () => {
    const { pinned, other } = await pinnedAndOther(
      `CREATE DOMAIN dom_pos AS int CHECK (VALUE > 0);
       CREATE TABLE "Meas" (id int PRIMARY KEY, b int); INSERT INTO "Meas" SELECT g, g FROM generate_series(1, 30) g;
       CREATE TABLE "Dom t" (id int PRIMARY KEY, d dom_pos); INSERT INTO "Dom t" VALUES (1, 1)`,
    );
    // a table with a domain column, unchanged: the statement's description gives the domain's base type, never a change
    assert.equal(await changedSincePin(pinned, '"public"."Dom t"'), false);
    // the same name and type again: only the column's attnum tells it
    await other.query(`ALTER TABLE "Meas" DROP COLUMN b, ADD COLUMN b int`);
    const { rows } = await pinned.query<{ n: string }>(`SELECT count(b) AS n FROM ONLY "public"."Meas"`);
    assert.equal(Number(rows[0]!.n), 0, 'the hazard: b is the new column, empty, not the one the snapshot knew');
    assert.equal(await changedSincePin(pinned, '"public"."Meas"'), true);
    await pinned.query('ROLLBACK');
  });
});
