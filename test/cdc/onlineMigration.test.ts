// The online flow end to end in-process: copy at the slot's snapshot while a writer runs, stream,
// cut over on request (counters, downtime, slot and publication gone), cancel, verification stop.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { makeManagedTarget } from '../support/managed';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { pairSpec, serverSpec, startCluster, suiteServers, until, waitForStatus, type ServerPair, type SuiteServers } from '../support';
import { rowsOf, TARGET_KINDS, writeIds } from './harness';
import { events as catalogEvents, get } from '../../provider/engine/control/store';
import { requestCancel, requestCutover } from '../../provider/engine/control/migrationRequests';

const SCHEMA = `
CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int, at timestamptz DEFAULT now());
CREATE SEQUENCE tick;
CREATE TABLE logs (msg text);
INSERT INTO orders SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 20000) g;
INSERT INTO logs SELECT 'l' || g FROM generate_series(1, 50) g;
SELECT setval('tick', 42);`;

async function waitForEvent(store: CatalogConnection, name: string, pattern: RegExp): Promise<{ level: string; message: string }> {
  return until(`an event of ${name} matching ${pattern}`, async () =>
    (await catalogEvents(store, name, 200)).find((e) => pattern.test(e.message)),
  );
}

/** Makes `db` with SCHEMA on the source and runs its online migration until it waits for the user; `running` is the run. */
async function shopWaiting(
  pair: ServerPair,
  store: CatalogConnection,
  db: string,
  s: MigrationSpec,
): Promise<{ running: ReturnType<typeof runMigration> }> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SCHEMA, [], db);
  const running = runMigration(s);
  await waitForStatus(store, s.migrationName, (st) => st.state === 'WaitingForUserAction' || st.state === 'Failed');
  return { running };
}

function onlineSpec(pair: ServerPair, name: string, db: string, extra: Record<string, unknown> = {}): MigrationSpec {
  return pairSpec(pair, name, [db], {
    mode: 'Online',
    option: 'Migrate',
    overwriteDbsInTarget: true,
    allowReplicaIdentityFull: true,
    tableJobs: 4,
    ...extra,
  });
}

// The end-to-end scenario against a superuser target and a managed-like one (each on its own pair:
// the control catalog belongs to whoever created it first).
for (const kind of TARGET_KINDS) {
  describe(`online migration: copy and stream while an application writes, restarts, cutover (integration, ${kind} target)`, function () {
    this.timeout(400_000);
    const servers = suiteServers();

    it('streams changes made during and after the copy, then cuts over with everything applied', async () => {
      const { pair } = servers;
      const target = kind === 'managed' ? await makeManagedTarget(pair.target) : serverSpec(pair.target);
      const extra = kind === 'managed' ? { target, migrateRoles: false } : {};
      await streamsAndCutsOver(pair, target, (name, db, more) => onlineSpec(pair, name, db, { ...extra, ...more }));
    });
  });
}

