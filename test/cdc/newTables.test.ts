// Issue 49: tables created on the source while streaming are followed (created on the target from
// the source's definition, published, their rows copied at a pinned source position, streamed),
// and one table is resynchronised on request while the others stream, exactly once, with a
// writer running throughout. Read back by an independent comparison of every table (row count
// and the md5 of its rows' text), then cut over: Succeeded, the cutover's own verification and
// schema check passed. On a superuser target and on a managed-like one (a non-superuser admin:
// no replica role, foreign keys held while streaming).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { requestCutover, requestResync, runMigration, type MigrationSpec, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, onBothTargets, pairSpec, startSourceWriter, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { events as catalogEvents, get } from '../../provider/engine/control/store';
import { eventsTold } from '../support/toldEvents';

const DB = 'shop';
const ORDERS = 20_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text);
     INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, ${ORDERS}) g;
     CREATE TABLE measures (id int, at int NOT NULL, v numeric, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
     CREATE TABLE measures_p1 PARTITION OF measures FOR VALUES FROM (0) TO (1000);
     CREATE TABLE measures_p2 PARTITION OF measures FOR VALUES FROM (1000) TO (2000);
     INSERT INTO measures SELECT g, g % 2000, g / 7.0 FROM generate_series(1, 4000) g;
     CREATE TABLE old_log (id int PRIMARY KEY); INSERT INTO old_log SELECT generate_series(1, 100);`,
    [],
    DB,
  );
}

/** Which tables the writer writes: each created by the scenario while the writer runs. */
interface Written {
  items: boolean;
  events: boolean;
  eventsC: boolean;
  p3: boolean;
  p4: boolean;
  detached: boolean;
  snap: boolean;
}

/** One writer transaction: orders always; every followed table once it exists (inserts, updates, deletes). */
function writeOne(written: Written): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1, note = 'w' || $1 WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
    if (n % 5 === 0) await c.query(`INSERT INTO orders VALUES ($1, $2, 'new')`, [ORDERS + n, n % 97]);
    if (written.items) {
      await c.query(`INSERT INTO items (order_id, qty) VALUES ($1, $2)`, [n % ORDERS, n % 9]);
      await c.query(`UPDATE items SET qty = qty + 1 WHERE id = (SELECT min(id) FROM items WHERE qty < 100) `);
      if (n % 3 === 0) await c.query(`DELETE FROM items WHERE id = (SELECT max(id) - 5 FROM items)`);
    }
    if (written.events)
      await c.query(`INSERT INTO events (id, day, what) VALUES ($1, $2, 'e')`, [1_000_000 + n, n % (written.eventsC ? 90 : 60)]);
    if (written.p3) await c.query(`INSERT INTO measures VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [n, 2000 + (n % 1000), n]);
    // the attached partition's rows from before its ATTACH, changed while it is followed, then once detached
    if (written.p4) await c.query(`UPDATE measures SET v = v + 1 WHERE id = $1 AND at >= 3000`, [1 + (n % 1500)]);
    if (written.detached) await c.query(`INSERT INTO measures_p4 VALUES ($1, $2, $3)`, [100_000 + n, n % 5000, n]);
    if (written.snap) await c.query(`UPDATE snap SET total = total + 1 WHERE k = $1`, [n % 50]);
  };
}

