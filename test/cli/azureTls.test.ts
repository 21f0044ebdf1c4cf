// TLS verified for Azure servers by default, through the pgferry command as a user runs it: a local
// server whose certificate a CA of this run signed for tlsbox.postgres.database.azure.com, reached
// under that Azure name mapped by PGFERRY_SERVER_HOSTS to its loopback address. Without the CA the
// create is refused in one line naming the certificate problem and the fix, and nothing is
// registered on the target; with the CA given (targetSslRootCert) the migration runs, pg_restore
// included (libpq is given the name and the address apart), and the rows are read back; an explicit
// weaker sslMode runs with a warning naming the risk.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTlsFiles, startTlsPair, until, type ServerPair, type TlsFiles } from '../support';
import { runCli, type CliResult } from './helpers';

const AZURE_NAME = 'tlsbox.postgres.database.azure.com';

interface Result {
  readonly status: string;
  readonly code: string;
  readonly message: string;
  readonly fix?: string;
}

describe('TLS verified for an Azure server by default, through the pgferry command (integration)', function () {
  this.timeout(300_000);
  let tls: TlsFiles;
  let pair: ServerPair;
  let cwd: string;
  let env: Record<string, string>;
  const az = ['--subscription', 'sub', '--resource-group', 'rg', '--name', 'tlsbox'];
  const run = (argv: string[]): Promise<CliResult> => runCli(argv, env, 60_000, undefined, cwd);
  const body = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        SSLMode: 'Require',
        DBsToMigrate: ['shop'],
        OverwriteDBsInTarget: 'true',
        ...extra,
      },
    });
  const create = (name: string, properties: Record<string, unknown>, flags: string[] = []) => {
    writeFileSync(path.join(cwd, `${name}.json`), body(properties));
    return run(['create', ...az, '--migration-name', name, '--properties', `${name}.json`, ...flags]);
  };
  const settled = (name: string) =>
    until(`migration ${name} to end`, async () => {
      const [row] = await pair.target.query<{ state: string; validation: Result[] }>(
        `SELECT state, validation FROM pgferry.migration WHERE name = $1`,
        [name],
      );
      return row && ['Succeeded', 'Failed', 'ValidationFailed', 'Canceled'].includes(row.state) ? row : undefined;
    });

  before(async () => {
    tls = await makeTlsFiles([AZURE_NAME]);
    pair = await startTlsPair(tls);
    cwd = mkdtempSync(path.join(os.tmpdir(), 'pgferry-azure-tls-'));
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(
      `CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 500) g`,
      [],
      'shop',
    );
    assert.equal(pair.source.password, pair.target.password);
    env = { PGFERRY_SERVER_HOSTS: `tlsbox=${pair.target.user}@${pair.target.host}:${pair.target.port}`, PGPASSWORD: pair.target.password };
  });
  after(async () => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await pair?.stop();
    await tls?.remove();
  });

  it("refuses the Azure name's server whose certificate Azure's roots do not sign, in one line with the cause and the fix, registering nothing", async () => {
    const before = await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`);
    const refused = await create('tls-refused', {});
    assert.notEqual(refused.code, 0);
    assert.equal(refused.errLines.length, 1, refused.stderr);
    const line = refused.errLines[0]!;
    assert.match(
      line,
      new RegExp(
        `TLS with sslMode verify-full against Azure's root CAs failed on the target ${AZURE_NAME.replace(/\./g, '\\.')} \\(at 127\\.0\\.0\\.1:\\d+\\)`,
      ),
    );
    assert.match(line, /certificate/i, 'names the certificate problem');
    assert.match(line, /set target\.sslRootCert to the CA \(PEM\) that signed its certificate/, 'names the fix');
    assert.deepEqual(await pair.target.query(`SELECT datname FROM pg_database ORDER BY 1`), before, 'no database made');
    const [schema] = await pair.target.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'pgferry'`);
    assert.equal(schema!.n, 0, 'no control catalog made');
  });

  it('migrates with the CA given, checking the certificate against the Azure name at the mapped address', async () => {
    const created = await create('tls-verified', { targetSslRootCert: tls.caFile });
    assert.equal(created.code, 0, created.stderr);
    const done = await settled('tls-verified');
    assert.equal(done.state, 'Succeeded', JSON.stringify(done.validation));
    const connected = done.validation.find((r) => r.code === 'CONNECTIVITY' && /target/.test(r.message));
    assert.match(connected!.message, /TLS, sslMode verify-full\)/);
    assert.equal(
      done.validation.some((r) => r.status === 'Warning' && r.code === 'SSL_MODE'),
      false,
      'no warning for a checked certificate',
    );
    const count = (c: typeof pair.source) =>
      c.query(`SELECT count(*)::int AS n, md5(string_agg(item, ',' ORDER BY id)) AS h FROM orders`, [], 'shop');
    assert.deepEqual(await count(pair.target), await count(pair.source));
  });

  it('runs with an explicit require for the Azure server, warning that its certificate is not checked', async () => {
    const created = await create('tls-require', {}, ['--target-ssl-mode', 'require']);
    assert.equal(created.code, 0, created.stderr);
    const done = await settled('tls-require');
    assert.equal(done.state, 'Succeeded', JSON.stringify(done.validation));
    const warned = done.validation.filter((r) => r.status === 'Warning' && r.code === 'SSL_MODE');
    assert.equal(warned.length, 1, JSON.stringify(done.validation));
    assert.match(
      warned[0]!.message,
      new RegExp(
        `target ${AZURE_NAME.replace(/\./g, '\\.')} is an Azure server and target\\.sslMode require does not check its certificate`,
      ),
    );
    assert.match(warned[0]!.fix ?? '', /verify-full/);
    const [rows] = await pair.target.query(`SELECT count(*)::int AS n FROM orders`, [], 'shop');
    assert.equal(rows!.n, 500);
  });
});
