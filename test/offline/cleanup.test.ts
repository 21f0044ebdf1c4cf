import assert from 'node:assert/strict';
import { cleanupSource, dropTargetDatabases, parseMigrationSpec, removeMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { publicationName, slotName } from '../../provider/engine/core/names';
import { ident } from '../../provider/engine/connect/quote';
import { serverSpec, suiteServers } from '../support';
import { createMigration, get, setState, setTargetDatabase } from '../../provider/engine/control/store';

describe('cleanup entry points (Pulumi delete)', function () {
  this.timeout(120_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query('CREATE DATABASE app');
      await pair.target.query('CREATE DATABASE app');
    },
  });

  const spec = () =>
    parseMigrationSpec({
      migrationName: 'gone',
      source: serverSpec(servers.pair.source),
      target: serverSpec(servers.pair.target),
      databases: ['app', 'missing'],
      mode: 'Online',
    });

  it('cleanupSource drops the slot and publication, and is idempotent', async () => {
    const { pair } = servers;
    await pair.source.query(`CREATE PUBLICATION ${ident(publicationName('gone', 'app'))} FOR ALL TABLES`, [], 'app');
    await pair.source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName('gone', 'app')], 'app');
    await cleanupSource(spec());
    await cleanupSource(spec());
    assert.deepEqual(await pair.source.query(`SELECT slot_name FROM pg_replication_slots`), []);
    assert.deepEqual(await pair.source.query(`SELECT pubname FROM pg_publication`, [], 'app'), []);
  });

  it('dropTargetDatabases drops only the databases the migration created, and none of a migration that has cut over', async () => {
    const { pair } = servers;
    const target = serverSpec(pair.target);
    await pair.target.query('CREATE DATABASE made');
    await pair.target.query('CREATE DATABASE there_before');
    const [made] = await pair.target.query<{ oid: number }>(`SELECT oid::int AS oid FROM pg_database WHERE datname = 'made'`);
    const store = new CatalogConnection(target);
    const owner = parseMigrationSpec({
      migrationName: 'owner',
      source: serverSpec(pair.source),
      target,
      databases: ['made', 'there_before'],
    });
    const datnames = async () =>
      (
        await pair.target.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname IN ('made', 'there_before') ORDER BY 1`)
      ).map((d) => d.datname);
    try {
      await createMigration(store, { name: 'owner', mode: 'Offline', option: 'Migrate', spec: {}, databases: ['made', 'there_before'] });
      await setTargetDatabase(store, 'owner', 'made', 'created', made!.oid);
      await setState(store, 'owner', 'Succeeded', 'Completed');
      const refused = await dropTargetDatabases(owner);
      assert.deepEqual(refused.dropped, []);
      assert.deepEqual(await datnames(), ['made', 'there_before']);

      const result = await dropTargetDatabases(owner, { afterCutover: true });
      assert.deepEqual(result.dropped, ['made']);
      assert.deepEqual(
        result.kept.map((k) => k.database),
        ['there_before'],
      );
      assert.deepEqual(await datnames(), ['there_before']);
    } finally {
      await store.close();
    }
  });

  it('removeMigration refuses a migration in progress and frees the name of a finished one', async () => {
    const { pair } = servers;
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await createMigration(store, { name: 'gone', mode: 'Online', option: 'Migrate', spec: {}, databases: ['app'] });
      await assert.rejects(removeMigration(serverSpec(pair.target), 'gone'), (e: { code?: string }) => e.code === 'MIGRATION_IN_PROGRESS');
      await setState(store, 'gone', 'Canceled', 'Completed');
      await removeMigration(serverSpec(pair.target), 'gone');
      assert.equal(await get(store, 'gone'), undefined);
      await createMigration(store, { name: 'gone', mode: 'Online', option: 'Migrate', spec: {}, databases: ['app'] });
    } finally {
      await store.close();
    }
  });
});
