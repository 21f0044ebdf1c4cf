import assert from 'node:assert/strict';
import { conninfoDbname, ident } from '../../provider/engine/connect/quote';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { serverSpec, startPair, type ServerPair } from '../support';

describe('hostile database names', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  const database = `Odd "db" name=1 'x' \\ ü`;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${ident(database)}`);
    await pair.source.query(
      `CREATE TABLE "T ""1""" ("a.b" int PRIMARY KEY, "C d" text); INSERT INTO "T ""1""" SELECT g, 'v' || g FROM generate_series(1, 1000) g;`,
      [],
      database,
    );
  });
  after(async () => pair?.stop());

  it('quotes a database name for libpq conninfo', () => {
    assert.equal(conninfoDbname(`a'b\\c`), `dbname='a\\'b\\\\c'`);
  });

  it('migrates a database whose name has quotes, spaces, = and a backslash', async () => {
    const status = await runMigration(
      parseMigrationSpec({
        migrationName: 'odd-db',
        source: serverSpec(pair.source),
        target: serverSpec(pair.target),
        databases: [database],
      }),
    );
    assert.equal(status.state, 'Succeeded', status.message);
    assert.equal(status.verification?.ok, true);
    assert.deepEqual(await pair.target.query(`SELECT count(*)::int AS n, max("C d") AS m FROM "T ""1"""`, [], database), [
      { n: 1000, m: 'v999' },
    ]);
  });

  it('refuses to migrate the target maintenance database that holds the control catalog', () => {
    assert.throws(
      () =>
        parseMigrationSpec({
          migrationName: 'm',
          source: serverSpec(pair.source),
          target: serverSpec(pair.target),
          databases: ['postgres'],
        }),
      (e: { field?: string; category?: string }) => e.field === 'databases' && e.category === 'input',
    );
  });
});
