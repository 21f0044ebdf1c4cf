// TLS, as Azure requires it: servers that refuse connections without TLS, a CA made for this run,
// and each sslMode (require, verify-ca, verify-full with sslRootCert) on the source and on the
// target, through every client pgferry runs: its own sessions, pg_dump/pg_restore/pg_dumpall, and
// the replication stream. A wrong CA and a wrong host name are refused with one line and a code.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { parseMigrationSpec } from '../../provider/engine/input/parse';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { makeTlsFiles, serverSpec, startTlsPair, waitForStatus, type Cluster, type ServerPair, type TlsFiles } from '../support';
import { expectCode, summary } from '../validate/helpers';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

type SslMode = 'require' | 'verify-ca' | 'verify-full';

describe('TLS on the source and the target (sslMode and sslRootCert)', function () {
  this.timeout(300_000);
  let tls: TlsFiles;
  let pair: ServerPair;

  before(async () => {
    tls = await makeTlsFiles();
    pair = await startTlsPair(tls);
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(
      `CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, note bytea);
       INSERT INTO orders (item, note) SELECT 'item ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 3000) g;
       SELECT lo_from_bytea(0, 'a large object over TLS');`,
      [],
      'shop',
    );
  });
  after(async () => {
    await pair?.stop();
    await tls?.remove();
  });

  /**
   * A server as a client names it: verify-full by the certificate's host name, the others by
   * address (the certificate does not name 127.0.0.1, which verify-ca does not check).
   */
  const side = (cluster: Cluster, sslMode: SslMode | 'disable', extra: Partial<ServerSpec> = {}): ServerSpec =>
    serverSpec(cluster, {
      sslMode,
      ...(sslMode === 'verify-full' ? { host: tls.hostName } : {}),
      ...(sslMode === 'verify-ca' || sslMode === 'verify-full' ? { sslRootCert: tls.caFile } : {}),
      ...extra,
    });

  const specOf = (name: string, source: ServerSpec, target: ServerSpec, extra: Record<string, unknown> = {}) =>
    parseMigrationSpec({ migrationName: name, source, target, databases: ['shop'], overwriteDbsInTarget: true, tableJobs: 2, ...extra });

  /** Rows, bytes and the large object, read back from the target. */
  const assertCopied = async () => {
    const digest = (c: Cluster) =>
      c.query(
        `SELECT count(*)::int AS n, md5(string_agg(o::text, ',' ORDER BY id)) AS h,
                (SELECT string_agg(convert_from(lo_get(oid), 'UTF8'), ',') FROM pg_largeobject_metadata) AS lo,
                (SELECT last_value::int FROM orders_id_seq) AS seq
           FROM orders o`,
        [],
        'shop',
      );
    const [target] = await digest(pair.target);
    assert.deepEqual(target, (await digest(pair.source))[0]);
    assert.equal(target!.n, 3000);
    assert.equal(target!.lo, 'a large object over TLS');
  };

  /** Every connection to a TLS-only server is encrypted; this proves the server is one. */
  it('the servers refuse a client without TLS (sslMode disable), so what follows ran over TLS', async () => {
    const results = await runValidation(specOf('tls-plain', side(pair.source, 'disable'), side(pair.target, 'require')));
    const [refused] = expectCode(results, 'AUTHENTICATION', 'Failed');
    assert.equal(refused!.server, 'source');
    assert.match(refused!.message, /no encryption/);
  });

  for (const [source, target] of [
    ['require', 'verify-full'],
    ['verify-ca', 'require'],
    ['verify-full', 'verify-ca'],
  ] as const) {
    it(`migrates offline with source ${source} and target ${target}, pg_dump and pg_restore included`, async () => {
      const name = `tls-${source}-${target}`;
      const status = await runMigration(specOf(name, side(pair.source, source), side(pair.target, target)));
      assert.equal(status.state, 'Succeeded', `${status.message}${summary(status.validation)}`);
      const connected = status.validation.filter((r) => r.code === 'CONNECTIVITY').map((r) => r.message);
      assert.equal(connected.length, 2, connected.join('\n'));
      for (const line of connected) assert.match(line, /\bTLS, sslMode (require|verify-ca|verify-full)\)/);
      assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
      await assertCopied();
    });
  }

  it('migrates online with verify-full on both sides: the replication stream runs over TLS too', async () => {
    const spec = specOf('tls-online', side(pair.source, 'verify-full'), side(pair.target, 'verify-full'), {
      mode: 'Online',
      option: 'Migrate',
    });
    const store = new CatalogConnection(spec.target);
    try {
      const running = runMigration(spec);
      const ready = await waitForStatus(store, 'tls-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      assert.equal(ready.state, 'WaitingForUserAction', ready.message);
      await pair.source.query(`INSERT INTO orders (item) VALUES ('streamed over TLS')`, [], 'shop');
      await waitForStatus(store, 'tls-online', (s) => (s.databases[0]?.inserts ?? 0) > 0 || s.state === 'Failed');
      const [walsender] = await pair.source.query<{ ssl: boolean }>(
        `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name LIKE 'pgferry%'`,
      );
      assert.equal(walsender?.ssl, true, 'the walsender serves a TLS connection');
      await requestCutover(store, 'tls-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(await pair.target.query(`SELECT id FROM orders WHERE item = 'streamed over TLS'`, [], 'shop'), [{ id: 3001 }]);
      await pair.source.query(`DELETE FROM orders WHERE id = 3001`, [], 'shop');
    } finally {
      await store.close();
    }
  });

  for (const role of ['source', 'target'] as const) {
    it(`refuses a ${role} whose certificate a wrong CA does not sign (verify-ca), in one line with SSL_MODE`, async () => {
      const wrongCa = { sslRootCert: tls.otherCaFile };
      const spec = specOf(
        `tls-wrong-ca-${role}`,
        side(pair.source, 'verify-ca', role === 'source' ? wrongCa : {}),
        side(pair.target, 'verify-ca', role === 'target' ? wrongCa : {}),
      );
      const results = await runValidation(spec);
      const [refused] = expectCode(results, 'SSL_MODE', 'Failed');
      assert.equal(refused!.server, role);
      assert.doesNotMatch(refused!.message, /\n/);
      assert.match(refused!.message, /sslMode verify-ca/);
      assert.match(refused!.fix ?? '', /sslRootCert/);
    });

    it(`refuses a ${role} reached by a name its certificate does not carry (verify-full), in one line with SSL_MODE`, async () => {
      const byAddress = { host: '127.0.0.1' };
      const spec = specOf(
        `tls-wrong-host-${role}`,
        side(pair.source, 'verify-full', role === 'source' ? byAddress : {}),
        side(pair.target, 'verify-full', role === 'target' ? byAddress : {}),
      );
      const results = await runValidation(spec);
      const [refused] = expectCode(results, 'SSL_MODE', 'Failed');
      assert.equal(refused!.server, role);
      assert.doesNotMatch(refused!.message, /\n/);
      assert.match(refused!.message, /127\.0\.0\.1/);
    });
  }

  it('a wrong CA fails the migration at validation and changes nothing on the target', async () => {
    const before = await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`);
    const status = await runMigration(
      specOf('tls-wrong-ca-run', side(pair.source, 'verify-ca', { sslRootCert: tls.otherCaFile }), side(pair.target, 'require')),
    );
    assert.equal(status.state, 'ValidationFailed', status.message);
    expectCode(status.validation, 'SSL_MODE', 'Failed');
    assert.deepEqual(await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`), before);
  });
});
