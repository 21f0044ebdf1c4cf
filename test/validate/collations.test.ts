// The collation checks against real servers. Both clusters run on one machine, so the
// target's lack is made in its catalog, which is what the checks read (its maintenance database,
// as on Azure): an ICU collation a column uses is dropped there, then every ICU collation (a target
// built without ICU). Each failure is shown to go once the collations are back.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';
import { expectCode, specFor, summary, withCode } from './helpers';

const COLLATION_CODES = ['COLUMN_COLLATION_MISSING', 'DATABASE_COLLATION_MISSING', 'USER_DEFINED_COLLATION', 'COLLATIONS'];

describe('validation: collations missing on a real target', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  const validate = async (databases: string[]) => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), databases));
    return results.filter((r) => COLLATION_CODES.includes(r.code));
  };

  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query('CREATE DATABASE atlas');
    await pair.source.query(
      `CREATE TABLE towns (id int PRIMARY KEY, name text COLLATE "de-x-icu");
       INSERT INTO towns VALUES (1, 'Köln'), (2, 'Zürich');`,
      [],
      'atlas',
    );
    await pair.source.query('CREATE DATABASE phones');
    await pair.source.query(
      `CREATE COLLATION phonebook (provider = icu, locale = 'de-u-co-phonebk');
       CREATE TABLE people (id int PRIMARY KEY, surname text COLLATE phonebook);`,
      [],
      'phones',
    );
    await pair.source.query(`CREATE DATABASE icudb LOCALE_PROVIDER icu ICU_LOCALE 'de' TEMPLATE template0`);
  });
  after(async () => pair?.stop());

  it('COLUMN_COLLATION_MISSING: a column uses an ICU collation the target lacks', async () => {
    const clean = await validate(['atlas']);
    assert.deepEqual(
      clean.filter((r) => r.status === 'Failed'),
      [],
      summary(clean),
    );
    await pair.target.query(`DROP COLLATION pg_catalog."de-x-icu"`);
    try {
      const results = await validate(['atlas']);
      const [missing] = expectCode(results, 'COLUMN_COLLATION_MISSING', 'Failed');
      assert.equal(missing!.database, 'atlas');
      assert.match(missing!.message, /de-x-icu.*towns\.name/);
      assert.ok(missing!.fix);
    } finally {
      await pair.target.query(`CREATE COLLATION pg_catalog."de-x-icu" (provider = icu, locale = 'de')`);
    }
    const after = await validate(['atlas']);
    assert.deepEqual(withCode(after, 'COLUMN_COLLATION_MISSING'), [], summary(after));
    expectCode(after, 'COLLATIONS', 'Succeeded');
  });

  it('DATABASE_COLLATION_MISSING and COLUMN_COLLATION_MISSING: an ICU database and collation on a target without ICU; the migration stops before changing it', async () => {
    // with ICU on the target, a collation created on the source is recreated by the schema copy
    expectCode(await validate(['phones']), 'USER_DEFINED_COLLATION', 'Warning');
    expectCode(await validate(['icudb']), 'COLLATIONS', 'Succeeded');
    await pair.target.query(
      `DO $$ DECLARE c record; BEGIN
         FOR c IN SELECT n.nspname, co.collname FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
                   WHERE co.collprovider = 'i' LOOP
           EXECUTE format('DROP COLLATION %I.%I', c.nspname, c.collname);
         END LOOP; END $$`,
    );
    try {
      const [icuDatabase] = expectCode(await validate(['icudb']), 'DATABASE_COLLATION_MISSING', 'Failed');
      assert.equal(icuDatabase!.database, 'icudb');
      assert.match(icuDatabase!.message, /ICU/);
      const [userDefined] = expectCode(await validate(['phones']), 'COLUMN_COLLATION_MISSING', 'Failed');
      assert.match(userDefined!.message, /phonebook/);

      const databasesBefore = await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`);
      const status = await runMigration(pairSpec(pair, 'icu-to-plain', ['icudb', 'phones']));
      assert.equal(status.state, 'ValidationFailed', status.message);
      assert.deepEqual(await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`), databasesBefore);
    } finally {
      await pair.target.query(`SELECT pg_import_system_collations('pg_catalog')`);
    }
    const after = await validate(['icudb', 'phones']);
    assert.deepEqual(
      after.filter((r) => r.status === 'Failed'),
      [],
      summary(after),
    );
  });
});
