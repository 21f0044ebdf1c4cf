// Issue 50: the fall-back's verification reads again only what the reverse stream changed since the
// cutover (the cutover verified both servers equal where the window opened): a table the new
// server wrote is compared by its count and the keys written, one it never wrote whole (issue 62:
// a count alone would miss a row changed behind the fence). The scenarios read both servers back: a
// row changed on the old source behind the fence, at a key the new server also wrote or in a table
// it never wrote, stops the fall-back with the table named, and once it is put right the fall-back
// ends with every row equal. Issue 62 too: large objects written on the new server during the
// window are on the old source after the fall-back (one a DBA made on the old source alone kept),
// and a TRUNCATE ... CASCADE on the new server never empties a table outside the migration on the
// old source: the reverse stream stops naming it, nothing emptied.
import assert from 'node:assert/strict';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { events } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import {
  askFallBack,
  cutOverWithWindow,
  until,
  suiteServers,
  writeBehindFence,
  type ServerPair,
  type SuiteServers,
  stoppedWindowMessage,
} from '../support';
import { rowsOf } from '../cdc/harness';
import { assertTablesAlike, tablesAlike } from '../support/windowShop';

const TABLES = ['items', 'quiet'] as const;

const SETUP = `
CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL);
CREATE TABLE quiet (k int PRIMARY KEY, note text);
INSERT INTO items (v) SELECT 'v' || g FROM generate_series(1, 500) g;
INSERT INTO quiet SELECT g, 'n' || g FROM generate_series(1, 200) g;
CREATE MATERIALIZED VIEW item_stats AS SELECT count(*) AS n, max(id) AS top FROM items;`;

/** Large objects the copy moves: a table holding their OIDs. */
const DOCS = `
CREATE TABLE docs (id int PRIMARY KEY, body oid NOT NULL);
INSERT INTO docs VALUES (1, lo_from_bytea(0, convert_to('first', 'UTF8'))), (2, lo_from_bytea(0, convert_to('second', 'UTF8')));`;
const OLD_SOURCE_DBA_OID = 9_000_002;

/** A table the migration leaves out whose foreign key references a migrated one. */
const AUDIT = `
CREATE TABLE audit (id int PRIMARY KEY, item int NOT NULL CONSTRAINT audit_item_fkey REFERENCES items);
INSERT INTO audit SELECT g, 1 FROM generate_series(1, 700) g;`;

/**
 * An online migration of `db` cut over with a window; the application then writes items on the new
 * server. `more`: statements run on the source after SETUP; `extra`: more of the spec.
 */
async function cutOverAndWrite(
  { pair, store }: SuiteServers,
  name: string,
  db: string,
  options: { more?: string; extra?: Record<string, unknown> } = {},
): Promise<void> {
  await cutOverWithWindow(pair, store, name, db, SETUP + (options.more ?? ''), { spec: options.extra });
  await pair.target.query(`UPDATE items SET v = v || '-u' WHERE id % 7 = 0`, [], db);
  await pair.target.query(`INSERT INTO items (v) SELECT 'new' || g FROM generate_series(1, 100) g`, [], db);
  await pair.target.query(`DELETE FROM items WHERE id % 11 = 0`, [], db);
  await until('the old source has every write', async () => ((await tablesAlike(pair, db, TABLES)) ? true : undefined), 120_000);
}

async function verificationEvents(store: CatalogConnection, name: string): Promise<string[]> {
  return (await events(store, name, 200)).map((e) => e.message).filter((m) => /^fall-back: schema and|^fall-back stopped/.test(m));
}

/**
 * The application writes large objects on the new server during the window (one made, one written
 * over, one of the copy's unlinked), and a DBA makes one on the old source alone, behind the fence.
 */
async function writeLargeObjects(pair: ServerPair, db: string): Promise<{ made: string; gone: string }> {
  const [made] = await pair.target.query<{ o: string }>(
    `INSERT INTO docs VALUES (3, lo_from_bytea(0, convert_to(repeat('made on the new server ', 1000), 'UTF8'))) RETURNING body::int8::text AS o`,
    [],
    db,
  );
  await pair.target.query(`SELECT lo_put(body, 0, convert_to('FIRST', 'UTF8')) FROM docs WHERE id = 1`, [], db);
  const [gone] = await pair.target.query<{ o: string }>(`SELECT body::int8::text AS o FROM docs WHERE id = 2`, [], db);
  await pair.target.query(`SELECT lo_unlink(body) FROM docs WHERE id = 2; DELETE FROM docs WHERE id = 2`, [], db);
  // a DBA's large object on the old source alone, behind the fence: not pgferry's
  await pair.source.query(
    `BEGIN READ WRITE; SELECT lo_from_bytea(${OLD_SOURCE_DBA_OID}, convert_to('the old source''s own', 'UTF8')); COMMIT`,
    [],
    db,
  );
  await until('the old source has the docs', async () => ((await tablesAlike(pair, db, ['docs'])) ? true : undefined));
  return { made: made!.o, gone: gone!.o };
}

