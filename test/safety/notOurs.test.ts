// An outside trust probe of the ownership rule (docs/safety.md): what pgferry did not make is kept.
// One pair of servers for the file. A DBA's two columns added on a streamed target table (one with
// a default, one nullable without), tables outside the filters on the target (one under the name of
// a filtered-out source table, one the source makes under its name while streaming), a role and an
// extension that exist on the target before the migration, and look-alikes of pgferry's objects
// (a publication, a slot, a trigger and an event trigger named pgferry_...) on both servers are read
// back unchanged after the stream, the cutover, a cancel, a stopped runner's cancel and the
// cleanup. An application's session that makes itself read-write three ways is refused on the old
// source after the cutover and writes on the target. Objects of the DBA's on the target that depend
// on tables the source drops or renames are never dropped: the follow names them and waits.
// Objects are told by identity, never by name: the target triggers pgferry switched by their OIDs in
// the ledger, its writer fence by its own function (not by a schema named pgferry), and nothing under
// a name the filters leave out is ever followed or known.
import assert from 'node:assert/strict';
import pg from 'pg';
import { cancelMigration, cleanupSource, isFinalState, requestCutover, showMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationStatus } from '../../provider/engine/core/model';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { events as catalogEvents, register } from '../../provider/engine/control/store';
import { serverMajor, withSession } from '../../provider/engine/connect/session';
import { objectKey, readSchemaObjects } from '../../provider/engine/verify/schema/catalog';
import { displayIdent, ident } from '../../provider/engine/connect/quote';
import { CONTROL_SCHEMA, fenceNamesOf, publicationName } from '../../provider/engine/core/names';
import { fireAsReplica, targetFiring } from '../../provider/engine/footprint/targetFiring';
import { fenceDatabase } from '../../provider/engine/footprint/writerFence';
import { restoreContextOf } from '../../provider/engine/footprint/change';
import { endIfRunning, pairSpec, serverSpec, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';

const ORDERS = 2_000;

/** The source's database: a streamed table owned by a role both servers have, and a table the filters leave out. */
const SOURCE_DB = (rows: number) => `
CREATE EXTENSION citext;
CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text);
INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, ${rows}) g;
ALTER TABLE orders OWNER TO bystander;
GRANT ALL ON orders TO app_rw;
CREATE TABLE scratch_log (id int PRIMARY KEY, v text);
INSERT INTO scratch_log SELECT g, 'source ' || g FROM generate_series(1, 50) g;`;

/** Objects of a DBA's named like pgferry's, in one database of a server. */
const LOOK_ALIKES = `
CREATE TABLE pgferry_dba_audit (id int PRIMARY KEY);
CREATE FUNCTION pgferry_dba_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER pgferry_dba_trigger BEFORE UPDATE ON pgferry_dba_audit FOR EACH ROW EXECUTE FUNCTION pgferry_dba_noop();
CREATE FUNCTION pgferry_dba_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER pgferry_dba_event ON ddl_command_end EXECUTE FUNCTION pgferry_dba_ddl();
CREATE PUBLICATION pgferry_dba_publication FOR TABLE pgferry_dba_audit;`;

/** A slot of the DBA's named like pgferry's: on its own, since a slot is never made in a transaction that wrote. */
const LOOK_ALIKE_SLOT = `SELECT pg_catalog.pg_create_logical_replication_slot('pgferry_dba_slot_' || pg_catalog.current_database(), 'pgoutput')`;

/** The look-alikes of one database, as a line a test compares. */
async function lookAlikes(cluster: Cluster, db: string): Promise<string> {
  const [row] = await cluster.query<{ line: string }>(
    `SELECT concat_ws(' | ',
       (SELECT string_agg(tgname || ':' || tgenabled::text, ',') FROM pg_trigger WHERE tgname = 'pgferry_dba_trigger'),
       (SELECT string_agg(evtname || ':' || evtenabled::text, ',') FROM pg_event_trigger WHERE evtname = 'pgferry_dba_event'),
       (SELECT string_agg(pubname || ':' || (SELECT string_agg(tablename, ',') FROM pg_publication_tables t WHERE t.pubname = p.pubname), ',')
          FROM pg_publication p WHERE pubname = 'pgferry_dba_publication'),
       (SELECT string_agg(slot_name, ',') FROM pg_replication_slots WHERE slot_name = 'pgferry_dba_slot_' || current_database())) AS line`,
    [],
    db,
  );
  return row!.line;
}

const LOOK_ALIKE_LINE = (db: string) =>
  `pgferry_dba_trigger:O | pgferry_dba_event:O | pgferry_dba_publication:pgferry_dba_audit | pgferry_dba_slot_${db}`;

/** A DBA's tables outside the filters on the target: their rows, as a line a test compares. */
async function scratchOnTarget(target: Cluster, db: string): Promise<string> {
  const [row] = await target.query<{ line: string }>(
    `SELECT concat_ws(' | ',
       (SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM scratch_log),
       (SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM scratch_dba)) AS line`,
    [],
    db,
  );
  return row!.line;
}

const DBA_SCRATCH = `
CREATE TABLE scratch_log (id int PRIMARY KEY, v text);
INSERT INTO scratch_log SELECT g, 'dba ' || g FROM generate_series(1, 30) g;
CREATE TABLE scratch_dba (id int PRIMARY KEY, v text);
INSERT INTO scratch_dba SELECT g, 'dba only ' || g FROM generate_series(1, 20) g;`;

/** The role and the extension the target had before any migration, as a line a test compares. */
async function targetOwn(target: Cluster): Promise<string> {
  const [row] = await target.query<{ line: string }>(
    `SELECT concat_ws(' | ',
       (SELECT rolcanlogin || ' ' || rolconnlimit || ' ' || coalesce(array_to_string(s.setconfig, ','), '') || ' ' ||
               coalesce(shobj_description(r.oid, 'pg_authid'), '')
          FROM pg_roles r LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0 WHERE rolname = 'bystander'),
       (SELECT extname || ' ' || extversion || ' ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'citext'),
       (SELECT relname || ' ' || relowner::regrole FROM pg_class WHERE relname = 'dba_owned')) AS line`,
  );
  return row!.line;
}

function appClient(cluster: Cluster, db: string): pg.Client {
  const c = new pg.Client({ host: cluster.host, port: cluster.port, user: 'app_rw', password: 'app-pw', database: db });
  c.on('error', () => undefined);
  return c;
}

/** The three ways an application's session makes itself read-write, each writing one row. */
const READ_WRITE_WAYS: readonly { readonly way: string; write(c: pg.Client, id: number): Promise<unknown> }[] = [
  {
    way: 'BEGIN READ WRITE',
    write: async (c, id) => {
      await c.query('BEGIN READ WRITE');
      await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, 1, 'app')`, [id]);
      await c.query('COMMIT');
    },
  },
  {
    way: 'SET SESSION CHARACTERISTICS',
    write: async (c, id) => {
      await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
      await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, 1, 'app')`, [id]);
    },
  },
  {
    way: 'SET default_transaction_read_only = off',
    write: async (c, id) => {
      await c.query('SET default_transaction_read_only = off');
      await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, 1, 'app')`, [id]);
    },
  },
];

/** Each way's write on a fresh session: the SQLSTATE it failed with, or 'ok'. */
async function writeEachWay(cluster: Cluster, db: string, firstId: number): Promise<string[]> {
  const outcomes: string[] = [];
  for (const [i, w] of READ_WRITE_WAYS.entries()) {
    const c = appClient(cluster, db);
    try {
      await c.connect();
      await w.write(c, firstId + i);
      outcomes.push(`${w.way}: ok`);
    } catch (error) {
      outcomes.push(`${w.way}: ${(error as { code?: string }).code ?? (error as Error).message}`);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return outcomes;
}

/** Starts the migration and waits until every database streams, waiting for its cutover: its status then. */
async function startedAndStreaming(spec: MigrationSpec, store: CatalogConnection): Promise<MigrationStatus> {
  await startMigration(spec);
  const ready = await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
  return ready;
}

/**
 * The known objects as a schema look left them when the source made `table` (outside the filters,
 * named like one on the target) between the look's read of the filter plan and its read of the
 * catalog: the table, its columns, key and index taken for the source's, known from then on. Under
 * load the watch's look met it now and then just before the cutover; recorded here, every run meets it.
 */
async function knownAsARacingLookLeftIt(spec: MigrationSpec, store: CatalogConnection, db: string, table: string): Promise<number> {
  const objects = await withSession(spec.target, { database: db, purpose: 'test' }, async (c) =>
    readSchemaObjects(c, await serverMajor(c), CONTROL_SCHEMA),
  );
  const ofTable = objects.filter((o) => o.schema === 'public' && (o.relation ?? o.name) === table);
  await knownAsAnOlderPgferryLeftThem(store, spec.migrationName, db, ofTable.map(objectKey));
  return ofTable.length;
}

/** Known keys written as an older pgferry wrote them, whatever their names (recordKnownObjects now leaves out what the filters do). */
async function knownAsAnOlderPgferryLeftThem(
  store: CatalogConnection,
  migration: string,
  db: string,
  keys: readonly string[],
): Promise<void> {
  await store.query(
    `INSERT INTO pgferry.known_object (migration, database, object, attnum) SELECT $1, $2, k, NULL FROM unnest($3::text[]) k ON CONFLICT DO NOTHING`,
    [migration, db, [...keys]],
  );
}

/** The known objects of a database under a name the test's filters leave out (scratch_*). */
async function knownLeftOut(store: CatalogConnection, migration: string, db: string): Promise<string[]> {
  const rows = await store.query<{ object: string }>(
    `SELECT object FROM pgferry.known_object WHERE migration = $1 AND database = $2 AND position('"scratch_' in object) > 0 ORDER BY object`,
    [migration, db],
  );
  return rows.map((r) => r.object);
}

/** A target table's columns and indexes, one line: what the DBA made, read back. */
async function shapeOf(target: Cluster, db: string, table: string): Promise<string> {
  const [r] = await target.query<{ line: string }>(
    `SELECT (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped)
            || ' | ' || (SELECT string_agg(indexrelid::regclass::text, ', ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = to_regclass($1)) AS line`,
    [table],
    db,
  );
  return r!.line;
}

async function keptThroughCutover(pair: ServerPair): Promise<void> {
  const db = 'kept';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SOURCE_DB(ORDERS) + LOOK_ALIKES, [], db);
  await pair.source.query(LOOK_ALIKE_SLOT, [], db);
  const before = { target: await targetOwn(pair.target), source: await lookAlikes(pair.source, db) };
  assert.equal(before.source, LOOK_ALIKE_LINE(db));
  const spec = pairSpec(pair, 'not-ours', [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, excludeTables: ['scratch_*'] });
  const store = new CatalogConnection(spec.target);
  try {
    await startedAndStreaming(spec, store);
    // the DBA's columns with values, and tables outside the filters, one under the source's left-out name
    await pair.target.query(
      `ALTER TABLE orders ADD COLUMN dba_flag text NOT NULL DEFAULT 'fresh';
       ALTER TABLE orders ADD COLUMN dba_note text;
       UPDATE orders SET dba_flag = 'seen', dba_note = 'note ' || id WHERE id <= 1000;
       ${DBA_SCRATCH}
       CREATE TABLE scratch_later (id int PRIMARY KEY, v text);
       INSERT INTO scratch_later SELECT g, 'dba later ' || g FROM generate_series(1, 10) g;`,
      [],
      db,
    );
    const scratch = await scratchOnTarget(pair.target, db);
    // the source writes its streamed table and the left-out one, truncates that, and makes a left-out table under the DBA's name
    await pair.source.query(
      `UPDATE orders SET n = n + 1 WHERE id <= 1500;
       INSERT INTO orders SELECT g, g % 97, 'later ' || g FROM generate_series(${ORDERS + 1}, ${ORDERS + 100}) g;
       DELETE FROM orders WHERE id BETWEEN 1991 AND 2000;
       INSERT INTO scratch_log SELECT g, 'source ' || g FROM generate_series(51, 60) g;
       TRUNCATE scratch_log;
       CREATE TABLE scratch_later (id int PRIMARY KEY, v text);
       INSERT INTO scratch_later SELECT g, 'source later ' || g FROM generate_series(1, 99) g;`,
      [],
      db,
    );
    const rowsWritten = await writeEachWay(pair.source, db, 900_000);
    assert.deepEqual(
      rowsWritten,
      READ_WRITE_WAYS.map((w) => `${w.way}: ok`),
    );
    await until('the source changes on the target', async () => {
      const st = await showMigration(spec.target, spec.migrationName);
      if (st?.databases[0]?.applyStop) throw new Error(`stream stopped: ${st.databases[0].applyStop.error}`);
      const [r] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE id >= 900000', [], db);
      return r!.n === 3 ? true : undefined;
    });
    // the state a look racing the source's scratch_later leaves: the DBA's table under that name known
    assert.equal(await knownAsARacingLookLeftIt(spec, store, db, 'scratch_later'), 5, 'the table, its two columns, its key and index');
    await requestCutover(spec.target, spec.migrationName);
    const end = await waitForStatus(
      store,
      spec.migrationName,
      (s) => isFinalState(s.state) || /^cutover stopped/.test(s.message ?? ''),
      240_000,
    );
    const told = async () =>
      (await catalogEvents(store, spec.migrationName, 30)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
    assert.equal(end.state, 'Succeeded', `${end.state}: ${end.message}\n  ${await told()}`);
    assert.deepEqual(await knownLeftOut(store, spec.migrationName, db), [], 'the keys under a left-out name forgotten by the next look');

    // the DBA's columns: values kept where the DBA set them, the default on every other row, the streamed inserts' too
    const columns = await pair.target.query<{ flag: string; note: string | null; n: number }>(
      `SELECT dba_flag AS flag, (dba_note = 'note ' || id)::text AS note, count(*)::int AS n FROM orders GROUP BY 1, 2 ORDER BY 1, 2`,
      [],
      db,
    );
    assert.deepEqual(columns, [
      { flag: 'fresh', note: null, n: ORDERS - 1000 - 10 + 100 + 3 },
      { flag: 'seen', note: 'true', n: 1000 },
    ]);
    const migrated = async (cluster: Cluster) =>
      (
        await cluster.query<{ h: string }>(
          `SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, n, note), ',' ORDER BY id)) AS h FROM orders`,
          [],
          db,
        )
      )[0]!.h;
    assert.equal(await migrated(pair.target), await migrated(pair.source));
    // the tables outside the filters: the DBA's rows, never written by the stream or the source's truncate
    assert.equal(await scratchOnTarget(pair.target, db), scratch);
    const [later] = await pair.target.query<{ line: string }>(`SELECT count(*) || ' ' || min(v) AS line FROM scratch_later`, [], db);
    assert.equal(later!.line, '10 dba later 1');
    assert.equal(await shapeOf(pair.target, db, 'scratch_later'), 'id integer, v text | scratch_later_pkey');
    // the target's role and extension, and the look-alikes on both servers
    assert.equal(await targetOwn(pair.target), before.target);
    assert.match(before.target, /^true 7 work_mem=7MB the DBA's \| citext [\d.]+ public \| dba_owned bystander$/);
    assert.equal(await lookAlikes(pair.source, db), LOOK_ALIKE_LINE(db));
    assert.equal(await lookAlikes(pair.target, 'postgres'), LOOK_ALIKE_LINE('postgres'));

    // the application: refused on the old source whatever way it asks for read-write, writing on the target
    assert.deepEqual(
      await writeEachWay(pair.source, db, 910_000),
      READ_WRITE_WAYS.map((w) => `${w.way}: 25006`),
    );
    assert.deepEqual(
      await writeEachWay(pair.target, db, 920_000),
      READ_WRITE_WAYS.map((w) => `${w.way}: ok`),
    );
    const [onSource] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE id >= 910000', [], db);
    assert.equal(onSource!.n, 0, 'no write accepted on the old source after the cutover');
    const [onTarget] = await pair.target.query<{ ids: string }>(
      `SELECT string_agg(id::text, ',' ORDER BY id) AS ids FROM orders WHERE id >= 900000`,
      [],
      db,
    );
    assert.equal(onTarget!.ids, '900000,900001,900002,920000,920001,920002');
  } finally {
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

/** `stopped`: the runner is killed first (a failure), and the cancel carried out without it. */
async function keptThroughCancel(pair: ServerPair, db: string, stopped: boolean): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SOURCE_DB(500) + LOOK_ALIKES, [], db);
  await pair.source.query(LOOK_ALIKE_SLOT, [], db);
  const spec = pairSpec(pair, `not-ours-${db}`, [db], { mode: 'Online', option: 'Migrate', excludeTables: ['scratch_*'] });
  const store = new CatalogConnection(spec.target);
  try {
    const ready = await startedAndStreaming(spec, store);
    // the DBA's tables outside the filters, and a publication and a slot of the DBA's in the migrated database on the target
    await pair.target.query(
      `${DBA_SCRATCH}
       DROP PUBLICATION IF EXISTS pgferry_dba_publication;
       CREATE PUBLICATION pgferry_dba_publication FOR TABLE pgferry_dba_audit;`,
      [],
      db,
    );
    await pair.target.query(LOOK_ALIKE_SLOT, [], db);
    const scratch = await scratchOnTarget(pair.target, db);
    await pair.source.query(`INSERT INTO scratch_log VALUES (51, 'source 51'); TRUNCATE scratch_log; UPDATE orders SET n = n + 1`, [], db);
    const own = (await showMigration(spec.target, spec.migrationName))!.databases[0]!.names!;
    if (stopped) {
      // the runner fails (killed), and its cancel is carried out without it
      process.kill(ready.runner!.pid, 'SIGKILL');
      await until('the runner seen stopped', async () =>
        (await showMigration(spec.target, spec.migrationName))?.runner?.alive === false ? true : undefined,
      );
    }
    await cancelMigration(spec.target, spec.migrationName, { spec });
    const end = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
    assert.equal(end.state, 'Canceled', `${end.state}: ${end.message}`);
    await cleanupSource(spec);

    const [left] = await pair.source.query<{ slots: number; publications: number }>(
      `SELECT (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = $1) AS slots,
              (SELECT count(*)::int FROM pg_publication WHERE pubname = $2) AS publications`,
      [own.slot, own.publication],
      db,
    );
    assert.deepEqual(left, { slots: 0, publications: 0 }, "pgferry's own slot and publication released");
    assert.equal(await scratchOnTarget(pair.target, db), scratch);
    assert.equal(await lookAlikes(pair.source, db), LOOK_ALIKE_LINE(db));
    assert.equal(await lookAlikes(pair.target, db), LOOK_ALIKE_LINE(db));
    assert.equal(await lookAlikes(pair.target, 'postgres'), LOOK_ALIKE_LINE('postgres'));
    const [rows] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', [], db);
    assert.equal(rows!.n, 500, 'the copied rows are kept on the target');
  } finally {
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

async function dependentsKept(pair: ServerPair): Promise<void> {
  const db = 'deps';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    `CREATE TABLE gone_viewed (id int PRIMARY KEY, v text);
     CREATE TABLE gone_referenced (id int PRIMARY KEY);
     CREATE TABLE renamed (id int PRIMARY KEY, v text);
     CREATE TABLE narrowed (id int PRIMARY KEY, kept int, dropped text);
     CREATE TABLE gone_guarded (id int PRIMARY KEY);
     CREATE TABLE gone_replaced (id int PRIMARY KEY);
     CREATE TABLE gone_schema_named (id int PRIMARY KEY);
     CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
     CREATE TRIGGER audit_stamp BEFORE UPDATE ON gone_replaced FOR EACH ROW EXECUTE FUNCTION stamp();
     CREATE POLICY readers ON gone_replaced USING (true);
     INSERT INTO gone_viewed SELECT g, 'v' || g FROM generate_series(1, 100) g;
     INSERT INTO gone_referenced SELECT g FROM generate_series(1, 100) g;
     INSERT INTO renamed SELECT g, 'r' || g FROM generate_series(1, 100) g;
     INSERT INTO narrowed SELECT g, g, 'd' || g FROM generate_series(1, 100) g;`,
    [],
    db,
  );
  const spec = pairSpec(pair, 'not-ours-deps', [db], { mode: 'Online', option: 'Migrate', tableDropsAndRenames: 'follow' });
  const store = new CatalogConnection(spec.target);
  const dependents = async () =>
    (
      await pair.target.query<{ line: string }>(
        `SELECT concat_ws(' | ',
           (SELECT count(*) FROM dba_view), (SELECT count(*) FROM dba_narrow),
           (SELECT conname || ' ' || conrelid::regclass || '->' || confrelid::regclass FROM pg_constraint WHERE conname = 'dba_child_ref_fkey'),
           (SELECT count(*) FROM dba_child),
           (SELECT tgname || ' on ' || tgrelid::regclass FROM pg_trigger WHERE tgname = 'dba_trigger'),
           (SELECT polname || ' on ' || polrelid::regclass FROM pg_policy WHERE polname = 'dba_policy'),
           (SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgrelid = to_regclass('gone_guarded')),
           (SELECT string_agg(polname, ',') FROM pg_policy WHERE polrelid = to_regclass('gone_guarded')),
           (SELECT string_agg(tgname || ' ' || tgfoid::regproc::text, ',') FROM pg_trigger WHERE tgrelid = to_regclass('gone_replaced')),
           (SELECT string_agg(polname || ' ' || pg_get_expr(polqual, polrelid), ',') FROM pg_policy WHERE polrelid = to_regclass('gone_replaced')),
           (SELECT string_agg(tgname || ' ' || tgfoid::regproc::text, ',') FROM pg_trigger WHERE tgrelid = to_regclass('gone_schema_named'))) AS line`,
        [],
        db,
      )
    )[0]!.line;
  try {
    await startedAndStreaming(spec, store);
    await pair.target.query(
      `CREATE VIEW dba_view AS SELECT id, v FROM gone_viewed;
       CREATE VIEW dba_narrow AS SELECT id, dropped FROM narrowed;
       CREATE TABLE dba_child (id int PRIMARY KEY, ref int REFERENCES gone_referenced (id));
       INSERT INTO dba_child SELECT g, g FROM generate_series(1, 10) g;
       CREATE FUNCTION dba_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
       CREATE TRIGGER dba_trigger BEFORE UPDATE ON renamed FOR EACH ROW EXECUTE FUNCTION dba_touch();
       CREATE POLICY dba_policy ON renamed USING (true);
       CREATE TRIGGER dba_guard BEFORE UPDATE ON gone_guarded FOR EACH ROW EXECUTE FUNCTION dba_touch();
       CREATE POLICY dba_guard_policy ON gone_guarded USING (true);
       DROP TRIGGER audit_stamp ON gone_replaced;
       CREATE TRIGGER audit_stamp BEFORE UPDATE ON gone_replaced FOR EACH ROW EXECUTE FUNCTION dba_touch();
       DROP POLICY readers ON gone_replaced;
       CREATE POLICY readers ON gone_replaced USING (id > 0);
       CREATE SCHEMA IF NOT EXISTS pgferry; -- the apply's counts (pgferry.apply_count) may have made it already
       CREATE FUNCTION pgferry.dba_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
       CREATE TRIGGER dba_audit BEFORE UPDATE ON gone_schema_named FOR EACH ROW EXECUTE FUNCTION pgferry.dba_audit();`,
      [],
      db,
    );
    const told = async () => (await catalogEvents(store, spec.migrationName, 50)).map((e) => `${e.level}: ${e.message}`).join('\n');
    const stopped = async () => (await showMigration(spec.target, spec.migrationName))?.databases[0]?.applyStop?.error ?? '';
    const waitFor = (what: string, test: (events: string, stop: string) => boolean) =>
      until(what, async () => (test(await told(), await stopped()) ? true : undefined), 120_000, 500).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${await stopped()}\n${await told()}`);
      });
    // the source drops two tables and renames one: the drops stop on the DBA's view and foreign key, named
    await pair.source.query(
      `DROP TABLE gone_viewed; DROP TABLE gone_referenced; DROP TABLE gone_guarded; DROP TABLE gone_replaced; DROP TABLE gone_schema_named;
       ALTER TABLE renamed RENAME TO renamed_now;
       INSERT INTO renamed_now VALUES (101, 'r101');`,
      [],
      db,
    );
    await waitFor(
      'the drops to name the dependents, and the rename followed',
      (events) =>
        /public\.gone_viewed.*view public\.dba_view depends on it on the target, which pgferry did not make: kept/.test(events) &&
        /public\.gone_referenced.*constraint dba_child_ref_fkey on public\.dba_child depends on it on the target, which pgferry did not make: kept/.test(
          events,
        ) &&
        /public\.gone_guarded.*trigger dba_guard on public\.gone_guarded, policy dba_guard_policy on public\.gone_guarded depend on it on the target, which pgferry did not make: kept/.test(
          events,
        ) &&
        // the DBA's own trigger and policy under the names of the source's: the DBA's, told by identity
        /public\.gone_replaced.*trigger audit_stamp on public\.gone_replaced, policy readers on public\.gone_replaced depend on it on the target, which pgferry did not make: kept/.test(
          events,
        ) &&
        // a DBA's trigger calling a function of theirs in a schema named like pgferry's: the DBA's, told by the fence's identity
        /public\.gone_schema_named.*trigger dba_audit on public\.gone_schema_named depends on it on the target, which pgferry did not make: kept/.test(
          events,
        ) &&
        /public\.renamed renamed to public\.renamed_now on the source, followed on the target/.test(events),
    );
    // the source drops a column the DBA's view reads: the stream stops naming the view
    await pair.source.query(`ALTER TABLE narrowed DROP COLUMN dropped; INSERT INTO narrowed VALUES (101, 101);`, [], db);
    await waitFor('the column drop to stop, naming the view', (_events, stop) =>
      /view public\.dba_narrow depends on column dropped/.test(stop),
    );
    const stop = (await showMigration(spec.target, spec.migrationName))!.databases[0]!.applyStop!;
    assert.doesNotMatch(stop.error, /CASCADE/, "the server's CASCADE hint is not repeated");
    assert.match(stop.fix, /pgferry never drops it, nor with CASCADE; change it on the target so it no longer depends on it/);
    assert.equal(
      await dependents(),
      '100 | 100 | dba_child_ref_fkey dba_child->gone_referenced | 10 | dba_trigger on renamed_now | dba_policy on renamed_now | dba_guard | dba_guard_policy | audit_stamp dba_touch | readers (id > 0) | dba_audit pgferry.dba_audit',
    );
    // the DBA's fix, a view that no longer reads the column: the stream goes on by itself
    await pair.target.query(`DROP VIEW dba_narrow; CREATE VIEW dba_narrow AS SELECT id, kept FROM narrowed`, [], db);
    await until('the row written after the column drop on the target', async () => {
      const [r] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM narrowed WHERE id = 101', [], db);
      return r!.n === 1 ? true : undefined;
    });
    assert.equal(
      await dependents(),
      '100 | 101 | dba_child_ref_fkey dba_child->gone_referenced | 10 | dba_trigger on renamed_now | dba_policy on renamed_now | dba_guard | dba_guard_policy | audit_stamp dba_touch | readers (id > 0) | dba_audit pgferry.dba_audit',
      "the DBA's view, foreign key with its rows, triggers and policies kept",
    );
  } finally {
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

/** The same database on both servers: `db`, a trigger function `touch()`, then `sql`. */
async function onBoth(pair: ServerPair, db: string, sql: string): Promise<void> {
  for (const cluster of [pair.source, pair.target]) {
    await cluster.query(`CREATE DATABASE ${db}`);
    await cluster.query(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; ${sql}`, [], db);
  }
}

/**
 * pgferry's switches and fence reach only what it made: the trigger the schema watch makes is
 * switched with its partitions' clones, never a DBA's trigger of that name on another table; a DBA's
 * trigger under the fence's name is never taken for the fence, which stops before it sets anything.
 */
async function sameNamesKept(pair: ServerPair): Promise<void> {
  const db = 'names';
  await onBoth(
    pair,
    db,
    `CREATE TABLE streamed (id int, at date) PARTITION BY RANGE (at);
     CREATE TABLE streamed_2026 PARTITION OF streamed FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
     CREATE TABLE dba_own (id int PRIMARY KEY);
     CREATE TRIGGER set_updated_at BEFORE UPDATE ON streamed FOR EACH ROW EXECUTE FUNCTION touch();
     CREATE TRIGGER set_updated_at BEFORE UPDATE ON dba_own FOR EACH ROW EXECUTE FUNCTION touch();`,
  );
  const states = async () =>
    (
      await pair.target.query<{ line: string }>(
        `SELECT string_agg(tgrelid::regclass::text || ':' || tgenabled::text, ' ' ORDER BY tgrelid::regclass::text) AS line
           FROM pg_trigger WHERE tgname = 'set_updated_at'`,
        [],
        db,
      )
    )[0]!.line;
  const spec = pairSpec(pair, 'not-ours-names', [db], { mode: 'Online', option: 'Migrate', fenceWriters: true });
  const store = new CatalogConnection(spec.target);
  await register(store, spec);
  // the schema watch made set_updated_at on streamed: its switch reaches streamed and its partition only
  await withSession(serverSpec(pair.target), { database: db, purpose: 'schema follow', writable: true }, (client) =>
    fireAsReplica(
      client,
      { store, migration: spec.migrationName, database: db },
      { kind: 'trigger', schema: 'public', table: 'streamed', name: 'set_updated_at' },
    ),
  );
  assert.equal(await states(), 'dba_own:O streamed:D streamed_2026:D');

  // a DBA's trigger under the name of the fence's, on a table the fence covers
  const instance = 'names1';
  const names = fenceNamesOf(spec.migrationName, db);
  await pair.source.query(
    `CREATE PUBLICATION ${ident(publicationName(spec.migrationName, db, instance))} FOR TABLE dba_own;
     CREATE TRIGGER ${ident(names.trigger)} BEFORE INSERT ON dba_own FOR EACH ROW EXECUTE FUNCTION touch();`,
    [],
    db,
  );
  try {
    await assert.rejects(fenceDatabase({ spec, store, instance, warn: async () => undefined }, db), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'WRITER_FENCE_REFUSED');
      assert.equal(
        e.message,
        `fenceWriters: trigger ${displayIdent(names.trigger)} on public.dba_own of ${db} calls public.touch(), not pgferry's fence function: it is someone else's, kept, and nothing was fenced`,
      );
      return true;
    });
    const [source] = await pair.source.query<{ line: string }>(
      `SELECT concat_ws(' | ',
       (SELECT string_agg(tgname || ' ' || tgfoid::regproc::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'dba_own'::regclass),
       (SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()),
       (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry')) AS line`,
      [],
      db,
    );
    assert.equal(
      source!.line,
      `${names.trigger} touch,set_updated_at touch | 0 | 0`,
      "the source unchanged: no setting, no fence, the DBA's trigger kept",
    );
    await pair.source.query(`INSERT INTO dba_own VALUES (1)`, [], db);
  } finally {
    await store.close();
    // the publication stands for the stream's: the leak check would count it as pgferry's
    await pair.source.query(`DROP PUBLICATION IF EXISTS ${ident(publicationName(spec.migrationName, db, instance))}`, [], db);
  }
}

