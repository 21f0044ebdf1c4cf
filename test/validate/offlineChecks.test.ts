// Validation of an offline migration between two PostgreSQL 15 servers: what each check finds and
// that validating changes nothing on either server.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { runValidation, validationFailed } from '../../provider/engine/validate/runValidation';
import { holdClosedPort, serverSpec, startPair, type ServerPair } from '../support';
import { assertNoFailures, expectCode, specFor, stubToolsDir, summary, withCode } from './helpers';

// One pair for the whole file, started by the outer describe's hooks and shared by the groups below.
let pair: ServerPair;

describe('validation: offline 15 → 15', () => {
  before(async () => {
    pair = await startPair(15, 15);
    await loadSourceDatabases();
  });
  after(async () => pair?.stop());

  describe('a clean pair, missing and existing databases', databases);
  describe('credentials, connectivity and TLS', credentialsAndConnectivity);
  describe('tools, objects and privileges', toolsObjectsPrivileges);
  describe('cancellation', cancellation);
});

/** shop: one table of 100 rows; extras: a user-defined collation and cast, and an extension that needs preloading. */
async function loadSourceDatabases(): Promise<void> {
  await pair.source.query('CREATE DATABASE shop');
  await pair.source.query(
    `
    CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, price numeric);
    INSERT INTO item (name, price) SELECT 'item ' || g, g FROM generate_series(1, 100) g;`,
    [],
    'shop',
  );
  await pair.source.query('CREATE DATABASE extras');
  await pair.source.query(
    `
    CREATE COLLATION my_c (provider = libc, locale = 'C');
    CREATE TABLE t (id int PRIMARY KEY, label text COLLATE my_c);
    CREATE TYPE mood AS ENUM ('ok', 'meh');
    CREATE FUNCTION mood_text(mood) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1::text';
    CREATE CAST (mood AS text) WITH FUNCTION mood_text(mood);
    CREATE EXTENSION pg_stat_statements;`,
    [],
    'extras',
  );
}

function databases(): void {
  it('passes a clean pair with no Failed, and changes nothing on either server', async () => {
    const before = {
      targetDbs: await pair.target.query('SELECT datname FROM pg_database ORDER BY 1'),
      targetSchemas: await pair.target.query('SELECT nspname FROM pg_namespace ORDER BY 1'),
      sourceSlots: await pair.source.query('SELECT slot_name FROM pg_replication_slots'),
    };
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop']));
    assertNoFailures(results);
    assert.equal(validationFailed(results), false);
    assert.equal(expectCode(results, 'CONNECTIVITY', 'Succeeded').length, 2);
    for (const code of [
      'SERVER_VERSION',
      'PG_TOOLS',
      'SOURCE_DATABASE',
      'TARGET_DATABASE',
      'EXTENSIONS',
      'SCHEMA',
      'COLLATIONS',
      'MANAGED_TARGET',
      'TARGET_PRIVILEGES',
      'SOURCE_TABLE_PRIVILEGES',
    ]) {
      expectCode(results, code, 'Succeeded');
    }
    assert.equal(withCode(results, 'CDC_TABLE').length, 0, 'no CDC report offline');
    assert.deepEqual(await pair.target.query('SELECT datname FROM pg_database ORDER BY 1'), before.targetDbs);
    assert.deepEqual(await pair.target.query('SELECT nspname FROM pg_namespace ORDER BY 1'), before.targetSchemas);
    assert.deepEqual(await pair.source.query('SELECT slot_name FROM pg_replication_slots'), before.sourceSlots);
  });

  it('fails a database missing on the source, and still checks the others', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop', 'nope']));
    const [missing] = expectCode(results, 'SOURCE_DATABASE_MISSING', 'Failed');
    assert.equal(missing!.database, 'nope');
    assert.ok(missing!.fix);
    assert.ok(withCode(results, 'SOURCE_DATABASE').some((r) => r.database === 'shop'));
    assert.ok(withCode(results, 'EXTENSIONS').some((r) => r.database === 'shop'));
    assert.equal(validationFailed(results), true);
  });

  it('fails a database that exists on the target without overwrite, and leaves it untouched', async () => {
    await pair.target.query('CREATE DATABASE shop');
    try {
      await pair.target.query(`CREATE TABLE keep (v text); INSERT INTO keep VALUES ('precious');`, [], 'shop');
      const refused = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop']));
      const [exists] = expectCode(refused, 'TARGET_DATABASE_EXISTS', 'Failed');
      assert.equal(exists!.database, 'shop');
      const allowed = await runValidation(
        specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop'], { overwriteDbsInTarget: true }),
      );
      expectCode(allowed, 'TARGET_DATABASE_OVERWRITE', 'Warning');
      assertNoFailures(allowed);
      assert.deepEqual(await pair.target.query('SELECT v FROM keep', [], 'shop'), [{ v: 'precious' }]);
    } finally {
      await pair.target.query('DROP DATABASE shop WITH (FORCE)');
    }
  });
}

