import assert from 'node:assert/strict';
import { ident, literal, operator, qualified } from '../../provider/engine/connect/quote';
import { startCluster, type Cluster } from '../support';

describe('connect/quote', () => {
  it('quotes identifiers with quotes, dots, spaces, capitals and non-ASCII', () => {
    assert.equal(ident('a"b'), '"a""b"');
    assert.equal(qualified('My Schema', 'tä.ble'), '"My Schema"."tä.ble"');
    assert.equal(literal("it's"), "'it''s'");
    assert.throws(() => ident('a\0b'));
  });

  it('qualifies an operator with a quoted schema and refuses a name that is not made of operator characters', () => {
    assert.equal(operator('public', '='), 'OPERATOR("public".=)');
    assert.equal(operator('My "Ext"', '@>'), 'OPERATOR("My ""Ext""".@>)');
    for (const name of ['', '=) OR true --', 'eq', '= ', '=--', '/*='])
      assert.throws(() => operator('public', name), /not an operator name/);
  });

  describe('against a real server', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ label: 'quote' });
    });
    after(async () => cluster.stop());

    it('round-trips hostile names through CREATE TABLE and catalog lookups', async () => {
      const names = ['we"ird', 'Mixed Case', 'dot.ted', 'ünï cödé', "semi;colon'quote"];
      for (const name of names) {
        await cluster.query(`CREATE SCHEMA ${ident(name)}`);
        await cluster.query(`CREATE TABLE ${qualified(name, name)} (${ident(name)} int)`);
        await cluster.query(`INSERT INTO ${qualified(name, name)} VALUES (1)`);
      }
      const rows = await cluster.query<{ nspname: string }>(
        `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = n.nspname ORDER BY 1`,
      );
      assert.deepEqual(rows.map((r) => r.nspname).sort(), [...names].sort());
    });
  });
});
