// A table renamed on the source while changes stream with its sequence, primary key, foreign key
// and index, in one transaction, as TypeORM's renameTable does (docs/trials.md): the schema watch
// renames the target's as the source did, the migration's own told by the OID recorded for each on
// the target (their keys name the table by its old name). Before, it made a second sequence, index
// and foreign key under the new names, kept the copied ones as made on the target by someone else,
// and the cutover stopped on a primary key it could not add beside the first. The names and rows are
// read back from both servers after the cutover.
import assert from 'node:assert/strict';
import { requestCutover } from '../../provider/engine';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { followingMigration, rowsOf } from './harness';
import { eventsTold } from '../support/toldEvents';

const DB = 'partsrename';

const SCHEMA = `
CREATE TABLE customer (id int PRIMARY KEY);
CREATE TABLE "order" (id serial NOT NULL, "customerId" int NOT NULL, total int,
  CONSTRAINT "PK_order" PRIMARY KEY (id));
CREATE INDEX "IDX_order_customer" ON "order" ("customerId");
ALTER TABLE "order" ADD CONSTRAINT "FK_order_customer" FOREIGN KEY ("customerId") REFERENCES customer (id) ON DELETE CASCADE;
INSERT INTO customer SELECT g FROM generate_series(1, 50) g;
INSERT INTO "order" ("customerId", total) SELECT 1 + g % 50, g FROM generate_series(1, 300) g;`;

/** TypeORM 0.3's queryRunner.renameTable('order', 'purchase'), statement by statement. */
const RENAME_TABLE = `BEGIN;
ALTER TABLE "order" RENAME TO "purchase";
ALTER TABLE "purchase" RENAME CONSTRAINT "PK_order" TO "PK_purchase";
ALTER SEQUENCE "order_id_seq" RENAME TO "purchase_id_seq";
ALTER INDEX "public"."IDX_order_customer" RENAME TO "IDX_purchase_customer";
ALTER TABLE "purchase" RENAME CONSTRAINT "FK_order_customer" TO "FK_purchase_customer";
COMMIT;`;

/** The names of the database's relations and constraints, with their kinds. */
async function names(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ n: string }>(
    `SELECT c.relkind::text || ' ' || c.relname AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
     UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.n);
}

describe('a table renamed on the source with its sequence, keys and index while streaming', function () {
  this.timeout(240_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('renames the target’s sequence, keys and index as the source did, none made twice: cutover Succeeded, names and rows equal', async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    const name = 'parts-rename';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      await source.query(RENAME_TABLE, [], DB);
      await source.query(`INSERT INTO purchase ("customerId", total) SELECT 1 + g % 50, g FROM generate_series(1, 40) g`, [], DB);
      const expected = await names(source);
      await until(
        'the renames followed on the target',
        async () => (JSON.stringify(await names(pair!.target)) === JSON.stringify(expected) ? true : undefined),
        60_000,
        500,
      ).catch(async (error: Error) => {
        const told = await eventsTold(store, name, 20);
        throw new Error(`${error.message}: ${JSON.stringify(await names(pair!.target))}\n  ${told}`);
      });
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.deepEqual(await names(pair.target), expected);
      assert.deepEqual(await rowsOf(pair.target, DB, 'purchase'), await rowsOf(source, DB, 'purchase'));
      // the sequence the application's next insert draws from is the one the source's rows came from
      const [next] = await pair.target.query<{ id: number }>(`INSERT INTO purchase ("customerId") VALUES (1) RETURNING id`, [], DB);
      assert.equal(next?.id, 341);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
