// Issue 62: an application that upgrades its own schema mid-stream (as a job-queue library moving
// two major versions does), followed on the target with nothing run by hand. The release, in one
// source transaction while a writer runs: functions dropped and created again with a new return
// type (one of them the default of a table's column, another returning the row type of the table
// the release drops), that table replaced by a view of the same name over a new table, a table
// renamed (and written under its new name at once), one dropped, one dropped and created again
// under its name (`DROP TABLE t; CREATE TABLE t`), and one ALTER TABLE on a partitioned table that
// drops a column and adds two, one under the dropped name (followed on its root). Followed by identity and kind, in PostgreSQL's dependency order; the cutover
// Succeeded, the rows and `pg_dump --schema-only` of both sides equal, and no background
// verification warned of a table read before its own copy. Beside it, what a DBA made on the
// target alone is kept: an invalid index (a failed CREATE INDEX CONCURRENTLY) and an index under a
// name the source once had, read back from pg_index and pg_class after the release was followed.
// Superuser and managed-like targets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  endIfRunning,
  onBothTargets,
  pairSpec,
  startSourceWriter,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { rowsOf } from './harness';
import { eventsTold } from '../support/toldEvents';

const DB = 'queue';

const SCHEMA = `
CREATE SCHEMA app;
CREATE TABLE app.jobs (id bigserial PRIMARY KEY, task text NOT NULL, payload text, run_at timestamptz NOT NULL DEFAULT '2026-01-01');
CREATE FUNCTION app.add_job(t text, p text) RETURNS app.jobs LANGUAGE sql
  AS $$ INSERT INTO app.jobs (task, payload) VALUES (t, p) RETURNING * $$;
CREATE FUNCTION app.job_count() RETURNS int LANGUAGE sql STABLE AS $$ SELECT count(*)::int FROM app.jobs $$;
CREATE FUNCTION app.queue_size() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 10 $$;
CREATE TABLE app.settings (id int PRIMARY KEY, size bigint DEFAULT app.queue_size());
CREATE TABLE app.events (id int PRIMARY KEY, n int NOT NULL);
CREATE INDEX events_n_idx ON app.events (n);
CREATE TABLE app.old_name (id int PRIMARY KEY, v text);
CREATE TABLE app.gone (id int PRIMARY KEY, v text);
CREATE TABLE app.reborn (id int PRIMARY KEY, v text);
CREATE TABLE app.measures (id int, at date NOT NULL, a int, b int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.measures_2026 PARTITION OF app.measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO app.jobs (task, payload) SELECT 'task' || g, 'p' || g FROM generate_series(1, 300) g;
INSERT INTO app.settings SELECT g FROM generate_series(1, 10) g;
INSERT INTO app.events SELECT g, g % 50 FROM generate_series(1, 1000) g;
INSERT INTO app.old_name SELECT g, 'o' || g FROM generate_series(1, 200) g;
INSERT INTO app.gone SELECT g, 'g' || g FROM generate_series(1, 200) g;
INSERT INTO app.reborn SELECT g, 'r' || g FROM generate_series(1, 200) g;
INSERT INTO app.measures SELECT g, date '2026-01-01' + g % 300, g, g FROM generate_series(1, 400) g;`;

/** The release, as the library's own migrations run it: one transaction. */
const RELEASE = `
BEGIN;
CREATE TABLE app._private_jobs (id bigserial PRIMARY KEY, task text NOT NULL, payload text,
  run_at timestamptz NOT NULL DEFAULT '2026-01-01', attempts int NOT NULL DEFAULT 0);
INSERT INTO app._private_jobs (id, task, payload, run_at) SELECT id, task, payload, run_at FROM app.jobs;
SELECT setval(pg_get_serial_sequence('app._private_jobs', 'id'), (SELECT max(id) FROM app.jobs));
DROP FUNCTION app.add_job(text, text);
DROP FUNCTION app.job_count();
DROP TABLE app.jobs;
CREATE VIEW app.jobs AS SELECT id, task, payload, run_at, attempts FROM app._private_jobs;
CREATE FUNCTION app.add_job(t text, p text) RETURNS app._private_jobs LANGUAGE sql
  AS $$ INSERT INTO app._private_jobs (task, payload) VALUES (t, p) RETURNING * $$;
CREATE FUNCTION app.job_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM app._private_jobs $$;
ALTER TABLE app.settings ALTER COLUMN size DROP DEFAULT;
DROP FUNCTION app.queue_size();
CREATE FUNCTION app.queue_size() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 20::bigint $$;
ALTER TABLE app.settings ALTER COLUMN size SET DEFAULT app.queue_size();
ALTER TABLE app.old_name RENAME TO new_name;
DROP TABLE app.gone;
DROP TABLE app.reborn;
CREATE TABLE app.reborn (id int PRIMARY KEY, w int NOT NULL);
INSERT INTO app.reborn SELECT g, g * 2 FROM generate_series(1, 50) g;
ALTER TABLE app.measures DROP COLUMN b, ADD COLUMN b text, ADD COLUMN c int;
COMMIT;`;

