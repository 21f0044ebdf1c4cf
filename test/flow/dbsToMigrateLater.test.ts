// The library API's side of a migration created without its databases (Azure's dbsToMigrate left
// out): startMigration registers it and its runner waits in WaitingForDBsToMigrateSpecification;
// nameDatabasesToMigrate checks the names as a create does and the runner goes on with them, here
// through an online copy, the stream and a cutover; a resume given the spec it was created with is
// still the same migration. Every check reads the target (catalog and rows) back. The wait's message
// is registered with the migration: a look between the registration and the runner's first step
// found the substate without it (a CI run under load, issue 68).
import assert from 'node:assert/strict';
import {
  cancelMigration,
  isFinalState,
  isPgferryError,
  nameDatabasesToMigrate,
  requestCutover,
  resumeMigration,
  showMigration,
  startMigration,
  type MigrationStatus,
} from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { register } from '../../provider/engine/control/store';
import { toAzureResource } from '../../provider/azure/shape';
import { pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';

const TABLE = `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g`;

const code = (expected: string) => (e: unknown) => isPgferryError(e) && e.code === expected;

describe('nameDatabasesToMigrate: a migration created without databases (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE named`);
    await pair.source.query(TABLE, [], 'named');
  });
  after(async () => pair?.stop());

  it('is registered with the way out of its wait: the substate and its message before any runner starts', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await register(store, pairSpec(pair, 'registered-only', [], { databases: undefined, mode: 'Online' }));
      const registered = await showMigration(serverSpec(pair.target), 'registered-only');
      assert.equal(registered?.subState, 'WaitingForDBsToMigrateSpecification');
      assert.match(registered?.message ?? '', /pgferry update --name registered-only --db-names/);
    } finally {
      await store.close();
    }
  });

  it('waits, refuses bad names as a create does, then streams and cuts over the databases named', async () => {
    const store = new CatalogConnection(serverSpec(pair.target));
    const spec = pairSpec(pair, 'api-later', [], { databases: undefined, mode: 'Online' });
    assert.deepEqual(spec.databases, []);
    try {
      await startMigration(spec);
      const waiting = await waitForStatus(store, 'api-later', (s) => s.subState === 'WaitingForDBsToMigrateSpecification');
      assert.equal(waiting.state, 'InProgress');
      assert.match(waiting.message!, /pgferry update --name api-later --db-names/);
      assert.equal((toAzureResource(waiting).properties as { currentStatus: { state: string } }).currentStatus.state, 'InProgress');
      await refusedNames(spec.target, pair);

      const named = await nameDatabasesToMigrate(spec.target, 'api-later', ['named']);
      assert.deepEqual(
        named.databases.map((d) => d.database),
        ['named'],
      );
      const streaming = await waitForStatus(store, 'api-later', (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
      // the spec it was created with (no databases) still names it: refused only because its runner lives
      await assert.rejects(resumeMigration(spec), code('RUNNER_ALREADY_RUNNING'));
      // the same list again changes nothing; another is refused
      assert.equal((await nameDatabasesToMigrate(spec.target, 'api-later', ['named'])).subState, 'WaitingForCutoverTrigger');
      await assert.rejects(nameDatabasesToMigrate(spec.target, 'api-later', ['other']), code('DATABASES_NOT_WAITING'));

      await pair.source.query(`INSERT INTO items VALUES (501, 'streamed')`, [], 'named');
      await until('the streamed row', async () => (await count(pair, 'named')) === 501 || undefined);
      await requestCutover(spec.target, 'api-later');
      const done = await waitForStatus(store, 'api-later', (s) => isFinalState(s.state));
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(await count(pair, 'named'), 501);
      assert.deepEqual(
        (await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_replication_slots'))[0]!.n,
        0,
        'the slot released at cutover',
      );
    } finally {
      const status: MigrationStatus | undefined = await showMigration(spec.target, 'api-later').catch(() => undefined);
      if (status && !isFinalState(status.state)) await cancelMigration(spec.target, 'api-later').catch(() => undefined);
      await store.close();
    }
  });
});

async function count(pair: ServerPair, database: string): Promise<number> {
  const [row] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], database);
  return row!.n;
}

/** Names a create refuses, refused the same way, with nothing recorded and nothing made on the target. */
async function refusedNames(target: ReturnType<typeof serverSpec>, pair: ServerPair): Promise<void> {
  for (const [databases, message] of [
    [[], /^dbsToMigrate: must name at least one database$/],
    [['named', 'named'], /^dbsToMigrate: must not name a database twice$/],
    [['template1'], /^dbsToMigrate: must not include template0 or template1$/],
    [['postgres'], /^dbsToMigrate: must not include "postgres", the target's maintenance database/],
  ] as const) {
    await assert.rejects(
      nameDatabasesToMigrate(target, 'api-later', databases),
      (e: unknown) => isPgferryError(e) && e.code === 'INVALID_INPUT' && message.test(e.message),
    );
  }
  await assert.rejects(nameDatabasesToMigrate(target, 'no-such', ['named']), code('MIGRATION_NOT_FOUND'));
  const status = await showMigration(target, 'api-later');
  assert.deepEqual(status!.databases, []);
  assert.equal(status!.subState, 'WaitingForDBsToMigrateSpecification');
  assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'named'`)).length, 0);
}
