// A fallback window asked with the cutover request alone, on a target whose admin has CREATEDB and
// CREATEROLE but neither SUPERUSER nor REPLICATION (docs/trials.md): the reverse slot cannot be
// made there, and validation never checked it (the spec asked for no window). The cutover is
// refused before the writers are fenced, naming the missing attribute and the statement that
// grants it, and changes stream on. Before, it fenced the source, failed on the reverse slot and
// ended the migration Failed. Read back: the migration's state and message, the source's
// default_transaction_read_only, and a row written on the source after the refusal on the target.
import assert from 'node:assert/strict';
import { requestCutover, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair, waitingForCutover } from '../support';

const DB = 'windowrights';

describe('a fallback window asked at the cutover, on a target user without REPLICATION', function () {
  this.timeout(240_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('refuses the cutover before the fence, naming ALTER ROLE ... WITH REPLICATION; the stream goes on', async () => {
    pair = await startPair(15, 15);
    const { source } = pair;
    await source.query(`CREATE DATABASE ${DB}`);
    await source.query(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g`, [], DB);
    await pair.target.query(`CREATE ROLE flexadmin LOGIN PASSWORD 'flex-pw' CREATEDB CREATEROLE NOSUPERUSER NOREPLICATION`);
    await pair.target.query(`GRANT CREATE ON DATABASE postgres TO flexadmin`);
    const name = 'window-rights';
    const target = serverSpec(pair.target, { user: 'flexadmin', password: 'flex-pw' });
    const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
    const store = new CatalogConnection(target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, name);
      await requestCutover(target, name, undefined, { fallbackWindow: '1h' });
      const stopped = await waitForStatus(
        store,
        name,
        (s) => /cutover not started|cutover stopped/.test(s.message ?? '') || isFinalState(s.state),
      );
      assert.equal(stopped.state, 'WaitingForUserAction', `${stopped.state}: ${stopped.message}`);
      assert.match(
        stopped.message ?? '',
        /cutover not started: .*target user "?flexadmin"? may not create the reverse replication slot \(no REPLICATION\)/,
      );
      assert.match(stopped.message ?? '', /ALTER ROLE "?flexadmin"? WITH REPLICATION/);
      const [fence] = await source.query<{ ro: string }>(`SELECT current_setting('default_transaction_read_only') AS ro`, [], DB);
      assert.equal(fence?.ro, 'off');
      await source.query(`INSERT INTO t VALUES (101, 'after the refusal')`, [], DB);
      await until('the row written after the refusal on the target', async () => {
        const rows = await pair!.target.query<{ v: string }>(`SELECT v FROM t WHERE id = 101`, [], DB);
        return rows[0]?.v === 'after the refusal' ? true : undefined;
      });
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
