// Issue 14's campaign, seed 1664726215 (lease-loss during streaming): a runner stopped (SIGSTOP,
// a laptop asleep) lost its lease, the user resumed, and for a moment both runners wrote: the old
// one still held its apply sessions with a transaction open on one database while the new one
// applied the other. The resumed runner now ends the previous runner's sessions (its apply fences
// on the target, its walsenders on the source) before it streams (cdc/prepare/takeover.ts). Fails without
// it: the new runner waits behind the stopped one's fences and never streams. The old runner, woken,
// starts its successor as it exits (runner/successor.ts), which finds the lease taken and leaves.
import assert from 'node:assert/strict';
import { parseMigrationSpec, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import {
  type Cluster,
  processAlive,
  serverSpec,
  type SourceWriter,
  startSourceWriter,
  suiteServers,
  until,
  waitForStatus,
} from '../support';
import { events as catalogEvents, get } from '../../provider/engine/control/store';

const DATABASES = ['takeover_a', 'takeover_b'];

// the ledger has no key: a change applied twice would show as a duplicate row
const LEDGER_SQL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger (acct int NOT NULL, amount int NOT NULL, n bigint NOT NULL);
ALTER TABLE ledger REPLICA IDENTITY FULL;
INSERT INTO acct SELECT g, 0 FROM generate_series(1, 50) g;`;

/** Commits a transfer and a ledger line per transaction until stopped; stop() resolves to how many. */
async function startWriter(source: Cluster, db: string): Promise<SourceWriter> {
  const writer = startSourceWriter(source, db, async (client, n) => {
    await client.query('UPDATE acct SET balance = balance + 1 WHERE id = $1', [1 + (n % 50)]);
    await client.query('INSERT INTO ledger VALUES ($1, 1, $2)', [1 + (n % 50), n]);
  });
  await writer.connected;
  return writer;
}

async function pidsOf(cluster: Cluster, sql: string, params: unknown[] = []): Promise<number[]> {
  return (await cluster.query<{ pid: number }>(sql, params)).map((r) => r.pid);
}

const APPLY_SESSIONS = `SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry apply' AND datname = ANY($1::text[])`;
const WALSENDERS = `SELECT active_pid AS pid FROM pg_replication_slots WHERE active_pid IS NOT NULL AND database = ANY($1::text[])`;

describe('safety: a resumed runner takes over from a stopped one that lost its lease (seed 1664726215)', function () {
  this.timeout(300_000);
  let spec: MigrationSpec;
  const servers = suiteServers({
    setUp: async (pair) => {
      for (const db of DATABASES) {
        await pair.source.query(`CREATE DATABASE ${db}`);
        await pair.source.query(LEDGER_SQL, [], db);
      }
      spec = parseMigrationSpec({
        migrationName: 'takeover',
        source: serverSpec(pair.source),
        target: serverSpec(pair.target),
        databases: DATABASES,
        mode: 'Online',
        allowReplicaIdentityFull: true,
      });
    },
  });

  it("ends the old runner's sessions before streaming; the old runner, woken, exits; nothing lost or applied twice", async () => {
    const { pair } = servers;
    const store = new CatalogConnection(spec.target);
    const writers = await Promise.all(DATABASES.map((db) => startWriter(pair.source, db)));
    let oldRunner: number | undefined;
    try {
      await startMigration(spec);
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.state === 'Failed' || s.databases.every((d) => d.inserts > 50),
      );
      assert.notEqual(streaming.state, 'Failed', streaming.message);
      oldRunner = streaming.runner!.pid;
      const oldAppliers = await pidsOf(pair.target, APPLY_SESSIONS, [DATABASES]);
      const oldSenders = await pidsOf(pair.source, WALSENDERS, [DATABASES]);
      assert.equal(oldAppliers.length, 2, 'one apply session per database');
      assert.equal(oldSenders.length, 2, 'one walsender per database');

      // asleep, and its lease cut: the lease is free while it holds every other session
      process.kill(oldRunner, 'SIGSTOP');
      const [lease] = await pidsOf(pair.target, `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pgferry runner lease %'`);
      await pair.target.query('SELECT pg_terminate_backend($1)', [lease]);
      await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
      const before = (await get(store, spec.migrationName))!.databases.map((d) => d.inserts);
      await resumeMigration(spec);

      await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.runner?.alive === true && s.runner.pid !== oldRunner && s.databases.every((d, i) => d.inserts > before[i]! + 20),
      );
      const stillThere = await pidsOf(pair.target, `SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [oldAppliers]);
      assert.deepEqual(stillThere, [], "the old runner's apply sessions were ended");
      const sendersLeft = await pidsOf(pair.source, `SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [oldSenders]);
      assert.deepEqual(sendersLeft, [], "the old runner's walsenders were ended");
      const events = await catalogEvents(store, spec.migrationName, 100);
      assert.ok(
        events.some((e) => /ended 2 session\(s\) of the runner before this one on the target/.test(e.message)),
        JSON.stringify(events.map((e) => e.message)),
      );

      process.kill(oldRunner, 'SIGCONT');
      const woken = oldRunner;
      await until('the woken runner to exit', async () => (processAlive(woken) ? undefined : true), 60_000);

      const written = await Promise.all(writers.map((w) => w.stop()));
      await requestCutover(spec.target, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);
      for (const [i, db] of DATABASES.entries()) {
        const read = (c: Cluster, sql: string) => c.query(sql, [], db);
        const ledger = `SELECT count(*)::int AS n, count(DISTINCT n)::int AS distinct_n, sum(amount)::int AS total FROM ledger`;
        assert.deepEqual(await read(pair.target, ledger), [{ n: written[i], distinct_n: written[i], total: written[i] }], db);
        const accounts = 'SELECT id, balance::int FROM acct ORDER BY id';
        assert.deepEqual(await read(pair.target, accounts), await read(pair.source, accounts), db);
      }
      const after = await catalogEvents(store, spec.migrationName, 200);
      assert.deepEqual(
        after.filter((e) => /a new runner resumed the migration/.test(e.message)).map((e) => e.message),
        [],
        "the woken runner's successor left the migration to the resumed runner",
      );
    } finally {
      if (oldRunner !== undefined && processAlive(oldRunner)) process.kill(oldRunner, 'SIGKILL');
      await Promise.all(writers.map((w) => w.stop().catch(() => 0)));
      await store.close();
    }
  });
});
