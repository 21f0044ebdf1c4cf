// A whole-table copy skips the compression the source's toaster already tried and gave up on: the
// source's sampled large values of a column are all stored uncompressed, so the target loads that
// column as STORAGE EXTERNAL and sets it back to EXTENDED before COMMIT. For values pglz gives up
// on, the end rows are the ones a plain load gives (same values, stored uncompressed out of line,
// compressible columns still compressed, storage EXTENDED again, loaded frozen), so each case also
// reads what only the skip leaves: the catalog rows of the columns it altered were rewritten in the
// load's transaction (pg_attribute.xmin), and a column the source stores uncompressed although its
// values compress (loaded while EXTERNAL there) lands uncompressed, as on the source, where a plain
// load would compress it. A target role that may not alter the table loads as usual, altering nothing.
import assert from 'node:assert/strict';
import pg from 'pg';
import { listTables, type SourceTable } from '../../provider/engine/catalog/introspect';
import { runCopyItem } from '../../provider/engine/copy/copyItem';
import { sampleIncompressible } from '../../provider/engine/copy/incompressible';
import { startPair, type ServerPair } from '../support';

const DB = 'incomp';
const ROWS = 400;
/** Heap + TOAST bytes the item claims: over the size from which tables are sampled. */
const LARGE = 1 << 30;

const TABLE = `
CREATE TABLE public.blobs (id int8 PRIMARY KEY, hexed text, wordy text, mixed text, tiny text);
CREATE TABLE public.loaded_by_other (LIKE public.blobs INCLUDING ALL);
CREATE TABLE public.near_limit (id int8 PRIMARY KEY, body text, attrs text);
CREATE TABLE public.fits (id int8 PRIMARY KEY, body text);
CREATE TABLE public.kept_plain (id int8 PRIMARY KEY, body text, note text);`;

/** kept_plain on the source: compressible bodies of 5 kB loaded while the column was EXTERNAL, so stored uncompressed; EXTENDED since. */
const KEPT_PLAIN_SQL = `
ALTER TABLE public.kept_plain ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO public.kept_plain SELECT g, repeat('lorem ipsum ' || g || ' ', 400), 'n' || g FROM generate_series(1, ${ROWS}) g;
ALTER TABLE public.kept_plain ALTER COLUMN body SET STORAGE EXTENDED;`;

/**
 * near_limit: the bench's wide rows, 1,920 bytes of hex beside 320 (rows of 2.2 kB, over the TOAST
 * threshold: body tried first, being the largest); fits: 1,888 bytes of hex alone (rows under it,
 * never given to the toaster, so their being uncompressed says nothing).
 */
const NEAR_LIMIT_SQL = `
INSERT INTO public.near_limit
SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 60) i),
          (SELECT string_agg(md5(i || ':' || g::text), '') FROM generate_series(1, 10) i)
  FROM generate_series(1, ${ROWS}) g;
INSERT INTO public.fits SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 59) i)
  FROM generate_series(1, ${ROWS}) g;`;

/** hexed: 3,840 bytes of md5 hex (pglz gives up); wordy: repeated words (compresses); mixed: every other row of each. */
const ROWS_SQL = (table: string) => `
INSERT INTO public.${table}
SELECT g, h, w, CASE WHEN g % 2 = 0 THEN h ELSE w END, 'x'
  FROM generate_series(1, ${ROWS}) g,
       LATERAL (SELECT (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 120) i) AS h,
                       repeat('lorem ipsum ' || g || ' ', 400) AS w) v`;

/**
 * The columns of target table `name` whose catalog row was rewritten after the table was created
 * (their pg_attribute.xmin differs from the id column's, which nothing alters): the columns the
 * load set to EXTERNAL and back. A load that altered nothing leaves none.
 */
