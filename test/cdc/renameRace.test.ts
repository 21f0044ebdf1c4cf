// Types and sequences renamed on the source while the apply is behind, rows written under the new
// names at once, round after round: the schema watch's look then often sees the source renamed and
// the target not yet (the table's rename comes with its next relation message, a type's with its
// Type message). It must rename the migration's objects, never make the new names beside them: a
// second sequence or type left on the target stops the cutover. Each round, the names of every
// relation, type and constraint, and the rows, are read back from both servers.
import assert from 'node:assert/strict';
import { requestCutover } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { followingMigration, rowsOf } from './harness';

const DB = 'renamerace';

const SCHEMA = `
CREATE TYPE t0_status AS ENUM ('new', 'paid');
CREATE DOMAIN t0_amount AS int CHECK (VALUE >= 0);
CREATE TABLE t0 (id serial PRIMARY KEY, status t0_status NOT NULL DEFAULT 'new', amount t0_amount);
CREATE INDEX t0_status_idx ON t0 (status);
CREATE TABLE bulk (id bigint PRIMARY KEY, pad text);
INSERT INTO t0 (status, amount) SELECT 'paid', g FROM generate_series(1, 100) g;`;

const ROUNDS = 6;

/** One rename round, as TypeORM's renameTable does it, then rows under the new names in the next transactions. */
function round(i: number): string {
  const [from, to] = [`t${i}`, `t${i + 1}`];
  // the table written first, as by an application at work: the stream knows it and its types by their old names
  return `UPDATE ${from} SET amount = amount WHERE id = 1;
INSERT INTO bulk SELECT g, repeat('x', 20) FROM generate_series(${i * 200_000 + 1}, ${(i + 1) * 200_000}) g;
BEGIN;
ALTER TABLE ${from} RENAME TO ${to};
ALTER SEQUENCE ${from}_id_seq RENAME TO ${to}_id_seq;
ALTER INDEX ${from}_status_idx RENAME TO ${to}_status_idx;
ALTER TABLE ${to} RENAME CONSTRAINT ${from}_pkey TO ${to}_pkey;
ALTER TYPE ${from}_status RENAME TO ${to}_status;
ALTER DOMAIN ${from}_amount RENAME TO ${to}_amount;
COMMIT;
INSERT INTO ${to} (status, amount) SELECT 'new', g FROM generate_series(1, 20) g;
UPDATE ${to} SET status = 'new', amount = amount + 1 WHERE id <= 10;`;
}

/** The database's relations, types and constraints by kind and name. */
async function names(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ n: string }>(
    `SELECT c.relkind::text || ' ' || c.relname AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
     UNION ALL SELECT 'type ' || t.typtype::text || ' ' || t.typname FROM pg_type t
                WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
     UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.n);
}

describe('types, domains and sequences renamed on the source while the apply is behind', function () {
  this.timeout(400_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it(`renames the target's own each of ${ROUNDS} rounds, none made twice: names and rows equal, cutover Succeeded`, async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    const name = 'rename-race';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      for (let i = 0; i < ROUNDS; i++) {
        await source.query(round(i), [], DB);
        const expected = await names(source);
        await until(
          `round ${i + 1}: the renames followed on the target`,
          async () => (JSON.stringify(await names(pair!.target)) === JSON.stringify(expected) ? true : undefined),
          90_000,
          500,
        ).catch(async (error: Error) => {
          const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
          throw new Error(`${error.message}: ${JSON.stringify(await names(pair!.target))}\n  ${told}`);
        });
      }
      const last = `t${ROUNDS}`;
      await until(
        'the rows applied',
        async () =>
          JSON.stringify(await rowsOf(pair!.target, DB, last)) === JSON.stringify(await rowsOf(source, DB, last)) ? true : undefined,
        90_000,
        500,
      );
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.deepEqual(await names(pair.target), await names(source));
      assert.deepEqual(await rowsOf(pair.target, DB, last), await rowsOf(source, DB, last));
      // the application's next insert draws from the sequence the source's rows came from
      const next = `SELECT nextval('${last}_id_seq')::text AS n`;
      assert.deepEqual(await pair.target.query(next, [], DB), await source.query(next, [], DB));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
