// Schemas and writes pgferry's fixtures do not have, as a new user brings them, each migrated online
// (copy, then changes streamed while the application writes, then the cutover) and read back row by
// row on both servers, first while streaming (each change applied), then after the cutover: a domain
// over an array type (and an array of it); names in unicode with a trailing space, of a table copied,
// of a schema and a table made while streaming, and of a column of that domain added while streaming.
// (A stored generated column, rows moved between partitions and a primary key updated while streaming
// are test/cdc/identityGenerated's and test/cdc/stream's; a default partition test/cdc/partitionsFollowed's.)
import assert from 'node:assert/strict';
import { requestCutover, startMigration, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState } from '../../provider/engine/core/model';
import { pairSpec, type ServerPair, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from './harness';

/** Whether each of `tables` holds the same rows on both servers (a table not there yet is not alike). */
async function alike(pair: ServerPair, db: string, tables: readonly string[]): Promise<boolean> {
  for (const table of tables) {
    const [source, target] = await Promise.all([rowsOf(pair.source, db, table), rowsOf(pair.target, db, table).catch(() => undefined)]);
    if (target === undefined || target.join('\n') !== source.join('\n')) return false;
  }
  return true;
}

const streaming = (s: MigrationStatus): boolean => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state);

/**
 * Makes `db` on the source with `setup`, migrates it online, runs `whileStreaming` on the source
 * once it streams, cuts over, and compares each of `tables` row by row on both servers.
 */
async function migratedAlike(
  pair: ServerPair,
  db: string,
  setup: string,
  whileStreaming: string,
  tables: readonly string[],
): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(setup, [], db);
  const spec = pairSpec(pair, db.replace(/_/g, '-'), [db], { mode: 'Online', option: 'Migrate' });
  const store = new CatalogConnection(spec.target);
  try {
    await startMigration(spec);
    const ready = await waitForStatus(store, spec.migrationName, streaming);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
    await pair.source.query(whileStreaming, [], db);
    await until('every table alike while streaming', async () => ((await alike(pair, db, tables)) ? true : undefined), 180_000);
    await requestCutover(spec.target, spec.migrationName);
    const done = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
    assert.equal(done.state, 'Succeeded', done.message);
    for (const table of tables) {
      const [source, target] = await Promise.all([rowsOf(pair.source, db, table), rowsOf(pair.target, db, table)]);
      assert.ok(source.length > 0, `${table} holds rows`);
      assert.deepEqual(target, source, `${table} alike on both servers`);
    }
  } finally {
    await store.close();
  }
}

describe('online: schemas and writes of a new user, copied and streamed alike (integration)', function () {
  this.timeout(300_000);
  const servers = suiteServers();

  it('a domain over an array type, inserted, updated and emptied while streaming: its rows alike after the cutover', () =>
    migratedAlike(
      servers.pair,
      'domain_array',
      `CREATE DOMAIN tags AS text[] CONSTRAINT few_tags CHECK (cardinality(VALUE) < 5);
       CREATE DOMAIN scores AS int[] NOT NULL DEFAULT '{}';
       CREATE TABLE posts (id int PRIMARY KEY, t tags, s scores, ts tags[]);
       INSERT INTO posts SELECT g, ARRAY['a' || g, 'b, "q"'], ARRAY[g, g * 2], NULL FROM generate_series(1, 50) g;`,
      `INSERT INTO posts SELECT g, ARRAY['new', NULL, '{}'], ARRAY[g], '{"{x,\\"y z\\"}",NULL}'::tags[] FROM generate_series(51, 80) g;
       UPDATE posts SET t = '{}', s = s || 7 WHERE id <= 10;
       UPDATE posts SET t = NULL WHERE id BETWEEN 11 AND 15;
       DELETE FROM posts WHERE id BETWEEN 16 AND 20;`,
      ['posts'],
    ));

  it('names in unicode with a trailing space: a table copied, a schema and table made and a domain-array column added while streaming, alike', () =>
    migratedAlike(
      servers.pair,
      'trailing_space',
      `CREATE DOMAIN "Schlagwörter " AS text[];
       CREATE TABLE "Bücher " (id int PRIMARY KEY, "Titel " text, "größe" int);
       INSERT INTO "Bücher " SELECT g, 'T ' || g, g FROM generate_series(1, 40) g;`,
      `INSERT INTO "Bücher " SELECT g, 'neu ' || g, g FROM generate_series(41, 60) g;
       UPDATE "Bücher " SET "Titel " = "Titel " || ' ' WHERE id % 3 = 0;
       DELETE FROM "Bücher " WHERE id % 7 = 0;
       ALTER TABLE "Bücher " ADD COLUMN "Wörter " "Schlagwörter ";
       UPDATE "Bücher " SET "Wörter " = ARRAY['a b', "Titel "] WHERE id % 4 = 0;
       CREATE SCHEMA "Läger ";
       CREATE TABLE "Läger "."Bestand " (id int PRIMARY KEY, "Wörter " "Schlagwörter ");
       INSERT INTO "Läger "."Bestand " SELECT g, ARRAY['x' || g] FROM generate_series(1, 25) g;`,
      ['"Bücher "', '"Läger "."Bestand "'],
    ));
});
