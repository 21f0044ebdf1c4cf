import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../provider/engine/cdc/plan/planner';
import { startPair, type ServerPair } from '../support';
import {
  assertSame,
  copyAtSnapshot,
  createSlot,
  drain,
  setupDb,
  startApplier,
  startWriter,
  stopCdcPair,
  TARGET_KINDS,
  WRITER_DDL,
  WRITER_TABLE,
  type CdcDb,
} from './harness';

const DDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE SCHEMA "We ""ird"".schema";
CREATE TABLE "We ""ird"".schema"."Tä ble.x" ("Id" int PRIMARY KEY, "va""l" text);
CREATE TABLE kinds (id bigint PRIMARY KEY, f8 float8, f4 real, n numeric(20,6), ts timestamptz, t timestamp, d date,
  iv interval, arr int[], tarr text[], j json, jb jsonb, b bytea, m mood, c char(5), bits bit(4), u uuid, big text, ms mood[], dom posint);
CREATE TABLE parted (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu');
CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us');
CREATE TABLE gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE, v text);
-- a deferrable key cannot identify rows for replication: REPLICA IDENTITY FULL, as pgferry sets it
CREATE TABLE swap (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text);
ALTER TABLE swap REPLICA IDENTITY FULL;
CREATE TABLE ranked (id int PRIMARY KEY, pos int NOT NULL UNIQUE DEFERRABLE INITIALLY IMMEDIATE);
${WRITER_DDL}
`;
const TABLES = ['"We ""ird"".schema"."Tä ble.x"', 'kinds', 'parted', 'gen', 'parent', 'child', 'swap', 'ranked', WRITER_TABLE];

describe('cdc: slot, snapshot and apply (integration)', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('the exported snapshot sees exactly the pre-slot rows and the stream carries exactly the later ones', async () => {
    const f = await setupDb(pair.source, pair.target, DDL);
    await f.src(`INSERT INTO kinds (id, f8) SELECT g, g / 3.0 FROM generate_series(1, 100) g`);
    const exported = await createSlot(f);
    // writes after the slot: must come through the stream, not the snapshot
    await f.src(`INSERT INTO kinds (id, f8) SELECT g, g / 7.0 FROM generate_series(101, 150) g`);
    await f.src(`UPDATE kinds SET f8 = -1 WHERE id <= 10`);
    const seen = await (async () => {
      const c = await f.source.connect(f.db);
      try {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await c.query(`SET TRANSACTION SNAPSHOT '${exported.snapshotName}'`);
        const { rows } = await c.query<{ n: string; neg: string }>(
          `SELECT count(*) AS n, count(*) FILTER (WHERE f8 < 0) AS neg FROM kinds`,
        );
        await c.query('COMMIT');
        return rows[0]!;
      } finally {
        await c.end();
      }
    })();
    assert.deepEqual({ n: Number(seen.n), neg: Number(seen.neg) }, { n: 100, neg: 0 });
    await copyAtSnapshot(f, exported.snapshotName, TABLES);
    await exported.release();
    const running = startApplier(f, { initialLsn: exported.consistentLsn });
    await drain(f, running);
    await assertSame(f, TABLES);
    const stats = running.applier.stats();
    assert.deepEqual([stats.inserts, stats.updates, stats.deletes], [50, 10, 0]);
  });

  // Every scenario against a superuser target (replica role) and a managed-like one (no replica
  // role: triggers switched by pgferry, foreign keys act, strict commit order), while an
  // application writes on the source.
  for (const kind of TARGET_KINDS) {
    for (const staged of [false, true]) {
      const title = `${staged ? 'staged' : 'parameter'} updates and deletes, ${kind} target`;
      it(`applies inserts, updates (pk change, unchanged TOAST), deletes, truncate, partition moves, savepoints, cascades, exact values (${title})`, async () => {
        const f = await setupDb(pair.source, pair.target, DDL, { target: kind });
        const exported = await createSlot(f);
        await exported.release();
        // every update and delete group through a staging table, or none
        const limits = { ...DEFAULT_LIMITS, stageMinRows: staged ? 1 : Number.MAX_SAFE_INTEGER };
        const running = startApplier(f, { initialLsn: exported.consistentLsn, limits });
        const writer = startWriter(f);
        await scriptedChanges(f);
        assert.ok((await writer.stop()) > 0);
        await drain(f, running);
        await assertSame(f, TABLES);
        await assertExactValues(f);
      });
    }

    it(`applies a key swap under a DEFERRABLE INITIALLY IMMEDIATE primary key or unique constraint (${kind} target)`, async () => {
      const f = await setupDb(pair.source, pair.target, DDL, { target: kind });
      const exported = await createSlot(f);
      await exported.release();
      const running = startApplier(f, { initialLsn: exported.consistentLsn });
      await f.src(`INSERT INTO swap VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
      await f.src(`INSERT INTO ranked SELECT g, g FROM generate_series(1, 5) g`);
      // valid on the source: the key is checked at the end of the statement; applied as two row changes
      await f.src(`UPDATE swap SET id = CASE id WHEN 1 THEN 2 ELSE 1 END WHERE id IN (1, 2)`);
      await f.src(`UPDATE ranked SET pos = 6 - pos`);
      await f.src(
        `BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE swap SET id = 3 WHERE id = 1; UPDATE swap SET id = 1 WHERE id = 3 AND v = 'three'; UPDATE swap SET id = 3 WHERE v = 'two'; COMMIT`,
      );
      await drain(f, running);
      await assertSame(f, ['swap', 'ranked']);
      assert.deepEqual(await f.dst('SELECT id, v FROM swap ORDER BY id'), [
        { id: 1, v: 'three' },
        { id: 2, v: 'one' },
        { id: 3, v: 'two' },
      ]);
    });
  }
});

