// The online path end to end on a schema that is not pgferry's own fixture: extension types in
// key-less and REPLICA IDENTITY FULL tables (PostGIS where the target user may create it), rules,
// ordinary and ENABLE REPLICA triggers, row-level security, partitions and large objects, owned by
// an ordinary role. An application writes the whole time; the runner is killed with SIGKILL while
// streaming and resumed; then the cutover. The target is then compared with the source by reading
// every table and large object on both servers as a superuser, independently of pgferry's own
// verification: identical on a superuser target and on a managed-like one.
import assert from 'node:assert/strict';
import { parseMigrationSpec, resumeMigration, startMigration, type ServerSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import {
  DEFAULT_ALLOW_LIST,
  loadVariedDatabase,
  makeManagedTarget,
  serverSpec,
  startPair,
  until,
  VARIED_EXTENSIONS,
  VariedWriter,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { cutOverOnceAccepted } from '../cdc/harness';

/** Every plain table and leaf partition of the user's schemas, as schema-qualified SQL names. */
async function userTables(cluster: Cluster, database: string): Promise<string[]> {
  const rows = await cluster.query<{ t: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_toast'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1`,
    [],
    database,
  );
  return rows.map((r) => r.t);
}

async function tableRows(cluster: Cluster, database: string, table: string): Promise<string[]> {
  const rows = await cluster.query<{ r: string }>(`SELECT r::text AS r FROM ${table} AS r`, [], database);
  return rows.map((x) => x.r).sort();
}

async function largeObjects(cluster: Cluster, database: string): Promise<{ oid: string; md5: string }[]> {
  return cluster.query(`SELECT oid::text AS oid, md5(lo_get(oid)) AS md5 FROM pg_largeobject_metadata ORDER BY oid`, [], database);
}

/** Reads both servers and compares every table, large object, rule and trigger state, and owner. */
async function assertIdentical(pair: ServerPair, database: string): Promise<void> {
  const tables = await userTables(pair.source, database);
  assert.deepEqual(await userTables(pair.target, database), tables, 'the same tables');
  for (const table of tables) {
    const [source, target] = await Promise.all([tableRows(pair.source, database, table), tableRows(pair.target, database, table)]);
    assert.equal(target.length, source.length, `${table}: ${target.length} rows on the target, ${source.length} on the source`);
    assert.deepEqual(target, source, `${table} differs`);
  }
  assert.deepEqual(await largeObjects(pair.target, database), await largeObjects(pair.source, database), 'large objects');
  // rules and triggers are as on the source again
  const states = `SELECT 'rule ' || rulename || ' ' || ev_enabled::text AS s FROM pg_rewrite WHERE rulename IN ('accounts_log', 'requests_cancel')
                  UNION ALL SELECT 'trigger ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE tgname IN ('orders_audit', 'orders_applied') ORDER BY 1`;
  assert.deepEqual(await pair.target.query(states, [], database), await pair.source.query(states, [], database));
  const owner = `SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname IN ('tags', 'accounts', 'readings') ORDER BY 1`;
  assert.deepEqual(await pair.target.query(owner, [], database), await pair.source.query(owner, [], database));
}

/**
 * The ENABLE REPLICA trigger fills `shop.applied` on the target only, once per order that was
 * streamed rather than copied: the orders after the copy's snapshot, so a run of ids up to the last
 * one (a second firing would have stopped the stream on its primary key). Read once the stream has
 * caught up, then emptied, as a user would clear what only the migration's target wrote, so that
 * the cutover's verification compares like with like.
 */
async function checkReplicaTrigger(pair: ServerPair, database: string): Promise<void> {
  const maxOrder = async (cluster: Cluster): Promise<number> =>
    (await cluster.query<{ max: number }>('SELECT max(id)::int AS max FROM shop.orders', [], database))[0]!.max;
  const last = await maxOrder(pair.source);
  await until('the stream to catch up', async () => ((await maxOrder(pair.target)) === last ? true : undefined));
  const applied = (await tableRows(pair.target, database, 'shop.applied')).map((r) => Number(r.slice(1, -1))).sort((a, b) => a - b);
  assert.ok(applied.length > 0, 'orders were streamed');
  const first = applied[0]!;
  assert.deepEqual(
    applied,
    Array.from({ length: last - first + 1 }, (_, i) => first + i),
    'the ENABLE REPLICA trigger fired once per streamed order',
  );
  assert.deepEqual(await tableRows(pair.source, database, 'shop.applied'), []);
  await pair.target.query('TRUNCATE shop.applied', [], database);
}

/** Online with a writer, SIGKILL of the runner while streaming, resume, cutover. */
async function migrateThroughKill(pair: ServerPair, database: string, target: ServerSpec, postgis: boolean): Promise<void> {
  const spec = parseMigrationSpec({
    migrationName: `varied-${database}`.replace(/_/g, '-'),
    source: serverSpec(pair.source),
    target,
    databases: [database],
    mode: 'Online',
    option: 'ValidateAndMigrate',
    allowReplicaIdentityFull: true,
  });
  const store = new CatalogConnection(target);
  const writer = new VariedWriter(await pair.source.connect(database), postgis);
  try {
    await startMigration(spec);
    const streaming = await waitForStatus(
      store,
      spec.migrationName,
      (s) => s.state === 'Failed' || s.state === 'ValidationFailed' || (s.databases[0]?.inserts ?? 0) > 40,
    );
    assert.equal(streaming.state, 'WaitingForUserAction', `${streaming.state}: ${streaming.message}`);
    process.kill(streaming.runner!.pid, 'SIGKILL');
    await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
    const killedAt = writer.committed;
    await until('the application to commit while no runner runs', async () => (writer.committed - killedAt >= 10 ? true : undefined));
    await resumeMigration(spec);
    const resumed = await waitForStatus(
      store,
      spec.migrationName,
      (s) => s.runner?.alive === true && s.databases[0]!.inserts > streaming.databases[0]!.inserts + 40,
    );
    assert.equal(resumed.subState, 'WaitingForCutoverTrigger', resumed.message);
    const written = await writer.stop();
    await checkReplicaTrigger(pair, database);
    await cutOverOnceAccepted(spec, store);
    const [{ n }] = (await pair.source.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM shop.orders WHERE id > 1000',
      [],
      database,
    )) as [{ n: number }];
    assert.equal(n, written, 'every transaction the application committed is on the source');
  } finally {
    await writer.stop().catch(() => undefined);
    await store.close();
  }
}

describe('online end to end: a varied schema, an application writing, a killed runner, both kinds of target', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());
  // the managed run first: the control catalog it installs as the admin serves the superuser too, not the other way round

  it('is identical to the source on a managed-like target (no replica role, a non-superuser admin)', async () => {
    await loadVariedDatabase(pair.source, 'varied_mg', { postgis: false });
    // POSTGIS too: the allow-list stays on the cluster, which the superuser run uses next
    const allowList = [...DEFAULT_ALLOW_LIST.split(','), ...VARIED_EXTENSIONS.map((e) => e.toUpperCase()), 'POSTGIS'].join(',');
    const target = await makeManagedTarget(pair.target, { allowList });
    await migrateThroughKill(pair, 'varied_mg', target, false);
    await assertIdentical(pair, 'varied_mg');
  });

  it('is identical to the source on a superuser target, PostGIS included', async () => {
    await loadVariedDatabase(pair.source, 'varied_su', { postgis: true });
    await migrateThroughKill(pair, 'varied_su', serverSpec(pair.target), true);
    await assertIdentical(pair, 'varied_su');
  });
});