async function streamsAndCutsOver(
  pair: ServerPair,
  targetSpec: ServerSpec,
  spec: (name: string, db: string, extra: Record<string, unknown>) => MigrationSpec,
): Promise<void> {
  await pair.source.query('CREATE DATABASE shop');
  await pair.source.query(SCHEMA, [], 'shop');
  const writer = await pair.source.connect('shop');
  writer.on('error', () => undefined);
  const ids = writeIds(writer, async (client, id) => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO orders (id, item, qty) VALUES ($1, 'live', 1)`, [id]);
    await client.query(`UPDATE orders SET qty = qty + 1 WHERE id = $1`, [1 + (id % 20000)]);
    if (id % 10 === 0) await client.query(`DELETE FROM orders WHERE id = $1`, [id - 5]);
    await client.query(`INSERT INTO logs VALUES ('w' || $1::text)`, [id]);
    await client.query(`SELECT nextval('tick')`);
    await client.query('COMMIT');
  });
  const store = new CatalogConnection(targetSpec);
  try {
    const running = runMigration(spec('shop-online', 'shop', { slotRetainedWarnBytes: 1 }));
    await waitForStatus(store, 'shop-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
    // the application commits more while the changes stream: counted, not timed
    await ids.more(21, 'transactions while streaming');
    await ids.stop();
    // both servers restart while streaming: the migration rides it out
    await pair.target.restart();
    await pair.source.restart();
    await writer.end().catch(() => undefined);
    await pair.source.query(`INSERT INTO orders (id, item, qty) VALUES (900000, 'after restarts', 1)`, [], 'shop');
    // the writer's inserts before the restarts counted already: the row written after them is read back
    await until('the row written after the restarts on the target', async () =>
      (await pair.target.query(`SELECT 1 FROM orders WHERE id = 900000`, [], 'shop')).length > 0 ? true : undefined,
    );
    const streaming = (await get(store, 'shop-online'))!;
    assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
    const reported = await waitForStatus(
      store,
      'shop-online',
      (s) => s.databases[0]?.pendingBytes !== undefined && s.databases[0]?.slotRetainedBytes !== undefined,
    );
    assert.ok(reported.databases[0]!.latencySeconds !== undefined);
    const events = await waitForEvent(store, 'shop-online', /retains .* of WAL on the source/);
    assert.equal(events.level, 'warning');
    const names = reported.databases[0]!.names!;
    const [slot] = await pair.source.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1`, [names.slot]);
    assert.equal(slot!.n, 1);
    await requestCutover(store, 'shop-online');
    const done = await running;
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
    assert.ok(done.downtimeSeconds !== undefined && done.downtimeSeconds < 60, `downtime ${done.downtimeSeconds}`);
    const db = done.databases[0]!;
    assert.ok(db.inserts > 0 && db.updates > 0, JSON.stringify(db));
    for (const table of ['orders', 'logs']) {
      assert.deepEqual(await rowsOf(pair.target, 'shop', table), await rowsOf(pair.source, 'shop', table), table);
    }
    // the cutover's verification compared the sequence after copying it, exactly
    const sequences = done.verification?.tables.find((t) => t.table === '(sequences)');
    assert.deepEqual(sequences && [sequences.sourceRows, sequences.targetRows, sequences.matches], [1, 1, true]);
    await assertLeftClean(pair, store, names);
  } finally {
    const stopping = ids.stop().catch(() => undefined);
    await writer.end().catch(() => undefined);
    await stopping;
    await store.close();
  }
}

/** After the cutover: sequences synced, slot, publication and origin gone, replica identities set back. */
async function assertLeftClean(pair: ServerPair, store: CatalogConnection, names: { slot: string; publication: string }): Promise<void> {
  const [seq] = await pair.target.query(`SELECT last_value::text AS v FROM tick`, [], 'shop');
  const [srcSeq] = await pair.source.query(`SELECT last_value::text AS v FROM tick`, [], 'shop');
  assert.equal(seq!.v, srcSeq!.v);
  const [left] = await pair.source.query(
    `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)::int AS slots, (SELECT count(*) FROM pg_publication WHERE pubname = $2)::int AS pubs`,
    [names.slot, names.publication],
    'shop',
  );
  assert.deepEqual(left, { slots: 0, pubs: 0 });
  const [origins] = await pair.target.query(`SELECT count(*)::int AS n FROM pg_replication_origin`);
  assert.equal(origins!.n, 0);
  // logs has no key: REPLICA IDENTITY FULL was set on both sides while streaming, and set back at cutover
  for (const side of [pair.source, pair.target]) {
    const [ident] = await side.query(`SELECT relreplident AS r FROM pg_class WHERE relname = 'logs'`, [], 'shop');
    assert.equal(ident!.r, 'd');
  }
  const messages = (await catalogEvents(store, 'shop-online', 200)).map((e) => e.message);
  assert.ok(
    messages.some((m) => /REPLICA IDENTITY FULL set on 1 table\(s\) without a usable key \(public\.logs\)/.test(m)),
    messages.join('\n'),
  );
}