async function altered(target: ServerPair['target'], name: string): Promise<string[]> {
  const rows = await target.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a, pg_attribute k
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND k.attrelid = a.attrelid AND k.attname = 'id'
        AND a.xmin::text <> k.xmin::text ORDER BY a.attnum`,
    [name],
    DB,
  );
  return rows.map((r) => r.attname);
}

/** kept_plain on `cluster`: its content, bodies stored compressed, the body column's storage. */
function keptPlain(cluster: ServerPair['source']) {
  return cluster.query(
    `SELECT md5(string_agg(id || body || note, '' ORDER BY id)) AS content,
            count(*) FILTER (WHERE pg_column_compression(body) IS NOT NULL)::int AS compressed,
            (SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'public.kept_plain'::regclass AND attname = 'body') AS storage
       FROM public.kept_plain`,
    [],
    DB,
  );
}

/** Per column of `table` on `cluster`: values stored compressed, and the column's storage. */
async function stored(cluster: ServerPair['source'], name: string): Promise<Record<string, string | number>> {
  const [row] = await cluster.query<Record<string, string | number>>(
    `SELECT count(*) FILTER (WHERE pg_column_compression(hexed) IS NOT NULL)::int AS hexed,
            count(*) FILTER (WHERE pg_column_compression(wordy) IS NOT NULL)::int AS wordy,
            count(*) FILTER (WHERE pg_column_compression(mixed) IS NOT NULL)::int AS mixed,
            (SELECT string_agg(attname || '=' || attstorage::text, ',' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = $1::regclass AND attnum > 0) AS storage,
            md5(string_agg(id || hexed || wordy || mixed || tiny, '' ORDER BY id)) AS content
       FROM ${name}`,
    [name],
    DB,
  );
  return row!;
}

describe('offline copy: columns the source could not compress skip compression', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  let source: pg.Client;
  let target: pg.Client;
  let tables: SourceTable[];

  before(async () => {
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.target.query(`CREATE DATABASE ${DB}`);
    for (const c of [pair.source, pair.target]) await c.query(TABLE, [], DB);
    await pair.source.query(ROWS_SQL('blobs'), [], DB);
    await pair.source.query(ROWS_SQL('loaded_by_other'), [], DB);
    await pair.source.query(NEAR_LIMIT_SQL, [], DB);
    await pair.source.query(KEPT_PLAIN_SQL, [], DB);
    await pair.source.query('ANALYZE', [], DB);
    await pair.target.query('CREATE EXTENSION pg_visibility', [], DB);
    source = await pair.source.connect(DB);
    target = await pair.target.connect(DB);
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    tables = await listTables(source, 15);
  });
  after(async () => {
    await source?.end();
    await target?.end();
    await pair?.stop();
  });

  const table = (name: string): SourceTable => ({ ...tables.find((t) => t.name === name)!, bytes: LARGE });
  /** One whole-table copy item of `name` into `into` (the target's superuser session by default), both servers 15. */
  const copyWhole = (name: string, into: pg.Client = target) =>
    runCopyItem({ item: { table: table(name) }, source, target: into, encoding: 'UTF8', majors: { sourceMajor: 15, targetMajor: 15 } });

  it('the sample names the column whose large values are all stored uncompressed, and only it', async () => {
    // the premise, on the source: pglz gave up on hexed, compressed wordy, and half of mixed
    assert.deepEqual(
      { ...(await stored(pair.source, 'public.blobs')), content: '', storage: '' },
      { hexed: 0, wordy: ROWS, mixed: ROWS / 2, content: '', storage: '' },
    );
    assert.deepEqual(await sampleIncompressible(source, table('blobs')), [{ name: 'hexed', method: 'pglz' }]);
  });

  it('names a column of values under 2 kB the toaster gave up on in rows over its threshold, not one whose rows fit', async () => {
    const [premise] = await pair.source.query<{ body: number; attrs: number; fits: number }>(
      `SELECT (SELECT max(pg_column_size(body)) FROM public.near_limit) AS body,
              (SELECT count(*) FROM public.near_limit WHERE pg_column_compression(body) IS NOT NULL OR pg_column_compression(attrs) IS NOT NULL)::int AS attrs,
              (SELECT max(pg_column_size(f.*)) FROM public.fits f) AS fits`,
      [],
      DB,
    );
    assert.deepEqual(premise, { body: 1920, attrs: 0, fits: premise!.fits });
    assert.ok(premise!.fits < 2032, `fits' rows are ${premise!.fits} bytes`);
    assert.deepEqual(await sampleIncompressible(source, table('near_limit')), [{ name: 'body', method: 'pglz' }]);
    assert.deepEqual(await sampleIncompressible(source, table('fits')), []);
    // loaded as the source stores it: the same values, none compressed, the column EXTENDED again
    const outcome = await copyWhole('near_limit');
    assert.equal(outcome.rows, ROWS);
    const read = (cluster: ServerPair['source']) =>
      cluster.query(
        `SELECT md5(string_agg(id || body || attrs, '' ORDER BY id)) AS content,
                count(*) FILTER (WHERE pg_column_compression(body) IS NOT NULL)::int AS compressed,
                (SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'public.near_limit'::regclass AND attname = 'body') AS storage
           FROM public.near_limit`,
        [],
        DB,
      );
    const [want] = await read(pair.source);
    assert.deepEqual(await read(pair.target), [want]);
    assert.deepEqual({ ...want, content: '' }, { content: '', compressed: 0, storage: 'x' });
    assert.deepEqual(
      await altered(pair.target, 'public.near_limit'),
      ['body'],
      'body, and only it, was set EXTERNAL for the load and back',
    );
  });

  it('a sample on a session outside a transaction finds nothing and leaves the session usable', async () => {
    const plain = await pair.source.connect(DB);
    try {
      assert.deepEqual(await sampleIncompressible(plain, table('blobs')), []);
      assert.equal((await plain.query<{ n: number }>('SELECT count(*)::int AS n FROM public.blobs')).rows[0]!.n, ROWS);
    } finally {
      await plain.end();
    }
  });

  it('loads the table with the source values, frozen, compressible columns compressed, storage as before', async () => {
    const outcome = await copyWhole('blobs');
    assert.equal(outcome.rows, ROWS);
    assert.equal(outcome.frozen, true);
    const want = await stored(pair.source, 'public.blobs');
    assert.deepEqual(await stored(pair.target, 'public.blobs'), want);
    assert.match(String(want.storage), /hexed=x/);
    assert.deepEqual(await altered(pair.target, 'public.blobs'), ['hexed'], 'hexed, and only it, was set EXTERNAL for the load and back');
    const [map] = await pair.target.query<{ visible: number; frozen: number; pages: number }>(
      `SELECT all_visible::int AS visible, all_frozen::int AS frozen,
              (pg_relation_size('public.blobs') / current_setting('block_size')::int)::int AS pages
         FROM pg_visibility_map_summary('public.blobs')`,
      [],
      DB,
    );
    assert.ok(map!.pages > 0);
    assert.deepEqual(map, { visible: map!.pages, frozen: map!.pages, pages: map!.pages });
  });

  it('a target role that may truncate but not alter the table loads it as usual', async () => {
    await pair.target.query(
      `CREATE ROLE loader LOGIN PASSWORD 'loader-pw';
       GRANT USAGE ON SCHEMA public TO loader;
       GRANT SELECT, INSERT, TRUNCATE ON public.loaded_by_other TO loader;`,
      [],
      DB,
    );
    const loader = new pg.Client({ host: pair.target.host, port: pair.target.port, user: 'loader', password: 'loader-pw', database: DB });
    await loader.connect();
    try {
      const outcome = await copyWhole('loaded_by_other', loader);
      assert.equal(outcome.rows, ROWS);
      assert.equal(outcome.frozen, true);
    } finally {
      await loader.end();
    }
    assert.deepEqual(await stored(pair.target, 'public.loaded_by_other'), await stored(pair.source, 'public.loaded_by_other'));
    assert.deepEqual(await altered(pair.target, 'public.loaded_by_other'), [], 'the role could not alter the table: no column was');
  });

  it('a column the source stores uncompressed although its values compress is loaded uncompressed, as the source stores it', async () => {
    // the premise: on the source every body is stored uncompressed, in a column EXTENDED now
    const [want] = await keptPlain(pair.source);
    assert.deepEqual({ ...want, content: '' }, { content: '', compressed: 0, storage: 'x' });
    assert.deepEqual(await sampleIncompressible(source, table('kept_plain')), [{ name: 'body', method: 'pglz' }]);
    const outcome = await copyWhole('kept_plain');
    assert.equal(outcome.rows, ROWS);
    // a plain load would have compressed all 400 bodies (they compress); loaded EXTERNAL, none is
    assert.deepEqual(await keptPlain(pair.target), [want]);
    assert.deepEqual(await altered(pair.target, 'public.kept_plain'), ['body']);
  });
});
