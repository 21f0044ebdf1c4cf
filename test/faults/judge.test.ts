// The judge must be able to fail: identical databases compare equal, and a target with one row
// lost, one duplicated, one changed, an index missing and a trigger left disabled is reported
// for each, read back from real servers.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { judgeDatabase } from './judge';

const SCHEMA = `
CREATE TABLE keyed (id int PRIMARY KEY, body text);
CREATE TABLE keyless (line text);
CREATE INDEX keyed_body_idx ON keyed (body);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER keyed_noop AFTER INSERT ON keyed FOR EACH ROW EXECUTE FUNCTION noop();
INSERT INTO keyed SELECT g, repeat(md5(g::text), 100) FROM generate_series(1, 1000) g;
INSERT INTO keyless SELECT 'line ' || (g % 10) FROM generate_series(1, 100) g;
SELECT lo_from_bytea(0, 'large object');`;

describe('fault campaign judge (issue 14 harness)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    for (const c of [pair.source, pair.target]) {
      await c.query('CREATE DATABASE judged');
      await c.query(SCHEMA, [], 'judged');
    }
  });
  after(async () => pair?.stop());

  it('finds identical databases equal', async () => {
    const j = await judgeDatabase(pair.source, pair.target, 'judged');
    assert.deepEqual(j.catalogDiffs, []);
    assert.deepEqual(j.tables, []);
    assert.equal(j.rowsCompared, 1100);
  });

  it('reports a lost, a duplicated and a changed row, a missing index and a disabled trigger', async () => {
    await pair.target.query(
      `DELETE FROM keyed WHERE id = 7;
       UPDATE keyed SET body = 'changed' WHERE id = 8;
       INSERT INTO keyless VALUES ('line 3');
       DROP INDEX keyed_body_idx;
       ALTER TABLE keyed DISABLE TRIGGER keyed_noop;`,
      [],
      'judged',
    );
    const j = await judgeDatabase(pair.source, pair.target, 'judged');
    const keyed = j.tables.find((t) => t.table === '"public"."keyed"');
    const keyless = j.tables.find((t) => t.table === '"public"."keyless"');
    assert.deepEqual({ lost: keyed?.lost, extra: keyed?.extra, changed: keyed?.changed }, { lost: 1, extra: 0, changed: 1 });
    assert.deepEqual({ lost: keyless?.lost, extra: keyless?.extra }, { lost: 0, extra: 1 });
    assert.ok(
      j.catalogDiffs.some((d) => d.startsWith('- index') && d.includes('keyed_body_idx')),
      j.catalogDiffs.join('\n'),
    );
    assert.ok(
      j.catalogDiffs.some((d) => d.startsWith('+ trigger') && d.includes('enabled=D')),
      j.catalogDiffs.join('\n'),
    );
  });
});
