// Issue 64 (trust): a target database overwriteDbsInTarget would drop is live when clients have
// sessions in it, and pgferry tells its own session by identity, not by name: a client that calls
// itself pgferry's (`pgferry apply`, `pgferry copy`) makes the database live all the same. On a
// managed-like target, whose admin lacks pg_read_all_stats (pg_stat_activity hides another role's
// backend type and address from it), another role's session counts too. Validation and the run's
// own gate refuse it in one line naming the sessions, and the target's row is read back unchanged.
import assert from 'node:assert/strict';
import pg from 'pg';
import { runMigration } from '../../provider/engine';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { makeManagedTarget, pairSpec, serverSpec, startPair, type ServerPair } from '../support';

const DB = 'live_named';

async function connectAs(server: ServerSpec, application: string): Promise<pg.Client> {
  const client = new pg.Client({ ...server, database: DB, application_name: application });
  await client.connect();
  return client;
}

describe('a live target database is told by its sessions, never by their names (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let target: ServerSpec;

  before(async () => {
    pair = await startPair(15, 15);
    target = await makeManagedTarget(pair.target);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(`CREATE TABLE t (k int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'from the source')`, [], DB);
    await pair.target.query(`CREATE DATABASE ${DB} OWNER ${target.user}`);
    await pair.target.query(
      `SET ROLE ${target.user}; CREATE TABLE t (k int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'only on the target')`,
      [],
      DB,
    );
    await pair.target.query(`CREATE ROLE app_other LOGIN PASSWORD 'other-pw'`);
  });
  after(async () => {
    await pair?.stop();
  });

  it("refuses to overwrite a database whose only sessions call themselves pgferry's, one another role's (hidden from the managed admin), in validation and at the run's gate, the target's row unchanged", async () => {
    const sessions = [
      await connectAs(serverSpec(pair.target, { user: 'app_other', password: 'other-pw' }), 'pgferry apply'),
      await connectAs(target, 'pgferry copy'),
    ];
    try {
      const spec = pairSpec(pair, 'live-named', [DB], { mode: 'Offline', option: 'Migrate', overwriteDbsInTarget: true, target });
      const results = await runValidation(spec);
      const live = results.filter((r) => r.code === 'TARGET_DATABASE_LIVE');
      assert.equal(live.length, 1, JSON.stringify(results.filter((r) => r.status !== 'Succeeded')));
      assert.equal(live[0]!.status, 'Failed');
      assert.match(
        live[0]!.message,
        /^database live_named on the target is live \(2 sessions of other clients: .*app_other from an address hidden from the target user \(application pgferry apply\).*pgadmin from [^ ]+ \(application pgferry copy\).*\): overwriteDbsInTarget would drop it$/,
      );
      const status = await runMigration(spec);
      assert.equal(status.state, 'ValidationFailed', status.message);
      assert.match(status.message ?? '', /database live_named on the target is live \(2 sessions of other clients: .*nothing was changed/);
      const rows = await pair.target.query<{ v: string }>('SELECT v FROM t ORDER BY k', [], DB);
      assert.deepEqual(
        rows.map((r) => r.v),
        ['only on the target'],
        "the target's row is still there",
      );
    } finally {
      for (const s of sessions) await s.end();
    }
  });
});
