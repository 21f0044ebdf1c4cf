// Issue 18, "the source's applications never get an error because of pgferry": an application
// writes to every kind of table (DEFERRABLE key, no key, partitioned with and without key,
// unlogged, tables and partitions created while the migration streams) before, during and after
// an online migration's start; it must see no error, tables created later are followed (issue 49;
// the unlogged one reported as not streamed), and what the migration changed on the
// source is set back at cutover.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { rowsOf } from '../cdc/harness';
import { pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { CREATED_LATER, TableKindsWorkload, WORKLOAD_SCHEMA } from '../support/tableKindsWorkload';
import { get } from '../../provider/engine/control/store';
import { requestCancel, requestCutover } from '../../provider/engine/control/migrationRequests';

const DB = 'app';
const NAME = 'app-online';

async function replicaIdentity(pair: ServerPair, table: string): Promise<string | undefined> {
  const [row] = await pair.source.query<{ r: string }>(`SELECT relreplident::text AS r FROM pg_class WHERE relname = $1`, [table], DB);
  return row?.r;
}

// One pair for the whole file, started by the outer describe's hooks and shared by the groups below.
let pair: ServerPair;

describe('safety: an online migration never makes the source application fail', function () {
  this.timeout(400_000);
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(WORKLOAD_SCHEMA, [], DB);
  });
  after(async () => pair?.stop());

  describe('with allowReplicaIdentityFull: a writer on every table kind', writerOnEveryTableKind);
  describe('without allowReplicaIdentityFull: a streamed table that loses its key', tableLosesItsKey);
});

