// Tablespaces the target lacks: pg_dump places a table in its tablespace with SET
// default_tablespace, which a target without it refuses, so the restore failed after a green
// validation. pgferry restores every object into the target database's default tablespace, and
// validation warns which of the source's tables and indexes that moves.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { createTablespace, pairSpec, serverSpec, startPair, type ServerPair } from '../support';
import { expectCode, specFor } from './helpers';

describe('validation: tablespaces the target lacks', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    await createTablespace(pair.source, 'fast_disk');
    await pair.source.query('CREATE DATABASE placed');
    await pair.source.query(
      `CREATE TABLE hot (id int PRIMARY KEY USING INDEX TABLESPACE fast_disk, body text) TABLESPACE fast_disk;
       CREATE INDEX hot_body_idx ON hot (body) TABLESPACE fast_disk;
       CREATE TABLE cold (id int PRIMARY KEY);
       INSERT INTO hot SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
       INSERT INTO cold SELECT generate_series(1, 100);`,
      [],
      'placed',
    );
  });
  after(async () => pair?.stop());

  it('TABLESPACE_NOT_KEPT names what moves; the migration restores it into the default tablespace with every row', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['placed']));
    const [moved] = expectCode(results, 'TABLESPACE_NOT_KEPT', 'Warning');
    assert.equal(moved!.database, 'placed');
    assert.match(moved!.message, /^3 table\(s\) and index\(es\) of database placed are in tablespace fast_disk \(e\.g\. public\.hot\)/);
    assert.match(moved!.fix ?? '', /SET TABLESPACE/);

    const done = await runMigration(pairSpec(pair, 'placed-move', ['placed'], { option: 'Migrate' }));
    assert.equal(done.state, 'Succeeded', done.message);
    const placement = `SELECT c.relname AS name, c.reltablespace::int AS ts FROM pg_class c
      WHERE c.relname IN ('hot', 'hot_pkey', 'hot_body_idx', 'cold') ORDER BY 1`;
    assert.deepEqual(
      (await pair.target.query<{ name: string; ts: number }>(placement, [], 'placed')).map((r) => [r.name, r.ts]),
      [
        ['cold', 0],
        ['hot', 0],
        ['hot_body_idx', 0],
        ['hot_pkey', 0],
      ],
    );
    const content = `SELECT count(*)::int AS n, md5(string_agg(body, ',' ORDER BY id)) AS h FROM hot`;
    assert.deepEqual(await pair.target.query(content, [], 'placed'), await pair.source.query(content, [], 'placed'));
  });
});
