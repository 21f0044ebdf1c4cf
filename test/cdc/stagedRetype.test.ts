// Columns retyped on the source while streaming, as production does when ids near 2^31 (int to
// bigint), a string outgrows its length (varchar(10) to varchar(100)), money gains places
// (numeric(10,2) to numeric(12,4)) and a text column becomes jsonb. Groups of updates and deletes
// go through a staging table of the apply's session, made at its first use. One made before the
// retype kept the old types and refused the next group's values (above 2^31): the batch, the
// retype's follow with it, was rolled back and tried again alone in a new session, whose new stage
// took them, so the rows arrived but the retype was followed twice. Rows are read back (md5 of
// the table equal on both servers), the target's column types are the source's, the retype is
// followed once and no stream stop is in the control catalog.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { eventsTold, streamStops } from '../support/toldEvents';

const DB = 'stagedretype';
const ROWS = 400;

const SCHEMA = `
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, v varchar(10), amt numeric(10,2), doc text);
INSERT INTO t SELECT g, g, 'v' || g, g / 7.0, '{"k": ' || g || '}' FROM generate_series(1, ${ROWS}) g;`;

const TYPES = `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS t
  FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped`;

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(t::text, E'\\n' ORDER BY t.id)) AS h FROM t`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

async function types(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ t: string }>(TYPES, [], DB);
  return row!.t;
}

describe("an apply's staging tables after columns are retyped on the source while streaming", function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('int to bigint, varchar(10) to (100), numeric(10,2) to (12,4), text to jsonb, then staged updates and deletes with values the old types refuse: rows equal by md5, types equal, the retype followed once, no stream stop', async () => {
    const name = 'staged-retype';
    const servers = (pair = await startPair(15, 15));
    await servers.source.query(`CREATE DATABASE ${DB}`);
    await servers.source.query(SCHEMA, [], DB);
    const spec = pairSpec(servers, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    const told = () => eventsTold(store, name, 40);
    try {
      const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      // groups big enough to be staged, before the retype: the session makes its stages of the old types
      await servers.source.query(`UPDATE t SET n = n + 1, v = 'u' || id, amt = amt + 1, doc = '{"u": ' || id || '}'`, [], DB);
      await servers.source.query(`DELETE FROM t WHERE id % 3 = 0`, [], DB);
      await until(
        'the staged groups applied',
        async () => ((await contents(servers.target)) === (await contents(servers.source)) ? true : undefined),
        90_000,
        500,
      );
      await servers.source.query(
        `ALTER TABLE t ALTER COLUMN id TYPE bigint, ALTER COLUMN n TYPE bigint, ALTER COLUMN v TYPE varchar(100),
           ALTER COLUMN amt TYPE numeric(12,4)`,
        [],
        DB,
      );
      // values only the new types hold, in groups of the same shapes as before
      await servers.source.query(
        `INSERT INTO t SELECT 3000000000 + g, 3000000000 + g, 'new', 1, '{}' FROM generate_series(1, ${ROWS}) g`,
        [],
        DB,
      );
      await servers.source.query(
        `UPDATE t SET n = n + 3000000000, v = repeat('long', 20) || id, amt = amt + 12345678.1234, doc = '{"w": ' || id || '}'`,
        [],
        DB,
      );
      await servers.source.query(`DELETE FROM t WHERE id % 3 = 1`, [], DB);
      // text to jsonb: no value derived on the target, the table copied again at a pin, then staged again
      await servers.source.query(`ALTER TABLE t ALTER COLUMN doc TYPE jsonb USING doc::jsonb`, [], DB);
      await servers.source.query(`UPDATE t SET doc = jsonb_build_object('j', id, 'a', jsonb_build_array(n)), v = v || 'j'`, [], DB);
      await servers.source.query(`DELETE FROM t WHERE id % 3 = 2`, [], DB);
      await servers.source.query(`INSERT INTO t VALUES (1, 1, 'last', 1, '{"last": true}')`, [], DB);
      await until(
        "the target's rows as the source's",
        async () => ((await contents(servers.target)) === (await contents(servers.source)) ? true : undefined),
        120_000,
        500,
      ).catch(async (error: Error) => assert.fail(`${error.message}: ${await contents(servers.target)}\nevents:\n  ${await told()}`));
      assert.equal(await types(servers.target), await types(servers.source));
      assert.equal(await types(servers.target), 'id bigint, n bigint, v character varying(100), amt numeric(12,4), doc jsonb');
      assert.equal(await contents(servers.target), await contents(servers.source));
      // followed once: not in a batch the stage refused, rolled back and tried again alone
      const followed = (await catalogEvents(store, name, 500)).filter((e) =>
        /followed on the target at its position in the stream: column id retyped to bigint/.test(e.message),
      );
      assert.equal(followed.length, 1, `the retype followed ${followed.length} times\nevents:\n  ${await told()}`);
      assert.deepEqual(await streamStops(store, name), []);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