/** Every user table's row count and the md5 of its rows' text, in one order: the independent comparison. */
async function contents(cluster: Cluster): Promise<Map<string, string>> {
  const tables = await cluster.query<{ t: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_toast' ORDER BY 1`,
    [],
    DB,
  );
  const out = new Map<string, string>();
  for (const { t } of tables) {
    const [row] = await cluster.query<{ n: string; h: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM ${t} x`,
      [],
      DB,
    );
    out.set(t, `${row!.n} rows, ${row!.h ?? '-'}`);
  }
  return out;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const started = Date.now();
  const spec = pairSpec(pair, name, [DB], {
    mode: 'Online',
    option: 'Migrate',
    overwriteDbsInTarget: true,
    allowReplicaIdentityFull: true,
    excludeTables: ['public.scratch_*'],
  });
  const running = runMigration({ ...spec, target });
  const store = new CatalogConnection(target);
  const written: Written = { items: false, events: false, eventsC: false, p3: false, p4: false, detached: false, snap: false };
  const writer = startSourceWriter(pair.source, DB, writeOne(written));
  const s = (sql: string) => pair.source.query(sql, [], DB);
  try {
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    const streamingAt = Date.now();
    // a plain table, with rows written before anything of pgferry's sees it, and written on after
    await s(`CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id int REFERENCES orders, qty int NOT NULL DEFAULT 1);
             CREATE INDEX items_order ON items (order_id);
             INSERT INTO items (order_id, qty) SELECT g, g % 9 FROM generate_series(1, 5000) g;`);
    written.items = true;
    // a partitioned table created with its partitions
    await s(`CREATE TABLE events (id int, day int NOT NULL, what text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
             CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (30);
             CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (30) TO (60);
             INSERT INTO events SELECT g, g % 60, 'seed' FROM generate_series(1, 3000) g;`);
    written.events = true;
    // partitions of a listed partitioned table (published with it, under their own names): one
    // created, one attached with rows of its own, which the writer changes from then on
    await s(`CREATE TABLE measures_p3 PARTITION OF measures FOR VALUES FROM (2000) TO (3000);
             CREATE TABLE measures_p4 (id int NOT NULL, at int NOT NULL, v numeric, PRIMARY KEY (id, at));
             INSERT INTO measures_p4 SELECT g, 3000 + g % 1000, g FROM generate_series(1, 1500) g;
             ALTER TABLE measures ATTACH PARTITION measures_p4 FOR VALUES FROM (3000) TO (4000);`);
    written.p3 = written.p4 = true;
    // CREATE TABLE AS: no key, streamed with REPLICA IDENTITY FULL (allowReplicaIdentityFull)
    await s(`CREATE TABLE snap AS SELECT g AS k, g * 10 AS total FROM generate_series(0, 49) g`);
    written.snap = true;
    // left out by the filters: not followed
    await s(`CREATE TABLE scratch_tmp (id int PRIMARY KEY); INSERT INTO scratch_tmp SELECT generate_series(1, 10)`);

    // a streamed table dropped on the source: said at once (not followed); the user drops it on the target too
    await s(`DROP TABLE old_log`);
    await until('a warning naming the dropped table', async () =>
      (await catalogEvents(store, name, 200)).find(
        (e) => e.level === 'warning' && /streamed table public\.old_log was dropped on the source/.test(e.message),
      ),
    );
    await pair.target.query(`DROP TABLE old_log`, [], DB);

    // a table that differs on the target (something wrote it behind the stream): resynchronised on request
    await pair.target.query(`UPDATE orders SET note = 'diverged' WHERE id <= 500`, [], DB);
    await requestResync(target, name, 'public.orders');
    const requestedAt = Date.now();

    const expected = ['public.events', 'public.items', 'public.measures_p3', 'public.measures_p4', 'public.orders', 'public.snap'];
    const done = await until(
      'every follow and resync carried out',
      async () => {
        const all = await tableResyncs(store, name);
        const finished = all.filter((r) => r.doneAt !== undefined);
        return expected.every((t) => finished.some((r) => r.table === t)) ? all : undefined;
      },
      240_000,
      500,
    ).catch(async (error: Error) => {
      const events = await eventsTold(store, name, 30);
      const requests = JSON.stringify(await tableResyncs(store, name), null, 1);
      const status = await get(store, name);
      throw new Error(`${error.message}\nrequests: ${requests}\nstatus: ${status?.subState} ${status?.message}\nevents:\n  ${events}`);
    });
    for (const r of done) assert.equal(r.error, undefined, `${r.table}: ${r.error}`);
    assert.equal(
      done.some((r) => r.table.startsWith('public.scratch')),
      false,
      'a table the filters leave out is not followed',
    );
    const followedIn = ((Date.now() - streamingAt) / 1000).toFixed(1);
    // followed partitions are listed by name: a TRUNCATE of one reaches the target (pgoutput drops it
    // under publish_via_partition_root), and one detached streams on as the plain table it becomes
    // (a row outside its old bounds fits it on the target only if it was detached there too)
    written.p3 = written.p4 = false;
    const off = writer.committed() + 2;
    await until('the writer off the partitions', async () => (writer.committed() >= off ? true : undefined));
    await s(`TRUNCATE measures_p3; ALTER TABLE measures DETACH PARTITION measures_p4`);
    written.detached = true;
    // a partition created under the partitioned table followed above, with rows of its own: it is
    // published with that table (listed now) and followed the same way
    await s(`CREATE TABLE events_c PARTITION OF events FOR VALUES FROM (60) TO (90);
             INSERT INTO events SELECT g, 60 + g % 30, 'late' FROM generate_series(1, 600) g;`);
    written.eventsC = true;
    await until(
      'events_c followed',
      async () =>
        (await tableResyncs(store, name)).some((r) => r.table === 'public.events_c' && r.doneAt !== undefined) ? true : undefined,
      120_000,
    );
    for (const r of await tableResyncs(store, name)) assert.equal(r.error, undefined, `${r.table}: ${r.error}`);
    const resyncedIn = ((Date.now() - requestedAt) / 1000).toFixed(1);
    // the writer writes on after the copies: every table streams from its position
    const before = writer.committed();
    await until('200 more transactions', async () => (writer.committed() >= before + 200 ? true : undefined), 60_000);
    const transactions = await writer.stop();

    await requestCutover(target, name);
    const end: MigrationStatus = await running;
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    assert.equal(end.verification?.ok, true);

    const [src, dst] = await Promise.all([contents(pair.source), contents(pair.target)]);
    src.delete('public.scratch_tmp');
    assert.deepEqual(dst, src);
    const [tree] = await pair.target.query<{ p3: string; p4: boolean; outside: string }>(
      `SELECT (SELECT count(*) FROM measures_p3)::text AS p3,
              (SELECT relispartition FROM pg_class WHERE oid = 'measures_p4'::regclass) AS p4,
              (SELECT count(*) FROM measures_p4 WHERE at NOT BETWEEN 3000 AND 3999)::text AS outside`,
      [],
      DB,
    );
    assert.equal(tree!.p3, '0', 'the TRUNCATE of a partition followed while streaming reached the target');
    assert.equal(tree!.p4, false, 'the partition detached on the source is detached on the target');
    assert.notEqual(tree!.outside, '0', 'rows written into the detached partition outside its old bounds streamed');
    assert.deepEqual(await pair.target.query(`SELECT to_regclass('public.scratch_tmp') AS t`, [], DB), [{ t: null }]);
    // the definitions came from the source's catalog: the index, the identity, the key
    const [idx] = await pair.target.query<{ d: string }>(`SELECT pg_get_indexdef('items_order'::regclass) AS d`, [], DB);
    assert.match(idx!.d, /CREATE INDEX items_order ON public\.items USING btree \(order_id\)/);
    const [key] = await pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'`,
      [],
      DB,
    );
    assert.equal(key!.n, 1, 'the foreign key of the new table is on the target after the cutover');
    const rows = [...src.entries()].map(([t, v]) => `${t} ${v.split(',')[0]}`).join('; ');
    console.log(
      `      ${name}: ${transactions} writer transactions; followed and resynced within ${followedIn} s of streaming (resync ${resyncedIn} s after its request); ${rows}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    );
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning({ target, migrationName: name }, running);
    await store.close();
  }
}

describe('tables created while streaming are followed, one table resynchronised on request (issue 49)', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser: 'superuser target: created, copied at a pinned position, streamed, exactly once; cutover Succeeded',
      managed: 'managed-like target (no replica role): the same, foreign keys held while streaming',
    },
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await scenario(pair, `follow-${kind}`, target);
    },
  );
});
