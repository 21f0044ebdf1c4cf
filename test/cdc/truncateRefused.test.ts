// A replayed TRUNCATE the target refuses for a foreign key of a table the stream does not write
// names the referencing table and key exactly, as the target's catalog has them (read by the
// truncated tables' OIDs, cdc/apply/truncateRefusal.ts), not as the server's detail gives them
// (bare names, which two schemas share); nothing is emptied on the target, and the fix it prints,
// run as printed, lets the TRUNCATE apply. The reverse stream's is test/fallback/fallBackRecheck.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { assertSame, assertStoppedOn, createSlot, drain, setupDb, startApplier, stopCdcPair, stoppedWith } from './harness';

describe('cdc: a TRUNCATE refused for a foreign key names the referencing table and key as the target has them', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('a TRUNCATE of a.items and b.items refused for a key to b.items alone, from a table the stream does not write, names b.items and b.refs; both keep their rows, and the printed fix lets it apply', async () => {
    const f = await setupDb(
      pair.source,
      pair.target,
      'CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.items (id int PRIMARY KEY, v text); CREATE TABLE b.items (id int PRIMARY KEY, v text)',
    );
    for (const side of ['src', 'dst'] as const)
      await f[side](`INSERT INTO a.items SELECT g, 'a' || g FROM generate_series(1, 100) g;
                  INSERT INTO b.items SELECT g, 'b' || g FROM generate_series(1, 200) g`);
    // on the target alone, outside the stream: a table named refs in each schema; only b's references b.items
    await f.dst(`CREATE TABLE a.refs (id int PRIMARY KEY, item_id int NOT NULL);
                 CREATE TABLE b.refs (id int PRIMARY KEY, item_id int NOT NULL CONSTRAINT refs_item_fkey REFERENCES b.items);
                 INSERT INTO a.refs SELECT g, 1 FROM generate_series(1, 50) g;
                 INSERT INTO b.refs SELECT g, 1 FROM generate_series(1, 70) g`);
    const count = async (table: string) => Number((await f.dst(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    const counts = async () => Promise.all(['a.items', 'b.items', 'a.refs', 'b.refs'].map(count));
    const exported = await createSlot(f);
    await exported.release();
    const options = { initialLsn: exported.consistentLsn };
    const first = startApplier(f, options);
    await f.src('TRUNCATE a.items, b.items');
    const error = await stoppedWith(first);
    assertStoppedOn(error, 'CDC_APPLY', 'b.items');
    assert.equal(
      (error as Error).message,
      'TRUNCATE of a.items, b.items refused: table b.refs, which the stream does not write, references b.items by a foreign key; pgferry never truncates with CASCADE, so nothing was emptied',
    );
    const fix = (error as { fix?: string }).fix ?? '';
    const statement = /: (ALTER TABLE "b"\."refs" DROP CONSTRAINT "refs_item_fkey");/.exec(fix)?.[1];
    assert.ok(statement, `the fix names the key to drop on the target: ${fix}`);
    assert.deepEqual(await counts(), [100, 200, 50, 70], 'nothing emptied on the target');
    assert.deepEqual(
      await f.src(`SELECT (SELECT count(*) FROM a.items)::int AS a, (SELECT count(*) FROM b.items)::int AS b`),
      [{ a: 0, b: 0 }],
      'the source as its TRUNCATE left it',
    );
    // the printed fix, run as printed: the TRUNCATE then applies, and the tables outside the stream keep their rows
    await f.dst(statement);
    const second = startApplier(f, options);
    await drain(f, second);
    await assertSame(f, ['a.items', 'b.items']);
    assert.deepEqual(await counts(), [0, 0, 50, 70], 'the TRUNCATE applied once, the tables it does not name kept');
  });

  it('a TRUNCATE of one partition refused for a key to its partitioned parent names the key as made, on the referencing table, and its printed fix lets it apply', async () => {
    const f = await setupDb(
      pair.source,
      pair.target,
      `CREATE TABLE p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
       CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
       CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200)`,
    );
    for (const side of ['src', 'dst'] as const) await f[side](`INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 150) g`);
    // on the target alone: a key to the partitioned table, which PostgreSQL clones onto each partition
    await f.dst(`CREATE TABLE r (id int PRIMARY KEY, p_id int NOT NULL CONSTRAINT r_p_fkey REFERENCES p);
                 INSERT INTO r SELECT g, 120 FROM generate_series(1, 30) g`);
    const exported = await createSlot(f);
    await exported.release();
    const options = { initialLsn: exported.consistentLsn };
    const first = startApplier(f, options);
    await f.src('TRUNCATE p1');
    const error = await stoppedWith(first);
    assertStoppedOn(error, 'CDC_APPLY', 'public.p1');
    assert.match(
      (error as Error).message,
      /^TRUNCATE of public\.p1 refused: table public\.r, which the stream does not write, references public\.p1 by a foreign key;/,
    );
    const fix = (error as { fix?: string }).fix ?? '';
    const statement = /: (ALTER TABLE "public"\."r" DROP CONSTRAINT "r_p_fkey");/.exec(fix)?.[1];
    assert.ok(statement, `the fix drops the key as it was made, on r: ${fix}`);
    assert.deepEqual(await f.dst('SELECT (SELECT count(*) FROM p)::int AS p, (SELECT count(*) FROM r)::int AS r'), [{ p: 150, r: 30 }]);
    await f.dst(statement);
    const second = startApplier(f, options);
    await drain(f, second);
    await assertSame(f, ['p1', 'p2']);
    assert.deepEqual(await f.dst('SELECT (SELECT count(*) FROM p)::int AS p, (SELECT count(*) FROM r)::int AS r'), [{ p: 51, r: 30 }]);
  });
});