/**
 * The application: a job added through the library's function and an event, each transaction. A
 * call planned before the release and run after it fails (its function is gone): the application
 * tries the job again in its next transaction, as a queue's client does.
 */
async function write(c: pg.Client, n: number): Promise<void> {
  await c.query('SAVEPOINT job');
  await c.query(`SELECT app.add_job('w', $1)`, [String(n)]).catch(() => c.query('ROLLBACK TO SAVEPOINT job'));
  await c.query(`INSERT INTO app.events (id, n) VALUES ($1, $2)`, [10_000 + n, n % 50]);
}

const PG_DUMP = path.join('/usr/lib/postgresql/15/bin', 'pg_dump');

/** `pg_dump --schema-only` of the database, its comments and blank lines taken out. */
async function schemaDump(cluster: Cluster): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    PG_DUMP,
    ['--schema-only', '-h', cluster.host, '-p', String(cluster.port), '-U', cluster.user, DB],
    { env: { ...process.env, PGPASSWORD: cluster.password }, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--') && !/^\\(un)?restrict /.test(line));
}

/** The target's admin spelled as the source's superuser (a managed target's deliberate difference). */
function asSource(pair: ServerPair, target: MigrationSpec['target']): (text: string) => string {
  if (target.user === pair.target.user) return (text) => text;
  const admin = new RegExp(`\\b${target.user}\\b`, 'g');
  return (text) => text.replace(admin, pair.source.user);
}

/** What the release leaves on a server, read from its catalog. */
async function shape(cluster: Cluster): Promise<Record<string, string | null>> {
  const [row] = await cluster.query<Record<string, string | null>>(
    `SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('app.jobs')) AS jobs,
            (SELECT pg_get_function_result(to_regprocedure('app.add_job(text, text)'))) AS add_job,
            (SELECT pg_get_function_result(to_regprocedure('app.job_count()'))) AS job_count,
            (SELECT pg_get_function_result(to_regprocedure('app.queue_size()'))) AS queue_size,
            (SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'app.settings'::regclass) AS size_default,
            (SELECT to_regclass('app.new_name')::text) AS new_name,
            (SELECT to_regclass('app.old_name')::text) AS old_name,
            (SELECT to_regclass('app.gone')::text) AS gone,
            (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = to_regclass('app.reborn') AND attnum > 0 AND NOT attisdropped) AS reborn,
            (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = to_regclass('app.measures') AND attnum > 0 AND NOT attisdropped) AS measures,
            -- between its drop and its follow's copy the target has no app.reborn: counted only when there
            CASE WHEN to_regclass('app.reborn') IS NOT NULL
                 THEN (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM app.reborn', false, true, '')))[1]::text END AS reborn_rows`,
    [],
    DB,
  );
  return row!;
}

