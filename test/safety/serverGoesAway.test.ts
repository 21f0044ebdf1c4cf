// Issue 14's campaign found migrations that a passing fault turned into Failed (which cannot be
// resumed) or into a stream from a dropped slot. Each scenario below fails on the code before:
// - a source restart in the middle of an offline copy: the database's copy starts again;
// - a transient failure during the cutover (failpoint cutover-sequences:<db>:transient): the step
//   is tried again and the migration Succeeds;
// - a reply lost just after the source created the slot (failpoint slot-created:<db>:transient):
//   the copy is tried again, the slot the server made first is dropped, every row arrives once;
// - a resumed runner whose database's slot is gone: the database is copied again instead of
//   streaming from a slot that does not exist; with schema changes captured by an event trigger,
//   its trigger is dropped first (the copy made again refused it as a user's that needs pgferry's
//   function, and the migration failed).
import assert from 'node:assert/strict';
import { parseMigrationSpec, resumeMigration, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { cutOverOnceAccepted } from '../cdc/harness';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { requestCutover as catalogRequestCutover } from '../../provider/engine/control/migrationRequests';

async function count(cluster: ServerPair['source'], database: string, table: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], database);
  return row!.n;
}

/**
 * Once a resumed migration of `db` streams again (row `after`, written now, reaches the target),
 * pgferry's walsenders of the database and its apply sessions there are one each, the stream's:
 * no connection opened ahead for a stream that did not start is left.
 */
async function streamsWithOneOfEach(pair: ServerPair, db: string, after: number): Promise<void> {
  // a row written once the copy was made again reaches the target: the new stream applies
  await until(
    `row ${after} on the target`,
    async () => {
      await pair.source.query(`INSERT INTO big VALUES ($1, 'after the resume') ON CONFLICT DO NOTHING`, [after], db);
      // the copy made again drops the target database, ending the sessions in it, and makes it anew
      const there = await count(pair.target, db, `big WHERE id = ${after}`).catch((error: { code?: string }) => {
        if (error.code === '3D000' || error.code === '57P01') return 0;
        throw error;
      });
      return there === 1 ? true : undefined;
    },
    180_000,
    500,
  );
  // the connections the resume opened for the lost slot's stream were given back: pgferry's
  // walsenders of the database and its apply sessions there are the new stream's alone
  const connections = async () => ({
    walsenders: (
      await pair.source.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'walsender' AND datname = $1 AND application_name = 'pgferry cdc'`,
        [db],
      )
    )[0]!.n,
    applies: (
      await pair.target.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgferry apply'`,
        [db],
      )
    )[0]!.n,
  });
  let seen = await connections();
  // a connection of the copy's may still be closing: each is given a generous moment
  await until(
    () => `one walsender and one apply session of the stream, seen ${JSON.stringify(seen)}`,
    async () => {
      seen = await connections();
      return seen.walsenders === 1 && seen.applies === 1 ? true : undefined;
    },
    60_000,
    500,
  );
}

/** Rows of each scenario's table. */
const ROWS = { restarted: 300_000, cutblip: 3_000, noslot: 3_000, noslottrig: 3_000, slotblip: 3_000 } as const;

