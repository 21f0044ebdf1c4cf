import assert from 'node:assert/strict';
import { displayIdent, displayName, ident, literal, operator, qualified } from '../../provider/engine/connect/quote';
import { qualifiedKey } from '../../provider/engine/core/names';
import { startCluster, type Cluster } from '../support';

describe('connect/quote', () => {
  it('quotes identifiers with quotes, dots, spaces, capitals and non-ASCII', () => {
    assert.equal(ident('a"b'), '"a""b"');
    assert.equal(qualified('My Schema', 'tä.ble'), '"My Schema"."tä.ble"');
    assert.equal(literal("it's"), "'it''s'");
    assert.throws(() => ident('a\0b'));
  });

  it('prints a plain lower-case name bare and any other quoted, a control character escaped so the name stays on one line', () => {
    assert.equal(displayName('public', 'orders'), 'public.orders');
    assert.equal(displayName('a.b', 'c'), '"a.b".c');
    assert.equal(displayName('a', 'b.c'), 'a."b.c"');
    assert.equal(displayIdent('Orders'), '"Orders"');
    assert.equal(displayIdent('we"ird x'), '"we""ird x"');
    assert.equal(displayIdent('line\nbreak\\x"'), 'U&"line\\000Abreak\\\\x"""');
    assert.equal(displayIdent('tab\there\u2028'), 'U&"tab\\0009here\\2028"');
    assert.doesNotMatch(displayName('a\rb', 'c\nd'), /[\r\n]/);
  });

  it('keys schema "a.b" table "c" and schema "a" table "b.c" apart', () => {
    assert.notEqual(qualifiedKey('a.b', 'c'), qualifiedKey('a', 'b.c'));
    assert.notEqual(displayName('a.b', 'c'), displayName('a', 'b.c'));
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

    it('a printed name, read as SQL, names its table: a newline, a quote, a dot and a space in it', async () => {
      const schema = 'print.ed';
      const names = ['line\nbreak', 'we"ird x', 'back\\slash\ttab', 'plain'];
      await cluster.query(`CREATE SCHEMA ${ident(schema)}`);
      for (const [i, name] of names.entries()) {
        await cluster.query(`CREATE TABLE ${qualified(schema, name)} (id int)`);
        await cluster.query(`INSERT INTO ${qualified(schema, name)} VALUES (${i})`);
      }
      for (const [i, name] of names.entries()) {
        const rows = await cluster.query<{ id: number }>(`SELECT id FROM ${displayName(schema, name)}`);
        assert.deepEqual(rows, [{ id: i }], JSON.stringify(name));
      }
    });
  });
});