function writerOnEveryTableKind(): void {
  it('a writer on every table kind sees no error; new tables are followed; identities are set back', async () => {
    const client = await pair.source.connect(DB);
    client.on('error', () => undefined);
    const workload = new TableKindsWorkload(client);
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      // the workload itself is error-free without pgferry
      await workload.start(30);
      assert.deepEqual(workload.errors, []);

      void workload.start();
      const running = runMigration(pairSpec(pair, NAME, [DB], { mode: 'Online', option: 'Migrate', allowReplicaIdentityFull: true }));
      await waitForStatus(store, NAME, (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      // the DEFERRABLE key is no replica identity: FULL while streaming, as for the key-less tables
      for (const t of ['swap_pk', 'nokey', 'parted_nokey_1']) assert.equal(await replicaIdentity(pair, t), 'f', t);
      assert.equal(await replicaIdentity(pair, 'plain'), 'd');

      // the application creates tables and partitions; the new keyed partition is created on the target first
      await pair.target.query('CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (1000000) TO (2000000)', [], DB);
      await client.query(CREATED_LATER).catch((e: Error) => workload.errors.push(`CREATE: ${e.message}`));
      workload.include('fresh', 'fresh_nokey', 'parted_later', 'parted_nokey_later');
      // a partition of the listed partitioned table, not created on the target: followed too
      await pair.source.query('CREATE TABLE parted_3 PARTITION OF parted FOR VALUES FROM (2000000) TO (3000000)', [], DB);
      // tables created later are followed (issue 49): created on the target, published (the key-less
      // ones with REPLICA IDENTITY FULL, allowed here), copied at a pinned position, streamed
      const followed = ['public.fresh', 'public.fresh_nokey', 'public.parted_3', 'public.parted_nokey_2'];
      const requests = await until(
        'the tables created later followed',
        async () => {
          const all = await tableResyncs(store, NAME);
          return followed.every((t) => all.some((r) => r.table === t && r.doneAt !== undefined)) ? all : undefined;
        },
        // each table is copied at a pin the apply reaches between the writer's transactions: on a
        // loaded 2-core machine one took over the two minutes a quiet one needs a few seconds for
        240_000,
      );
      for (const r of requests) assert.equal(r.error, undefined, `${r.table}: ${r.error}`);
      assert.deepEqual(
        requests.map((r) => r.table).sort(),
        followed,
        `parted_2 was created on the target first: nothing to follow; requested: ${requests.map((r) => `${r.table} (${r.reason})`).join(', ')}`,
      );
      const reported = (await get(store, NAME))!;
      assert.deepEqual(
        reported.databases[0]!.notStreamed!.map((t) => t.table),
        ['public.scratch'],
        'only the unlogged table is not streamed',
      );
      assert.match(reported.databases[0]!.notStreamed![0]!.reason, /unlogged/);
      for (const t of ['fresh_nokey', 'parted_nokey_2']) assert.equal(await replicaIdentity(pair, t), 'f', t);
      // what the publication lists now: nothing published behind the application's back but what was
      // followed; the partitions of a listed partitioned table (those created later too) are published
      // under their own names (issue 49)
      const published = await pair.source.query<{ t: string }>(
        `SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
        [reported.databases[0]!.names!.publication],
        DB,
      );
      assert.deepEqual(
        published.map((p) => p.t),
        [
          'fresh',
          'fresh_nokey',
          'keyed',
          'nokey',
          'parted_1',
          'parted_2',
          'parted_3',
          'parted_nokey_1',
          'parted_nokey_2',
          'plain',
          'swap_pk',
        ],
      );
      // the application drops a streamed table's key: FULL (allowed here) before its UPDATE can fail
      await pair.source.query('ALTER TABLE keyed DROP CONSTRAINT keyed_pkey', [], DB);
      await until(
        'REPLICA IDENTITY FULL on keyed',
        async () => ((await replicaIdentity(pair, 'keyed')) === 'f' ? true : undefined),
        30_000,
      );
      await pair.source.query('UPDATE keyed SET v = v + 1 WHERE id <= 10', [], DB);
      const rounds = workload.rounds;
      await until('more rounds with the new tables', async () => (workload.rounds > rounds + 20 ? true : undefined));
      await workload.stop();
      assert.deepEqual(workload.errors, []);

      // the key the application dropped on the source is dropped on the target too (the schema
      // watch or, at the latest, the drained cutover follows it: issue 49); the verification then
      // names the unlogged table, whose changes are not streamed, and why
      await requestCutover(store, NAME);
      const unlogged = await waitForStatus(store, NAME, (s) => s.state === 'Failed' || /cutover stopped/.test(s.message ?? ''));
      assert.equal(unlogged.state, 'WaitingForUserAction', unlogged.message);
      assert.match(unlogged.message ?? '', /verification failed/);
      const [key] = await pair.target.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'keyed_pkey'",
        [],
        DB,
      );
      assert.equal(key!.n, 0, 'the dropped key followed on the target');
      const reasons = new Map(unlogged.verification!.tables.filter((t) => !t.matches).map((t) => [t.table, t.reason!]));
      assert.match(reasons.get('public.scratch')!, /^its changes are not streamed: it is unlogged/);
      assert.ok(
        !reasons.has('public.plain') && !reasons.has('public.swap_pk') && !reasons.has('public.parted_2'),
        [...reasons.keys()].join(),
      );

      // copy the unlogged table by hand
      const scratch = await pair.source.query<{ id: number; v: number }>('SELECT id, v FROM scratch', [], DB);
      await pair.target.query('TRUNCATE scratch', [], DB);
      await pair.target.query(
        'INSERT INTO scratch SELECT * FROM unnest($1::int[], $2::int[])',
        [scratch.map((r) => r.id), scratch.map((r) => r.v)],
        DB,
      );
      await requestCutover(store, NAME);
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
      for (const table of ['plain', 'swap_pk', 'nokey', 'parted', 'parted_nokey', 'keyed', 'fresh', 'fresh_nokey', 'parted_3']) {
        assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
      }
      const [later] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM parted_2', [], DB);
      assert.ok(later!.n > 0, 'rows of the partition created later streamed into it');
      // set back: no FULL left behind, no slot, no publication
      for (const t of ['swap_pk', 'nokey', 'parted_nokey_1', 'keyed', 'fresh_nokey', 'parted_nokey_2']) {
        assert.equal(await replicaIdentity(pair, t), 'd', t);
      }
      const [left] = await pair.source.query(
        `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_publication)::int AS pubs`,
        [],
        DB,
      );
      assert.deepEqual(left, { slots: 0, pubs: 0 });
    } finally {
      await workload.stop().catch(() => undefined);
      await client.end().catch(() => undefined);
      await store.close();
    }
  });
}

function tableLosesItsKey(): void {
  it('without allowReplicaIdentityFull, a streamed table that loses its key is taken out of the publication and reported', async () => {
    await pair.source.query('CREATE DATABASE ledger');
    await pair.source.query(
      `CREATE TABLE ledger (id int PRIMARY KEY, v int); CREATE TABLE other (id int PRIMARY KEY, v int);
       INSERT INTO ledger SELECT g, 0 FROM generate_series(1, 50) g; INSERT INTO other SELECT g, 0 FROM generate_series(1, 50) g;`,
      [],
      'ledger',
    );
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      const running = runMigration(pairSpec(pair, 'ledger-online', ['ledger'], { mode: 'Online', option: 'Migrate' }));
      await waitForStatus(store, 'ledger-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      await pair.source.query('ALTER TABLE ledger DROP CONSTRAINT ledger_pkey', [], 'ledger');
      const reported = await waitForStatus(store, 'ledger-online', (s) => (s.databases[0]?.notStreamed?.length ?? 0) > 0, 30_000);
      assert.deepEqual(
        reported.databases[0]!.notStreamed!.map((t) => t.table),
        ['public.ledger'],
      );
      assert.match(
        reported.databases[0]!.notStreamed![0]!.reason,
        /taken out of the publication.*it has no primary key.*allowReplicaIdentityFull is off/,
      );
      // the application's UPDATE works: the table is published by nobody
      await pair.source.query('UPDATE ledger SET v = 1 WHERE id = 1', [], 'ledger');
      await pair.source.query('UPDATE other SET v = 1 WHERE id = 1', [], 'ledger');
      const published = await pair.source.query<{ t: string }>(
        `SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = $1`,
        [reported.databases[0]!.names!.publication],
        'ledger',
      );
      assert.deepEqual(
        published.map((p) => p.t),
        ['other'],
      );
      await requestCancel(store, 'ledger-online');
      const done = await running;
      assert.equal(done.state, 'Canceled', done.message);
    } finally {
      await store.close();
    }
  });
}
