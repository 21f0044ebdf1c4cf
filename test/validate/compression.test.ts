// Column compression the target lacks: a source column stored with COMPRESSION lz4 is restored
// with ALTER TABLE ... SET COMPRESSION lz4, which a target built without lz4 (the embedded
// PostgreSQL 16 here offers pglz only) refuses. Validation says so before anything is copied, with
// the fix; once the source's columns use pglz, it passes and the migration moves the rows.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';
import { expectCode, specFor, summary, withCode } from './helpers';

describe('validation: a column compression the target does not offer', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 16);
    await pair.source.query('CREATE DATABASE packed');
    await pair.source.query(
      `CREATE TABLE docs (id int PRIMARY KEY, body text COMPRESSION lz4, note text);
       INSERT INTO docs SELECT g, repeat(md5(g::text), 200), 'n' FROM generate_series(1, 200) g;`,
      [],
      'packed',
    );
  });
  after(async () => pair?.stop());

  it('COMPRESSION_METHOD_MISSING names the column and the fix; after the fix the migration moves the rows', async () => {
    const [offered] = await pair.target.query<{ methods: string[] }>(
      `SELECT enumvals AS methods FROM pg_settings WHERE name = 'default_toast_compression'`,
    );
    assert.deepEqual(offered?.methods, ['pglz'], 'the target of this test is built without lz4');
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['packed']));
    const [missing] = expectCode(results, 'COMPRESSION_METHOD_MISSING', 'Failed');
    assert.equal(missing!.database, 'packed');
    assert.match(missing!.message, /1 column\(s\) .* COMPRESSION lz4 \(e\.g\. public\.docs\.body\)/);
    assert.match(missing!.fix ?? '', /SET COMPRESSION pglz/);
    // nothing was created on the target
    assert.deepEqual(await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'packed'`), []);

    await pair.source.query(`ALTER TABLE docs ALTER COLUMN body SET COMPRESSION pglz`, [], 'packed');
    const after = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['packed']));
    assert.deepEqual(
      withCode(after, 'COMPRESSION_METHOD_MISSING').filter((r) => r.status === 'Failed'),
      [],
      summary(after),
    );
    const done = await runMigration(pairSpec(pair, 'packed-move', ['packed'], { option: 'Migrate' }));
    assert.equal(done.state, 'Succeeded', done.message);
    const [rows] = await pair.target.query<{ n: number; c: string }>(
      `SELECT count(*)::int AS n, max(md5(body)) AS c FROM docs`,
      [],
      'packed',
    );
    const [source] = await pair.source.query<{ n: number; c: string }>(
      `SELECT count(*)::int AS n, max(md5(body)) AS c FROM docs`,
      [],
      'packed',
    );
    assert.deepEqual(rows, source);
  });
});