describe('online migration: cancel, verification stop and while streaming, a PostgreSQL 13 source (integration)', function () {
  this.timeout(400_000);
  const servers = suiteServers();

  const spec = (name: string, db: string, extra: Record<string, unknown> = {}) => onlineSpec(servers.pair, name, db, extra);

  it('cancel stops streaming and drops slot and publication; the target is left as it is', async () => {
    const { pair, store } = servers;
    const { running } = await shopWaiting(pair, store, 'shop2', spec('shop2-online', 'shop2'));
    await pair.source.query(`INSERT INTO orders VALUES (999999, 'after copy', 1)`, [], 'shop2');
    await requestCancel(store, 'shop2-online');
    const done = await running;
    assert.equal(done.state, 'Canceled', done.message);
    const names = done.databases[0]!.names!;
    assert.match(names.slot, /^pgferry_s_shop2_online_shop2_/);
    const [left] = await pair.source.query(
      `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)::int AS slots, (SELECT count(*) FROM pg_publication WHERE pubname = $2)::int AS pubs`,
      [names.slot, names.publication],
      'shop2',
    );
    assert.deepEqual(left, { slots: 0, pubs: 0 });
    assert.deepEqual(await pair.target.query(`SELECT roname FROM pg_replication_origin`), []);
    // streaming stopped: no apply session is left, and a row written after the cancel never arrives
    assert.deepEqual(
      await pair.target.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry apply' AND datname = 'shop2'`),
      [],
    );
    await pair.source.query(`INSERT INTO orders VALUES (999998, 'after cancel', 1)`, [], 'shop2');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await pair.target.query(`SELECT id FROM orders WHERE id = 999998`, [], 'shop2'), []);
    const [rows] = await pair.target.query(`SELECT count(*)::int AS n FROM orders WHERE id <= 20000`, [], 'shop2');
    assert.equal(rows!.n, 20000);
    // the REPLICA IDENTITY FULL pgferry gave the key-less table is set back on the source
    const [ident] = await pair.source.query(`SELECT relreplident AS r FROM pg_class WHERE relname = 'logs'`, [], 'shop2');
    assert.equal(ident!.r, 'd');
  });

  it('with verify full, stops the cutover when verification finds a difference, keeps streaming, and completes on a second request', async () => {
    const { pair, store } = servers;
    const { running } = await shopWaiting(pair, store, 'shop3', spec('shop3-online', 'shop3', { verify: 'full' }));
    // a change the stream cannot carry: only on the target
    await pair.target.query(`UPDATE orders SET item = 'tampered' WHERE id = 7`, [], 'shop3');
    await requestCutover(store, 'shop3-online');
    const stopped = await waitForStatus(
      store,
      'shop3-online',
      (s) => s.state === 'WaitingForUserAction' && /verification failed/.test(s.message ?? ''),
    );
    assert.match(stopped.message!, /table public\.orders: content checksum differs/);
    // streaming resumed: a new change arrives
    await pair.source.query(`INSERT INTO orders VALUES (500000, 'after stop', 1)`, [], 'shop3');
    await pair.target.query(`UPDATE orders SET item = 'item 7' WHERE id = 7`, [], 'shop3');
    await requestCutover(store, 'shop3-online');
    const done = await running;
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.message, undefined);
    const [row] = await pair.target.query(`SELECT item FROM orders WHERE id = 500000`, [], 'shop3');
    assert.deepEqual(row, { item: 'after stop' });
  });

  it('migrates online from PostgreSQL 13 (no logical messages: stops at a WAL position) to a managed 16 target (progress table)', async () => {
    const [source, target] = await Promise.all([startCluster({ major: 13, label: 'src13' }), startCluster({ major: 16, label: 'dst16' })]);
    try {
      const managed = await makeManagedTarget(target);
      await source.query('CREATE DATABASE legacy');
      await source.query(SCHEMA, [], 'legacy');
      const store = new CatalogConnection(managed);
      try {
        const s = parseMigrationSpec({
          migrationName: 'legacy-online',
          source: serverSpec(source),
          target: managed,
          databases: ['legacy'],
          mode: 'Online',
          option: 'Migrate',
          allowReplicaIdentityFull: true,
          migrateRoles: false,
        });
        const running = runMigration(s);
        await waitForStatus(store, 'legacy-online', (st) => st.state === 'WaitingForUserAction' || st.state === 'Failed');
        await source.query(`INSERT INTO orders SELECT g, 'late', 2 FROM generate_series(30001, 30500) g`, [], 'legacy');
        await source.query(`UPDATE orders SET qty = -1 WHERE id <= 100`, [], 'legacy');
        await source.query(`DELETE FROM logs WHERE msg = 'l3'`, [], 'legacy');
        const mid = await waitForStatus(
          store,
          'legacy-online',
          (st) => (st.databases[0]?.inserts ?? 0) >= 500 && st.databases[0]!.deletes >= 1,
        );
        assert.equal(mid.state, 'WaitingForUserAction');
        const [progress] = await target.query(`SELECT count(*)::int AS n FROM pgferry.apply_progress`, [], 'legacy');
        assert.equal(progress!.n, 1);
        await requestCutover(store, 'legacy-online');
        const done = await running;
        assert.equal(done.state, 'Succeeded', done.message);
        for (const table of ['orders', 'logs']) {
          assert.deepEqual(await rowsOf(target, 'legacy', table), await rowsOf(source, 'legacy', table), table);
        }
        const [gone] = await target.query(`SELECT to_regclass('pgferry.apply_progress') IS NULL AS gone`, [], 'legacy');
        assert.equal(gone!.gone, true);
      } finally {
        await store.close();
      }
    } finally {
      await Promise.all([source.stop(), target.stop()]);
    }
  });

  it('a difference found while streaming is a warning naming the table; the stream goes on, the cutover stops on that table, and once fixed it cuts over', () =>
    differenceWhileStreaming(servers, spec));
});

