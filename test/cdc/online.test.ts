// The online flow end to end in-process: copy at the slot's snapshot while a writer runs, stream,
// cut over on request (counters, downtime, slot and publication gone), cancel, verification stop.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { ControlStore } from '../../provider/engine/control/store';
import type { MigrationStatus } from '../../provider/engine/model';
import { publicationName, slotName } from '../../provider/engine/names';
import { serverSpec, startPair, type ServerPair } from '../support';
import { rowsOf } from './harness';

const SCHEMA = `
CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int, at timestamptz DEFAULT now());
CREATE SEQUENCE tick;
CREATE TABLE logs (msg text);
INSERT INTO orders SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 20000) g;
INSERT INTO logs SELECT 'l' || g FROM generate_series(1, 50) g;
SELECT setval('tick', 42);`;

async function waitFor(store: ControlStore, name: string, until: (s: MigrationStatus) => boolean, timeoutMs = 180_000): Promise<MigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await store.get(name);
    if (status && until(status)) return status;
    if (Date.now() > deadline) throw new Error(`timed out; last state ${status?.state}/${status?.subState}: ${status?.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('online migration: copy, stream, cutover (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  const spec = (name: string, db: string, extra: Record<string, unknown> = {}) =>
    parseMigrationSpec({
      migrationName: name,
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: [db],
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
      allowReplicaIdentityFull: true,
      tableJobs: 4,
      ...extra,
    });

  it('streams changes made during and after the copy, then cuts over with everything applied', async () => {
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(SCHEMA, [], 'shop');
    const writer = await pair.source.connect('shop');
    let stop = false;
    let id = 100_000;
    const writing = (async () => {
      while (!stop) {
        id += 1;
        await writer.query('BEGIN');
        await writer.query(`INSERT INTO orders (id, item, qty) VALUES ($1, 'live', 1)`, [id]);
        await writer.query(`UPDATE orders SET qty = qty + 1 WHERE id = $1`, [1 + (id % 20000)]);
        if (id % 10 === 0) await writer.query(`DELETE FROM orders WHERE id = $1`, [id - 5]);
        await writer.query(`INSERT INTO logs VALUES ('w' || $1::text)`, [id]);
        await writer.query(`SELECT nextval('tick')`);
        await writer.query('COMMIT');
      }
    })();
    const store = new ControlStore(serverSpec(pair.target));
    try {
      const running = runMigration(spec('shop-online', 'shop'));
      await waitFor(store, 'shop-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      await new Promise((r) => setTimeout(r, 2000));
      stop = true;
      await writing;
      const streaming = await waitFor(store, 'shop-online', (s) => (s.databases[0]?.inserts ?? 0) > 0);
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger');
      const [slot] = await pair.source.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1`, [slotName('shop-online', 'shop')]);
      assert.equal(slot!.n, 1);
      await store.requestCutover('shop-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
      assert.ok(done.downtimeSeconds !== undefined && done.downtimeSeconds < 60, `downtime ${done.downtimeSeconds}`);
      const db = done.databases[0]!;
      assert.ok(db.inserts > 0 && db.updates > 0, JSON.stringify(db));
      for (const table of ['orders', 'logs']) {
        assert.deepEqual(await rowsOf(pair.target, 'shop', table), await rowsOf(pair.source, 'shop', table), table);
      }
      const [seq] = await pair.target.query(`SELECT last_value::text AS v FROM tick`, [], 'shop');
      const [srcSeq] = await pair.source.query(`SELECT last_value::text AS v FROM tick`, [], 'shop');
      assert.equal(seq!.v, srcSeq!.v);
      const [left] = await pair.source.query(
        `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)::int AS slots, (SELECT count(*) FROM pg_publication WHERE pubname = $2)::int AS pubs`,
        [slotName('shop-online', 'shop'), publicationName('shop-online', 'shop')],
        'shop',
      );
      assert.deepEqual(left, { slots: 0, pubs: 0 });
      const [origins] = await pair.target.query(`SELECT count(*)::int AS n FROM pg_replication_origin`);
      assert.equal(origins!.n, 0);
      // logs has no key: REPLICA IDENTITY FULL was set on both sides
      const [ident] = await pair.target.query(`SELECT relreplident AS r FROM pg_class WHERE relname = 'logs'`, [], 'shop');
      assert.equal(ident!.r, 'f');
    } finally {
      stop = true;
      await writer.end().catch(() => undefined);
      await store.close();
    }
  });

  it('cancel stops streaming and drops slot and publication; the target is left as it is', async () => {
    await pair.source.query('CREATE DATABASE shop2');
    await pair.source.query(SCHEMA, [], 'shop2');
    const store = new ControlStore(serverSpec(pair.target));
    try {
      const running = runMigration(spec('shop2-online', 'shop2'));
      await waitFor(store, 'shop2-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      await pair.source.query(`INSERT INTO orders VALUES (999999, 'after copy', 1)`, [], 'shop2');
      await store.requestCancel('shop2-online');
      const done = await running;
      assert.equal(done.state, 'Canceled', done.message);
      const [left] = await pair.source.query(
        `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)::int AS slots, (SELECT count(*) FROM pg_publication WHERE pubname = $2)::int AS pubs`,
        [slotName('shop2-online', 'shop2'), publicationName('shop2-online', 'shop2')],
        'shop2',
      );
      assert.deepEqual(left, { slots: 0, pubs: 0 });
      const [rows] = await pair.target.query(`SELECT count(*)::int AS n FROM orders WHERE id <= 20000`, [], 'shop2');
      assert.equal(rows!.n, 20000);
    } finally {
      await store.close();
    }
  });
});
