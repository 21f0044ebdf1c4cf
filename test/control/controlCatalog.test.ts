import assert from 'node:assert/strict';
import { CONTROL_MIGRATIONS } from '../../provider/engine/control/schemaVersions';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, type Cluster } from '../support';
import {
  createMigration,
  events,
  exists,
  get,
  list,
  setState,
  setTables,
  updateDatabase,
  updateTable,
} from '../../provider/engine/control/store';
import { fallBackSettled } from '../../provider/engine/core/statusChecks';
import {
  markFallbackClosed,
  markFallbackOpen,
  markFallingBack,
  markFellBack,
  recordFallbackWindow,
  requestFallBack,
} from '../../provider/engine/control/fallbackWindows';

/** A user without CREATE on the maintenance database: the install refused naming the GRANT, no schema made. */
async function refusedWithoutCreate(cluster: Cluster): Promise<void> {
  await cluster.query('CREATE DATABASE "ctl db"');
  await cluster.query(`CREATE ROLE "no create" LOGIN PASSWORD 'no-create-pw'`);
  const refused = new CatalogConnection(
    serverSpec(cluster, { user: 'no create', password: 'no-create-pw', maintenanceDatabase: 'ctl db' }),
  );
  try {
    await assert.rejects(refused.install(), (error: Error & { code?: string; fix?: string }) => {
      assert.equal(error.code, 'CONTROL_INSTALL', error.message);
      assert.match(error.message, /in database "ctl db" on the target/);
      assert.equal(
        error.fix,
        'on the target, as the owner of database "ctl db" or an administrator: GRANT CREATE ON DATABASE "ctl db" TO "no create"; or choose another target maintenanceDatabase',
      );
      assert.ok(!`${error.message} ${error.fix}`.includes('no-create-pw'));
      return true;
    });
  } finally {
    await refused.close();
  }
  assert.deepEqual(await cluster.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'pgferry'`, [], 'ctl db'), []);
  await cluster.query('DROP DATABASE "ctl db"');
  await cluster.query('DROP ROLE "no create"');
}

/** A catalog read by one connection, then dropped: that connection reads no migration, an empty list and a free name. */
async function droppedUnderReader(cluster: Cluster): Promise<void> {
  await cluster.query('CREATE DATABASE ctl_gone');
  const spec = serverSpec(cluster, { maintenanceDatabase: 'ctl_gone' });
  const [maker, reader] = [new CatalogConnection(spec), new CatalogConnection(spec)];
  try {
    await createMigration(maker, { name: 'gone', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['d1'] });
    assert.equal((await get(reader, 'gone'))?.name, 'gone');
    assert.equal(await exists(reader, 'gone'), true);
    await cluster.query('DROP SCHEMA pgferry CASCADE', [], 'ctl_gone');
    assert.equal(await get(reader, 'gone'), undefined);
    assert.deepEqual(await list(reader, 'all'), []);
    assert.equal(await exists(reader, 'gone'), false);
  } finally {
    await Promise.all([maker.close(), reader.close()]);
    await cluster.query('DROP DATABASE ctl_gone');
  }
}

describe('control catalog', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'control' });
  });
  after(async () => cluster.stop());

  it('installs idempotently when 20 installers race', async () => {
    const stores = Array.from({ length: 20 }, () => new CatalogConnection(serverSpec(cluster)));
    await Promise.all(stores.map((s) => s.install()));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await cluster.query<{ version: number }>('SELECT version FROM pgferry.schema_version ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      CONTROL_MIGRATIONS.map((m) => m.version),
    );
  });

  it("a catalog an earlier run made as another role: the install is refused naming that role, and the catalog's versions read back unchanged", async () => {
    const owner = new CatalogConnection(serverSpec(cluster));
    await owner.install();
    await owner.close();
    await cluster.query(`CREATE ROLE later_admin LOGIN PASSWORD 'later-pw'; GRANT CREATE ON DATABASE postgres TO later_admin`);
    const later = new CatalogConnection(serverSpec(cluster, { user: 'later_admin', password: 'later-pw' }));
    try {
      await assert.rejects(later.install(), (error: Error & { code?: string; fix?: string }) => {
        assert.equal(error.code, 'CONTROL_INSTALL', error.message);
        assert.match(error.fix ?? '', new RegExp(`belongs to role "?${cluster.user}"? .*run pgferry as that role`), error.fix);
        assert.ok(!`${error.message} ${error.fix}`.includes('later-pw'));
        return true;
      });
    } finally {
      await later.close();
      await cluster.query('DROP OWNED BY later_admin; DROP ROLE later_admin');
    }
    const rows = await cluster.query<{ version: number }>('SELECT version FROM pgferry.schema_version ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      CONTROL_MIGRATIONS.map((m) => m.version),
    );
  });

  it('a user without CREATE on the maintenance database: the install is refused naming the GRANT, and no schema is made', () =>
    refusedWithoutCreate(cluster));

  it('records a migration, refuses a duplicate name, and reads counters back', async () => {
    const store = new CatalogConnection(serverSpec(cluster));
    try {
      await createMigration(store, { name: 'm1', mode: 'Offline', option: 'Migrate', spec: { a: 1 }, databases: ['d1', 'd2'] });
      await assert.rejects(
        createMigration(store, { name: 'm1', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['x'] }),
        (e: { code?: string }) => e.code === 'MIGRATION_NAME_TAKEN',
      );
      await setTables(store, 'm1', 'd1', [
        { table: { schema: 'public', name: 'a' }, parts: 1 },
        { table: { schema: 'public', name: 'b' }, parts: 2 },
      ]);
      await updateTable(store, 'm1', 'd1', { schema: 'public', name: 'a' }, { state: 'Completed', rows: 10 });
      await updateDatabase(store, 'm1', 'd1', { rowsCopied: 10, state: 'InProgress' });
      const status = await get(store, 'm1');
      assert.ok(status);
      assert.equal(status.databases.length, 2);
      assert.deepEqual(status.databases[0]!.tables, { total: 2, queued: 1, loading: 0, completed: 1, errored: 0 });
      assert.equal(status.databases[0]!.rowsCopied, 10);
      assert.equal((await list(store, 'all')).length, 1);
    } finally {
      await store.close();
    }
  });

  // A connection that found the catalog does not look for it again before each read (a resuming
  // runner read its migration five times before its stream): a catalog dropped meanwhile must still
  // read as none, as it did before it was found, not as an error.
  it('reads a catalog dropped under a connection that found it as none: the migration undefined, the list empty, the name free', () =>
    droppedUnderReader(cluster));

  // A `pulumi up` with fallBack and resumeForward waits until the window fell back. The runner then
  // streams forward again, through the copy's sub-states before it waits for a cutover: the window
  // read in those states too, or the waiter saw no window at all and said the fall-back failed.
  it('shows a window that fell back in every state of the forward stream made again, so a waiter on the fall-back reads FellBack', async () => {
    const store = new CatalogConnection(serverSpec(cluster));
    try {
      await createMigration(store, { name: 'again', mode: 'Online', option: 'Migrate', spec: {}, databases: ['d1'] });
      await setState(store, 'again', 'Succeeded', 'Completed');
      await recordFallbackWindow(store, 'again', 'd1', 3600);
      await markFallbackOpen(store, 'again', 'd1', '0/1000', [], []);
      await requestFallBack(store, 'again', true);
      await markFallingBack(store, 'again', 'd1');
      await markFellBack(store, 'again', 'd1', 'fell back', 'fall-back completed');
      for (const [state, subState] of [
        ['Succeeded', 'Completed'],
        ['InProgress', 'PerformingPreRequisiteSteps'],
        ['InProgress', 'MigratingData'],
        ['WaitingForUserAction', 'WaitingForCutoverTrigger'],
      ] as const) {
        await setState(store, 'again', state, subState);
        const status = (await get(store, 'again'))!;
        assert.equal(status.databases[0]!.fallback?.state, 'FellBack', `${state}/${subState}`);
        assert.equal(fallBackSettled(status), true);
      }
    } finally {
      await store.close();
    }
  });

  // A completion tried again (its setState failed, the catalog away) must not record its event a
  // second time, and a window that fell back or closed is never taken back to FallingBack.
  it('records a fall-back completion once when tried again, and refuses FallingBack from FellBack or Closed, the window read back unchanged', async () => {
    const store = new CatalogConnection(serverSpec(cluster));
    const windowLine = async (name: string) =>
      (
        await cluster.query<{ line: string }>(
          `SELECT state || ' ' || coalesce(message, '') || ' ' || (fell_back_at IS NOT NULL)::text AS line
             FROM pgferry.fallback_window WHERE migration = $1`,
          [name],
        )
      )[0]!.line;
    try {
      for (const name of ['once', 'closed']) {
        await createMigration(store, { name, mode: 'Online', option: 'Migrate', spec: {}, databases: ['d1'] });
        await setState(store, name, 'Succeeded', 'Completed');
        await recordFallbackWindow(store, name, 'd1', 3600);
        await markFallbackOpen(store, name, 'd1', '0/1000', [], []);
      }
      await requestFallBack(store, 'once');
      await markFallingBack(store, 'once', 'd1');
      assert.equal(await markFellBack(store, 'once', 'd1', 'fell back', 'fall-back of "d1" completed'), true);
      assert.equal(await markFellBack(store, 'once', 'd1', 'fell back again', 'fall-back of "d1" completed'), false);
      const completed = (await events(store, 'once', 50)).filter((e) => e.message === 'fall-back of "d1" completed');
      assert.equal(completed.length, 1, 'the completion recorded once');
      assert.equal(await windowLine('once'), 'FellBack fell back true');

      await markFallbackClosed(store, 'closed', 'd1', 'the window passed');
      for (const [name, state] of [
        ['once', 'FellBack'],
        ['closed', 'Closed'],
      ] as const) {
        const before = await windowLine(name);
        await assert.rejects(markFallingBack(store, name, 'd1'), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'FALLBACK_REFUSED');
          assert.match(e.message, new RegExp(`window of database d1 is ${state}; a fall-back begins only in an Open window`));
          return true;
        });
        assert.equal(await windowLine(name), before, `the ${state} window unchanged`);
      }
    } finally {
      await store.close();
    }
  });
});
