// The pooler's configuration file as the cutover rewrites it (switchover/pooler.ts): only the
// host= and port= of the named [databases] lines change, in place, the rest of the file byte for
// byte; a line already pointing there is not written; a name without a line is refused with its fix.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configuredAddresses, pointDatabases } from '../../provider/engine/switchover/pooler';
import type { PoolerSpec } from '../../provider/engine/input/migrationSpec';

const CONFIG = [
  ';; the pooler of the shop',
  '[databases]',
  "shop = dbname=shop host=10.0.0.4 port=5432 auth_user='pool er' pool_size=40",
  '"odd ""name""" = host=10.0.0.4 dbname=odd',
  '; other = host=10.0.0.4 port=5432',
  'reports = host=10.0.0.9 port=5433 dbname=reports',
  '',
  '[pgbouncer]',
  'listen_port = 6432',
  'shop = not a database line',
  '',
].join('\n');

describe('unit: the pooler configuration file the cutover repoints', () => {
  let dir: string;
  let pooler: PoolerSpec;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-poolercfg-'));
    const configFile = path.join(dir, 'pgbouncer.ini');
    await fs.writeFile(configFile, CONFIG, { mode: 0o640 });
    pooler = { host: '127.0.0.1', port: 6432, user: 'admin', configFile, pauseTimeoutSeconds: 10 };
  });
  afterEach(async () => fs.rm(dir, { recursive: true, force: true }));

  it('reads where each named line points, host= and port= as written (null when absent)', async () => {
    assert.deepEqual(Object.fromEntries(await configuredAddresses(pooler, ['shop', 'odd "name"'])), {
      shop: { host: '10.0.0.4', port: '5432' },
      'odd "name"': { host: '10.0.0.4', port: null },
    });
  });

  it('points the named lines elsewhere in place, keeping every other byte and the file mode, and back again', async () => {
    await pointDatabases(
      pooler,
      new Map([
        ['shop', { host: 'target.example', port: '6543' }],
        ['odd "name"', { host: 'target.example', port: '6543' }],
      ]),
    );
    const moved = await fs.readFile(pooler.configFile, 'utf8');
    assert.equal(
      moved,
      CONFIG.replace('host=10.0.0.4 port=5432 auth_user', 'host=target.example port=6543 auth_user').replace(
        'host=10.0.0.4 dbname=odd',
        'host=target.example dbname=odd port=6543',
      ),
    );
    assert.equal((await fs.stat(pooler.configFile)).mode & 0o777, 0o640);
    await pointDatabases(
      pooler,
      new Map([
        ['shop', { host: '10.0.0.4', port: '5432' }],
        ['odd "name"', { host: '10.0.0.4', port: null }],
      ]),
    );
    assert.equal(await fs.readFile(pooler.configFile, 'utf8'), CONFIG, 'back as it was, byte for byte');
    assert.deepEqual(await fs.readdir(dir), ['pgbouncer.ini'], 'no file left beside it');
  });

  it('writes nothing when the lines already point there', async () => {
    const before = (await fs.stat(pooler.configFile)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await pointDatabases(pooler, new Map([['reports', { host: '10.0.0.9', port: '5433' }]]));
    assert.equal((await fs.stat(pooler.configFile)).mtimeMs, before);
  });

  it('refuses a name without a line in [databases] (a commented one, or one of another section), naming the fix', async () => {
    for (const name of ['other', 'missing']) {
      await assert.rejects(pointDatabases(pooler, new Map([[name, { host: 'x', port: '1' }]])), (error: Error & { fix?: string }) => {
        assert.equal(
          error.message,
          `the pooler's configuration file ${pooler.configFile} has no line for "${name}" in its [databases] section`,
        );
        assert.match(error.fix ?? '', /in the \[databases\] section of .* itself \(not in an %include\)/);
        return true;
      });
    }
    assert.equal(await fs.readFile(pooler.configFile, 'utf8'), CONFIG, 'unchanged');
  });
});
