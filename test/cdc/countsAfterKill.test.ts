// The counts of applied changes travel with the applied position (cdc/apply/positionCommit.ts): a
// runner SIGKILLed between two reports of its counters (the reporter held, so it reports none)
// leaves on the target, committed with the rows, what it applied; the resumed runner starts its
// counters there, so the migration's counters equal the changes the target holds.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMigrationSpec, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { processAlive, serverSpec, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { rowsOf } from './harness';

const DB = 'counted';

async function count(cluster: Cluster): Promise<number> {
  const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM public.t', [], DB);
  return row!.n;
}

function counters(status: MigrationStatus | undefined): [number, number, number] {
  const d = status?.databases[0];
  return [d?.inserts ?? -1, d?.updates ?? -1, d?.deletes ?? -1];
}

describe('cdc: counters after a runner is killed and resumed', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let holdDir: string;
  before(async () => {
    pair = await startPair();
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-counts-'));
  });
  after(async () => {
    await fs.rm(holdDir, { recursive: true, force: true });
    await pair?.stop();
  });

  it('the counters equal the changes applied on the target, those the killed runner never reported among them', async () => {
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      'CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g',
      [],
      DB,
    );
    const spec = parseMigrationSpec({
      migrationName: 'counted',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: [DB],
      mode: 'Online',
      overwriteDbsInTarget: true,
    });
    const store = new CatalogConnection(spec.target);
    try {
      // its reporter held: the runner reports no counters
      await withHoldArmed('stream-report', holdDir, () => startMigration(spec));
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.state === 'Failed' || (s.runner?.alive === true && s.databases[0]?.state === 'WaitingForCutoverTrigger'),
      );
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      await until('the reporter to hold', async () => ((await isHeld('stream-report', holdDir)) ? true : undefined));
      await pair.source.query('INSERT INTO t SELECT g, 1 FROM generate_series(101, 300) g', [], DB);
      await pair.source.query('UPDATE t SET v = v + 2 WHERE id <= 50', [], DB);
      await pair.source.query('DELETE FROM t WHERE id > 280', [], DB);
      await until('the runner to apply the three transactions', async () => ((await count(pair.target)) === 280 ? true : undefined));
      assert.deepEqual(await rowsOf(pair.target, DB, 't'), await rowsOf(pair.source, DB, 't'));
      assert.deepEqual(counters(await get(store, spec.migrationName)), [0, 0, 0], 'the held reporter recorded no counters');

      const killed = streaming.runner!.pid;
      process.kill(killed, 'SIGKILL');
      await until('the killed runner to be gone', async () => (processAlive(killed) ? undefined : true));
      await fs.rm(heldFile('stream-report', holdDir), { force: true });
      await resumeMigration(spec);
      await pair.source.query('INSERT INTO t SELECT g, 3 FROM generate_series(301, 330) g', [], DB);
      await until('the resumed runner to apply the insert', async () => ((await count(pair.target)) === 310 ? true : undefined));

      // 230 inserted, 50 updated, 20 deleted on the source since the copy; the target holds 100 + 230 - 20 rows
      let seen: [number, number, number] = [-1, -1, -1];
      await until(
        () => `the counters to equal the changes applied (last seen: inserts, updates, deletes ${seen.join(', ')})`,
        async () => {
          seen = counters(await get(store, spec.migrationName));
          return seen.join() === '230,50,20' ? true : undefined;
        },
        30_000,
      );
      assert.equal(
        100 + seen[0] - seen[2],
        await count(pair.target),
        'the copied rows and the counted changes make the rows the target holds',
      );

      await requestCutover(spec.target, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(counters(done), [230, 50, 20], 'the counters after the cutover');
      assert.deepEqual(await rowsOf(pair.target, DB, 't'), await rowsOf(pair.source, DB, 't'));
    } finally {
      await fs.rm(heldFile('stream-report', holdDir), { force: true });
      await store.close();
    }
  });
});
