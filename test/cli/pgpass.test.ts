// A password file is honoured: with no password in the properties, an offline
// migration through the pgferry command succeeds when PGPASSFILE names a file, or when HOME holds
// a .pgpass, made here; the same migration without the file fails. Success needs both the driver
// (validation, the catalog, the copy) and pg_dump/pg_restore (the schema) to read the file.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

/** A .pgpass line; ':' and '\' in a field are escaped as libpq reads them. */
const pgpassLine = (host: string, port: number, user: string, password: string) =>
  [host, String(port), '*', user, password].map((f) => f.replace(/[\\:]/g, '\\$&')).join(':');

describe('a password file is honoured by the driver and by pg_dump/pg_restore', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let home: string;
  let file: string;

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE vault');
    await pair.source.query(
      `CREATE TABLE coins (id int PRIMARY KEY, face text NOT NULL);
       INSERT INTO coins SELECT g, 'face ' || g FROM generate_series(1, 500) g;
       CREATE INDEX coins_face ON coins (face);`,
      [],
      'vault',
    );
    home = mkdtempSync(path.join(os.tmpdir(), 'pgferry-pgpass-'));
    const pgpass = path.join(home, '.pgpass');
    writeFileSync(pgpass, `${[pair.source, pair.target].map((c) => pgpassLine(c.host, c.port, c.user, c.password)).join('\n')}\n`);
    // libpq and the driver both ignore a password file others can read
    chmodSync(pgpass, 0o600);
    file = propertiesFile({
      source: `postgres://${pair.source.user}@${pair.source.host}:${pair.source.port}/`,
      target: `postgres://${pair.target.user}@${pair.target.host}:${pair.target.port}/`,
      databases: ['vault'],
      overwriteDbsInTarget: true,
    });
  });
  after(async () => {
    await pair?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const create = (name: string, env: Record<string, string | undefined>) =>
    runCli(['create', '--name', name, '--properties', file, '--wait', ...PGFERRY_JSON], env, 240_000);

  const assertCopied = async () => {
    const rows = await pair.target.query<{ n: number; faces: string }>(
      `SELECT count(*)::int AS n, md5(string_agg(face, ',' ORDER BY id)) AS faces FROM coins`,
      [],
      'vault',
    );
    const source = await pair.source.query(
      `SELECT count(*)::int AS n, md5(string_agg(face, ',' ORDER BY id)) AS faces FROM coins`,
      [],
      'vault',
    );
    assert.deepEqual(rows, source);
    assert.equal(rows[0]!.n, 500);
    // the index is pg_restore's post-data work
    assert.deepEqual(await pair.target.query(`SELECT to_regclass('coins_face') IS NOT NULL AS built`, [], 'vault'), [{ built: true }]);
  };

  it('without a password file the migration cannot connect, and the target gets nothing', async () => {
    const result = await create('vault-nofile', { HOME: path.join(home, 'empty') });
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, /password/);
    const dbs = await pair.target.query(`SELECT datname FROM pg_database WHERE datname = 'vault'`);
    assert.deepEqual(dbs, []);
  });

  it('PGPASSFILE naming the file', async () => {
    const result = await create('vault-pgpassfile', { PGPASSFILE: path.join(home, '.pgpass') });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).state, 'Succeeded');
    await assertCopied();
  });

  it('~/.pgpass, found through HOME', async () => {
    await pair.target.query('DROP DATABASE vault');
    const result = await create('vault-home', { HOME: home, PGPASSFILE: undefined });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).state, 'Succeeded');
    await assertCopied();
  });
});
