import assert from 'node:assert/strict';
import { cdcTableReport, runValidation } from '../../provider/engine/validate/runValidation';
import { makeReplicationSourceUser, serverSpec, startCluster, type Cluster } from '../support';
import { assertNoFailures, expectCode, specFor, summary, withCode } from './helpers';

const TABLES_SQL = `
CREATE TABLE with_pk (id int PRIMARY KEY, body text, doubled int GENERATED ALWAYS AS (id * 2) STORED);
CREATE TABLE no_pk (a int, b text);
CREATE TABLE full_id (a int, b text);
ALTER TABLE full_id REPLICA IDENTITY FULL;
CREATE TABLE by_index (a int NOT NULL, b text);
CREATE UNIQUE INDEX by_index_a ON by_index (a);
ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_a;
CREATE TABLE events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE logs (msg text, at date) PARTITION BY RANGE (at);
CREATE TABLE logs_2025 PARTITION OF logs FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE docs (id int PRIMARY KEY, blob oid);
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
`;

describe('validation: online prerequisites and CDC table report', () => {
  let logical: Cluster;
  let replica: Cluster;
  let target: Cluster;
  before(async () => {
    [logical, replica, target] = await Promise.all([
      startCluster({ label: 'val-logical' }),
      // wal_level=replica and a single slot/sender, already taken by a physical slot
      startCluster({ label: 'val-replica', settings: { wal_level: 'replica', max_replication_slots: '1', max_wal_senders: '1' } }),
      startCluster({ label: 'val-dst' }),
    ]);
    await logical.query('CREATE ROLE app_owner NOLOGIN');
    await logical.query('CREATE DATABASE shop OWNER app_owner');
    await logical.query(`SET ROLE app_owner; ${TABLES_SQL}`, [], 'shop');
    await logical.query('CREATE DATABASE clean OWNER app_owner');
    await logical.query('SET ROLE app_owner; CREATE TABLE ok (id int PRIMARY KEY, v text)', [], 'clean');
    await replica.query('CREATE DATABASE clean');
    await replica.query('CREATE TABLE ok (id int PRIMARY KEY)', [], 'clean');
    await replica.query(`SELECT pg_create_physical_replication_slot('standby_1')`);
  });
  after(async () => Promise.all([logical, replica, target].map((c) => c?.stop())));

  it('fails wal_level=replica, too few slots and WAL senders, each with its fix', async () => {
    const results = await runValidation(specFor(serverSpec(replica), serverSpec(target), ['clean'], { mode: 'Online' }));
    const [wal] = expectCode(results, 'WAL_LEVEL', 'Failed');
    assert.match(wal!.fix!, /wal_level = logical/);
    const [slots] = expectCode(results, 'REPLICATION_SLOTS', 'Failed');
    assert.match(slots!.fix!, /standby_1/);
    expectCode(results, 'WAL_SENDERS', 'Failed');
  });

  it('passes a clean database online as superuser', async () => {
    const results = await runValidation(specFor(serverSpec(logical), serverSpec(target), ['clean'], { mode: 'Online' }));
    assertNoFailures(results);
    for (const code of ['WAL_LEVEL', 'REPLICATION_SLOTS', 'WAL_SENDERS', 'REPLICATION_PRIVILEGE', 'REPLICATION_CONNECTION', 'CDC_TABLE']) {
      expectCode(results, code, 'Succeeded');
    }
  });

  it('fails tables without a replica identity unless REPLICA IDENTITY FULL is allowed', async () => {
    const strict = await runValidation(specFor(serverSpec(logical), serverSpec(target), ['shop'], { mode: 'Online' }));
    const noId = expectCode(strict, 'NO_REPLICA_IDENTITY', 'Failed');
    assert.deepEqual(noId.map((r) => r.message.match(/^table (\S+):/)?.[1]).sort(), ['public.logs', 'public.no_pk']);
    assert.ok(noId.every((r) => r.database === 'shop' && /allowReplicaIdentityFull/.test(r.fix!)));
    // one result per table; partitions are reported under their root
    const perTable = strict.filter((r) => r.type === 'CdcTableReport');
    assert.equal(perTable.length, 8, summary(perTable));
    assert.ok(!perTable.some((r) => /^table public\.(events|logs)_20/.test(r.message)));
    expectCode(strict, 'LARGE_OBJECT_COLUMN', 'Warning');
    expectCode(strict, 'UNLOGGED_TABLE', 'Warning');

    const lenient = await runValidation(
      specFor(serverSpec(logical), serverSpec(target), ['shop'], { mode: 'Online', allowReplicaIdentityFull: true }),
    );
    expectCode(lenient, 'NO_REPLICA_IDENTITY', 'Warning');
    assertNoFailures(lenient);
  });

  it('fails a DEFERRABLE primary key as PostgreSQL does: no replica identity', async () => {
    await logical.query('CREATE DATABASE deferred OWNER app_owner');
    await logical.query(
      `SET ROLE app_owner;
       CREATE TABLE swap_pk (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v int);
       CREATE TABLE parted (id int PRIMARY KEY DEFERRABLE, v int) PARTITION BY RANGE (id);
       CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);`,
      [],
      'deferred',
    );
    const strict = await runValidation(specFor(serverSpec(logical), serverSpec(target), ['deferred'], { mode: 'Online' }));
    const failed = expectCode(strict, 'NO_REPLICA_IDENTITY', 'Failed');
    assert.deepEqual(failed.map((r) => r.message.match(/^table (\S+):/)?.[1]).sort(), ['public.parted', 'public.swap_pk']);
    assert.ok(
      failed.every((r) => /primary key "(swap_pk|parted_1)_pkey" is DEFERRABLE/.test(r.message)),
      summary(failed),
    );
    const lenient = await runValidation(
      specFor(serverSpec(logical), serverSpec(target), ['deferred'], { mode: 'Online', allowReplicaIdentityFull: true }),
    );
    expectCode(lenient, 'NO_REPLICA_IDENTITY', 'Warning');
    assertNoFailures(lenient);
  });

  it('reports replica identity, generated, TOAST-able and large-object columns per table', async () => {
    const client = await logical.connect('shop');
    try {
      const report = await cdcTableReport(client);
      const table = (name: string) => report.find((t) => t.name === name)!;
      assert.deepEqual(report.map((t) => t.name).sort(), ['by_index', 'docs', 'events', 'full_id', 'logs', 'no_pk', 'scratch', 'with_pk']);
      assert.equal(table('with_pk').replicaIdentity, 'primary-key');
      assert.equal(table('with_pk').identityIndex, 'with_pk_pkey');
      assert.deepEqual(table('with_pk').generatedColumns, ['doubled']);
      assert.deepEqual(table('with_pk').toastableColumns, ['body']);
      assert.equal(table('no_pk').replicaIdentity, 'none');
      assert.equal(table('full_id').replicaIdentity, 'full');
      assert.equal(table('by_index').replicaIdentity, 'index');
      assert.equal(table('by_index').identityIndex, 'by_index_a');
      assert.equal(table('events').partitioned, true);
      assert.deepEqual([...table('events').partitions].sort(), ['public.events_2024', 'public.events_2025']);
      assert.equal(table('events').replicaIdentity, 'primary-key');
      assert.equal(table('events').identityIndex, 'events_pkey');
      assert.equal(table('logs').replicaIdentity, 'none');
      assert.deepEqual(table('logs').withoutIdentity, ['public.logs_2025']);
      assert.deepEqual(table('docs').largeObjectColumns, ['blob']);
      assert.equal(table('scratch').unlogged, true);
    } finally {
      await client.end();
    }
  });

  it('accepts a non-superuser source user with REPLICATION that is a member of the owners', async () => {
    const source = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_ok' });
    const results = await runValidation(specFor(source, serverSpec(target), ['clean'], { mode: 'Online' }));
    assertNoFailures(results);
    assert.match(expectCode(results, 'REPLICATION_PRIVILEGE', 'Succeeded')[0]!.message, /REPLICATION/);
    expectCode(results, 'REPLICATION_CONNECTION', 'Succeeded');
  });

  it('fails a source user without REPLICATION, and one that does not own the tables', async () => {
    const noRepl = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_none', replication: false });
    const r1 = await runValidation(specFor(noRepl, serverSpec(target), ['clean'], { mode: 'Online' }));
    expectCode(r1, 'REPLICATION_PRIVILEGE', 'Failed');

    const notOwner = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_stranger', memberOfOwners: false });
    await logical.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO repl_stranger', [], 'clean');
    const r2 = await runValidation(specFor(notOwner, serverSpec(target), ['clean'], { mode: 'Online' }));
    const [owned] = expectCode(r2, 'SOURCE_TABLE_NOT_OWNED', 'Failed');
    assert.match(owned!.fix!, /GRANT app_owner TO repl_stranger/);
    // offline the same user is fine: reading is enough
    assertNoFailures(await runValidation(specFor(notOwner, serverSpec(target), ['clean'])));
    assert.equal(withCode(r2, 'SOURCE_TABLE_NOT_READABLE').length, 0);
  });
});
