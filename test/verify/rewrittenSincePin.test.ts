// The background verifier's guard against a table rewritten after its pin's snapshot (verify/
// background.ts rewrittenSincePin). A rewrite (ALTER COLUMN ... TYPE, TRUNCATE) is not MVCC-safe:
// a REPEATABLE READ snapshot taken before it reads the new file empty, which a full CI run showed
// as a false "row count differs: source 0" while a retype streamed. This reads, on a real server,
// that the snapshot does see the table empty and that the guard's query tells it, and only it.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startCluster, type Cluster } from '../../provider/localpg/cluster';
import { REWRITTEN_SQL } from '../../provider/engine/verify/background';

describe('background verification: a table rewritten after the pin', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  const clients: pg.Client[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await cluster?.stop();
  });

  it("is read empty by the pin's snapshot, and the guard says so; a table not rewritten is not flagged", async () => {
    cluster = await startCluster({ major: 15, label: 'rewrite' });
    const pinned = await cluster.connect();
    const other = await cluster.connect();
    clients.push(pinned, other);
    await other.query(
      `CREATE TABLE "Odd t" (id int PRIMARY KEY, code int); INSERT INTO "Odd t" SELECT g, g FROM generate_series(1, 500) g`,
    );
    await other.query('CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 10)');
    await pinned.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await pinned.query('SELECT 1'); // the snapshot
    await other.query(`ALTER TABLE "Odd t" ALTER COLUMN code TYPE text USING 'c' || code`);
    const count = async (table: string) => Number((await pinned.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    assert.equal(await count('"Odd t"'), 0, 'the hazard: the old snapshot reads the rewritten table empty');
    assert.equal(await count('kept'), 10);
    const rewritten = async (table: string) => (await pinned.query<{ rewritten: boolean }>(REWRITTEN_SQL, [table])).rows[0]?.rewritten;
    assert.equal(await rewritten('"public"."Odd t"'), true);
    assert.equal(await rewritten('"public"."kept"'), false);
    await pinned.query('ROLLBACK');
  });
});