/**
 * The source's event trigger told (schemaChangeCapture eventTrigger): the source makes, while
 * streaming, a table outside the filters under the name of one a DBA made on the target, adds an
 * index to it and drops its key, and another with rows under a left-out name. The DDL follow read
 * its filter plan when the stream began, which knew no such table: it judges each message by name,
 * so the DBA's table is left as the DBA made it, the other is not made on the target, and nothing
 * under a left-out name is known to the migration (a key an older pgferry recorded there is forgotten).
 */
async function keptFromTheDdlFollow(pair: ServerPair): Promise<void> {
  const db = 'told';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SOURCE_DB(200), [], db);
  const spec = pairSpec(pair, 'not-ours-told', [db], {
    mode: 'Online',
    option: 'Migrate',
    excludeTables: ['scratch_*'],
    schemaChangeCapture: 'eventTrigger',
  });
  const store = new CatalogConnection(spec.target);
  try {
    await startedAndStreaming(spec, store);
    await pair.target.query(
      `CREATE TABLE scratch_told (id int PRIMARY KEY, v text);
       INSERT INTO scratch_told SELECT g, 'dba told ' || g FROM generate_series(1, 10) g;`,
      [],
      db,
    );
    // a key under a left-out name, as an older pgferry recorded one from a restore
    await knownAsAnOlderPgferryLeftThem(store, spec.migrationName, db, [JSON.stringify(['table', 'public', 'scratch_stale', '', ''])]);
    // a streamed table's first: the follow reads its filter plan at the first it is told of, and its
    // index on the target says it did, before the source makes the left-out tables
    await pair.source.query('CREATE INDEX orders_n ON orders (n)', [], db);
    await until('the streamed table followed', async () => (/orders_n/.test(await shapeOf(pair.target, db, 'orders')) ? true : undefined));
    // one command a statement: the event trigger tells each, in the stream's order, before the marker row
    for (const statement of [
      'CREATE TABLE scratch_told (id int PRIMARY KEY, v text)',
      'CREATE INDEX scratch_told_v ON scratch_told (v)',
      'ALTER TABLE scratch_told DROP CONSTRAINT scratch_told_pkey',
      'CREATE TABLE scratch_new (id int PRIMARY KEY, v text)',
      `INSERT INTO scratch_new SELECT g, 'source new ' || g FROM generate_series(1, 5) g`,
      'CREATE INDEX scratch_new_v ON scratch_new (v)',
      `INSERT INTO orders VALUES (900000, 1, 'marker')`,
    ])
      await pair.source.query(statement, [], db);
    await until('the marker row on the target', async () => {
      const [r] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE id = 900000', [], db);
      return r!.n === 1 ? true : undefined;
    });
    // the follow ran: the streamed table's index is on the target
    assert.equal(await shapeOf(pair.target, db, 'orders'), 'id integer, n integer, note text | orders_n, orders_pkey');
    assert.equal(await shapeOf(pair.target, db, 'scratch_told'), 'id integer, v text | scratch_told_pkey');
    const [rows] = await pair.target.query<{ line: string }>(`SELECT count(*) || ' ' || min(v) AS line FROM scratch_told`, [], db);
    assert.equal(rows!.line, '10 dba told 1');
    // the other left-out table is neither made nor streamed on the target
    const [made] = await pair.target.query<{ t: string | null }>(`SELECT to_regclass('scratch_new')::text AS t`, [], db);
    assert.equal(made!.t, null, 'scratch_new not made on the target');
    await until('nothing under a left-out name known', async () =>
      (await knownLeftOut(store, spec.migrationName, db)).length === 0 ? true : undefined,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${(await knownLeftOut(store, spec.migrationName, db)).join(', ')}`);
    });
  } finally {
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

/**
 * The target's triggers and rules switched for a stream without the replica role are given back by
 * identity: each is recorded in the footprint ledger by its OID as it is switched, and the release
 * sets back those alone. A DBA's trigger that replaced one of the source's (its name, a new OID)
 * keeps the state the DBA gave it, as does one whose state the DBA changed since the switch; those
 * pgferry switched and nobody touched are set back as on the source.
 */
async function firingGivenBackByIdentity(pair: ServerPair): Promise<void> {
  const db = 'fired';
  await onBoth(
    pair,
    db,
    `CREATE TABLE audited (id int PRIMARY KEY, v text);
     CREATE TRIGGER ours BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
     CREATE TRIGGER replaced BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
     CREATE TRIGGER tuned BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
     CREATE RULE quiet AS ON DELETE TO audited DO ALSO NOTIFY audited;`,
  );
  const states = async () =>
    (
      await pair.target.query<{ line: string }>(
        `SELECT string_agg(name || ':' || state, ' ' ORDER BY name) AS line FROM (
           SELECT tgname::text AS name, tgenabled::text AS state FROM pg_trigger WHERE tgrelid = 'audited'::regclass AND NOT tgisinternal
           UNION ALL SELECT rulename::text, ev_enabled::text FROM pg_rewrite WHERE ev_class = 'audited'::regclass) s`,
        [],
        db,
      )
    )[0]!.line;
  const spec = pairSpec(pair, 'not-ours-fired', [db], { mode: 'Online', option: 'Migrate' });
  const store = new CatalogConnection(spec.target);
  try {
    await register(store, spec);
    // the switch of a stream without the replica role (flow/streamingTarget.ts)
    await withSession(spec.target, { database: db, purpose: 'online', writable: true }, (client) =>
      fireAsReplica(client, { store, migration: spec.migrationName, database: db }),
    );
    assert.equal(await states(), 'ours:D quiet:D replaced:D tuned:D');
    // the DBA replaces one under its name and disables it, and has another fire always
    await pair.target.query(
      `DROP TRIGGER replaced ON audited;
       CREATE TRIGGER replaced BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
       ALTER TABLE audited DISABLE TRIGGER replaced;
       ALTER TABLE audited ENABLE ALWAYS TRIGGER tuned;`,
      [],
      db,
    );
    const ctx = { ...restoreContextOf(spec, store), instance: undefined };
    assert.deepEqual(await targetFiring.pending(ctx, db), [
      'ALTER TABLE ONLY "public"."audited" ENABLE RULE "quiet"',
      'ALTER TABLE ONLY "public"."audited" ENABLE TRIGGER "ours"',
    ]);
    // the release's step for them (footprint/release.ts)
    await targetFiring.undo(ctx, db);
    assert.equal(await states(), 'ours:O quiet:O replaced:D tuned:A');
    const [ledger] = await store.query<{ rows: number; pending: number; gone: number; kept: number }>(
      `SELECT count(*)::int AS rows, (count(*) FILTER (WHERE undone_at IS NULL))::int AS pending,
              (count(*) FILTER (WHERE detail ? 'gone'))::int AS gone, (count(*) FILTER (WHERE detail->>'keptAs' = 'A'))::int AS kept
         FROM pgferry.footprint WHERE migration = $1 AND database = $2 AND change = 'targetFiring'`,
      [spec.migrationName, db],
    );
    assert.deepEqual(ledger, { rows: 5, pending: 0, gone: 1, kept: 1 }, 'four switches and the database by identity, all given back');
  } finally {
    await store.close();
  }
}

describe('safety: what pgferry did not make is kept (outside trust probe)', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE ROLE bystander NOLOGIN; CREATE ROLE app_rw LOGIN PASSWORD 'app-pw'`);
    // the target's own role of that name, and an extension and a table in its maintenance database
    await pair.target.query(
      `CREATE ROLE bystander LOGIN CONNECTION LIMIT 7; ALTER ROLE bystander SET work_mem = '7MB';
       COMMENT ON ROLE bystander IS 'the DBA''s';
       CREATE EXTENSION citext; CREATE TABLE dba_owned (id int); ALTER TABLE dba_owned OWNER TO bystander;
       ${LOOK_ALIKES}`,
    );
    await pair.target.query(LOOK_ALIKE_SLOT);
  });
  after(async () => {
    // the look-alikes are the DBA's: the leak check would count their slots and publications
    for (const [cluster, dbs] of [
      [pair.source, ['kept', 'canceled', 'failed', 'names']],
      [pair.target, ['postgres', 'kept', 'canceled', 'failed']],
    ] as const) {
      for (const db of dbs) {
        await cluster
          .query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'pgferry_dba_slot_' || $1`, [db])
          .catch(() => undefined);
        // the old source is fenced read-only after the cutover
        await cluster.query('BEGIN READ WRITE; DROP PUBLICATION IF EXISTS pgferry_dba_publication; COMMIT', [], db).catch(() => undefined);
      }
    }
    await pair?.stop();
  });

  it("a DBA's columns (a default, a nullable), tables outside the filters, the target's role and extension and pgferry_ look-alikes kept through the stream and the cutover, known keys under a left-out name forgotten; the application refused on the old source, writing on the target", () =>
    keptThroughCutover(pair));

  it("a cancel and the cleanup release only pgferry's own: the DBA's tables outside the filters and the pgferry_ look-alikes on both servers kept", () =>
    keptThroughCancel(pair, 'canceled', false));

  it("a stopped runner's cancel and the cleanup after a failure release only pgferry's own: the DBA's tables and the pgferry_ look-alikes kept", () =>
    keptThroughCancel(pair, 'failed', true));

  it("the DBA's view, foreign key, trigger and policy on tables the source drops or renames (a trigger and a policy under the source's names too, a trigger calling a function in a schema named pgferry), and a view on a column it drops, are never dropped: the follow names them and waits", () =>
    dependentsKept(pair));

  it("a DBA's trigger named like the one the schema watch made (on another table) keeps its state, and one under the fence's name stops the fence before it sets anything, the source read back unchanged", () =>
    sameNamesKept(pair));

  it("the target's triggers and rules switched while streaming are given back by OID: one pgferry switched set back as on the source, a DBA's that replaced one under its name and one the DBA set since keep the DBA's states, read back from pg_trigger, pg_rewrite and the ledger", () =>
    firingGivenBackByIdentity(pair));

  it("the DBA's table under a name the filters leave out keeps its key and gets no index when the source's namesake, made while streaming, gets one and loses its key, another left-out table is not made on the target, and no key under a left-out name stays known (event trigger capture, which follows the streamed table's new index): columns, index, 10 rows and the known record read back", () =>
    keptFromTheDdlFollow(pair));
});
