// Issue 64 (trust): whom the writer fence's trigger lets write, on one real server, session by
// session. It passes the session holding the database's apply lock exclusively (pgferry's applier)
// and a parallel apply session holding the lane lock under that applier's login; it refuses a
// session named as pgferry's holding nothing, one holding the apply lock shared, a lane of another
// login, and a lane once no applier holds the lock. Each write's row is read back: there or not.
// The verdict is read from the locks once per transaction: the later statements of a transaction
// it let through pass on its note in the fence's passes table (the stream carries one message of
// who wrote for the whole transaction), the next transaction is read again, and a client may not
// write that table to pass, not even one the installer's default privileges give every new table.
import assert from 'node:assert/strict';
import pg from 'pg';
import { CONTROL_SCHEMA, fenceNamesOf } from '../../provider/engine/core/names';
import { qualified } from '../../provider/engine/connect/quote';
import { installFenceTriggers } from '../../provider/engine/footprint/fenceTriggers';
import { serverSpec, startCluster, type Cluster } from '../support';

const DB = 'fence_passes';
const READ_ONLY_SQL_TRANSACTION = '25006';
const LANE = '($1::bigint >> 32)::int, ($1::bigint & 2147483647)::int';

describe("the writer fence's trigger passes pgferry's appliers by their locks (integration)", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  const open: pg.Client[] = [];
  const names = fenceNamesOf('fence-passes', DB);
  const key = names.passKey;

  async function session(application: string, user?: { user: string; password: string }): Promise<pg.Client> {
    const client = new pg.Client({ ...serverSpec(cluster, user ?? {}), database: DB, application_name: application });
    await client.connect();
    open.push(client);
    return client;
  }

  /** Inserts `id` in `client`: true when it was written, false when the fence refused it (25006). */
  async function writes(client: pg.Client, id: number): Promise<boolean> {
    try {
      await client.query(`INSERT INTO items VALUES ($1)`, [id]);
    } catch (error) {
      assert.equal((error as { code?: string }).code, READ_ONLY_SQL_TRANSACTION, String(error));
      const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = $1', [id], DB);
      assert.equal(row!.n, 0, `refused row ${id} is not there`);
      return false;
    }
    const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = $1', [id], DB);
    assert.equal(row!.n, 1, `written row ${id} is there`);
    return true;
  }

  before(async () => {
    cluster = await startCluster({ major: 15, label: 'fencepass' });
    await cluster.query(`CREATE DATABASE ${DB}`);
    await cluster.query(`CREATE ROLE other LOGIN PASSWORD 'other-pw'`);
    await cluster.query(
      // a DBA's default privileges give the application every new table of the fence's installer, pgferry's own too
      `CREATE TABLE items (id int PRIMARY KEY); GRANT ALL ON items TO other; CREATE PUBLICATION fence_pub FOR TABLE items;
       ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO other`,
      [],
      DB,
    );
    const admin = await cluster.connect(DB);
    try {
      await installFenceTriggers(admin, 'fence_pub', fenceNamesOf('fence-passes', DB));
    } finally {
      await admin.end();
    }
  });
  after(async () => {
    for (const c of open) await c.end().catch(() => undefined);
    await cluster?.stop();
  });

  it("refuses a session named as pgferry's holding no lock, and one holding the apply lock shared; passes the one holding it exclusively", async () => {
    const named = await session('pgferry apply');
    assert.equal(await writes(named, 1), false, "a name as pgferry's alone");
    const shared = await session('pgferry apply');
    await shared.query('SELECT pg_advisory_lock_shared($1::bigint)', [key]);
    assert.equal(await writes(shared, 2), false, 'the apply lock held shared');
    await shared.query('SELECT pg_advisory_unlock_shared($1::bigint)', [key]);
    const applier = await session('anything at all');
    await applier.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    assert.equal(await writes(applier, 3), true, 'the apply lock held exclusively, whatever the name');
    await applier.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    assert.equal(await writes(applier, 4), false, 'the same session once it let the lock go');
  });

  it("passes a lane of the applier's login while the applier holds the lock; refuses a lane of another login, and a lane with no applier", async () => {
    const applier = await session('pgferry apply');
    await applier.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    const lane = await session('pgferry apply lane');
    await lane.query(`SELECT pg_advisory_lock_shared(${LANE})`, [key]);
    assert.equal(await writes(lane, 10), true, "a lane under the applier's login");
    const stranger = await session('pgferry apply lane', { user: 'other', password: 'other-pw' });
    await stranger.query(`SELECT pg_advisory_lock_shared(${LANE})`, [key]);
    assert.equal(await writes(stranger, 11), false, 'a lane of another login');
    await applier.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    assert.equal(await writes(lane, 12), false, 'a lane once no applier holds the lock');
  });

  it('passes the later statements of a transaction it let through on one check, reads the next transaction again, and lets no client write its passes, whatever the default privileges', async () => {
    const slot = 'fence_passes_messages';
    await cluster.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot], DB);
    try {
      const applier = await session('pgferry apply');
      await applier.query('SELECT pg_advisory_lock($1::bigint)', [key]);
      await applier.query('BEGIN');
      // the test servers commit asynchronously: the slot reads only what is flushed
      await applier.query('SET LOCAL synchronous_commit = on');
      for (const id of [20, 21, 22]) await applier.query('INSERT INTO items VALUES ($1)', [id]);
      await applier.query('COMMIT');
      const [rows] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id IN (20, 21, 22)', [], DB);
      assert.equal(rows!.n, 3, "the transaction's three rows are there");
      const changes = await cluster.query<{ data: string }>(`SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)`, [slot], DB);
      const said = changes.filter((c) => c.data.includes(`prefix: ${names.prefix}`));
      assert.equal(said.length, 1, `one message of who wrote for the transaction: ${changes.map((c) => c.data).join(' | ')}`);
      await applier.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      assert.equal(await writes(applier, 23), false, 'its next transaction, the lock let go');
    } finally {
      await cluster.query('SELECT pg_drop_replication_slot($1)', [slot], DB);
    }
    await cluster.query(`GRANT USAGE ON SCHEMA ${CONTROL_SCHEMA} TO other`, [], DB);
    const stranger = await session('pgferry apply', { user: 'other', password: 'other-pw' });
    await stranger.query('BEGIN');
    await assert.rejects(
      stranger.query(`INSERT INTO ${qualified(CONTROL_SCHEMA, names.passes)} VALUES (pg_backend_pid(), txid_current())`),
      (error: { code?: string }) => error.code === '42501',
      "a client writing the fence's passes table itself",
    );
    await stranger.query('ROLLBACK');
    assert.equal(await writes(stranger, 24), false, 'that client, refused as before');
  });
});
