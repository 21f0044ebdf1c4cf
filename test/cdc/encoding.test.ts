// Streaming databases whose server encoding is not UTF8: every apply path (COPY inserts, staged
// and parameterised updates, deletes by a non-ASCII key) must reproduce the source's characters
// exactly. Compared as UTF-8 bytes in hex, so no client-side decoding can hide a difference.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { createSlot, drain, setupDb, startApplier, stopCdcPair, type CdcDb } from './harness';

const DDL = `
CREATE TABLE notes (id int PRIMARY KEY, body text, tag varchar(20));
CREATE TABLE words (w text PRIMARY KEY, n int);`;

/** Runs SQL with a UTF8 client encoding, so the literals below mean the characters they show. */
async function utf8(f: CdcDb, side: 'source' | 'target', sql: string): Promise<Record<string, unknown>[]> {
  const client = await f[side].connect(f.db);
  try {
    await client.query("SET client_encoding = 'UTF8'");
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function hexRows(f: CdcDb, side: 'src' | 'dst', sql: string): Promise<string[]> {
  const rows = await f[side](sql);
  return rows.map((r) => String(r.h)).sort();
}

describe('cdc: non-UTF8 server encodings (integration)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('applies LATIN1 text byte-exact through COPY, staged and parameterised statements', async () => {
    const f = await setupDb(pair.source, pair.target, DDL, { encoding: 'LATIN1' });
    // Sessions there default to LATIN1 too: the engine must not depend on a server's default.
    for (const cluster of [f.source, f.target]) await cluster.query(`ALTER DATABASE ${f.db} SET client_encoding = 'LATIN1'`);
    await createSlot(f);
    const running = startApplier(f, { commitMs: 50 });
    await utf8(f, 'source', `INSERT INTO notes SELECT g, 'café ÿ ñ ' || g, 'é' FROM generate_series(1, 300) g`);
    await utf8(f, 'source', `INSERT INTO words VALUES ('façade', 1), ('naïve', 2), ('Ærø', 3)`);
    await utf8(f, 'source', `UPDATE notes SET body = 'Ærø ¿¡' WHERE id = 1`); // one row: a statement with parameters
    await utf8(f, 'source', `UPDATE notes SET tag = 'ü' || id WHERE id BETWEEN 100 AND 260`); // 161 rows: staged COPY
    await utf8(f, 'source', `UPDATE words SET n = 10 WHERE w = 'façade'`); // found by a non-ASCII key
    await utf8(f, 'source', `DELETE FROM words WHERE w = 'naïve'`);
    await utf8(f, 'source', `DELETE FROM notes WHERE id = 5`);
    await drain(f, running);
    const notes = `SELECT id || ':' || encode(convert_to(coalesce(body, '') || '|' || coalesce(tag, ''), 'UTF8'), 'hex') AS h FROM notes`;
    const words = `SELECT encode(convert_to(w, 'UTF8'), 'hex') || ':' || n AS h FROM words`;
    const expected = await hexRows(f, 'src', notes);
    assert.equal(expected.length, 299);
    assert.deepEqual(await hexRows(f, 'dst', notes), expected);
    assert.deepEqual(await hexRows(f, 'dst', words), await hexRows(f, 'src', words));
    const [one] = await utf8(f, 'target', `SELECT body = 'Ærø ¿¡' AS same FROM notes WHERE id = 1`);
    assert.equal(one!.same, true);
    const [key] = await utf8(f, 'target', `SELECT n FROM words WHERE w = 'façade'`);
    assert.equal(key!.n, 10);
  });
});
