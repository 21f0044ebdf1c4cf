// A column retyped on the source to an enum made in the same transaction, on a table the target
// holds a DBA's column of (so the table is not copied again at a pin): the stream stops with the
// fix, an ALTER COLUMN ... TYPE to the new type. The new type is made on the target by the schema
// watch at its next look, which may come after the apply meets the retype. Here the watch's first
// follow is held, so the apply reaches the retype first: the stop must not be told before the type
// is there, else its printed fix fails ("type does not exist"). The test runs the fix as printed the
// moment the stop is recorded (while the watch is still held, if the stop came then), resumes, and
// reads back: the column's type is the source's, the stream goes on, rows equal by md5.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resumeMigration, showMigration } from '../../provider/engine';
import { events as catalogEvents, get } from '../../provider/engine/control/store';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { heldFile } from '../support/holdPoints';
import { followingMigration } from './harness';

const DB = 'retypeatstop';
const HELD_FOLLOW = `schema-watch-follow:${DB}`;

const SCHEMA = `
CREATE TYPE old_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE t (id int PRIMARY KEY, status old_status NOT NULL DEFAULT 'new', n int NOT NULL);
INSERT INTO t SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::old_status, g FROM generate_series(1, 500) g;`;

/** The source's retype: a new enum with one more label, the column converted to it through its text, then a row of the new label. */
const RETYPE = `BEGIN;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'refunded');
ALTER TABLE t ALTER COLUMN status DROP DEFAULT;
ALTER TABLE t ALTER COLUMN status TYPE order_status USING status::text::order_status;
COMMIT;
INSERT INTO t VALUES (1000, 'refunded', 1000)`;

const STATUS_TYPE = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'status'`;

/** How long the test leaves the watch held, waiting to see whether the stop is told before the type is made. */
const HELD_MS = 20_000;

/** The table's rows over the source's columns: their count and md5. */
async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(concat_ws('|', id, status, n), E'\\n' ORDER BY id)) AS h FROM t`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

describe('a retype stop told before the schema watch made the new type', function () {
  this.timeout(360_000);
  let pair: ServerPair | undefined;
  let holdDir: string | undefined;
  afterEach(async () => {
    delete process.env.PGFERRY_FAILPOINTS;
    delete process.env.PGFERRY_HOLD_DIR;
    if (holdDir) await fs.rm(holdDir, { recursive: true, force: true });
    holdDir = undefined;
    await pair?.stop();
    pair = undefined;
  });

  it("the stop's printed fix, run the moment the stop is recorded, works as printed; resumed, the stream goes on and the rows equal the source's by md5", async () => {
    const name = 'retype-fix-at-stop';
    const servers = (pair = await startPair(15, 15));
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
    // read by the watch, in this process, when it gets to its first follow
    process.env.PGFERRY_FAILPOINTS = `${HELD_FOLLOW}:hold`;
    process.env.PGFERRY_HOLD_DIR = holdDir;
    const held = heldFile(HELD_FOLLOW, holdDir);
    const { spec, store, running } = await followingMigration(servers, name, DB, SCHEMA);
    const told = async () => (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
    const stopOf = async () => (await get(store, name))?.databases[0]?.applyStop;
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
      await until('the schema watch held at its first follow', async () => ((await exists(held)) ? true : undefined), 120_000, 200);
      // the watch held, the new type is not on the target: a stop told now would print a fix that fails
      const early = await until('a stop told while the watch is held', stopOf, HELD_MS, 250).catch(() => undefined);
      let ranWhileHeld = false;
      if (early) {
        const statement = /\((ALTER TABLE .* ALTER COLUMN .* TYPE .*) as on the source\)/.exec(early.fix)?.[1];
        assert.ok(statement, `no ALTER COLUMN ... TYPE in the fix: ${early.fix}`);
        await servers.target.query(statement, [], DB);
        ranWhileHeld = true;
      }
      await fs.rm(held, { force: true });
      const stopped = await waitForStatus(store, name, (s) => s.databases[0]?.applyStop !== undefined);
      const stop = stopped.databases[0]!.applyStop!;
      const statement = /\((ALTER TABLE .* ALTER COLUMN .* TYPE .*) as on the source\)/.exec(stop.fix)?.[1];
      assert.ok(statement, `no ALTER COLUMN ... TYPE in the fix: ${stop.fix}`);
      assert.match(statement, /TYPE public\.order_status USING "status"::text::public\.order_status$/);
      // the fix as printed, at once: the new type is there by the time the stop is told
      if (!ranWhileHeld) await servers.target.query(statement, [], DB);
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
      assert.equal(await contents(servers.target), await contents(servers.source));
      assert.deepEqual(await servers.target.query(STATUS_TYPE, [], DB), [{ t: 'order_status' }]);
      const [kept] = await servers.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM t WHERE dba_note = 'seen ' || id`, [], DB);
      assert.equal(kept!.n, '500', "the DBA's column keeps its values");
      // the stream goes on: a write after the resume is applied, and the stop is cleared
      await servers.source.query(`INSERT INTO t VALUES (1002, 'refunded', 1002)`, [], DB);
      await until(
        'the write after the resume applied, the stop cleared',
        async () =>
          (await contents(servers.target)) === (await contents(servers.source)) && (await stopOf()) === undefined ? true : undefined,
        120_000,
        500,
      );
    } finally {
      await fs.rm(held, { force: true });
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
