// Issue 12, "never destroy": source and target one server however spelled; a resume never widens
// what may be dropped; only databases the migration created are dropped.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { ControlStore } from '../../provider/engine/control/store';
import { orchestrate } from '../../provider/engine/flow/orchestrator';
import { serverSpec, startCluster, startPair, type Cluster, type ServerPair } from '../support';

async function rowsOf(cluster: Cluster, database: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM precious', [], database);
  return row!.n;
}

describe('safety: never destroy (issue 12)', function () {
  this.timeout(300_000);

  describe('source and target are one server, spelled 127.0.0.1 and localhost', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ label: 'one' });
      await cluster.query('CREATE DATABASE prod');
      await cluster.query('CREATE TABLE precious (id int PRIMARY KEY); INSERT INTO precious SELECT generate_series(1, 500)', [], 'prod');
    });
    after(async () => cluster?.stop());

    const spec = (name: string, option: string) =>
      parseMigrationSpec({
        migrationName: name,
        source: serverSpec(cluster, { host: '127.0.0.1' }),
        target: serverSpec(cluster, { host: 'localhost' }),
        databases: ['prod'],
        overwriteDbsInTarget: true,
        option,
      });

    for (const option of ['ValidateAndMigrate', 'Migrate']) {
      it(`${option}: refused before anything is dropped; the source database keeps its rows`, async () => {
        const status = await runMigration(spec(`same-${option.toLowerCase()}`, option));
        assert.equal(status.state, 'ValidationFailed', status.message);
        assert.match(status.message ?? '', /same server/);
        if (option === 'ValidateAndMigrate') {
          assert.equal(status.validation.find((r) => r.code === 'SAME_SERVER')?.status, 'Failed');
        }
        assert.equal(await rowsOf(cluster, 'prod'), 500);
      });
    }
  });

  describe('a resume never widens overwrite', () => {
    let pair: ServerPair;
    before(async () => {
      pair = await startPair();
      await pair.source.query('CREATE DATABASE app');
      await pair.source.query('CREATE TABLE precious (id int PRIMARY KEY); INSERT INTO precious SELECT generate_series(1, 10)', [], 'app');
      // the target already has a database of that name, with other data
      await pair.target.query('CREATE DATABASE app');
      await pair.target.query('CREATE TABLE precious (id int PRIMARY KEY); INSERT INTO precious SELECT generate_series(1, 77)', [], 'app');
    });
    after(async () => pair?.stop());

    for (const option of ['ValidateAndMigrate', 'Migrate'] as const) {
      it(`${option}: a run killed during validation and resumed leaves the existing target database alone`, async () => {
        const name = `resumed-${option.toLowerCase()}`;
        const spec = parseMigrationSpec({
          migrationName: name,
          source: serverSpec(pair.source),
          target: serverSpec(pair.target),
          databases: ['app'],
          option,
        });
        const store = new ControlStore(spec.target);
        try {
          // what a runner killed during validation leaves: registered, validating, nothing recorded
          await store.createMigration({ name, mode: 'Offline', option, spec: {}, databases: ['app'] });
          await store.setState(name, 'InProgress', 'ValidationInProgress');
          const status = await orchestrate(spec, { resume: true });
          assert.equal(status.state, 'ValidationFailed', status.message);
          assert.match(status.message ?? '', /already exists on the target/);
          assert.equal(await rowsOf(pair.target, 'app'), 77);
        } finally {
          await store.close();
        }
      });
    }

    it('a resume re-creates a target database the migration created itself', async () => {
      const spec = parseMigrationSpec({
        migrationName: 'own-db',
        source: serverSpec(pair.source),
        target: serverSpec(pair.target),
        databases: ['app'],
        option: 'Migrate',
        overwriteDbsInTarget: true,
      });
      const first = await runMigration(spec);
      assert.equal(first.state, 'Succeeded', first.message);
      assert.equal(first.databases[0]!.targetDatabase?.action, 'overwritten');
      // a second migration without overwrite may not touch it: it did not create it
      const other = await runMigration(parseMigrationSpec({ ...spec, migrationName: 'other-db', overwriteDbsInTarget: false }));
      assert.equal(other.state, 'ValidationFailed', other.message);
      assert.equal(await rowsOf(pair.target, 'app'), 10);
    });
  });
});
