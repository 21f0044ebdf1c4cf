// A DBA made an empty schema named like pgferry's control schema before the migration: on the
// source, in the migrated database, and on the target, in its maintenance database. pgferry puts
// its own objects in a schema of that name (the writer fence and the event trigger on the source,
// a fallback window's applied position and counts on the old source, the control catalog on the
// target) and drops such a schema once empty only when it made it (footprint/controlSchema.ts):
// the DBA's is told by its identity (its OID, unchanged, and no mark of pgferry's on it) and read
// back after an online migration cut over with a fallback window and fallen back (the old source the
// primary again, everything of pgferry's there gone), and after a cancel.
import assert from 'node:assert/strict';
import { cancelMigration, fallBackSettled, isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { openAppliedPosition } from '../../provider/engine/cdc/apply/positionCommit';
import { reverseStreamNamesOf } from '../../provider/engine/core/names';
import { reversePosition } from '../../provider/engine/footprint/reversePosition';
import { withSession } from '../../provider/engine/connect/session';
import { type Cluster, endIfRunning, pairSpec, type ServerPair, suiteServers, until, waitForStatus } from '../support';

const SETUP = `
CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO orders SELECT g, g % 97 FROM generate_series(1, 500) g;
CREATE SCHEMA pgferry;`;

/** The schema named pgferry in one database: its OID, what it holds and its comment; '-' when there is none. */
async function schemaOf(cluster: Cluster, db: string): Promise<string> {
  const rows = await cluster.query<{ line: string }>(
    `SELECT n.oid::text || ' holds ' || (SELECT count(*) FROM pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid)
            || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-') AS line
       FROM pg_namespace n WHERE n.nspname = 'pgferry'`,
    [],
    db,
  );
  return rows[0]?.line ?? '-';
}

async function withWindow(pair: ServerPair, store: CatalogConnection): Promise<void> {
  const db = 'shop';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const before = await schemaOf(pair.source, db);
  const spec = pairSpec(pair, 'kept-window', [db], {
    mode: 'Online',
    option: 'Migrate',
    fenceWriters: true,
    fallbackWindow: '1h',
    followSchemaChanges: true,
    schemaChangeCapture: 'eventTrigger',
  });
  try {
    await startMigration(spec);
    const ready = await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await requestCutover(spec.target, spec.migrationName);
    const cutOver = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
    assert.deepEqual([cutOver.state, cutOver.databases[0]?.fallback?.state], ['Succeeded', 'Open'], cutOver.message);
    // the application on the new server, streamed back to the old source (its position and counts there)
    await pair.target.query('INSERT INTO orders SELECT g, 0 FROM generate_series(501, 600) g', [], db);
    await until('the old source has the new rows', async () => {
      const [row] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', [], db);
      return row!.n === 600 ? true : undefined;
    });
    // the fall-back: the old source the primary again, its fence lifted and the reverse stream's
    // position and counts dropped there, the schema they were in left empty
    await requestFallBack(spec.target, spec.migrationName);
    const settled = await until(
      'the fall-back settles',
      async () => {
        const s = await get(store, spec.migrationName);
        return s && fallBackSettled(s) ? s : undefined;
      },
      300_000,
    );
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    await until('the runner exits', async () => ((await get(store, spec.migrationName))?.runner?.alive === false ? true : undefined));
    assert.equal(await schemaOf(pair.source, db), before, "the DBA's schema on the old source: the same OID, empty, no comment");
  } finally {
    await endIfRunning(spec, Promise.resolve());
  }
}

async function withCancel(pair: ServerPair, store: CatalogConnection): Promise<void> {
  const db = 'shop2';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const before = await schemaOf(pair.source, db);
  const spec = pairSpec(pair, 'kept-cancel', [db], {
    mode: 'Online',
    option: 'Migrate',
    followSchemaChanges: true,
    schemaChangeCapture: 'eventTrigger',
  });
  await startMigration(spec);
  const ready = await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
  await cancelMigration(spec.target, spec.migrationName, { spec });
  const end = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
  assert.equal(end.state, 'Canceled', `${end.state}: ${end.message}`);
  assert.equal(await schemaOf(pair.source, db), before, "the DBA's schema on the source: the same OID, empty, no comment");
}

/**
 * A fallback window's reverse stream applied to the old source with nothing else of pgferry's there:
 * its applied position kept in the progress table and its counts (as where origins are refused),
 * then given back by the reverse position's own undo, as the release runs it.
 */
async function positionUndone(pair: ServerPair): Promise<void> {
  const db = 'shop3';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const before = await schemaOf(pair.source, db);
  const spec = pairSpec(pair, 'kept-position', [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
  const instance = 'a1b2c3d4e5f6';
  const origin = reverseStreamNamesOf(spec.migrationName, db, instance).origin;
  await withSession(spec.source, { database: db, purpose: 'apply', writable: true }, async (client) => {
    await openAppliedPosition(client, { origin, migration: spec.migrationName, database: db }, true);
  });
  assert.match(await schemaOf(pair.source, db), /holds [1-9]/, "the position's tables made in the DBA's schema");
  await reversePosition.undo({ spec, instance }, db);
  assert.equal(await schemaOf(pair.source, db), before, "the DBA's schema on the old source: the same OID, empty again, no comment");
}

describe("safety: a DBA's empty schema named like pgferry's control schema is kept", function () {
  this.timeout(600_000);
  let targetBefore: string;
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.target.query('CREATE SCHEMA pgferry');
      targetBefore = await schemaOf(pair.target, 'postgres');
    },
  });

  it("an online migration cut over with a fallback window, then fallen back: the DBA's schema on the old source kept, the same OID, empty", () =>
    withWindow(servers.pair, servers.store));

  it("the reverse stream's applied position and counts given back on the old source, nothing else of pgferry's there: the DBA's schema kept, the same OID, empty", () =>
    positionUndone(servers.pair));

  it("an online migration canceled: the DBA's schema on the source kept, the same OID, empty", () =>
    withCancel(servers.pair, servers.store));

  it("the DBA's schema on the target, the control catalog's home, kept under its OID", async () => {
    const { pair } = servers;
    assert.equal((await schemaOf(pair.target, 'postgres')).split(' ')[0], targetBefore.split(' ')[0]);
  });
});
