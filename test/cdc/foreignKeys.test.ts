// Foreign keys while streaming (docs/safety.md, "What still differs on a managed target"). A target that
// cannot apply with replica role drops its foreign keys while changes stream and adds them back at
// cutover, cancel or failure: a source that violates its own keys (rows deleted under
// session_replication_role = replica, as DBAs run bulk fixes) keeps streaming, and the keys come
// back NOT VALID where the rows the source holds violate them, with a warning naming each. No kill
// loses one. A consistent source's parent and child changes apply on both kinds of target,
// including a statement that deletes a parent before its children (checked at its end).
import assert from 'node:assert/strict';
import { cancelMigration, requestCutover, resumeMigration, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { makeManagedTarget, pairSpec, serverSpec, startPair, waitForStatus, type Cluster, type ServerPair } from '../support';
import { rowsOf, TARGET_KINDS } from './harness';
import { events } from '../../provider/engine/control/store';
import { requestCutover as catalogRequestCutover } from '../../provider/engine/control/migrationRequests';

const PARENT = '"Odd ""Sch.ema"."Par ent"';

/**
 * Keys with hostile names, ON DELETE CASCADE, a self reference, a partitioned table referencing a
 * partitioned table, and one NOT VALID on the source (a row violates it there already).
 */
const SCHEMA = `
CREATE SCHEMA "Odd ""Sch.ema";
CREATE TABLE ${PARENT} (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE child (id int PRIMARY KEY, parent_id int, v text NOT NULL,
  CONSTRAINT "child ""to"" Par.ent" FOREIGN KEY (parent_id) REFERENCES ${PARENT});
CREATE TABLE cascaded (id int PRIMARY KEY, parent_id int REFERENCES ${PARENT} ON DELETE CASCADE);
CREATE TABLE node (id int PRIMARY KEY, up int REFERENCES node);
CREATE TABLE region (id int, r text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE region_a PARTITION OF region FOR VALUES IN ('a');
CREATE TABLE visit (id int, r text, region_id int, PRIMARY KEY (id, r), FOREIGN KEY (region_id, r) REFERENCES region) PARTITION BY LIST (r);
CREATE TABLE visit_a PARTITION OF visit FOR VALUES IN ('a');
CREATE TABLE loose (id int PRIMARY KEY, parent_id int);
INSERT INTO loose VALUES (1, 12345);
ALTER TABLE loose ADD CONSTRAINT loose_parent FOREIGN KEY (parent_id) REFERENCES ${PARENT} NOT VALID;
COMMENT ON CONSTRAINT loose_parent ON loose IS 'checked by the nightly job';
COMMENT ON CONSTRAINT cascaded_parent_id_fkey ON cascaded IS 'cascades';
INSERT INTO ${PARENT} SELECT g, 'p' || g FROM generate_series(1, 5) g;
INSERT INTO child SELECT g, 1 + g % 5, 'c' FROM generate_series(1, 20) g;
INSERT INTO cascaded SELECT g, 1 + g % 5 FROM generate_series(1, 10) g;
INSERT INTO node VALUES (1, NULL), (2, 1), (3, 2);
INSERT INTO region VALUES (1, 'a'), (2, 'a');
INSERT INTO visit VALUES (1, 'a', 1), (2, 'a', 2);`;

const TABLES = [PARENT, 'child', 'cascaded', 'node', 'region', 'visit', 'loose'];

/**
 * While streaming: ordinary changes, then a DBA's fix under replica role that leaves rows
 * referencing nothing (children of parents 1 and 10 and of 999, cascaded rows of parent 1, node 3,
 * visit 2), then changes to those rows.
 */
const CHANGES = [
  `BEGIN; INSERT INTO ${PARENT} VALUES (10, 'ten'); INSERT INTO child VALUES (100, 10, 'new'); INSERT INTO node VALUES (4, 3); COMMIT`,
  `SET session_replication_role = replica;
   DELETE FROM ${PARENT} WHERE id IN (1, 10); INSERT INTO child VALUES (102, 999, 'orphan');
   DELETE FROM region WHERE id = 2; DELETE FROM node WHERE id = 2;
   RESET session_replication_role`,
  `UPDATE child SET v = 'after' WHERE parent_id IN (1, 10, 999)`,
  `UPDATE cascaded SET parent_id = 2 WHERE id = 1`,
];
/** Row changes CHANGES streams: 3 inserts; 4 deletes and 1 insert; 6 updates; 1 update. */
const STREAMED_CHANGES = 15;

/** The tables' own foreign keys: "schema.table.name valid|NOT VALID definition". */
async function foreignKeys(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ k: string }>(
    `SELECT format('%I.%I.%I %s %s', n.nspname, c.relname, k.conname, CASE WHEN k.convalidated THEN 'valid' ELSE 'NOT VALID' END,
                   regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', '')) AS k
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND k.conparentid = 0 ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.k);
}

/** The same list with the named keys marked NOT VALID and the left-out ones gone. */
function expectedKeys(source: readonly string[], notValid: readonly string[], leftOut: readonly string[]): string[] {
  return source
    .filter((k) => !leftOut.some((name) => k.startsWith(`${name} `)))
    .map((k) => (notValid.some((name) => k.startsWith(`${name} `)) ? k.replace(' valid ', ' NOT VALID ') : k));
}

const CHILD_KEY = 'public.child."child ""to"" Par.ent"';
const VIOLATED = [CHILD_KEY, 'public.cascaded.cascaded_parent_id_fkey', 'public.node.node_up_fkey'];
/** PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table. */
const LEFT_OUT = ['public.visit.visit_region_id_r_fkey'];

async function warnings(store: CatalogConnection, name: string): Promise<string[]> {
  return (await events(store, name, 200)).filter((e) => e.level === 'warning').map((e) => e.message);
}

async function streamedAll(store: CatalogConnection, name: string, count: number): Promise<MigrationStatus> {
  return waitForStatus(store, name, (s) => {
    const d = s.databases[0]!;
    return s.state === 'Failed' || s.state === 'Succeeded' || d.inserts + d.updates + d.deletes >= count;
  });
}

async function assertRowsEqual(pair: ServerPair, db: string, tables: readonly string[]): Promise<void> {
  for (const table of tables) assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
}

/** A database of SCHEMA on the source, and an online migration of it into a managed target. */
async function setupManaged(
  pair: ServerPair,
  db: string,
  name: string,
  option = 'Migrate',
  extra: Record<string, unknown> = {},
): Promise<{ spec: MigrationSpec; store: CatalogConnection }> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SCHEMA, [], db);
  const target = await makeManagedTarget(pair.target);
  const spec = pairSpec(pair, name, [db], { target, mode: 'Online', option, migrateRoles: false, ...extra });
  return { spec, store: new CatalogConnection(target) };
}

describe('foreign keys while streaming into a managed target', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('keeps streaming when the source deletes referenced rows under replica role, and adds every key back at cutover, NOT VALID where rows violate it', async () => {
    const db = 'fk_violated';
    const { spec, store } = await setupManaged(pair, db, 'fk-violated', 'ValidateAndMigrate');
    try {
      const sourceKeys = await foreignKeys(pair.source, db);
      const running = runMigration(spec);
      const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      // validation said what happens on this target
      const said = ready.validation.find((r) => r.code === 'TARGET_REPLICA_ROLE' && r.database === db);
      assert.equal(said?.status, 'Warning', JSON.stringify(said));
      assert.match(said.message, /5 foreign key\(s\) are dropped on the target and added back at cutover/);
      assert.deepEqual(await foreignKeys(pair.target, db), [], 'no key while streaming');
      for (const sql of CHANGES) await pair.source.query(sql, [], db);
      const streamed = await streamedAll(store, spec.migrationName, STREAMED_CHANGES);
      assert.equal(streamed.state, 'WaitingForUserAction', streamed.message);
      await catalogRequestCutover(store, spec.migrationName);
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.verification?.ok, true);
      await assertRowsEqual(pair, db, TABLES);
      assert.deepEqual(await foreignKeys(pair.target, db), expectedKeys(sourceKeys, VIOLATED, LEFT_OUT));
      const warned = await warnings(store, spec.migrationName);
      const childWarning = warned.find((m) =>
        m.includes('foreign key "child ""to"" Par.ent" of public.child is back on the target NOT VALID'),
      );
      assert.ok(childWarning, warned.join('\n'));
      assert.match(childWarning, /: 6 row\(s\) violate it/);
      assert.match(childWarning, /Key \(parent_id\)=\(\d+\) is not present/);
      assert.ok(
        warned.some((m) => /foreign key node_up_fkey .* NOT VALID: 1 row\(s\)/.test(m)),
        warned.join('\n'),
      );
      const leftOut = warned.find((m) => m.includes('foreign key visit_region_id_r_fkey of public.visit could not be added back'));
      assert.ok(leftOut, warned.join('\n'));
      assert.match(leftOut, /ADD CONSTRAINT "visit_region_id_r_fkey" FOREIGN KEY \(region_id, r\) REFERENCES public\.region\(id, r\)$/);
      // a key set aside while streaming comes back whole: its comment too (the NOT VALID one as well)
      const comments = await pair.target.query<{ name: string; comment: string }>(
        `SELECT conname AS name, obj_description(oid, 'pg_constraint') AS comment FROM pg_constraint
          WHERE conname IN ('loose_parent', 'cascaded_parent_id_fkey') ORDER BY 1`,
        [],
        db,
      );
      assert.deepEqual(comments, [
        { name: 'cascaded_parent_id_fkey', comment: 'cascades' },
        { name: 'loose_parent', comment: 'checked by the nightly job' },
      ]);
      // the schema check saw every key but the one left out, which it lists as deliberate
      const schema = done.verification?.schema?.find((s) => s.database === db);
      assert.deepEqual(schema?.differences, []);
      assert.ok(
        schema?.expected.some((e) => e.object === 'constraint visit_region_id_r_fkey on public.visit'),
        JSON.stringify(schema?.expected),
      );
      const recorded = await pair.target.query<{ name: string; outcome: string; violating_rows: string | null }>(
        `SELECT undo->>'name' AS name, detail->>'outcome' AS outcome, detail->>'violatingRows' AS violating_rows
           FROM pgferry.footprint WHERE migration = $1 AND change = 'targetForeignKeys' ORDER BY 1`,
        [spec.migrationName],
      );
      assert.deepEqual(recorded, [
        { name: 'cascaded_parent_id_fkey', outcome: 'not valid', violating_rows: '2' },
        { name: 'child "to" Par.ent', outcome: 'not valid', violating_rows: '6' },
        { name: 'loose_parent', outcome: 'added', violating_rows: null },
        { name: 'node_up_fkey', outcome: 'not valid', violating_rows: '1' },
        { name: 'visit_region_id_r_fkey', outcome: 'left out', violating_rows: '1' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('adds every key back when the migration is canceled while streaming', async () => {
    const db = 'fk_cancel';
    const { spec, store } = await setupManaged(pair, db, 'fk-cancel');
    try {
      const sourceKeys = await foreignKeys(pair.source, db);
      const running = runMigration(spec);
      const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      assert.deepEqual(await foreignKeys(pair.target, db), []);
      await cancelMigration(spec.target, spec.migrationName);
      const done = await running;
      assert.equal(done.state, 'Canceled', done.message);
      assert.deepEqual(await foreignKeys(pair.target, db), sourceKeys);
    } finally {
      await store.close();
    }
  });

  it('adds every key back, NOT VALID where rows violate it, when the migration fails while streaming', async () => {
    const db = 'fk_failed';
    // a stream stopped on an error ends the migration only past maxApplyStopHours (here 1.8 s);
    // the dropped column below stops it only with followSchemaChanges off
    const { spec, store } = await setupManaged(pair, db, 'fk-failed', 'Migrate', { maxApplyStopHours: 0.0005, followSchemaChanges: false });
    try {
      const sourceKeys = await foreignKeys(pair.source, db);
      const running = runMigration(spec);
      const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      await pair.source.query(CHANGES[1]!, [], db);
      await streamedAll(store, spec.migrationName, 4); // applied before the stream stops
      // a change of shape not followed (followSchemaChanges off) stops the stream (CDC_SCHEMA_CHANGE)
      await pair.source.query(`ALTER TABLE child DROP COLUMN v; INSERT INTO child VALUES (200, 2)`, [], db);
      const done = await running;
      assert.equal(done.state, 'Failed', done.message);
      assert.match(done.message ?? '', /maxApplyStopHours.*changed while streaming/);
      assert.deepEqual(await foreignKeys(pair.target, db), expectedKeys(sourceKeys, VIOLATED, LEFT_OUT));
    } finally {
      await store.close();
    }
  });
});

describe('foreign keys across a runner killed while streaming into a managed target', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('adds every key back when a migration whose runner was killed while streaming is canceled', async () => {
    const db = 'fk_stopped';
    const { spec, store } = await setupManaged(pair, db, 'fk-stopped');
    try {
      const sourceKeys = await foreignKeys(pair.source, db);
      await startMigration(spec);
      const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);
      process.kill(streaming.runner!.pid, 'SIGKILL');
      await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
      assert.deepEqual(await foreignKeys(pair.target, db), []);
      const canceled = await cancelMigration(spec.target, spec.migrationName, { spec });
      assert.equal(canceled.state, 'Canceled', canceled.message);
      assert.deepEqual(await foreignKeys(pair.target, db), sourceKeys);
    } finally {
      await store.close();
    }
  });

  it('loses no key when a runner is killed after recording the keys and before dropping them, or while adding them back', async () => {
    const db = 'fk_kill';
    const { spec, store } = await setupManaged(pair, db, 'fk-kill');
    /** Starts a runner that dies at the named failpoint (it inherits the environment). */
    const armed = async (failpoint: string, start: () => Promise<void>) => {
      process.env.PGFERRY_FAILPOINTS = failpoint;
      try {
        await start();
      } finally {
        delete process.env.PGFERRY_FAILPOINTS;
      }
    };
    const dead = () => waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false || s.state === 'Succeeded');
    try {
      const sourceKeys = await foreignKeys(pair.source, db);
      // killed once the keys are recorded, before any is dropped: every key is still there
      await armed(`foreign-keys-recorded:${db}`, () => startMigration(spec));
      await dead();
      assert.deepEqual(await foreignKeys(pair.target, db), sourceKeys);
      // the resume copies the database again, records and drops; its runner dies at the cutover
      // right after the first key came back, before that key was marked
      await armed(`foreign-key-restored:${db}`, () => resumeMigration(spec));
      const ready = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed',
      );
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      assert.deepEqual(await foreignKeys(pair.target, db), []);
      const pending = () =>
        pair.target.query<{ name: string }>(
          `SELECT undo->>'name' AS name FROM pgferry.footprint
            WHERE migration = $1 AND change = 'targetForeignKeys' AND undone_at IS NULL ORDER BY 1`,
          [spec.migrationName],
        );
      assert.equal((await pending()).length, sourceKeys.length, 'each key recorded once');
      await pair.source.query(CHANGES[0]!, [], db);
      await streamedAll(store, spec.migrationName, 3);
      await requestCutover(spec.target, spec.migrationName);
      const killed = await dead();
      assert.notEqual(killed.state, 'Succeeded');
      assert.deepEqual(
        await foreignKeys(pair.target, db),
        sourceKeys.filter((k) => k.startsWith('public.cascaded.')),
      );
      assert.equal((await pending()).length, sourceKeys.length, 'the key added back was not marked');
      await resumeMigration(spec);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(await foreignKeys(pair.target, db), sourceKeys);
      assert.deepEqual(await pending(), []);
      await assertRowsEqual(pair, db, TABLES);
    } finally {
      await store.close();
    }
  });
});

const CONSISTENT_SCHEMA = `
CREATE TABLE parent (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent, v text NOT NULL);
CREATE TABLE late (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent DEFERRABLE INITIALLY DEFERRED);`;

/**
 * Each valid on the source. The target applies them row by row in commit order, grouped into
 * statements by table: the last deletes a parent and then its children in one statement, which
 * the source checks at its end, and the target would check after a statement of its own.
 */
const CONSISTENT_CHANGES = [
  `BEGIN;
   INSERT INTO parent VALUES (1, 'one'); INSERT INTO child VALUES (1, 1, 'a');
   INSERT INTO parent VALUES (2, 'two'); INSERT INTO child VALUES (2, 2, 'b'), (3, 1, 'c');
   INSERT INTO late VALUES (1, 3); INSERT INTO parent VALUES (3, 'three');
   COMMIT`,
  `BEGIN; DELETE FROM child WHERE parent_id = 2; DELETE FROM parent WHERE id = 2; COMMIT`,
  `WITH gone AS (DELETE FROM parent WHERE id = 1 RETURNING id) DELETE FROM child WHERE parent_id IN (SELECT id FROM gone)`,
];
/** 7 inserts, 2 deletes, then 1 + 2 deletes. */
const CONSISTENT_STREAMED = 12;

for (const kind of TARGET_KINDS) {
  describe(`foreign keys of a consistent source, ${kind} target`, function () {
    this.timeout(400_000);
    let pair: ServerPair;
    before(async () => {
      pair = await startPair(15, 15);
    });
    after(async () => pair?.stop());

    it('applies parents and children changed together in source transactions and statements, then has every key as on the source', async () => {
      const db = 'fk_consistent';
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(CONSISTENT_SCHEMA, [], db);
      const target = kind === 'managed' ? await makeManagedTarget(pair.target) : serverSpec(pair.target);
      const spec = pairSpec(pair, `fk-consistent-${kind}`, [db], {
        target,
        mode: 'Online',
        option: 'Migrate',
        migrateRoles: kind === 'superuser',
      });
      const store = new CatalogConnection(target);
      try {
        const running = runMigration(spec);
        const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
        assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
        for (const sql of CONSISTENT_CHANGES) await pair.source.query(sql, [], db);
        const streamed = await streamedAll(store, spec.migrationName, CONSISTENT_STREAMED);
        assert.equal(streamed.state, 'WaitingForUserAction', streamed.message);
        await catalogRequestCutover(store, spec.migrationName);
        const done = await running;
        assert.equal(done.state, 'Succeeded', done.message);
        await assertRowsEqual(pair, db, ['parent', 'child', 'late']);
        assert.deepEqual(await foreignKeys(pair.target, db), await foreignKeys(pair.source, db));
        const warned = await warnings(store, spec.migrationName);
        assert.deepEqual(
          warned.filter((m) => /foreign key.*(dropped|NOT VALID|could not be added back)/.test(m)).map((m) => m.slice(0, 60)),
          kind === 'managed' ? ['2 foreign key(s) dropped on the target while changes stream '] : [],
        );
        // with the keys dropped and nothing else firing, the target applies as a replica would,
        // grouping rows by table inside a target transaction
        assert.deepEqual(
          warned.filter((m) => m.includes('strict commit order')),
          [],
        );
      } finally {
        await store.close();
      }
    });
  });
}
