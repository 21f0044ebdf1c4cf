// Issue 15: a source with an event trigger, a plperlu function and trigger, and a C function with a
// view calling it, migrated to an Azure-like target whose admin is no superuser. Without
// skipUnsupportedObjects validation fails and its fix names the switch, never a change on the
// source; with it everything else migrates and verifies, and each object left behind is listed
// with a definition the target's administrator can run.
import assert from 'node:assert/strict';
import { renderStatus, statusJson } from '../../provider/cli/output';
import { parseMigrationSpec, runMigration, type MigrationStatus, type ValidationResult } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { statusOutputs } from '../../provider/resource/outputs';
import { loadUnsupportedObjects, makeManagedTarget, serverSpec, startPair, waitForStatus, type ServerPair } from '../support';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const LEFT_BEHIND = ['EVENT_TRIGGER', 'UNTRUSTED_LANGUAGE', 'C_FUNCTION', 'OBJECT_LEFT_BEHIND'];

function leftBehind(status: MigrationStatus): ValidationResult[] {
  return status.validation.filter((r) => LEFT_BEHIND.includes(r.code) && r.database === 'shop');
}

/** The left-behind result whose message names `object`; exactly one. */
function resultFor(results: readonly ValidationResult[], object: string): ValidationResult {
  const found = results.filter((r) => r.message.startsWith(`${object} in `));
  assert.equal(found.length, 1, `${object}: ${results.map((r) => r.message).join('\n')}`);
  return found[0]!;
}

// One pair for the whole file, started by the outer describe's hooks and shared by the groups below.
let pair: ServerPair;
let pgadmin: ServerSpec;
const spec = (name: string, extra: Record<string, unknown> = {}) =>
  parseMigrationSpec({
    migrationName: name,
    source: serverSpec(pair.source),
    target: pgadmin,
    databases: ['shop'],
    overwriteDbsInTarget: true,
    ...extra,
  });
const source = (sql: string) => pair.source.query(sql, [], 'shop');
const target = (sql: string) => pair.target.query(sql, [], 'shop');

describe('managed target: leaving behind what the target user cannot create', function () {
  this.timeout(400_000);
  before(async () => {
    // PostgreSQL 15 on both sides: the target has PL/Perl too, so the listed definitions can be run there.
    pair = await startPair(15, 15);
    await loadUnsupportedObjects(pair.source, 'shop');
    pgadmin = await makeManagedTarget(pair.target);
  });
  after(async () => pair?.stop());

  describe('without skipUnsupportedObjects', withoutTheSwitch);
  describe('with skipUnsupportedObjects, offline and online', withTheSwitch);
  describe('a table that depends on such an object', tableDependsOnIt);
});

