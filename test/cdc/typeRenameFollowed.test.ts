// A type renamed on the source while changes stream, in the transaction that renames the table
// using it, as TypeORM's renameTable renames a table's enum types with it (docs/trials.md): the
// apply renames the target's type at the Type message that carries the new name (same OID), before
// any row written under it, and a second table using the type, whose relation the source does not
// send again, is written under the new name too. Before, the apply cast the rows to a type the
// target did not have and the stream stopped until someone renamed it by hand. The rows of both
// tables and the type's name are read back from the target after the cutover.
import assert from 'node:assert/strict';
import { requestCutover } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type ServerPair } from '../support';
import { followingMigration, rowsOf } from './harness';

const DB = 'typerename';

const SCHEMA = `
CREATE TYPE order_status_enum AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE "order" (id int PRIMARY KEY, status order_status_enum NOT NULL DEFAULT 'new');
CREATE TABLE note (id int PRIMARY KEY, status order_status_enum);
INSERT INTO "order" SELECT g, 'paid' FROM generate_series(1, 200) g;
INSERT INTO note SELECT g, 'new' FROM generate_series(1, 200) g;`;

describe('a type renamed on the source with its table while streaming', function () {
  this.timeout(240_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('is renamed on the target at its place in the stream: rows of both tables using it applied, cutover Succeeded', async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    const name = 'type-rename';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      // both relations streamed with the type's old name first
      await source.query(`UPDATE "order" SET status = 'shipped' WHERE id = 1; UPDATE note SET status = 'paid' WHERE id = 1`, [], DB);
      await source.query(
        `BEGIN; ALTER TABLE "order" RENAME TO purchase; ALTER TYPE order_status_enum RENAME TO purchase_status_enum; COMMIT;
         INSERT INTO purchase SELECT g, 'shipped' FROM generate_series(201, 260) g;
         UPDATE purchase SET status = 'new' WHERE id <= 20;
         UPDATE note SET status = 'shipped' WHERE id <= 30;
         INSERT INTO note SELECT g, 'paid' FROM generate_series(201, 230) g;`,
        [],
        DB,
      );
      const count = async (table: string) =>
        (await pair!.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`, [], DB))[0]?.n;
      await until(
        'the rows written under the new name applied on the target',
        async () => {
          const [purchases, notes] = [await count(`public.purchase`).catch(() => undefined), await count('public.note')];
          const shipped = await count(`public.note WHERE status = 'shipped'`);
          return purchases === '260' && notes === '230' && shipped === '30' ? true : undefined;
        },
        60_000,
        500,
      ).catch(async (error: Error) => {
        const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
        throw new Error(`${error.message}\n  ${told}`);
      });
      const events = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
      assert.match(
        events,
        /source type public\.order_status_enum renamed to public\.purchase_status_enum while streaming, followed on the target/,
      );
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      const types = await pair.target.query<{ t: string }>(`SELECT typname AS t FROM pg_type WHERE typtype = 'e' ORDER BY 1`, [], DB);
      assert.deepEqual(
        types.map((t) => t.t),
        ['purchase_status_enum'],
      );
      for (const table of ['purchase', 'note'])
        assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(source, DB, table), table);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
