// An enum made again on the source with one label removed and another added in the same change
// (drizzle-kit's recreation of the type), then rows with the new label right after: the target's
// labels, the column's type and the rows are read back and compared with the source's, and no
// stream stop is in the control catalog. Pending: the apply meets a row with the new label before
// the schema watch makes the type again (flow/enumRemake.ts runs once the apply has passed the
// change), so the stream stops; see docs/limits.md.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';

const DB = 'enumswap';

const LABELS = `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = to_regtype('public.e')`;
const COLUMN = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'`;

async function state(cluster: Cluster): Promise<string> {
  const [l] = await cluster.query<{ l: string }>(LABELS, [], DB);
  const [c] = await cluster.query<{ t: string }>(COLUMN, [], DB);
  const [r] = await cluster.query<{ h: string }>(`SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM t`, [], DB);
  return `${l?.l} | ${c?.t} | ${r?.h}`;
}

describe('an enum label removed and another added in one recreation of the type on the source', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it.skip("the target's labels, column type and rows as the source's (md5), rows with the new label right after, no stream stop", async () => {
    const name = 'enum-swap';
    const servers = (pair = await startPair(15, 15));
    await servers.source.query(`CREATE DATABASE ${DB}`);
    await servers.source.query(
      `CREATE TYPE e AS ENUM ('a', 'b', 'c');
       CREATE TABLE t (id int PRIMARY KEY, c e NOT NULL);
       INSERT INTO t SELECT g, (ARRAY['a', 'b'])[1 + g % 2]::e FROM generate_series(1, 200) g;`,
      [],
      DB,
    );
    const spec = pairSpec(servers, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    const told = async () => (await catalogEvents(store, name, 40)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
    try {
      const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      await servers.source.query(
        `BEGIN;
         ALTER TABLE t ALTER COLUMN c SET DATA TYPE text;
         DROP TYPE e;
         CREATE TYPE e AS ENUM ('a', 'b', 'd');
         ALTER TABLE t ALTER COLUMN c SET DATA TYPE e USING c::e;
         COMMIT`,
        [],
        DB,
      );
      await servers.source.query(`INSERT INTO t SELECT g, 'd' FROM generate_series(1001, 1010) g`, [], DB);
      await servers.source.query(`UPDATE t SET c = 'd' WHERE id % 3 = 0`, [], DB);
      await until(
        "the target's labels, column and rows as the source's",
        async () => ((await state(servers.target)) === (await state(servers.source)) ? true : undefined),
        120_000,
        500,
      ).catch(async (error: Error) => assert.fail(`${error.message}: ${await state(servers.target)}\nevents:\n  ${await told()}`));
      assert.match(await state(servers.target), /^a,b,d \| e \| 210 /);
      const stops = (await catalogEvents(store, name, 500)).filter((e) => e.level === 'error' && /streaming stopped/.test(e.message));
      assert.deepEqual(
        stops.map((e) => e.message),
        [],
      );
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