function withoutTheSwitch(): void {
  it('fails validation without the switch, each fix offering it and never a change on the source', async () => {
    const results = await runValidation(spec('skip-off'));
    const failed = results.filter((r) => r.status === 'Failed' && LEFT_BEHIND.includes(r.code));
    assert.deepEqual(failed.map((r) => r.code).sort(), ['C_FUNCTION', 'EVENT_TRIGGER', 'UNTRUSTED_LANGUAGE']);
    assert.match(resultFor(failed, 'event trigger shop_ddl').fix!, /^set skipUnsupportedObjects: true \(CLI --skip-unsupported-objects\)/);
    // the language's failure names what would be left behind with it
    assert.match(resultFor(failed, 'extension plperlu').message, /trigger items_perl on table shop\.items/);
    assert.match(resultFor(failed, 'function shop.c_levenshtein(text,text)').message, /view shop\.near_names/);
    for (const r of results.filter((x) => x.status !== 'Succeeded')) {
      assert.doesNotMatch(r.fix ?? '', /on the source|DROP /, `${r.code}: ${r.fix}`);
    }
    for (const r of failed) assert.match(r.fix!, /skipUnsupportedObjects[^]*target's administrator/, r.code);
  });
}

function withTheSwitch(): void {
  it('migrates everything else offline, verifies it, and lists each object left behind with its definition', async () => {
    const status = await runMigration(spec('skip-offline', { skipUnsupportedObjects: true }));
    assert.equal(status.state, 'Succeeded', `${status.message} ${JSON.stringify(status.validation.filter((v) => v.status === 'Failed'))}`);
    assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);

    // the data and the ordinary objects arrived
    for (const sql of ['SELECT count(*)::int AS n, sum(price)::text AS s FROM shop.items', 'SELECT count(*)::int AS n FROM shop.audit']) {
      assert.deepEqual(await target(sql), await source(sql), sql);
    }
    assert.deepEqual(await target(`SELECT count(*)::int AS n FROM shop.cheap`), [{ n: 39 }]);
    assert.deepEqual(await target(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'shop.items'::regclass AND NOT tgisinternal`), [
      { tgname: 'items_audit' },
    ]);
    // what the target user cannot create is not there
    assert.deepEqual(await target(`SELECT count(*)::int AS n FROM pg_event_trigger`), [{ n: 0 }]);
    assert.deepEqual(await target(`SELECT extname FROM pg_extension WHERE extname = 'plperlu'`), []);
    assert.deepEqual(
      await target(
        `SELECT to_regclass('shop.near_names') AS v, to_regprocedure('shop.shout(text)') AS f, to_regprocedure('shop.c_levenshtein(text,text)') AS c`,
      ),
      [{ v: null, f: null, c: null }],
    );

    // listed once each, as Warnings, with the dump's definition and their grants and comments
    assert.deepEqual(
      status.validation.filter((r) => r.status === 'Failed'),
      [],
    );
    const listed = leftBehind(status);
    assert.equal(listed.length, 7, listed.map((r) => r.message).join('\n'));
    for (const r of listed) assert.equal(r.status, 'Warning', r.message);
    assert.match(
      resultFor(listed, 'event trigger shop_ddl').definition!,
      /CREATE EVENT TRIGGER shop_ddl[^]*COMMENT ON EVENT TRIGGER shop_ddl/,
    );
    assert.match(resultFor(listed, 'extension plperlu').definition!, /CREATE EXTENSION IF NOT EXISTS plperlu/);
    assert.match(resultFor(listed, 'function shop.c_levenshtein(text,text)').definition!, /'\$libdir\/fuzzystrmatch', 'levenshtein'/);
    assert.match(resultFor(listed, 'function shop.perl_check()').definition!, /LANGUAGE plperlu/);
    const shout = resultFor(listed, 'function shop.shout(text)');
    assert.match(shout.definition!, /COMMENT ON FUNCTION shop\.shout\(text\)[^]*GRANT ALL ON FUNCTION shop\.shout\(text\) TO shop_reader/);
    assert.match(shout.message, /with its COMMENT, ACL/);
    assert.match(
      resultFor(listed, 'view shop.near_names').definition!,
      /CREATE VIEW shop\.near_names[^]*GRANT SELECT ON TABLE shop\.near_names TO shop_reader/,
    );
    assert.match(
      resultFor(listed, 'trigger items_perl on table shop.items').definition!,
      /CREATE TRIGGER items_perl BEFORE INSERT OR UPDATE ON shop\.items/,
    );

    // verification names them and did not count them
    assert.deepEqual(status.verification?.leftOut?.map((o) => o.object).sort(), listed.map((r) => r.message.split(' in ')[0]).sort());

    // `pgferry show` (table and JSON) and the Pulumi outputs carry the same list
    assert.match(
      renderStatus(status),
      /OBJECT_LEFT_BEHIND \[shop\]: view shop\.near_names in shop is left behind[^]*definition:\n +CREATE VIEW shop\.near_names/,
    );
    assert.match(renderStatus(status), /left out, not compared[^]*shop: event trigger shop_ddl/);
    assert.deepEqual(leftBehind(JSON.parse(JSON.stringify(statusJson(status))) as MigrationStatus), listed);
    assert.deepEqual(
      statusOutputs(status)
        .validation.filter((r) => LEFT_BEHIND.includes(r.code))
        .map((r) => r.definition),
      listed.map((r) => r.definition),
    );

    // the definitions, run in the listed order by the target's administrator, recreate every object
    for (const r of listed) await target(r.definition!);
    assert.deepEqual(await target(`SELECT distance FROM shop.near_names WHERE id = 1`), [{ distance: 0 }]);
    assert.deepEqual(await target(`SELECT shop.shout('ok') AS s, obj_description('shop.shout(text)'::regprocedure) AS c`), [
      { s: 'OK', c: 'upper case, in Perl' },
    ]);
    assert.deepEqual(await target(`SELECT evtname, evttags FROM pg_event_trigger`), [{ evtname: 'shop_ddl', evttags: ['CREATE TABLE'] }]);
  });

  it('streams changes online into a table whose trigger was left behind, and cuts over', async () => {
    const name = 'skip-online';
    const online = spec(name, { skipUnsupportedObjects: true, mode: 'Online' });
    const store = new CatalogConnection(pgadmin);
    try {
      const running = runMigration(online);
      const ready = await waitForStatus(store, name, (st) => st.state !== 'InProgress', 300_000);
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      assert.deepEqual(await target(`SELECT tgname FROM pg_trigger WHERE tgname = 'items_perl'`), []);
      // fires items_perl and items_audit on the source; the audit rows stream like any other
      await source(`INSERT INTO shop.items SELECT g, 'late ' || g, g FROM generate_series(2001, 2100) g`);
      await source(`UPDATE shop.items SET price = price + 1 WHERE id <= 100`);
      await requestCutover(store, name);
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.equal(done.verification?.ok, true);
      for (const sql of ['SELECT count(*)::int AS n, sum(price)::text AS s FROM shop.items', 'SELECT count(*)::int AS n FROM shop.audit']) {
        assert.deepEqual(await target(sql), await source(sql), sql);
      }
      assert.ok((done.verification?.leftOut ?? []).some((o) => o.object === 'trigger items_perl on table shop.items'));
      assert.equal(leftBehind(done).length, 7);
      // the trigger that did migrate is enabled again as on the source
      assert.deepEqual(await target(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'items_audit'`), [{ tgenabled: 'O' }]);
    } finally {
      await store.close();
    }
  });
}