/** After the fall-back: the new server's large objects on the old source byte for byte, the DBA's kept and named. */
async function largeObjectsBack(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  db: string,
  { made, gone }: { made: string; gone: string },
): Promise<void> {
  // the large objects read back on both servers: the new server's on the old source, byte for byte
  const contents = `SELECT d.id, md5(lo_get(d.body)) AS h, length(lo_get(d.body)) AS n FROM docs d ORDER BY d.id`;
  const back = await pair.source.query<{ id: number; h: string; n: number }>(contents, [], db);
  assert.deepEqual(back, await pair.target.query(contents, [], db), 'the large objects equal on both servers');
  assert.deepEqual(
    back.map((r) => r.id),
    [1, 3],
  );
  const bytes = `SELECT lo_get(${made}) AS b`;
  assert.deepEqual(await pair.source.query(bytes, [], db), await pair.target.query(bytes, [], db), 'the object made on the new server');
  const exists = (oid: string) => `SELECT count(*)::int AS n FROM pg_largeobject_metadata WHERE oid = ${oid}`;
  assert.deepEqual(await pair.source.query(exists(gone), [], db), [{ n: 0 }], 'the object unlinked on the new server is gone');
  const [own] = await pair.source.query<{ v: string }>(`SELECT convert_from(lo_get(${OLD_SOURCE_DBA_OID}), 'UTF8') AS v`, [], db);
  assert.equal(own?.v, "the old source's own", "the DBA's large object is kept on the old source");
  const all = (await events(store, name, 200)).map((e) => e.message);
  assert.ok(
    all.includes(`fall-back: 1 large object(s) of ${db} kept on the old source, made there alone and not pgferry's: ${OLD_SOURCE_DBA_OID}`),
    all.join('\n'),
  );
}

