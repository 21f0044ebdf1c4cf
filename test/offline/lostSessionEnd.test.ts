// A migration that ends because a session was lost in a step that is not retried says which server
// it lost (flow/migrationEnd.ts over connect/session.ts lostSessionWords): node-postgres's own
// words ("terminating connection due to administrator command") name neither the server nor the
// database. A DBA ends the session that lists the target's tables to analyze, the last step of a
// database's copy, while the runner holds there; the migration's stop, read back from the control catalog,
// names the target by host:port and the database, and no password. The same holds for the session
// that applies the database's properties (comment, settings) after the data: its loss is no
// refused statement, so it stops the run rather than passing as a warning.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isFinalState, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

const DB = 'lostend';
const POINT = `analyze:${DB}`;
const PROPS_DB = 'lostprops';
const PROPS_POINT = `properties:${PROPS_DB}`;

describe('offline: a session lost in a step that is not retried', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let holdDir: string;
  before(async () => {
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)`, [], DB);
    await pair.source.query(`CREATE DATABASE ${PROPS_DB}`);
    await pair.source.query(`COMMENT ON DATABASE ${PROPS_DB} IS 'kept'`);
    await pair.source.query(`ALTER DATABASE ${PROPS_DB} SET work_mem = '8MB'`);
    await pair.source.query(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)`, [], PROPS_DB);
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-lost-end-'));
  });
  after(async () => {
    await fs.rm(holdDir, { recursive: true, force: true });
    await pair?.stop();
  });

  it('the Failed migration and its database name the lost session by its server (the target host:port) and database, and no password', async () => {
    const spec = pairSpec(pair, 'lost-end', [DB], { mode: 'Offline', overwriteDbsInTarget: true });
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await withHoldArmed(POINT, holdDir, () => startMigration(spec));
      await until('the runner to hold with its session open', async () => ((await isHeld(POINT, holdDir)) ? true : undefined), 180_000);
      const ended = await pair.target.query<{ ended: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'pgferry catalog' AND datname = $1`,
        [DB],
      );
      assert.deepEqual(ended, [{ ended: true }], "the runner's one session of the step was ended");
      await fs.rm(heldFile(POINT, holdDir));

      const end = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state), 120_000);
      const where = `pgferry's session on the target ${pair.target.host}:${pair.target.port}, database ${DB} was ended (`;
      const message = end.message ?? '';
      assert.equal(end.state, 'Failed', message);
      assert.ok(message.startsWith(where), message);
      assert.match(message, /, in a step that is not retried: check that this server is up and reachable from this machine/);
      assert.ok(end.databases.find((d) => d.database === DB)?.message?.startsWith(where), JSON.stringify(end.databases));
      assert.ok(pair.target.password && !message.includes(pair.target.password), 'no password in the stop');
    } finally {
      await store.close();
    }
  });

  it('a session lost while the database properties are applied fails the migration naming the target and its database, and no password', async () => {
    const spec = pairSpec(pair, 'lost-props', [PROPS_DB], { mode: 'Offline', overwriteDbsInTarget: true });
    const store = new CatalogConnection(serverSpec(pair.target));
    const maintenance = serverSpec(pair.target).maintenanceDatabase;
    try {
      await withHoldArmed(PROPS_POINT, holdDir, () => startMigration(spec));
      await until(
        'the runner to hold with its session open',
        async () => ((await isHeld(PROPS_POINT, holdDir)) ? true : undefined),
        180_000,
      );
      const ended = await pair.target.query<{ ended: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'pgferry database properties'`,
      );
      assert.deepEqual(ended, [{ ended: true }], "the runner's one session of the step was ended");
      await fs.rm(heldFile(PROPS_POINT, holdDir));

      const end = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state), 120_000);
      const where = `pgferry's session on the target ${pair.target.host}:${pair.target.port}, database ${maintenance} was ended (`;
      const message = end.message ?? '';
      assert.equal(end.state, 'Failed', message);
      assert.ok(message.startsWith(where), message);
      assert.ok(pair.target.password && !message.includes(pair.target.password), 'no password in the stop');
      const comment = await pair.target.query<{ comment: string | null }>(
        `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
        [PROPS_DB],
      );
      assert.deepEqual(comment, [{ comment: null }], 'the comment the lost session did not set is missing, and the run says so by failing');
    } finally {
      await store.close();
    }
  });
});
