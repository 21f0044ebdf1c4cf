// A DBA or a package upgrade stops the source with `pg_ctl stop -m fast` while pgferry streams. A
// fast stop waits for each logical walsender's client: a stream that held it (CI run 155 saw a stop
// last past pg_ctl's minute) would keep the source from restarting. Each stop here must end well
// inside that minute, as native logical replication's does
// (docs/bench.md#a-fast-stop-of-the-source-while-streaming), and the stream must carry on after it
// with every row on the target exactly once.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { requestCutover } from '../../provider/engine/control/migrationRequests';
import { type Cluster, makeManagedTarget, pairSpec, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from './harness';

/** Generous under load: native logical replication's stops took under a second on an idle machine; the fault gave 60 s. */
const STOP_BOUND_MS = 20_000;

const SCHEMA = `
CREATE TABLE orders (id bigint PRIMARY KEY, note text);
CREATE TABLE ledger (id bigint, note text);
INSERT INTO orders SELECT g, 'copied' FROM generate_series(1, 1000) g;
INSERT INTO ledger SELECT g, 'copied' FROM generate_series(1, 1000) g;`;

/** Restarts the source (a fast stop, then a start) and returns how long it took. */
async function timedRestart(source: Cluster): Promise<number> {
  const started = Date.now();
  await source.restart();
  return Date.now() - started;
}

/** Writes one row to each table per transaction until stopped or the server ends the session. */
function startWriter(source: Cluster, next: () => number): { stop(): Promise<void> } {
  let stopping = false;
  let client: pg.Client | undefined;
  const writing = (async () => {
    client = await source.connect('shop');
    client.on('error', () => undefined);
    try {
      while (!stopping) {
        const id = next();
        await client.query(`BEGIN; INSERT INTO orders VALUES (${id}, 'live'); INSERT INTO ledger VALUES (${id}, 'live'); COMMIT`);
      }
    } catch {
      // the fast stop ended the session: what it committed is what the source has
    }
  })();
  return {
    async stop() {
      stopping = true;
      await writing;
      await client?.end().catch(() => undefined);
    },
  };
}

describe('a fast stop of the source while pgferry streams (integration, managed target)', function () {
  this.timeout(400_000);
  const servers = suiteServers();

  it('ends within 20 s idle, with a writer and just after the target restarted, and every row is on the target exactly once', async () => {
    const { pair } = servers;
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(SCHEMA, [], 'shop');
    const target = await makeManagedTarget(pair.target);
    const spec = pairSpec(pair, 'fast-stop', ['shop'], {
      mode: 'Online',
      option: 'Migrate',
      target,
      migrateRoles: false,
      overwriteDbsInTarget: true,
      allowReplicaIdentityFull: true,
    });
    const store = new CatalogConnection(target);
    let id = 100_000;
    const next = (): number => ++id;
    try {
      const running = runMigration(spec);
      await waitForStatus(store, 'fast-stop', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      const arrived = async (): Promise<void> => {
        const mark = next();
        await pair.source.query(`INSERT INTO orders VALUES (${mark}, 'mark')`, [], 'shop');
        await until(
          `row ${mark} on the target`,
          async () => ((await pair.target.query(`SELECT 1 FROM orders WHERE id = ${mark}`, [], 'shop')).length > 0 ? true : undefined),
          120_000,
        );
      };
      const took: Record<string, number> = {};
      await arrived();
      took.idle = await timedRestart(pair.source);
      await arrived();
      const writer = startWriter(pair.source, next);
      await until('the writer to commit while streaming', async () => (id > 100_200 ? true : undefined), 120_000);
      took.writing = await timedRestart(pair.source);
      await writer.stop();
      await arrived();
      await pair.target.restart();
      took.afterTargetRestart = await timedRestart(pair.source);
      await arrived();
      for (const [situation, ms] of Object.entries(took)) assert.ok(ms < STOP_BOUND_MS, `${situation}: the source's restart took ${ms} ms`);
      // every row the source committed, and none twice (ledger has no key: a change applied twice would show)
      for (const table of ['orders', 'ledger']) {
        const [source, onTarget] = await Promise.all([rowsOf(pair.source, 'shop', table), rowsOf(pair.target, 'shop', table)]);
        assert.equal(onTarget.length, source.length, `${table}: ${onTarget.length} rows on the target, ${source.length} on the source`);
        assert.deepEqual(onTarget, source, `${table} differs`);
      }
      await requestCutover(store, 'fast-stop');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
    } finally {
      await store.close();
    }
  });
});