/** The scripted changes: every type, TOAST, key changes, savepoints, partitions, identity, truncate, cascades. */
async function scriptedChanges(f: CdcDb): Promise<void> {
  // a TOASTed value: >2kB and incompressible, stored out of line
  const big = `(SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 200) g)`;
  await f.src(`INSERT INTO kinds VALUES (1, 0.1, 0.30000001, 12345678901234.123456, '2024-02-29 23:59:59.123456+05:30', '1999-12-31 23:59:59.999999',
      '2020-01-01', '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}', '{"a b","c\\"d",NULL}', '{"k": [1, 2.50]}', '{"z": 1, "a": null}',
      '\\x00ff10', 'happy', 'ab', B'1010', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ${big}, '{sad,NULL,happy}', 7)`);
  await f.src(`INSERT INTO kinds (id, f8, big) SELECT g, 1e300 * g, ${big} FROM generate_series(2, 20) g`);
  await f.src(`UPDATE kinds SET f8 = f8 + 1 WHERE id BETWEEN 2 AND 10`); // big unchanged: must keep its value
  await f.src(`UPDATE kinds SET f8 = -f8, f4 = id / 2.0, n = id * 1.5, ts = now() + id * interval '1 s', t = '2001-01-01'::timestamp + id * interval '1 h',
      d = '2020-01-01'::date + id::int, iv = id * interval '1 min', arr = ARRAY[id, id + 1], j = json_build_object('i', id), jb = jsonb_build_object('i', id),
      b = decode(md5(id::text), 'hex'), m = 'ok', c = 'x' || id, bits = B'0101', u = md5(id::text)::uuid, ms = '{ok}', dom = id::int,
      tarr = '{"x\ty","\\\\z",""}' WHERE id BETWEEN 6 AND 12`); // every type through the group
  await f.src(`UPDATE kinds SET id = id + 1000 WHERE id IN (2, 3)`); // primary-key change
  await f.src(`UPDATE kinds SET id = 3 WHERE id = 1002`); // reuse a freed key
  await f.src(`DELETE FROM kinds WHERE id IN (4, 5)`);
  await f.src(`INSERT INTO "We ""ird"".schema"."Tä ble.x" SELECT g, 'v' || g FROM generate_series(1, 50) g`);
  await f.src(`BEGIN; INSERT INTO "We ""ird"".schema"."Tä ble.x" VALUES (100, 'kept');
      SAVEPOINT a; INSERT INTO "We ""ird"".schema"."Tä ble.x" VALUES (101, 'rolled back'); ROLLBACK TO SAVEPOINT a;
      UPDATE "We ""ird"".schema"."Tä ble.x" SET "va""l" = 'after savepoint' WHERE "Id" = 1; COMMIT`);
  await f.src(`BEGIN; INSERT INTO "We ""ird"".schema"."Tä ble.x" VALUES (200, 'never'); ROLLBACK`);
  await f.src(`INSERT INTO parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 40) g`);
  await f.src(`UPDATE parted SET region = 'us' WHERE region = 'eu' AND id <= 10`); // rows move between partitions
  await f.src(`DELETE FROM parted WHERE id > 35`);
  await f.src(`INSERT INTO gen (v) SELECT 'g' || g FROM generate_series(1, 5) g`);
  await f.src(`UPDATE gen SET v = 'changed' WHERE id <= 2`); // GENERATED ALWAYS identity: not SET on the target
  await f.src(`DELETE FROM gen WHERE id = 5`);
  await f.src(`INSERT INTO "We ""ird"".schema"."Tä ble.x" VALUES (300, 'before truncate')`);
  await f.src(`TRUNCATE "We ""ird"".schema"."Tä ble.x"`);
  await f.src(`INSERT INTO "We ""ird"".schema"."Tä ble.x" VALUES (1, 'after truncate')`);
  await f.src(`INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g`);
  await f.src(`INSERT INTO child SELECT g, 1 + g % 10, 'c' || g FROM generate_series(1, 50) g`);
  await f.src(`UPDATE parent SET id = id + 100 WHERE id <= 3`); // ON UPDATE CASCADE re-keys children
  await f.src(`DELETE FROM parent WHERE id IN (5, 6)`); // ON DELETE CASCADE: the children's deletes follow
}

/** Values that must arrive exactly, not only equal as text. */
async function assertExactValues(f: CdcDb): Promise<void> {
  const [check] = await f.dst(`SELECT length(big) AS l, f8::text AS f8, n::text AS n FROM kinds WHERE id = 6`);
  assert.ok(Number(check!.l) > 2000, 'TOASTed column kept on the target');
  const [one] = await f.dst(`SELECT f8::text AS f8, ts = '2024-02-29 23:59:59.123456+05:30' AS ts FROM kinds WHERE id = 1`);
  assert.deepEqual(one, { f8: '0.1', ts: true });
  const eu = await f.dst(`SELECT count(*)::int AS n FROM parted_eu WHERE id <= 10`);
  assert.equal(eu[0]!.n, 0);
  const [children] = await f.dst(`SELECT count(*)::int AS n FROM child WHERE parent_id > 100`);
  assert.ok((children!.n as number) > 0, 'children re-keyed with their parents');
}
