import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { DEFAULT_ALLOW_LIST, makeManagedTarget, serverSpec, setAllowList, startPair, type ServerPair } from '../support';
import { assertNoFailures, expectCode, specFor, summary, withCode } from './helpers';

describe('validation: managed (Azure-like) target', () => {
  let pair: ServerPair;
  let pgadmin: ServerSpec;
  before(async () => {
    pair = await startPair(15, 15);
    pgadmin = await makeManagedTarget(pair.target);
    const src = pair.source;
    // superuser-only objects, all owned by the superuser postgres
    await src.query('CREATE DATABASE blockers');
    await src.query(
      `
      CREATE TABLE t (id int PRIMARY KEY);
      CREATE FUNCTION no_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
      CREATE EVENT TRIGGER audit_ddl ON ddl_command_start EXECUTE FUNCTION no_ddl();
      CREATE FUNCTION my_handler() RETURNS language_handler AS '$libdir/plpgsql', 'plpgsql_call_handler' LANGUAGE c;
      CREATE LANGUAGE myplu HANDLER my_handler;`,
      [],
      'blockers',
    );
    // an ordinary application database using one extension outside the default allow-list
    await src.query('CREATE ROLE app_owner NOLOGIN');
    await src.query('CREATE DATABASE tree OWNER app_owner');
    await src.query('CREATE EXTENSION ltree; CREATE EXTENSION hstore', [], 'tree');
    await src.query(`SET ROLE app_owner; CREATE TABLE node (id int PRIMARY KEY, path ltree, attrs hstore)`, [], 'tree');
  });
  after(async () => pair?.stop());

  it('names the event trigger, untrusted language and C function blockers for a non-superuser target user', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), pgadmin, ['blockers']));
    assert.match(expectCode(results, 'EVENT_TRIGGER', 'Failed')[0]!.message, /audit_ddl/);
    assert.match(expectCode(results, 'UNTRUSTED_LANGUAGE', 'Failed')[0]!.message, /myplu/);
    assert.match(expectCode(results, 'C_FUNCTION', 'Failed')[0]!.message, /my_handler/);
    // t and no_ddl belong to postgres, a superuser on the target too: they stay with pgadmin (a warning)
    assert.match(expectCode(results, 'SUPERUSER_OWNED_OBJECT', 'Warning')[0]!.message, /public\.t\b/);
    for (const r of results.filter((x) => x.status === 'Failed')) assert.ok(r.fix && r.database === 'blockers', r.code);
    expectCode(results, 'TARGET_PRIVILEGES', 'Succeeded');
  });

  it('lets a superuser target user migrate the same database', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['blockers']));
    assertNoFailures(results);
    expectCode(results, 'MANAGED_TARGET', 'Succeeded');
    for (const code of ['EVENT_TRIGGER', 'UNTRUSTED_LANGUAGE', 'C_FUNCTION', 'SUPERUSER_OWNED_OBJECT'])
      assert.equal(withCode(results, code).length, 0, code);
  });

  it('passes once the missing allow-list entry is added, with no other change', async () => {
    const spec = specFor(serverSpec(pair.source), pgadmin, ['tree']);
    const before = await runValidation(spec);
    const failed = before.filter((r) => r.status === 'Failed');
    assert.deepEqual(
      failed.map((r) => r.code),
      ['EXTENSION_NOT_ALLOWED'],
      summary(before),
    );
    assert.match(failed[0]!.message, /ltree/);
    const value = `${DEFAULT_ALLOW_LIST},LTREE`;
    assert.ok(failed[0]!.fix!.includes(`'${value}'`), failed[0]!.fix);
    try {
      await setAllowList(pair.target, value);
      const after = await runValidation(spec);
      assertNoFailures(after);
      expectCode(after, 'EXTENSIONS', 'Succeeded');
    } finally {
      await setAllowList(pair.target, DEFAULT_ALLOW_LIST);
    }
  });

  it('fails a target user without CREATEDB/CREATEROLE and warns when it is not in azure_pg_admin', async () => {
    await pair.target.query(`CREATE ROLE plain LOGIN PASSWORD 'plain-test-pw'`);
    const plain = serverSpec(pair.target, { user: 'plain', password: 'plain-test-pw' });
    const results = await runValidation(specFor(serverSpec(pair.source), plain, ['tree']));
    expectCode(results, 'TARGET_NO_CREATEDB', 'Failed');
    expectCode(results, 'TARGET_NO_CREATEROLE', 'Failed');
    expectCode(results, 'TARGET_NOT_AZURE_PG_ADMIN', 'Warning');
    const withoutRoles = await runValidation(specFor(serverSpec(pair.source), plain, ['tree'], { migrateRoles: false }));
    expectCode(withoutRoles, 'TARGET_NO_CREATEROLE', 'Warning');
  });

  it('fails a superuser-only extension the target user cannot create', async () => {
    await pair.source.query('CREATE DATABASE locks');
    await pair.source.query('CREATE EXTENSION pgrowlocks', [], 'locks');
    const results = await runValidation(specFor(serverSpec(pair.source), pgadmin, ['locks']));
    assert.match(expectCode(results, 'UNTRUSTED_EXTENSION', 'Failed')[0]!.message, /pgrowlocks/);
  });
});
