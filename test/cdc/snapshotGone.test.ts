// A copy session that imports the online copy's snapshot just after a network blip reset every
// other source connection, the replication connection that exported the snapshot among them. The
// fault campaign's fixed trial (every source connection reset while streaming, seed 42) once
// ended Failed with `invalid snapshot identifier`: the reset took the exporter while database b's
// copy opened its sessions, and the import that followed was not counted as a lost connection.
// The proxy in front of the source holds the first SET TRANSACTION SNAPSHOT, resets every other
// connection, and lets the import go once the exporter's session has ended on the server.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { FaultProxy } from '../support/faultProxy';
import { cutoverEnd, endIfRunning, pairSpec, serverSpec, suiteServers, until, waitForStatus } from '../support';

const DB = 'snapgone';

describe('a copy snapshot whose exporting session is reset', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    databases: {
      [DB]: `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g`,
    },
  });

  it('the import after the reset is tried again with a new snapshot: the migration streams, cuts over Succeeded, and the target holds every source row', async () => {
    const { pair } = servers;
    const proxy = new FaultProxy('source', pair.source.port);
    await proxy.start();
    const spec = pairSpec(pair, 'snapshot-gone', [DB], {
      mode: 'Online',
      option: 'Migrate',
      source: serverSpec(pair.source, { port: proxy.port }),
    });
    const store = new CatalogConnection(spec.target);
    const blip = new Promise<number>((resolve, reject) => {
      proxy.onMessage = (conn, message) => {
        if (message.type !== 'Q' || !/SET TRANSACTION SNAPSHOT/i.test(message.sql ?? '')) return false;
        proxy.onMessage = undefined;
        const others = [...proxy.connections].filter((c) => c !== conn);
        for (const other of others) proxy.reset(other);
        // the exporter's transaction, and its snapshot with it, ends once its server reads the reset
        until('the session exporting the snapshot to end', async () => {
          const left = await pair.source.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry snapshot'`);
          return left.length === 0 ? true : undefined;
        }).then(() => {
          proxy.release(conn);
          resolve(others.length);
        }, reject);
        return true;
      };
    });
    const running = runMigration(spec);
    try {
      assert.ok((await blip) >= 2, 'the reset reached the exporter and the session holding the table locks');
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.state !== 'InProgress' || s.subState === 'WaitingForCutoverTrigger',
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
      const told = (await catalogEvents(store, spec.migrationName, 100)).map((e) => e.message);
      assert.ok(
        told.some((m) => /the copy of snapgone is tried again .*cannot import snapshot .*the session that exported it has ended/.test(m)),
        told.join('\n'),
      );
      await pair.source.query(`INSERT INTO items SELECT g, 'late ' || g FROM generate_series(2001, 2100) g`, [], DB);
      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      const rows = `SELECT count(*)::int AS n, md5(string_agg(id || ':' || note, ',' ORDER BY id)) AS hash FROM items`;
      const [onSource] = await pair.source.query(rows, [], DB);
      const [onTarget] = await pair.target.query(rows, [], DB);
      assert.equal(onTarget!.n, 2100);
      assert.deepEqual(onTarget, onSource);
    } finally {
      proxy.onMessage = undefined;
      await endIfRunning(spec, running);
      await store.close();
      await proxy.close();
    }
  });
});
