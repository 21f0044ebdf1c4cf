// Issue 14's campaign, seed 2260759369: the source restarted (immediate, as a crash) just after the
// cutover dropped the publication there, and the publication came back: the server ran with
// synchronous_commit off, so the drop's commit was not yet on disk, while the target already
// recorded the database as released. pgferry's writable sessions now commit durably whatever the
// server's default (connect/session.ts), keeping a stricter setting and a session's own choice.
// The migration test reads the setting inside the transactions that commit: a trigger on the
// migrated table records it in every apply transaction, one on the control catalog in every
// catalog write, and an event trigger on the source in the cutover's DROP PUBLICATION.
import assert from 'node:assert/strict';
import { cancelMigration, parseMigrationSpec, requestCutover, startMigration } from '../../provider/engine';
import { withSession } from '../../provider/engine/connect/session';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { serverSpec, startCluster, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { get } from '../../provider/engine/control/store';

describe("safety: pgferry's own commits are durable on a server that defaults to synchronous_commit off (seed 2260759369)", function () {
  this.timeout(60_000);
  let server: Cluster;
  const setting = (options: Parameters<typeof withSession>[1]) =>
    withSession(
      serverSpec(server),
      options,
      async (c) => (await c.query<{ v: string }>('SELECT current_setting($1) AS v', ['synchronous_commit'])).rows[0]!.v,
    );

  before(async () => {
    server = await startCluster({ label: 'durable', settings: { synchronous_commit: 'off' } });
    await server.query('CREATE DATABASE strict');
    await server.query('ALTER DATABASE strict SET synchronous_commit = remote_apply');
  });
  after(async () => server?.stop());

  it('a writable session runs with synchronous_commit on; a reading session keeps the default', async () => {
    assert.equal(await setting({ purpose: 'reads' }), 'off', "the server's default, read back");
    assert.equal(await setting({ purpose: 'cleanup', writable: true }), 'on');
  });

  it("keeps a stricter database setting and a session's own choice", async () => {
    assert.equal(await setting({ purpose: 'cleanup', database: 'strict', writable: true }), 'remote_apply');
    assert.equal(await setting({ purpose: 'copy', writable: true, settings: { synchronous_commit: 'off' } }), 'off');
  });
});

/** Records, in every transaction that changes `table`, the session's application_name and synchronous_commit. */
const RECORDER = (table: string, log: string): string => `
CREATE TABLE ${log} (app text NOT NULL, sync text NOT NULL, op text NOT NULL);
CREATE FUNCTION record_commit_setting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${log} VALUES (current_setting('application_name'), current_setting('synchronous_commit'), TG_TABLE_NAME || ' ' || TG_OP);
  RETURN NULL;
END $$;
CREATE TRIGGER record_commit_setting AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION record_commit_setting();
ALTER TABLE ${table} ENABLE ALWAYS TRIGGER record_commit_setting;`;

interface Recorded {
  app: string;
  sync: string;
  op: string;
}

describe('safety: the transactions that apply, record and release a migration commit with synchronous_commit on, on servers that default to off', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE shop');
    // ddl_log is migrated (empty on both sides): the source's event trigger writes to it at the cutover
    await pair.source.query(
      `CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL);
       INSERT INTO orders SELECT g, 'copied ' || g FROM generate_series(1, 100) g;
       CREATE TABLE ddl_log (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, app text NOT NULL, sync text NOT NULL, op text NOT NULL);`,
      [],
      'shop',
    );
  });
  after(async () => pair?.stop());

  it("every apply transaction, control-catalog write and the cutover's DROP PUBLICATION reads synchronous_commit on", async () => {
    for (const c of [pair.source, pair.target]) {
      assert.deepEqual(await c.query('SHOW synchronous_commit'), [{ synchronous_commit: 'off' }], "the servers' default");
    }
    const spec = parseMigrationSpec({
      migrationName: 'durable-online',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: ['shop'],
      mode: 'Online',
      option: 'Migrate',
    });
    const store = new CatalogConnection(spec.target);
    try {
      await startMigration(spec);
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || s.state !== 'InProgress',
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
      // recorders added once the schema is copied, so the copy carries none of them
      await pair.target.query(RECORDER('orders', 'public.apply_log'), [], 'shop');
      await pair.target.query(RECORDER('pgferry.migration_database', 'public.control_log'));
      await pair.target
        .query(`CREATE TRIGGER record_commit_setting_event AFTER INSERT ON pgferry.event FOR EACH STATEMENT EXECUTE FUNCTION record_commit_setting();
                               ALTER TABLE pgferry.event ENABLE ALWAYS TRIGGER record_commit_setting_event;`);
      // on both servers, so the cutover's schema check finds them alike (no publication is dropped on the target)
      for (const side of [pair.source, pair.target]) {
        await side.query(
          `CREATE FUNCTION record_ddl_setting() RETURNS event_trigger LANGUAGE plpgsql AS $$
           BEGIN
             INSERT INTO public.ddl_log (app, sync, op) VALUES (current_setting('application_name'), current_setting('synchronous_commit'), TG_TAG);
           END $$;
           CREATE EVENT TRIGGER record_ddl_setting ON ddl_command_end WHEN TAG IN ('DROP PUBLICATION') EXECUTE FUNCTION record_ddl_setting();`,
          [],
          'shop',
        );
      }
      // the application's transactions, each applied on the target by pgferry
      for (let i = 1; i <= 20; i++) {
        await pair.source.query(`INSERT INTO orders VALUES ($1, 'streamed')`, [1000 + i], 'shop');
        await pair.source.query(`UPDATE orders SET item = 'changed' WHERE id = $1`, [i], 'shop');
      }
      await until('the 20 streamed rows on the target', async () => {
        const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE item = 'streamed'`, [], 'shop');
        return row!.n === 20 ? true : undefined;
      });
      const applied = await pair.target.query<Recorded>('SELECT * FROM apply_log', [], 'shop');
      assert.ok(applied.length >= 2, `the apply transactions were recorded: ${JSON.stringify(applied)}`);
      assert.deepEqual(
        [...new Set(applied.map((r) => `${r.app}: ${r.sync}`))],
        ['pgferry apply: on'],
        'every transaction that applied a change ran with synchronous_commit on',
      );
      // the recorder is the target's own: the cutover compares the migrated tables only
      await pair.target.query(
        'DROP TABLE apply_log; DROP TRIGGER record_commit_setting ON orders; DROP FUNCTION record_commit_setting()',
        [],
        'shop',
      );

      await requestCutover(spec.target, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
      assert.equal(done.state, 'Succeeded', done.message);

      const control = await pair.target.query<Recorded>('SELECT * FROM public.control_log');
      const runnerWrites = control.filter((r) => r.app.startsWith('pgferry'));
      assert.ok(runnerWrites.length >= 2, `the control catalog writes were recorded: ${JSON.stringify(control)}`);
      assert.deepEqual(
        runnerWrites.filter((r) => r.sync !== 'on'),
        [],
        'every control-catalog write of the migration ran with synchronous_commit on',
      );
      const released = await pair.source.query<Recorded>('SELECT app, sync, op FROM ddl_log', [], 'shop');
      assert.equal(released.length, 1, `the cutover dropped the publication once: ${JSON.stringify(released)}`);
      assert.equal(released[0]!.sync, 'on', `the publication drop ran with synchronous_commit on (${released[0]!.app})`);
      assert.match(released[0]!.app, /^pgferry/);
    } finally {
      const last = await get(store, spec.migrationName);
      if (last && last.state !== 'Succeeded') {
        await cancelMigration(spec.target, spec.migrationName).catch(() => undefined);
        await waitForStatus(store, spec.migrationName, (s) => s.state === 'Canceled' || s.state === 'Failed').catch(() => undefined);
      }
      await store.close();
      await pair.source.query('DROP EVENT TRIGGER IF EXISTS record_ddl_setting', [], 'shop').catch(() => undefined);
      await pair.target.query(
        'DROP SCHEMA IF EXISTS pgferry CASCADE; DROP TABLE IF EXISTS public.control_log; DROP FUNCTION IF EXISTS record_commit_setting()',
      );
    }
  });
});
