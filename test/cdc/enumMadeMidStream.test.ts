// An enum made in the transaction that adds a column of it and writes rows (a Sequelize or TypeORM
// migration does exactly this), then a label added to it and to an enum the copy brought, each
// used by the next insert at once. The target has neither the type nor the labels until the schema
// watch's next look makes them; before this was fixed, the apply failed on them and the stream
// stopped until its next try after the watch, a stop recorded each time. It now holds the change
// until the watch has made them, without a stop. The rows of both sides and the migration's events
// are read back.
import assert from 'node:assert/strict';
import { endIfRunning, startPair, until, type Cluster, type ServerPair } from '../support';
import { streamStops } from '../support/toldEvents';
import { followingMigration, rowsOf } from './harness';

const DB = 'enummidstream';

const SCHEMA = `
CREATE TYPE state AS ENUM ('new', 'paid');
CREATE TABLE item (id int PRIMARY KEY, st state NOT NULL DEFAULT 'new');
INSERT INTO item SELECT g, 'paid' FROM generate_series(1, 100) g;`;

/** Waits until the target's item rows equal the source's. */
async function rowsEqual(source: Cluster, target: Cluster, what: string): Promise<void> {
  const expected = JSON.stringify(await rowsOf(source, DB, 'item'));
  await until(what, async () => (JSON.stringify(await rowsOf(target, DB, 'item')) === expected ? true : undefined), 90_000, 500);
}

describe('enums made or given a label on the source while streaming, used at once', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('applies the rows once the watch made the type and labels, with no stream stop recorded', async () => {
    pair = await startPair(15, 15);
    const { source, target } = pair;
    const name = 'enum-mid-stream';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      await source.query(
        `BEGIN;
         CREATE TYPE size AS ENUM ('small', 'large');
         ALTER TABLE item ADD COLUMN sz size;
         UPDATE item SET sz = 'large' WHERE id <= 10;
         INSERT INTO item VALUES (101, 'new', 'small');
         COMMIT;`,
        [],
        DB,
      );
      await rowsEqual(source, target, 'the rows of the new enum column applied');
      await source.query(`ALTER TYPE size ADD VALUE 'medium' BEFORE 'large'`, [], DB);
      await source.query(`INSERT INTO item VALUES (102, 'new', 'medium')`, [], DB);
      await source.query(`ALTER TYPE state ADD VALUE 'shipped'`, [], DB);
      await source.query(`UPDATE item SET st = 'shipped' WHERE id BETWEEN 11 AND 20`, [], DB);
      await rowsEqual(source, target, 'the rows using the labels added applied');
      const labels = `SELECT string_agg(t.typname || '.' || e.enumlabel, ',' ORDER BY t.typname, e.enumsortorder) AS l
                        FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid`;
      assert.deepEqual(await target.query(labels, [], DB), await source.query(labels, [], DB));
      assert.deepEqual(await streamStops(store, name), []);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
