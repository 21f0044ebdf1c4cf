// Protocol against real servers: a PgMigration created without dbsToMigrate, as azure-native's
// Migration may be, waits in WaitingForDBsToMigrateSpecification with nothing changed on either
// server; the `pulumi up` that adds dbsToMigrate is an update (never a replace) that names them, and
// the migration runs to Succeeded; bad names are refused at check with the create's words; a cancel
// while it waits changes nothing. Driven through the SDK's provider host over gRPC.
import assert from 'node:assert/strict';
import { type Cluster } from '../support';
import { fingerprint } from './support/fixture';
import type { ProviderHost } from './support/providerHost';
import { closeProtocolPair, openProtocolPair } from './support/protocolPair';

const SOURCE_PW = 'src-Later-6f1a92';
const TARGET_PW = 'dst-Later-0c47be';
const SERVERS = { label: 'later', sourcePassword: SOURCE_PW, targetPassword: TARGET_PW, shops: ['shop'] };

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;

/** azure-native's spelling of a migration, without dbsToMigrate unless given. */
const inputs = (migrationName: string, overrides: Record<string, unknown> = {}) => ({
  migrationName,
  source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW, sslMode: 'prefer' },
  target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW, sslMode: 'prefer' },
  migrationMode: 'Offline',
  __provider: provider,
  ...overrides,
});

/** What the migration could have changed: the target's databases, the source's slots, its catalog rows. */
const footprint = async (name: string) => ({
  targetDatabases: (await target.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname),
  slots: (await source.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_replication_slots'))[0]!.n,
  databaseRows: await databaseRowCount(name),
});

/** The migration's database rows in the control catalog (none before the catalog is installed). */
async function databaseRowCount(name: string): Promise<number> {
  const [exists] = await target.query<{ t: string | null }>(`SELECT to_regclass('pgferry.migration_database')::text AS t`);
  if (exists!.t === null) return 0;
  return (await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pgferry.migration_database WHERE migration = $1', [name]))[0]!
    .n;
}

describe('protocol: PgMigration created without dbsToMigrate, named by a later update', function () {
  this.timeout(300_000);
  before(async () => {
    ({ source, target, provider, program, host } = await openProtocolPair(SERVERS));
  });
  after(() => closeProtocolPair({ source, target, host, program }));

  it('waits with nothing changed; adding dbsToMigrate is an update that names them and migrates them', namedLater);
  it('a cancel: "True" while it waits cancels it, changing nothing on either server', canceledWhileWaiting);
});

async function namedLater(): Promise<void> {
  const checked = await host.check({}, inputs('proto-later'));
  assert.deepEqual(checked.failures, []);
  const created = await host.create(checked.inputs);
  assert.equal(created.properties.state, 'InProgress', String(created.properties.message));
  assert.equal(created.properties.subState, 'WaitingForDBsToMigrateSpecification');
  const waiting = await footprint('proto-later');
  assert.equal(waiting.slots, 0);
  assert.equal(waiting.databaseRows, 0);
  assert.ok(!waiting.targetDatabases.includes('shop'), 'nothing copied while it waits');

  // bad names: refused at check with the words a create's check uses, nothing changed
  const bad = await host.check(created.properties, inputs('proto-later', { dbsToMigrate: ['shop', 'shop'] }));
  const atCreate = await host.check({}, inputs('proto-other', { dbsToMigrate: ['shop', 'shop'] }));
  assert.equal(bad.failures.length, 1, JSON.stringify(bad.failures));
  assert.deepEqual(bad.failures, atCreate.failures);
  assert.match(bad.failures[0]!.reason, /^dbsToMigrate: must not name a database twice/);

  const news = (await host.check(created.properties, inputs('proto-later', { dbsToMigrate: ['shop'] }))).inputs;
  const diff = await host.diff(created.id, created.properties, news);
  assert.deepEqual(diff.replaces, [], 'naming the databases is an update, not a replace');
  assert.ok(diff.changes > 0);
  const updated = await host.update(created.id, created.properties, news);
  assert.equal(updated.properties.state, 'Succeeded', String(updated.properties.message));
  assert.deepEqual(updated.properties.dbsToMigrate, ['shop']);
  const rows = await target.query<{ spec: { databases: string[] } }>(`SELECT spec FROM pgferry.migration WHERE name = 'proto-later'`);
  assert.deepEqual(rows[0]!.spec.databases, ['shop'], 'the stored spec carries the databases named');
  assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));

  // the next `up` with the same inputs changes nothing
  const again = await host.diff(created.id, updated.properties, news);
  assert.deepEqual(again.replaces, []);
}

async function canceledWhileWaiting(): Promise<void> {
  const before = await footprint('proto-later-cancel');
  const created = await host.create((await host.check({}, inputs('proto-later-cancel', { migrationMode: 'Online' }))).inputs);
  assert.equal(created.properties.subState, 'WaitingForDBsToMigrateSpecification');
  const news = (await host.check(created.properties, inputs('proto-later-cancel', { migrationMode: 'Online', cancel: 'True' }))).inputs;
  const diff = await host.diff(created.id, created.properties, news);
  assert.deepEqual(diff.replaces, []);
  const updated = await host.update(created.id, created.properties, news);
  assert.equal(updated.properties.state, 'Canceled', String(updated.properties.message));
  const after = await footprint('proto-later-cancel');
  assert.deepEqual(after, { ...before, databaseRows: 0 });
}