function credentialsAndConnectivity(): void {
  for (const role of ['source', 'target'] as const) {
    it(`fails a wrong ${role} password with AUTHENTICATION, never showing the password`, async () => {
      const secret = `wrong-Pw-${role}-7f3a`;
      const source = serverSpec(pair.source, role === 'source' ? { password: secret } : {});
      const target = serverSpec(pair.target, role === 'target' ? { password: secret } : {});
      const results = await runValidation(specFor(source, target, ['shop']));
      const [auth] = expectCode(results, 'AUTHENTICATION', 'Failed');
      assert.equal(auth!.server, role);
      assert.equal(withCode(results, 'AUTHENTICATION').length, 1);
      assert.ok(!JSON.stringify(results).includes(secret), 'password leaked into results');
      // the other server's checks still ran; the dependent ones were skipped, not crashed
      expectCode(results, 'CHECKS_SKIPPED', 'Warning');
      expectCode(results, role === 'source' ? 'TARGET_DATABASE' : 'SOURCE_DATABASE', 'Succeeded');
      assert.equal(withCode(results, 'SERVER_VERSION').length, 0);
    });
  }

  it('fails an unreachable server with CONNECTIVITY and skips what depends on it', async () => {
    // a port that refuses connections for the whole test (one found free could be taken meanwhile)
    const closed = await holdClosedPort();
    try {
      const source = serverSpec(pair.source, { port: closed.port });
      const results = await runValidation(specFor(source, serverSpec(pair.target), ['shop']));
      const failed = results.filter((r) => r.status === 'Failed');
      assert.deepEqual(
        failed.map((r) => [r.code, r.server]),
        [['CONNECTIVITY', 'source']],
        summary(results),
      );
      expectCode(results, 'TARGET_DATABASE', 'Succeeded');
    } finally {
      await closed.release();
    }
  });

  it('fails sslMode require against a server without TLS with SSL_MODE', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source, { sslMode: 'require' }), serverSpec(pair.target), ['shop']));
    const [ssl] = expectCode(results, 'SSL_MODE', 'Failed');
    assert.equal(ssl!.server, 'source');
  });
}

function toolsObjectsPrivileges(): void {
  it('fails pg_dump older than the source (pgBinDir with stub tools)', async () => {
    const dir = await stubToolsDir('12.0');
    try {
      const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop'], { pgBinDir: dir }));
      expectCode(results, 'PG_TOOLS_TOO_OLD', 'Failed');
      assert.deepEqual(
        results.filter((r) => r.status === 'Failed').map((r) => r.code),
        ['PG_TOOLS_TOO_OLD'],
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('warns on user-defined collations and casts, and fails an extension the target does not preload', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['extras']));
    expectCode(results, 'USER_DEFINED_COLLATION', 'Warning');
    expectCode(results, 'USER_DEFINED_CAST', 'Warning');
    const [preload] = expectCode(results, 'EXTENSION_NOT_PRELOADED', 'Failed');
    assert.ok(preload!.fix!.includes("shared_preload_libraries to 'pg_stat_statements'"), preload!.fix);
    assert.deepEqual(
      results.filter((r) => r.status === 'Failed').map((r) => r.code),
      ['EXTENSION_NOT_PRELOADED'],
      summary(results),
    );
  });

  it('fails a source user that cannot connect to a database or read its tables', async () => {
    await pair.source.query(`CREATE ROLE reader LOGIN PASSWORD 'reader-test-pw'`);
    await pair.source.query('REVOKE CONNECT ON DATABASE extras FROM PUBLIC');
    try {
      const reader = serverSpec(pair.source, { user: 'reader', password: 'reader-test-pw' });
      const results = await runValidation(specFor(reader, serverSpec(pair.target), ['shop', 'extras']));
      const [noConnect] = expectCode(results, 'SOURCE_DATABASE_NOT_CONNECTABLE', 'Failed');
      assert.equal(noConnect!.database, 'extras');
      const [unreadable] = expectCode(results, 'SOURCE_TABLE_NOT_READABLE', 'Failed');
      assert.equal(unreadable!.database, 'shop');
      assert.match(unreadable!.message, /public\.item\b/);
    } finally {
      await pair.source.query('GRANT CONNECT ON DATABASE extras TO PUBLIC');
    }
  });
}

function cancellation(): void {
  it('stops with CANCELED when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['shop']), { signal: controller.signal }),
      (e: { code?: string }) => e.code === 'CANCELED',
    );
  });
}