/** The DBA's objects on the target: its invalid index and its index under a name the source once had. */
async function dbaObjects(cluster: Cluster): Promise<{ invalid: string | null; reused: string | null }> {
  const [row] = await cluster.query<{ invalid: string | null; reused: string | null }>(
    `SELECT (SELECT x.indisvalid::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
              WHERE c.relname = 'events_dba_unique') AS invalid,
            (SELECT pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relname = 'events_n_idx' AND c.relkind = 'i') AS reused`,
    [],
    DB,
  );
  return row!;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  const spec = {
    ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, tableDropsAndRenames: 'follow' }),
    target,
  };
  const store = new CatalogConnection(target);
  const running = runMigration(spec);
  const writer = startSourceWriter(pair.source, DB, write);
  const writes = async (count: number) => {
    const from = writer.committed();
    await until(`${count} more application transactions`, async () => (writer.committed() >= from + count ? true : undefined), 60_000);
  };
  const told = () => eventsTold(store, name, 300);
  const t = (sql: string) => pair.target.query(sql, [], DB);
  const started = Date.now();
  const step = (what: string) => console.log(`      ${name}: ${((Date.now() - started) / 1000).toFixed(0)} s: ${what}`);
  try {
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await writes(20);
    step('streaming');
    // the source drops an index, which the follow drops on the target; then a DBA makes one of
    // their own under that name on the target alone, and a unique index there that fails half-made
    await pair.source.query(`DROP INDEX app.events_n_idx`, [], DB);
    await until('the index dropped on the source dropped on the target', async () =>
      (await dbaObjects(pair.target)).reused === null ? true : undefined,
    );
    await t(`CREATE INDEX events_n_idx ON app.events (n, id)`);
    await t(`CREATE UNIQUE INDEX CONCURRENTLY events_dba_unique ON app.events (n)`).then(
      () => assert.fail('the DBA index was expected to fail on duplicates'),
      (error: Error) => assert.match(error.message, /could not create unique index/),
    );
    step('the DBA objects made');
    // the release, mid-stream
    await pair.source.query(RELEASE, [], DB);
    await pair.source.query(
      `INSERT INTO app.measures (id, at, a, b, c) SELECT g, date '2026-06-01', g, 'b' || g, g FROM generate_series(1001, 1100) g;
       UPDATE app.measures SET b = 'u' || id WHERE id <= 50;
       INSERT INTO app.new_name VALUES (1001, 'after');
       INSERT INTO app.reborn VALUES (1001, 1);`,
      [],
      DB,
    );
    await writes(40);
    const wanted = await shape(pair.source);
    await until(
      'the release followed on the target',
      async () => (JSON.stringify(await shape(pair.target)) === JSON.stringify(wanted) ? true : undefined),
      180_000,
      1_000,
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message}\nsource: ${JSON.stringify(wanted)}\ntarget: ${JSON.stringify(await shape(pair.target))}\n  ${await told()}`,
      );
    });
    step('the release followed');
    // two more looks of the schema watch after the release: what the DBA made is still there
    const looks = async () =>
      (await catalogEvents(store, name, 300)).filter((e) => /followed on the target: comment on table app\.events/.test(e.message)).length;
    const before = await looks();
    await until(
      'two more looks of the schema watch',
      async () => {
        await pair.source.query(`COMMENT ON TABLE app.events IS '${Date.now()}'`, [], DB);
        return (await looks()) >= before + 2 ? true : undefined;
      },
      90_000,
      2_000,
    );
    const dba = await dbaObjects(pair.target);
    assert.equal(dba.invalid, 'false', "the DBA's invalid index is kept");
    assert.equal(
      dba.reused,
      'CREATE INDEX events_n_idx ON app.events USING btree (n, id)',
      "the DBA's index under a name the source once had is kept",
    );
    step('two more looks');
    const transactions = await writer.stop();
    // the DBA is done with them: the cutover compares what the source has
    await t(`DROP INDEX app.events_dba_unique; DROP INDEX app.events_n_idx`);
    step('cutover asked');
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    if (end.state !== 'Succeeded') assert.fail(`${end.state}: ${end.message} ${end.verification?.firstMismatch ?? ''}\n  ${await told()}`);
    const events = await catalogEvents(store, name, 500);
    const early = events.filter((e) => /background verification/.test(e.message));
    assert.deepEqual(
      early.map((e) => e.message),
      [],
      'no background verification warned of a table read before its own copy',
    );
    for (const table of ['app._private_jobs', 'app.settings', 'app.events', 'app.new_name', 'app.reborn', 'app.measures'])
      assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
    const spelled = asSource(pair, target);
    const [srcDump, dstDump] = await Promise.all([schemaDump(pair.source), schemaDump(pair.target)]);
    assert.deepEqual(dstDump.map(spelled), srcDump);
    console.log(`      ${name}: ${transactions} writer transactions; the release followed with nothing run by hand`);
  } catch (error) {
    step(`failed: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

describe('an application release mid-stream, followed by identity and kind (issue 62)', function () {
  this.timeout(900_000);
  onBothTargets(
    {
      superuser:
        "superuser target: functions retyped, a table replaced by a view, renames, drops, DROP+CREATE, a partitioned ALTER; cutover Succeeded, dumps equal; a DBA's objects kept",
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await scenario(pair, `release-${kind}`, target);
    },
  );
});
