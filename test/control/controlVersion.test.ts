// The control catalog's version, checked at start: an older catalog is upgraded in place by the
// migrations it lacks, a catalog newer than this build is refused (reads and writes) before
// anything on the target changes, naming both versions.
import assert from 'node:assert/strict';
import { CONTROL_MIGRATIONS } from '../../provider/engine/control/schemaVersions';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { CONTROL_SCHEMA_VERSION, PGFERRY_VERSION } from '../../provider/engine';
import { runCli } from '../cli/helpers';
import { serverSpec, startCluster, type Cluster } from '../support';
import { olderCatalogSql } from '../support/olderCatalog';
import { createMigration, get, list } from '../../provider/engine/control/store';

/** Every table and column of the catalog, and its recorded versions: what a refusal must leave as it was. */
async function catalogShape(cluster: Cluster, database: string): Promise<unknown> {
  const columns = await cluster.query(
    `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'pgferry' ORDER BY 1, 2`,
    [],
    database,
  );
  const versions = await cluster.query(`SELECT version, applied_at FROM pgferry.schema_version ORDER BY version`, [], database);
  return { columns, versions };
}

const isCode = (code: string) => (e: { code?: string }) => e.code === code;

describe('control catalog version', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'catalog-version' });
    await cluster.query('CREATE DATABASE catalog_old');
    await cluster.query('CREATE DATABASE catalog_new');
  });
  after(async () => cluster?.stop());

  it('upgrades a catalog an older pgferry installed by applying the migrations it lacks, keeping its migrations', async () => {
    // The catalog as a pgferry that knew versions 1 and 2 left it, with one migration recorded.
    await cluster.query(
      `${olderCatalogSql(2)}
       INSERT INTO pgferry.migration (name, mode, option, spec, state, sub_state, instance)
         VALUES ('kept', 'Offline', 'Migrate', '{}', 'Succeeded', 'Completed', 'abc');
       INSERT INTO pgferry.migration_database (migration, database, ordinal, state) VALUES ('kept', 'shop', 0, 'Succeeded');`,
      [],
      'catalog_old',
    );
    const store = new CatalogConnection(serverSpec(cluster, { maintenanceDatabase: 'catalog_old' }));
    try {
      await store.install();
      const versions = await cluster.query<{ version: number }>('SELECT version FROM pgferry.schema_version ORDER BY 1', [], 'catalog_old');
      assert.deepEqual(
        versions.map((r) => r.version),
        CONTROL_MIGRATIONS.map((m) => m.version),
      );
      const kept = await get(store, 'kept');
      assert.equal(kept?.state, 'Succeeded');
      assert.deepEqual(
        kept?.databases.map((d) => d.database),
        ['shop'],
      );
    } finally {
      await store.close();
    }
  });

  it('refuses a catalog a newer pgferry upgraded, reading or writing, before anything changes', async () => {
    const spec = serverSpec(cluster, { maintenanceDatabase: 'catalog_new' });
    const installer = new CatalogConnection(spec);
    await installer.install();
    await installer.close();
    // What a newer pgferry's next migration would have done.
    const newer = CONTROL_SCHEMA_VERSION + 1;
    await cluster.query(
      `CREATE TABLE pgferry.from_the_future (id text PRIMARY KEY); INSERT INTO pgferry.schema_version (version) VALUES (${newer})`,
      [],
      'catalog_new',
    );
    const before = await catalogShape(cluster, 'catalog_new');

    const store = new CatalogConnection(spec);
    try {
      await assert.rejects(store.install(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'CONTROL_CATALOG_NEWER');
        assert.match(e.message, new RegExp(`at version ${newer}\\b`));
        assert.match(
          e.message,
          new RegExp(`pgferry ${PGFERRY_VERSION.replace(/\./g, '\\.')} knows versions up to ${CONTROL_SCHEMA_VERSION}\\b`),
        );
        return true;
      });
      await assert.rejects(list(store, 'all'), isCode('CONTROL_CATALOG_NEWER'));
      await assert.rejects(
        createMigration(store, { name: 'late', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['d'] }),
        isCode('CONTROL_CATALOG_NEWER'),
      );
    } finally {
      await store.close();
    }
    assert.deepEqual(await catalogShape(cluster, 'catalog_new'), before);
    const rows = await cluster.query('SELECT name FROM pgferry.migration', [], 'catalog_new');
    assert.deepEqual(rows, []);
  });

  it('the command names both versions and what to do, exit 1', async () => {
    const url = `postgres://postgres@${cluster.host}:${cluster.port}/catalog_new`;
    const result = await runCli(['list', '--target-url', url], { PGPASSWORD: cluster.password });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    const line = result.errLines[0]!;
    assert.match(line, /\[CONTROL_CATALOG_NEWER\]$/);
    assert.match(line, new RegExp(`at version ${CONTROL_SCHEMA_VERSION + 1}\\b.*knows versions up to ${CONTROL_SCHEMA_VERSION}\\b`));
    assert.match(line, /fix: upgrade pgferry/);
  });
});