describe('fall-back: the verification reads again what the reverse stream changed (integration)', function () {
  this.timeout(600_000);
  const servers = suiteServers();

  it('compares the written tables by their keys and count, the quiet one whole, refreshes a view, and brings large objects back', async () => {
    const { pair, store } = servers;
    const name = 'recheck-keys';
    const db = 'recheck_keys';
    await cutOverAndWrite(servers, name, db, { more: DOCS });
    // the application refreshes its view on the new server: nothing streams a REFRESH
    await pair.target.query('REFRESH MATERIALIZED VIEW item_stats', [], db);
    const objects = await writeLargeObjects(pair, db);
    const settled = await askFallBack(servers, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await assertTablesAlike(pair, db, [...TABLES, 'docs']);
    const view = 'SELECT n, top FROM item_stats';
    assert.deepEqual(await pair.source.query(view, [], db), await pair.target.query(view, [], db), 'the view refreshed on the old source');
    await largeObjectsBack(pair, store, name, db, objects);
    const [told] = await verificationEvents(store, name);
    assert.match(told ?? '', /3 table\(s\) compared, .* \(read whole 1, changed keys 2, count only 0\)/);
  });

  it('stops on a row changed behind the fence in a table the new server never wrote, naming it, then falls back once it is put right', async () => {
    const { pair, store } = servers;
    const name = 'recheck-quiet';
    const db = 'recheck_quiet';
    await cutOverAndWrite(servers, name, db);
    // behind the fence, in the table the reverse stream never writes: the count stays, one row differs
    await writeBehindFence(pair.source, db, `UPDATE quiet SET note = 'tampered' WHERE k = 5`);
    const stopped = await askFallBack(servers, name);
    assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
    assert.match(
      (await verificationEvents(store, name)).join('\n'),
      /fall-back stopped: verification failed: .*quiet: content checksum differs/,
    );
    assert.deepEqual(
      await pair.source.query('SELECT note FROM quiet WHERE k = 5', [], db),
      [{ note: 'tampered' }],
      'nothing changed it back',
    );
    await writeBehindFence(pair.source, db, `UPDATE quiet SET note = 'n5' WHERE k = 5`);
    await until('the reverse stream applies again', async () =>
      (await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined,
    );
    const settled = await askFallBack(servers, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await assertTablesAlike(pair, db, TABLES);
  });

  it('keeps the 700 rows of a table outside the migration on the old source through a TRUNCATE ... CASCADE on the new server', async () => {
    const { pair, store } = servers;
    const name = 'recheck-cascade';
    const db = 'recheck_cascade';
    const audit = 'SELECT count(*)::int AS n FROM audit';
    await cutOverAndWrite(servers, name, db, { more: AUDIT, extra: { excludeTables: ['audit'] } });
    assert.deepEqual(await pair.target.query(`SELECT to_regclass('audit') IS NULL AS missing`, [], db), [{ missing: true }]);
    await pair.target.query('TRUNCATE items CASCADE', [], db);
    // the reverse stream replays it without CASCADE: the old source refuses, naming the table, and empties nothing
    const stopped = await stoppedWindowMessage(store, name, 60_000);
    assert.match(
      stopped,
      /TRUNCATE of public\.items refused: table public\.audit, which the stream does not write, references public\.items by a foreign key; .*fix on the old source, where it applies: to keep the rows of table public\.audit, drop its foreign key to public\.items on the old source: ALTER TABLE "public"\."audit" DROP CONSTRAINT "audit_item_fkey";/,
    );
    assert.deepEqual(await pair.source.query(audit, [], db), [{ n: 700 }], 'the table outside the migration keeps its rows');
    assert.ok((await rowsOf(pair.source, db, 'items')).length > 0, 'nothing emptied on the old source');
    // the fix that keeps the rows: its foreign key dropped on the old source; the TRUNCATE then applies
    await pair.source.query('BEGIN READ WRITE; ALTER TABLE audit DROP CONSTRAINT audit_item_fkey; COMMIT', [], db);
    await until(
      'the reverse stream applies the TRUNCATE',
      async () =>
        (await fallbackWindows(store, name))[0]?.state === 'Open' && (await rowsOf(pair.source, db, 'items')).length === 0
          ? true
          : undefined,
      120_000,
    );
    const settled = await askFallBack(servers, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await assertTablesAlike(pair, db, TABLES);
    assert.deepEqual(await pair.source.query(audit, [], db), [{ n: 700 }], 'the table outside the migration keeps its rows');
  });

  it('falls back with an old source sequence past the new server, and leaves it there (never lower)', async () => {
    const { pair } = servers;
    // campaign seed 3601088367: the old source restarted during the fall-back came back with its
    // sequences ahead of their last use (nextval logs ahead), and the exact comparison stopped every
    // fall-back; here the old source's application hands out values behind the fence instead
    const name = 'recheck-sequence-ahead';
    const db = 'recheck_sequence_ahead';
    await cutOverAndWrite(servers, name, db);
    const next = `SELECT last_value::int8::text AS v FROM items_id_seq`;
    await pair.source.query(`BEGIN READ WRITE; SELECT setval('items_id_seq', 5000); COMMIT`, [], db);
    const [onNew] = await pair.target.query<{ v: string }>(next, [], db);
    assert.ok(Number(onNew!.v) < 5000, `the new server is behind the old source (${onNew!.v})`);
    const settled = await askFallBack(servers, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await assertTablesAlike(pair, db, TABLES);
    assert.deepEqual(await pair.source.query(next, [], db), [{ v: '5000' }], 'the old source hands out what it did not hand out yet');
  });

  it('stops on a row changed behind the fence at a key the new server wrote, then falls back once it is put right', async () => {
    const { pair, store } = servers;
    const name = 'recheck-tampered';
    const db = 'recheck_tampered';
    await cutOverAndWrite(servers, name, db);
    // behind the fence (as an administrator can: a superuser turning the fence's trigger off for one transaction): the count stays, only the key's row differs
    await writeBehindFence(pair.source, db, `UPDATE items SET v = 'tampered' WHERE id = 14`);
    const stopped = await askFallBack(servers, name);
    assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
    assert.match((await verificationEvents(store, name)).join('\n'), /fall-back stopped: verification failed: .*items/);
    await writeBehindFence(pair.source, db, `UPDATE items SET v = 'v14-u' WHERE id = 14`);
    await until('the reverse stream applies again', async () =>
      (await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined,
    );
    const settled = await askFallBack(servers, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await assertTablesAlike(pair, db, TABLES);
    // the reverse applier started again after the stop: it cannot tell what changed, so it reads every table whole
    assert.match(
      (await verificationEvents(store, name)).join('\n'),
      /2 table\(s\) compared, .* \(read whole 2, changed keys 0, count only 0\)/,
    );
  });
});
