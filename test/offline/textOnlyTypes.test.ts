// A table of built-in types is copied in binary, except when a column's type has no binary form:
// aclitem (a privilege, as pg_class.relacl holds them) and gtsvector have no send or receive
// function, so a binary COPY of them fails on the source. Before, such a table failed the migration
// with "no binary output function available for type aclitem"; now it travels as text.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { pairSpec, suiteServers } from '../support';

const DB = 'textonly';

describe('offline copy: built-in types without a binary form', function () {
  this.timeout(120_000);
  const servers = suiteServers({
    databases: {
      [DB]: `CREATE TABLE public.grants (id int PRIMARY KEY, one aclitem, many aclitem[], note text);
         INSERT INTO public.grants SELECT g, 'postgres=arw/postgres'::aclitem,
                ARRAY['postgres=r/postgres', '=r/postgres']::aclitem[], 'row ' || g
           FROM generate_series(1, 500) g;
         INSERT INTO public.grants VALUES (501, NULL, '{}', NULL);`,
    },
  });

  it('copies a table with aclitem and aclitem[] columns as text, every row as on the source', async () => {
    const { pair } = servers;
    const result = await runMigration(pairSpec(pair, 'textonly', [DB]));
    assert.equal(result.state, 'Succeeded', result.message);
    const text = 'SELECT id, one::text, many::text, note FROM public.grants ORDER BY id';
    const [source, target] = [await pair.source.query(text, [], DB), await pair.target.query(text, [], DB)];
    assert.equal(target.length, 501);
    assert.deepEqual(target, source);
  });
});
