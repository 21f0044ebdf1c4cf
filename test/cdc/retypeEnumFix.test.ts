// A column retyped on the source from one enum to another (the new type made in the same
// transaction, the values converted through their text) while changes stream, on a table the
// target holds a DBA's column of: the table cannot be copied again at a pin (the copy would empty
// the DBA's column), so the stream stops with the fix to make on the target. No cast exists
// between two enums, so an ALTER COLUMN ... TYPE without a USING is refused there ("cannot be cast
// automatically"); the printed fix carries one that goes through the value's text. The test runs
// the printed statement on the target as it is, resumes, and reads back: the column's type is the
// source's, the rows written after the retype are applied, the table's rows equal the source's
// (over the source's columns) and the DBA's column keeps its values.
import assert from 'node:assert/strict';
import { resumeMigration, showMigration } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { followingMigration } from './harness';

const DB = 'retypefix';

const SCHEMA = `
CREATE TYPE old_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE t (id int PRIMARY KEY, status old_status NOT NULL DEFAULT 'new', n int NOT NULL);
INSERT INTO t SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::old_status, g FROM generate_series(1, 500) g;`;

/** The source's retype: a new enum with one more label, the column converted to it through its text. */
const RETYPE = `BEGIN;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'refunded');
ALTER TABLE t ALTER COLUMN status DROP DEFAULT;
ALTER TABLE t ALTER COLUMN status TYPE order_status USING status::text::order_status;
COMMIT;
INSERT INTO t VALUES (1000, 'refunded', 1000)`;

const STATUS_TYPE = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'status'`;

/** The table's rows over the source's columns: their count and md5. */
async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(concat_ws('|', id, status, n), E'\\n' ORDER BY id)) AS h FROM t`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

describe('a column retyped from one enum to another, the table holding a DBA column on the target', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the stop's printed fix runs on the target as printed; resumed, the rows equal the source's and the DBA's column keeps its values", async () => {
    const name = 'retype-enum-fix';
    const servers = (pair = await startPair(15, 15));
    const { spec, store, running } = await followingMigration(servers, name, DB, SCHEMA);
    const told = async () => (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
    try {
      // a DBA's column on the target alone: a copy of the table again at a pin would empty it
      await servers.target.query(`ALTER TABLE t ADD COLUMN dba_note text; UPDATE t SET dba_note = 'seen ' || id`, [], DB);
      // a write the apply meets first in the old shape: the retype is then a change of its relation message
      await servers.source.query(`UPDATE t SET n = -1 WHERE id = 1`, [], DB);
      await until(
        'the write before the retype applied',
        async () => ((await servers.target.query(`SELECT 1 FROM t WHERE id = 1 AND n = -1`, [], DB)).length > 0 ? true : undefined),
        60_000,
        200,
      );
      await servers.source.query(RETYPE, [], DB);
      const stopped = await waitForStatus(store, name, (s) => s.databases[0]?.applyStop !== undefined || isFinalState(s.state));
      const stop = stopped.databases[0]?.applyStop;
      assert.ok(stop, `${stopped.state}: ${stopped.message}\n  ${await told()}`);
      const statement = /\((ALTER TABLE .* ALTER COLUMN .* TYPE .*) as on the source\)/.exec(stop.fix)?.[1];
      assert.ok(statement, `no ALTER COLUMN ... TYPE in the fix: ${stop.fix}`);
      assert.match(statement, /USING "status"::text::public\.order_status$/);
      // the stop may come before the schema watch's next look has made the new type on the target
      await until(
        'the new type made on the target by the schema watch',
        async () => ((await servers.target.query(`SELECT to_regtype('public.order_status') AS t`, [], DB))[0]?.t ? true : undefined),
        60_000,
        500,
      );
      // the fix as printed, run on the target: PostgreSQL refuses it without a USING that converts
      await servers.target.query(statement, [], DB);
      await servers.source.query(`UPDATE t SET status = 'refunded' WHERE id = 7; INSERT INTO t VALUES (1001, 'paid', 1001)`, [], DB);
      await resumeMigration(spec);
      await until(
        "the target's rows as the source's",
        async () => ((await contents(servers.target)) === (await contents(servers.source)) ? true : undefined),
        120_000,
        500,
      ).catch(async (error: Error) => {
        const s = await showMigration(spec.target, name);
        assert.fail(`${error.message}: ${await contents(servers.target)}; ${s?.subState} ${s?.message ?? ''}\n  ${await told()}`);
      });
      assert.deepEqual(await servers.target.query(STATUS_TYPE, [], DB), [{ t: 'order_status' }]);
      const [kept] = await servers.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM t WHERE dba_note = 'seen ' || id`, [], DB);
      assert.equal(kept!.n, '500', "the DBA's column keeps its values");
      // the stop's record is cleared once the supervisor sees the stream applied past it
      await until(
        'the stop cleared',
        async () => ((await showMigration(spec.target, name))?.databases[0]?.applyStop === undefined ? true : undefined),
        60_000,
        500,
      );
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
