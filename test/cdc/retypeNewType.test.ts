// A column retyped on the source from an enum to text, then to a type made in the same transaction
// (Sequelize's changeColumn to an ENUM: CREATE TYPE, then ALTER COLUMN ... TYPE ... USING), is
// followed on the target: the type is made there before the column is retyped, the table copied
// again at a pin, and the column has the source's type, never left as it was. The old enum the
// source then drops is dropped on the target too. The target's column type, its types and rows are
// read back and compared with the source's.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get as getMigration } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { rowsOf } from './harness';

const DB = 'retypenew';

const SCHEMA = `
CREATE TYPE old_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE t (id int PRIMARY KEY, status old_status NOT NULL DEFAULT 'new');
INSERT INTO t SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::old_status FROM generate_series(1, 500) g;`;

const TYPES = `SELECT string_agg(typname, ', ' ORDER BY typname) AS types FROM pg_type WHERE typtype = 'e'`;

const STATUS_TYPE = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'status'`;

describe('a column retyped to an enum made in the same source transaction, the old enum dropped', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the target's column gets the new enum type, the old enum is dropped, the rows come back equal", async () => {
    const name = 'retype-new-type';
    const servers = (pair = await startPair(15, 15));
    await servers.source.query(`CREATE DATABASE ${DB}`);
    await servers.source.query(SCHEMA, [], DB);
    const spec = pairSpec(servers, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      // as Sequelize's migration ran: to text first, written, then to the new enum, the old one dropped
      await servers.source.query(`ALTER TABLE t ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status TYPE text`, [], DB);
      await servers.source.query(`UPDATE t SET status = 'paid' WHERE id = 3`, [], DB);
      await servers.source.query(
        `BEGIN;
         CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'refunded');
         ALTER TABLE t ALTER COLUMN status TYPE order_status USING status::order_status;
         INSERT INTO t VALUES (1000, 'refunded');
         COMMIT`,
        [],
        DB,
      );
      await servers.source.query('DROP TYPE old_status', [], DB);
      await servers.source.query(`UPDATE t SET status = 'refunded' WHERE id = 7`, [], DB);
      await until(
        "the target's status retyped and the last write there",
        async () => {
          const [type] = await servers.target.query<{ t: string }>(STATUS_TYPE, [], DB);
          const late = await servers.target.query(`SELECT 1 FROM t WHERE id = 7 AND status::text = 'refunded'`, [], DB);
          const [types] = await servers.target.query<{ types: string }>(TYPES, [], DB);
          return type?.t === 'order_status' && late.length > 0 && types?.types === 'order_status' ? true : undefined;
        },
        60_000,
        500,
      ).catch(async (error: Error) => {
        const s = await getMigration(store, name);
        const [type] = await servers.target.query<{ t: string }>(STATUS_TYPE, [], DB);
        const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
        throw new Error(`${error.message}: target status is ${type?.t}; ${s?.subState} ${s?.message ?? ''}\n  ${told}`);
      });
      assert.deepEqual(await servers.target.query(STATUS_TYPE, [], DB), await servers.source.query(STATUS_TYPE, [], DB));
      assert.deepEqual(await servers.target.query(TYPES, [], DB), [{ types: 'order_status' }]);
      assert.deepEqual(await rowsOf(servers.target, DB, 't'), await rowsOf(servers.source, DB, 't'));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
