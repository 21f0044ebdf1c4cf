// A DBA changes what pg_dump --schema-only prints of a table on the source while changes stream:
// CLUSTER, which marks the index the table is clustered on (ALTER TABLE ... CLUSTER ON), and storage
// parameters (a table's fillfactor and autovacuum settings, its toast table's, one reset, an
// index's and a primary key's index's fillfactor, a view's security_barrier and check_option, one
// reset: WITH (...)). Both are part of the schema the cutover compares (DESIGN: succeeded means
// identical): pgferry follows them on the target while streaming, and the cutover follows those set
// just before it (a mark on an index the source made then). A writer runs throughout; the marks, the parameters and the rows are read back from both
// servers. Superuser and managed-like targets.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  endIfRunning,
  onBothTargets,
  pairSpec,
  startSourceWriter,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';

const DB = 'shop';
const ORDERS = 3_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text) WITH (fillfactor = 90, autovacuum_analyze_scale_factor = 0.05);
     CREATE INDEX orders_n ON orders (n);
     CREATE VIEW orders_big AS SELECT id, n, note FROM orders WHERE n > 50;
     INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, ${ORDERS}) g;
     CREATE TABLE items (id int PRIMARY KEY, k int NOT NULL);
     INSERT INTO items SELECT g, g % 13 FROM generate_series(1, 500) g;`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1, note = 'w' || $1 WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
    if (n % 5 === 0) await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, $2, 'new')`, [ORDERS + n, n % 97]);
  };
}

/** Each table's clustered index, as the server's catalog marks it ('-' for none). */
async function clusteredOn(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ marks: string }>(
    `SELECT string_agg(t.relname || ':' || coalesce((SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                                                      WHERE x.indrelid = t.oid AND x.indisclustered), '-'), ' ' ORDER BY t.relname) AS marks
       FROM pg_class t WHERE t.relnamespace = 'public'::regnamespace AND t.relkind = 'r'`,
    [],
    DB,
  );
  return row!.marks;
}

/** Each table's, view's and index's storage parameters, a table's toast table's under `toast.`, as the server's catalog holds them. */
async function parameters(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ all: string }>(
    `SELECT string_agg(c.relname || ' (' || coalesce(array_to_string(ARRAY(
              SELECT o FROM unnest(c.reloptions) o
              UNION ALL SELECT 'toast.' || o FROM pg_class tc, unnest(tc.reloptions) o WHERE tc.oid = c.reltoastrelid
              ORDER BY 1), ', '), '') || ')', ' ' ORDER BY c.relname) AS all
       FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 'v')`,
    [],
    DB,
  );
  return row!.all;
}

async function contents(cluster: Cluster, table: string): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(o::text, E'\\n' ORDER BY o.id)) AS h FROM ${table} o`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

const WHILE_STREAMING =
  'items () items_pkey () orders (autovacuum_vacuum_scale_factor=0.01, fillfactor=70, toast.autovacuum_enabled=false) ' +
  'orders_big (check_option=cascaded, security_barrier=true) orders_n (fillfactor=60) orders_pkey (fillfactor=80)';

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  const running = runMigration({ ...spec, target });
  const store = new CatalogConnection(target);
  const writer = startSourceWriter(pair.source, DB, writeOne());
  try {
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    assert.equal(await parameters(pair.target), await parameters(pair.source), 'as copied');
    await pair.source.query(
      `CLUSTER orders USING orders_n;
       ALTER TABLE orders SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, toast.autovacuum_enabled = false);
       ALTER TABLE orders RESET (autovacuum_analyze_scale_factor);
       ALTER INDEX orders_n SET (fillfactor = 60);
       ALTER INDEX orders_pkey SET (fillfactor = 80);
       ALTER VIEW orders_big SET (security_barrier = true, check_option = cascaded);`,
      [],
      DB,
    );
    assert.equal(await parameters(pair.source), WHILE_STREAMING);
    const both = async (cluster: Cluster) => `${await clusteredOn(cluster)} | ${await parameters(cluster)}`;
    await until(
      'the CLUSTER ON mark and the storage parameters followed on the target while streaming',
      async () => ((await both(pair.target)) === `items:- orders:orders_n | ${WHILE_STREAMING}` ? true : undefined),
      60_000,
      500,
    ).catch(async (error: Error) => {
      const told = (await catalogEvents(store, name, 30)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}\ntarget: ${await both(pair.target)}\nevents:\n  ${told}`);
    });
    // just before the cutover: an index made and the table clustered on it, a fillfactor set and a
    // toast parameter reset, followed by the watch or, once drained, by the cutover itself
    await pair.source.query(
      `CREATE INDEX items_k ON items (k); ALTER TABLE items CLUSTER ON items_k;
       ALTER TABLE items SET (fillfactor = 50); ALTER TABLE orders RESET (toast.autovacuum_enabled);
       ALTER VIEW orders_big RESET (check_option)`,
      [],
      DB,
    );
    await writer.stop();
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    assert.equal(
      await both(pair.source),
      'items:items_k orders:orders_n | items (fillfactor=50) items_k () items_pkey () ' +
        'orders (autovacuum_vacuum_scale_factor=0.01, fillfactor=70) orders_big (security_barrier=true) orders_n (fillfactor=60) orders_pkey (fillfactor=80)',
    );
    assert.equal(await both(pair.target), await both(pair.source));
    for (const table of ['orders', 'items']) assert.equal(await contents(pair.target, table), await contents(pair.source, table), table);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning({ target, migrationName: name }, running);
    await store.close();
  }
}

describe("a DBA's CLUSTER and storage parameters on the source while streaming", function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser:
        "superuser target: the CLUSTER ON marks and a table's, its toast table's, its indexes' and a view's parameters followed while streaming and at the cutover; Succeeded, marks, parameters and rows equal",
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await scenario(pair, `marks-${kind}`, target);
    },
  );
});
