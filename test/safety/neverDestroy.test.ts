// Issue 12, "never destroy": source and target one server however spelled; a resume never widens
// what may be dropped; only databases the migration created are dropped.
import assert from 'node:assert/strict';
import { parseMigrationSpec, resumeMigration, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { orchestrate } from '../../provider/engine/flow/orchestrator';
import { CopyHold, serverSpec, startCluster, startPair, waitForStatus, type Cluster, type ServerPair } from '../support';
import { createMigration, setState } from '../../provider/engine/control/store';

async function rowsOf(cluster: Cluster, database: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM precious', [], database);
  return row!.n;
}

describe('safety: never destroy', function () {
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
        const store = new CatalogConnection(spec.target);
        try {
          // what a runner killed during validation leaves: registered, validating, nothing recorded
          await createMigration(store, { name, mode: 'Offline', option, spec: {}, databases: ['app'] });
          await setState(store, name, 'InProgress', 'ValidationInProgress');
          const status = await orchestrate(spec, { resume: true });
          assert.equal(status.state, 'ValidationFailed', status.message);
          assert.match(status.message ?? '', /already exists on the target/);
          assert.equal(await rowsOf(pair.target, 'app'), 77);
        } finally {
          await store.close();
        }
      });
    }

    /**
     * A database the target does not have: the migration creates it (no overwrite), its copy is
     * held mid-COPY through a proxy, and its runner is killed there. `change` runs on the source
     * between the kill and the resume.
     */
    async function killedMidCopy(db: string, name: string, change?: string) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE precious (id int PRIMARY KEY, pad text NOT NULL);
         INSERT INTO precious SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g`,
        [],
        db,
      );
      const hold = await CopyHold.start(pair.target, /"precious"/);
      const spec = parseMigrationSpec({
        migrationName: name,
        source: serverSpec(pair.source),
        target: serverSpec(pair.target, { port: hold.port }),
        databases: [db],
        option: 'Migrate',
        overwriteDbsInTarget: false,
      });
      const store = new CatalogConnection(serverSpec(pair.target));
      const oidOf = async (): Promise<number> =>
        Number(
          (await pair.target.query<{ oid: string }>(`SELECT oid::int8::text AS oid FROM pg_database WHERE datname = $1`, [db]))[0]!.oid,
        );
      try {
        await startMigration(spec);
        await hold.whenHeld();
        // killed while the held table is loading (its COPY open on the target, some rows in)
        const copying = await waitForStatus(store, name, (s) => (s.databases[0]?.tables.loading ?? 0) > 0);
        assert.equal(copying.state, 'InProgress');
        const createdOid = await oidOf();
        assert.equal(copying.databases[0]!.targetDatabase!.oid, createdOid, 'the migration recorded the OID of the database it created');
        process.kill(copying.runner!.pid, 'SIGKILL');
        await waitForStatus(store, name, (s) => s.runner?.alive === false);
        if (change) await pair.source.query(change, [], db);

        await resumeMigration(spec);
        const done = await waitForStatus(store, name, (s) => s.state !== 'InProgress');
        assert.equal(done.state, 'Succeeded', done.message);
        return { spec, done, createdOid, resumedOid: await oidOf() };
      } finally {
        await store.close();
        await hold.close();
      }
    }

    it('a resume continues inside a target database the migration created itself: the same database, every row once', async () => {
      const { spec, done, createdOid, resumedOid } = await killedMidCopy('own', 'own-db');
      assert.equal(resumedOid, createdOid, 'the resume kept the database it created and copied what it lacked');
      assert.deepEqual(done.databases[0]!.targetDatabase, { action: 'created', oid: createdOid });
      assert.equal(await rowsOf(pair.target, 'own'), 20000);
      const [distinct] = await pair.target.query<{ n: number }>(`SELECT count(DISTINCT id)::int AS n FROM precious`, [], 'own');
      assert.equal(distinct!.n, 20000);
      // a second migration without overwrite may not touch it: it did not create it
      const other = await runMigration(parseMigrationSpec({ ...spec, target: serverSpec(pair.target), migrationName: 'other-db' }));
      assert.equal(other.state, 'ValidationFailed', other.message);
      assert.equal(await rowsOf(pair.target, 'own'), 20000);
    });

    it('a resume re-creates a target database the migration created itself when the source schema changed since the kill', async () => {
      const { done, createdOid, resumedOid } = await killedMidCopy(
        'own2',
        'own2-db',
        `ALTER TABLE precious ADD COLUMN note text DEFAULT 'added'`,
      );
      assert.notEqual(resumedOid, createdOid, 'the resume dropped the half-copied database and created it again');
      assert.deepEqual(done.databases[0]!.targetDatabase, { action: 'created', oid: resumedOid });
      assert.equal(await rowsOf(pair.target, 'own2'), 20000);
      const [added] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM precious WHERE note = 'added'`, [], 'own2');
      assert.equal(added!.n, 20000);
    });
  });
});