function tableDependsOnIt(): void {
  it('still fails with the switch when a table depends on such an object', async () => {
    await pair.source.query('CREATE DATABASE needy');
    await pair.source.query(
      `CREATE FUNCTION c_levenshtein(text, text) RETURNS int AS '$libdir/fuzzystrmatch', 'levenshtein' LANGUAGE c IMMUTABLE STRICT;
       CREATE TABLE words (w text PRIMARY KEY, d int DEFAULT c_levenshtein('a', 'b'))`,
      [],
      'needy',
    );
    const needy = (option: string) =>
      parseMigrationSpec({
        migrationName: `needy-${option.toLowerCase()}`,
        source: serverSpec(pair.source),
        target: pgadmin,
        databases: ['needy'],
        skipUnsupportedObjects: true,
        option,
      });
    const results = await runValidation(needy('Validate'));
    const failed = results.filter((r) => r.status === 'Failed');
    assert.deepEqual(
      failed.map((r) => r.code),
      ['TABLE_NEEDS_UNSUPPORTED_OBJECT'],
    );
    assert.match(failed[0]!.message, /table public\.words in needy depends on function public\.c_levenshtein\(text,text\)/);
    // without validation, the schema copy stops before restoring anything
    const status = await runMigration(needy('Migrate'));
    assert.equal(status.state, 'ValidationFailed', status.message);
    assert.match(status.message ?? '', /table public\.words depends on function public\.c_levenshtein/);
    assert.deepEqual(await pair.target.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'words'`, [], 'needy'), [{ n: 0 }]);
  });
}