describe('safety: a server that goes away for a moment', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    // Only the restarted copy must last long enough to restart the source in its middle.
    for (const [db, rows] of Object.entries(ROWS)) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat('p', 300) FROM generate_series(1, ${rows}) g`,
        [],
        db,
      );
    }
  });
  after(async () => pair?.stop());

  it('offline: a source restart during the copy makes the copy start again, and the migration Succeeds', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      const running = runMigration(pairSpec(pair, 'restarted', ['restarted'], { option: 'Migrate', tableJobs: 1 }));
      await waitForStatus(store, 'restarted', (s) => s.databases[0]!.tables.loading > 0 || s.state === 'Failed', 120_000);
      await pair.source.restart();
      const status = await running;
      assert.equal(status.state, 'Succeeded', status.message);
      assert.equal(await count(pair.target, 'restarted', 'big'), ROWS.restarted);
      const events = await catalogEvents(store, 'restarted', 200);
      assert.ok(
        events.some((e) => /copy of restarted is tried again/.test(e.message)),
        JSON.stringify(events),
      );
    } finally {
      await store.close();
    }
  });

  it('online: a transient failure during the cutover is tried again and the migration Succeeds', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    process.env.PGFERRY_FAILPOINTS = 'cutover-sequences:cutblip:transient';
    try {
      const running = runMigration(pairSpec(pair, 'cutblip', ['cutblip'], { mode: 'Online', option: 'Migrate' }));
      await waitForStatus(store, 'cutblip', (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
      await pair.source.query(`UPDATE big SET pad = 'changed' WHERE id <= 100`, [], 'cutblip');
      await catalogRequestCutover(store, 'cutblip');
      const status = await running;
      assert.equal(status.state, 'Succeeded', status.message);
      const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM big WHERE pad = 'changed'`, [], 'cutblip');
      assert.equal(row!.n, 100);
      const events = await catalogEvents(store, 'cutblip', 200);
      assert.ok(
        events.some((e) => /sequences of cutblip is tried again/.test(e.message)),
        JSON.stringify(events),
      );
    } finally {
      delete process.env.PGFERRY_FAILPOINTS;
      await store.close();
    }
  });

  it('online: a reply lost after the slot was created: the copy is tried again, no slot is left, every row once', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    process.env.PGFERRY_FAILPOINTS = 'slot-created:slotblip:transient';
    try {
      const running = runMigration(pairSpec(pair, 'slotblip', ['slotblip'], { mode: 'Online', option: 'Migrate' }));
      await waitForStatus(store, 'slotblip', (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
      // while streaming, the database holds exactly one slot: the first one was dropped
      const slots = await pair.source.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = 'slotblip'`,
      );
      assert.equal(slots[0]!.n, 1);
      await pair.source.query(
        `INSERT INTO big SELECT g, 'late' FROM generate_series(${ROWS.slotblip + 1}, ${ROWS.slotblip + 50}) g`,
        [],
        'slotblip',
      );
      await catalogRequestCutover(store, 'slotblip');
      const status = await running;
      assert.equal(status.state, 'Succeeded', status.message);
      assert.equal(await count(pair.target, 'slotblip', 'big'), ROWS.slotblip + 50);
      const [distinct] = await pair.target.query<{ n: number }>(`SELECT count(DISTINCT id)::int AS n FROM big`, [], 'slotblip');
      assert.equal(distinct!.n, ROWS.slotblip + 50);
      const left = await pair.source.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = 'slotblip'`,
      );
      assert.equal(left[0]!.n, 0);
      const events = await catalogEvents(store, 'slotblip', 200);
      assert.ok(
        events.some((e) => /copy of slotblip is tried again/.test(e.message)),
        JSON.stringify(events),
      );
    } finally {
      delete process.env.PGFERRY_FAILPOINTS;
      await store.close();
    }
  });

  it('online: a resumed runner whose slot is gone copies the database again, streams with one walsender and one apply session, and the cutover has every row', async () => {
    await slotGone('noslot', {});
  });

  it('online, schema changes captured by an event trigger: the slot gone, the copy made again without it, one walsender and one apply session, every row', async () => {
    await slotGone('noslottrig', { schemaChangeCapture: 'eventTrigger' });
    const triggers = await pair.source.query(`SELECT evtname FROM pg_event_trigger`, [], 'noslottrig');
    assert.deepEqual(triggers, [], 'no event trigger is left on the source');
  });

  /** A migration of `db` whose slot is dropped while no runner runs, resumed and cut over. */
  async function slotGone(db: 'noslot' | 'noslottrig', extra: Record<string, unknown>): Promise<void> {
    const spec = parseMigrationSpec({
      migrationName: db,
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: [db],
      mode: 'Online',
      option: 'Migrate',
      ...extra,
    });
    const store = new CatalogConnection(spec.target);
    try {
      await startMigration(spec);
      const streaming = await waitForStatus(store, db, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      process.kill(streaming.runner!.pid, 'SIGKILL');
      await waitForStatus(store, db, (s) => s.runner?.alive === false);
      // the slot is lost while no runner runs (dropped, or invalidated past max_slot_wal_keep_size)
      await pair.source.query('SELECT pg_drop_replication_slot($1)', [streaming.databases[0]!.names!.slot]);
      await pair.source.query(
        `INSERT INTO big SELECT g, 'while no slot' FROM generate_series($1::int + 1, $1::int + 500) g`,
        [ROWS[db]],
        db,
      );
      await resumeMigration(spec);
      await streamsWithOneOfEach(pair, db, ROWS[db] + 501);
      await cutOverOnceAccepted(spec, store);
      assert.equal(await count(pair.target, db, 'big'), ROWS[db] + 501);
    } finally {
      await store.close();
    }
  }
});
