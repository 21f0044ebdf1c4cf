// Issue 12, "session settings are pinned": a source database whose ALTER DATABASE ... SET
// search_path puts a user schema first, with OID-alias values (regclass, regtype, regproc and an
// array of regclass) and an index whose expression calls a function that exists in two schemas.
// Before the fix the copy failed on the first regclass value ("relation ... does not exist") and
// the index bound to the other schema's function on the target.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { pairSpec, type ServerPair, suiteServers, waitForStatus } from '../support';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const SCHEMA = `
CREATE SCHEMA app;
CREATE FUNCTION app.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';
CREATE FUNCTION public.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper($1)';
CREATE TABLE app.widgets (id int PRIMARY KEY);
CREATE TABLE app.things (
  id   int PRIMARY KEY,
  rel  regclass,
  typ  regtype,
  fn   regproc,
  rels regclass[],
  t    text
);
SET search_path = app, public;
CREATE INDEX things_norm ON app.things (norm(t));
INSERT INTO app.things
SELECT g, 'widgets'::regclass, 'widgets'::regtype, 'norm'::regproc, ARRAY['things'::regclass, 'widgets'::regclass], 'Row ' || g
  FROM generate_series(1, 200) g;
RESET search_path;`;

/** What a row of app.things says, printed with an empty search_path (everything qualified). */
const THINGS = `SELECT id, rel::text AS rel, typ::text AS typ, fn::text AS fn, rels::text AS rels, t
                  FROM app.things ORDER BY id`;

async function readThings(cluster: ServerPair['source'], database: string): Promise<Record<string, unknown>[]> {
  const client = await cluster.connect(database);
  try {
    await client.query(`SET search_path = ''`);
    return (await client.query(THINGS)).rows;
  } finally {
    await client.end();
  }
}

async function indexFunctionSchema(cluster: ServerPair['source'], database: string): Promise<string> {
  const [row] = await cluster.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_depend d
       JOIN pg_proc p ON p.oid = d.refobjid AND d.refclassid = 'pg_proc'::regclass
       JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE d.classid = 'pg_class'::regclass AND d.objid = 'app.things_norm'::regclass`,
    [],
    database,
  );
  return row!.schema;
}

describe('safety: a database search_path that puts a user schema first', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      for (const db of ['sp_offline', 'sp_online']) {
        await pair.source.query(`CREATE DATABASE ${db}`);
        await pair.source.query(SCHEMA, [], db);
        await pair.source.query(`ALTER DATABASE ${db} SET search_path = app, public`);
      }
    },
  });

  it('offline: OID-alias values arrive naming the same objects, and the index calls the same function', async () => {
    const { pair } = servers;
    const status = await runMigration(pairSpec(pair, 'sp-offline', ['sp_offline'], { option: 'Migrate' }));
    assert.equal(status.state, 'Succeeded', status.message);
    assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
    const target = await readThings(pair.target, 'sp_offline');
    assert.equal(target.length, 200);
    assert.deepEqual(target[0], {
      id: 1,
      rel: 'app.widgets',
      typ: 'app.widgets',
      fn: 'app.norm',
      rels: '{app.things,app.widgets}',
      t: 'Row 1',
    });
    assert.deepEqual(target, await readThings(pair.source, 'sp_offline'));
    assert.equal(await indexFunctionSchema(pair.target, 'sp_offline'), 'app');
    // the database setting itself travels too, after the data
    const [setting] = await pair.target.query<{ c: string[] }>(
      `SELECT s.setconfig AS c FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'sp_offline' AND s.setrole = 0`,
    );
    assert.deepEqual(setting?.c, ['search_path=app, public']);
  });

  it('online: streamed OID-alias values are applied naming the same objects', async () => {
    const { pair, store } = servers;
    const running = runMigration(pairSpec(pair, 'sp-online', ['sp_online'], { mode: 'Online', option: 'Migrate' }));
    await waitForStatus(store, 'sp-online', (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed');
    // a new session of the application: the database's search_path applies
    await pair.source.query(
      `INSERT INTO things VALUES (1000, 'things', 'things', 'norm', ARRAY['widgets'::regclass], 'streamed');
       UPDATE things SET rel = 'widgets', rels = ARRAY['things'::regclass] WHERE id = 1`,
      [],
      'sp_online',
    );
    await waitForStatus(store, 'sp-online', (s) => (s.databases[0]?.inserts ?? 0) >= 1 && (s.databases[0]?.updates ?? 0) >= 1);
    await requestCutover(store, 'sp-online');
    const status = await running;
    assert.equal(status.state, 'Succeeded', status.message);
    const target = await readThings(pair.target, 'sp_online');
    assert.deepEqual(target, await readThings(pair.source, 'sp_online'));
    assert.deepEqual(
      target.find((r) => r.id === 1000),
      { id: 1000, rel: 'app.things', typ: 'app.things', fn: 'app.norm', rels: '{app.widgets}', t: 'streamed' },
    );
    assert.equal(target.find((r) => r.id === 1)?.rels, '{app.things}');
    assert.equal(await indexFunctionSchema(pair.target, 'sp_online'), 'app');
  });
});
