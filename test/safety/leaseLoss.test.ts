// "Never twice": a runner that loses its lease stops writing. A DBA's pg_terminate_backend ends the
// lease session of a runner in the middle of its copy; the runner cuts itself off from every server
// before anything else (connect/cutOff.ts, runner/main.ts), so the copy it was about to run sends
// nothing, however long the runner takes to start its successor. The successor then takes over,
// says so in the migration's events and its log, is the runner `show` names from the moment it
// holds the lease, and finishes the migration with the source's rows on the target.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMigrationSpec, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get } from '../../provider/engine/control/store';
import { leaseKey } from '../../provider/engine/core/names';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { runnerLogPath } from '../../provider/engine/runner/spawn';
import { processAlive, serverSpec, startPair, until, type Cluster, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { rowsOf } from '../cdc/harness';

const DB = 'leaselost';
const TABLES = ['t', 'u'];

async function count(cluster: Cluster, table: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.${table}`, [], DB);
  return row!.n;
}

/** Ends the session holding the migration's lease, as a DBA does; returns its backend pid. */
async function terminateLease(target: Cluster, migration: string): Promise<number> {
  const [lease] = await target.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid`,
    [leaseKey(migration)],
  );
  assert.ok(lease, 'the runner holds its lease on the target');
  await target.query('SELECT pg_terminate_backend($1)', [lease.pid]);
  return lease.pid;
}

/** The pid a process holding at `point` wrote into its hold file. */
async function holder(point: string, holdDir: string): Promise<number> {
  return Number(await fs.readFile(heldFile(point, holdDir), 'utf8'));
}

describe('safety: a runner that lost its lease stops its whole run before its successor starts', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let spec: MigrationSpec;
  let holdDir: string;
  before(async () => {
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
       CREATE TABLE u (id int PRIMARY KEY, w int NOT NULL);
       INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
       INSERT INTO u SELECT g, g * 7 FROM generate_series(1, 500) g;`,
      [],
      DB,
    );
    spec = parseMigrationSpec({
      migrationName: 'lease-lost-copy',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: [DB],
      mode: 'Offline',
      overwriteDbsInTarget: true,
    });
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-lease-lost-'));
  });
  after(async () => {
    await fs.rm(holdDir, { recursive: true, force: true });
    await pair?.stop();
  });

  it('the copy held across the lease loss writes nothing to either server; the successor, named by show at once, copies every row', async () => {
    const name = spec.migrationName;
    const store = new CatalogConnection(spec.target);
    const log = runnerLogPath(name, spec.target);
    try {
      // the copy held before its first write; the runner held where it starts its successor; the successor held once it has the lease
      await withHoldArmed([`copy-data:${DB}`, 'lease-lost'], holdDir, () => startMigration(spec), ['successor-took-lease']);
      await until('the copy to hold before its first write', async () => ((await isHeld(`copy-data:${DB}`, holdDir)) ? true : undefined));
      const oldRunner = await holder(`copy-data:${DB}`, holdDir);
      const catalogTables = async () =>
        (
          await pair.target.query<{ t: string }>(
            `SELECT schema_name || '.' || table_name || ' ' || state || ' ' || rows AS t FROM pgferry.migration_table WHERE migration = $1 ORDER BY 1`,
            [name],
          )
        ).map((r) => r.t);
      const tablesBefore = await catalogTables();

      await terminateLease(pair.target, name);
      await until('the runner to see its lease lost', async () => ((await isHeld('lease-lost', holdDir)) ? true : undefined));
      // the copy goes on now, while the runner that lost its lease has not exited
      await fs.rm(heldFile(`copy-data:${DB}`, holdDir));
      await until('the copy to write, or the run to stop', async () =>
        (await count(pair.target, 't')) + (await count(pair.target, 'u')) > 0 ||
        (await fs.readFile(log, 'utf8')).includes('the run stopped')
          ? true
          : undefined,
      );
      await fs.rm(heldFile('lease-lost', holdDir));
      await until('the runner that lost its lease to exit', async () => (processAlive(oldRunner) ? undefined : true), 60_000);

      // the successor holds the lease and has recorded nothing yet
      await until(
        'the successor to take the lease',
        async () => ((await isHeld('successor-took-lease', holdDir)) ? true : undefined),
        60_000,
      );
      const successor = await holder('successor-took-lease', holdDir);
      assert.deepEqual(
        TABLES.map(() => 0),
        await Promise.all(TABLES.map((t) => count(pair.target, t))),
        'no row of the copy reached the target after the lease was lost',
      );
      assert.deepEqual(
        await catalogTables(),
        tablesBefore,
        'nothing of the copy was recorded in the control catalog after the lease was lost',
      );
      const shown = (await get(store, name))!;
      assert.deepEqual(
        [shown.runner?.pid, shown.runner?.host, shown.runner?.alive],
        [successor, os.hostname(), true],
        `show names the runner holding the lease, not its predecessor ${oldRunner}`,
      );
      await fs.rm(heldFile('successor-took-lease', holdDir));

      // the successor is armed with its own hold point alone: the copy's is not its
      const done = await until(
        'the successor to finish the migration',
        async () => {
          const status = await get(store, name);
          return status && (status.state === 'Succeeded' || status.state === 'Failed') ? status : undefined;
        },
        180_000,
        500,
      );
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.runner?.pid, successor);
      for (const table of TABLES) assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);

      const tookOver = `runner ${successor} on ${os.hostname()} took over from runner ${oldRunner}`;
      const events = (await catalogEvents(store, name, 200)).map((e) => e.message);
      assert.ok(
        events.includes(
          `the runner's lease session was ended on the target (terminating connection due to administrator command): a new runner resumed the migration (${tookOver})`,
        ),
        JSON.stringify(events),
      );
      const lines = (await fs.readFile(log, 'utf8')).split('\n');
      assert.ok(
        lines.includes(
          `migration ${name}: ${tookOver}, whose lease session was ended on the target (terminating connection due to administrator command); resuming the migration`,
        ),
        lines.filter((l) => /took over|lease/.test(l)).join('\n'),
      );
    } finally {
      await store.close();
    }
  });
});
