// Issue 15's rule for every check: the source stays as it is (it is the fallback), so a fix says
// what to do on the target or with pgferry's options, or plainly what the migration cannot carry.
// User-defined casts onto an Azure-like target (non-superuser admin): a cast between two built-in
// types fails validation (the restore could not create it), a cast on a migrated type migrates.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import type { ValidationResult } from '../../provider/engine/core/model';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { checkCollations } from '../../provider/engine/validate/collations';
import { makeManagedTarget, serverSpec, startPair, type ServerPair } from '../support';
import { expectCode, specFor, summary } from './helpers';

function assertNoSourceChange(results: readonly ValidationResult[]): void {
  for (const r of results.filter((x) => x.status !== 'Succeeded')) {
    assert.doesNotMatch(r.fix ?? '', /on the source|DROP |ALTER TABLE/, `${r.code}: ${r.fix}`);
  }
}

describe('validation fixes never ask to change the source', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let pgadmin: ServerSpec;
  before(async () => {
    pair = await startPair(15, 15);
    pgadmin = await makeManagedTarget(pair.target);
    await pair.source.query('CREATE ROLE cast_owner NOLOGIN');
    for (const db of ['builtin_cast', 'own_cast']) {
      await pair.source.query(`CREATE DATABASE ${db} OWNER cast_owner`);
      await pair.source.query(
        `SET ROLE cast_owner;
         CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE feelings (id int PRIMARY KEY, m mood);
         INSERT INTO feelings VALUES (1, 'happy'), (2, 'sad');
         CREATE CAST (mood AS text) WITH INOUT;`,
        [],
        db,
      );
    }
    await pair.source.query('CREATE CAST (bytea AS text) WITH INOUT', [], 'builtin_cast');
  });
  after(async () => pair?.stop());

  it('fails a cast between built-in types for a non-superuser target, and the restore indeed cannot create it', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), pgadmin, ['builtin_cast']));
    const casts = results.filter((r) => r.code === 'USER_DEFINED_CAST');
    assert.equal(casts.length, 2, summary(results));
    const failedCasts = casts.filter((r) => r.status === 'Failed');
    assert.equal(failedCasts.length, 1, summary(casts));
    assert.match(failedCasts[0]!.message, /\(bytea AS text\)/);
    // the cast on the migrated type is a Warning: pgadmin will inherit its owner
    assert.match(casts.find((r) => r.status === 'Warning')!.message, /\(public\.mood AS text\)/);
    assertNoSourceChange(results);

    const unvalidated = await runMigration(
      parseMigrationSpec({
        migrationName: 'cast-unvalidated',
        source: serverSpec(pair.source),
        target: pgadmin,
        databases: ['builtin_cast'],
        option: 'Migrate',
      }),
    );
    assert.equal(unvalidated.state, 'Failed', unvalidated.message);
    assert.match(unvalidated.message ?? '', /must be owner of type bytea or type text/);
  });

  it('migrates a cast on a type of the migrated schema, as the warning says', async () => {
    const status = await runMigration(
      parseMigrationSpec({ migrationName: 'cast-own', source: serverSpec(pair.source), target: pgadmin, databases: ['own_cast'] }),
    );
    assert.equal(status.state, 'Succeeded', `${status.message} ${summary(status.validation)}`);
    assert.equal(status.validation.find((r) => r.code === 'USER_DEFINED_CAST')?.status, 'Warning');
    assertNoSourceChange(status.validation);
    assert.deepEqual(await pair.target.query(`SELECT m::text AS m FROM feelings ORDER BY id`, [], 'own_cast'), [
      { m: 'happy' },
      { m: 'sad' },
    ]);
    assert.deepEqual(
      await pair.target.query(
        `SELECT castsource::regtype::text AS s FROM pg_cast WHERE casttarget = 'text'::regtype AND castsource = 'mood'::regtype`,
        [],
        'own_cast',
      ),
      [{ s: 'mood' }],
    );
  });

  it('a column collation the target lacks: the fix is on the target, or says the migration cannot carry it', async () => {
    await pair.source.query(`CREATE TABLE names (n text COLLATE "de-x-icu")`, [], 'own_cast');
    const client = await pair.source.connect('own_cast');
    try {
      // a target without that collation (the test clusters share one machine's collations)
      const results = await checkCollations(client, 'own_cast', { names: new Set(), locales: new Set(), icu: true });
      const [missing] = expectCode(results, 'COLUMN_COLLATION_MISSING', 'Failed');
      assert.match(missing!.fix!, /on the target's OS[^]*cannot carry public\.names\.n/);
      assertNoSourceChange(results);
    } finally {
      await client.end();
      await pair.source.query('DROP TABLE names', [], 'own_cast');
    }
  });
});