/** a difference found while streaming is a warning naming the table; the stream goes on, the cutover stops on that table, and once fixed it cuts over. */
async function differenceWhileStreaming({ pair, store }: SuiteServers, spec: (name: string, db: string) => MigrationSpec): Promise<void> {
  const { running } = await shopWaiting(pair, store, 'shop5', spec('shop5-online', 'shop5'));
  // only on the target; then a change to logs on the source: a table without a key counts as
  // changed wholesale, so it is verified again after it whatever the first pass saw
  await pair.target.query(`UPDATE logs SET msg = 'tampered' WHERE msg = 'l7'`, [], 'shop5');
  await pair.source.query(`INSERT INTO logs VALUES ('nudge')`, [], 'shop5');
  const warning = await until('the background verifier warns about logs', async () =>
    (await catalogEvents(store, 'shop5-online')).find(
      (e) => e.level === 'warning' && /background verification: table public\.logs/.test(e.message),
    ),
  );
  assert.match(warning.message, /content checksum differs at source position .*the cutover verifies it whole/);
  // the stream goes on: a source change made after the warning reaches the target
  await pair.source.query(`INSERT INTO orders VALUES (500001, 'while differing', 1)`, [], 'shop5');
  await until('the change applied', async () => {
    const rows = await pair.target.query(`SELECT 1 FROM orders WHERE id = 500001`, [], 'shop5');
    return rows.length === 1 || undefined;
  });
  assert.equal((await get(store, 'shop5-online'))?.subState, 'WaitingForCutoverTrigger');
  await requestCutover(store, 'shop5-online');
  const stopped = await waitForStatus(store, 'shop5-online', (s) => /^cutover stopped: verification failed/.test(s.message ?? ''));
  assert.match(stopped.message!, /logs/);
  assert.equal(stopped.subState, 'WaitingForCutoverTrigger');
  await pair.target.query(`UPDATE logs SET msg = 'l7' WHERE msg = 'tampered'`, [], 'shop5');
  await pair.source.query(`INSERT INTO orders VALUES (500000, 'after the fix', 1)`, [], 'shop5');
  await requestCutover(store, 'shop5-online');
  const done = await running;
  assert.equal(done.state, 'Succeeded', done.message);
  for (const table of ['orders', 'logs']) {
    assert.deepEqual(await rowsOf(pair.target, 'shop5', table), await rowsOf(pair.source, 'shop5', table), table);
  }
}
