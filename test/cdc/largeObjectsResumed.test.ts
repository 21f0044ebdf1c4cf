// The large objects pgferry moved (control/movedLargeObjects.ts) after an online copy killed during
// its large objects and resumed. The first copy recorded every object of its snapshot; objects the
// source unlinked before the resume, some copied already and some not, were left recorded: the
// cutover unlinked and forgot those on the target, and kept the record of those that never reached
// it, so an object made later under one of those OIDs would have been taken for pgferry's. Read
// back after the cutover (Succeeded): every large object equal on both servers by OID and md5, and
// the records exactly the objects the source has.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { movedLargeObjects } from '../../provider/engine/control/movedLargeObjects';
import { pairSpec, processAlive, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

const DB = 'blobs_resumed';
const OBJECTS = 1000;

/** Every large object of the database as OID and md5 of its content, in OID order. */
async function largeObjects(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ o: string }>(
    `SELECT oid::int8::text || ' ' || md5(lo_get(oid)) AS o FROM pg_largeobject_metadata ORDER BY oid::int8`,
    [],
    DB,
  );
  return rows.map((r) => r.o);
}

describe('cdc: large objects after an online copy killed among them and resumed', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let holdDir: string;
  before(async () => {
    pair = await startPair();
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-lo-resumed-'));
  });
  after(async () => {
    await fs.rm(holdDir, { recursive: true, force: true });
    await pair?.stop();
  });

  it('objects unlinked between the kill and the resume leave no record; the rest equal by OID and md5', async () => {
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      `CREATE TABLE docs (id int PRIMARY KEY, body oid NOT NULL);
       INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to(repeat('doc ' || g, 1 + g % 50), 'UTF8')) FROM generate_series(1, ${OBJECTS}) g;`,
      [],
      DB,
    );
    const point = `large-objects:${DB}`;
    // one worker: the objects go batch after batch, and the kill falls after the first
    const spec = pairSpec(pair, 'lo-resumed', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, tableJobs: 1 });
    const store = new CatalogConnection(spec.target);
    try {
      await withHoldArmed(point, holdDir, () => startMigration(spec));
      await until('the copy to hold among the large objects', async () => ((await isHeld(point, holdDir)) ? true : undefined), 120_000);
      const killed = Number(await fs.readFile(heldFile(point, holdDir), 'utf8'));
      // the restore made every object (pre-data); the copy wrote the content of some of them
      const [copied] = await pair.target.query<{ n: number }>('SELECT count(DISTINCT loid)::int AS n FROM pg_largeobject', [], DB);
      assert.ok(copied!.n > 0 && copied!.n < OBJECTS, `some objects' content on the target at the kill, not all: ${copied!.n}`);
      process.kill(killed, 'SIGKILL');
      await until('the killed runner to be gone', async () => (processAlive(killed) ? undefined : true));
      await fs.rm(heldFile(point, holdDir), { force: true });

      // unlinked on the source before the resume: ten of the first batch (written) and ten of the last (not)
      await pair.source.query(
        `WITH gone AS (DELETE FROM docs WHERE id <= 10 OR id > ${OBJECTS - 10} RETURNING body) SELECT lo_unlink(body) FROM gone`,
        [],
        DB,
      );
      await resumeMigration(spec);
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.state === 'Failed' || s.databases[0]?.state === 'WaitingForCutoverTrigger',
      );
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      await requestCutover(spec.target, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);

      const [onSource, onTarget] = await Promise.all([largeObjects(pair.source), largeObjects(pair.target)]);
      assert.equal(onSource.length, OBJECTS - 20);
      assert.deepEqual(onTarget, onSource);
      const recorded = [...(await movedLargeObjects(store, spec.migrationName, DB))].sort((a, b) => Number(a) - Number(b));
      assert.deepEqual(
        recorded,
        onSource.map((o) => o.split(' ')[0]),
        'the records are the objects the source has',
      );
    } finally {
      await fs.rm(heldFile(point, holdDir), { force: true });
      await store.close();
    }
  });
});
