// `pgferry demo --source-url U --target-url U`: the demo on two servers a user already has, which
// it checks before changing anything and leaves as it says.
import assert from 'node:assert/strict';
import { startCluster, startPair, type ServerPair } from '../support';
import { runCli } from './helpers';

const url = (server: { host: string; port: number }) => `postgres://postgres@${server.host}:${server.port}/postgres`;

describe('pgferry demo on existing servers', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  const demo = (extra: Record<string, string> = {}) =>
    runCli(
      ['demo', '--source-url', url(pair.source), '--target-url', url(pair.target)],
      { PGPASSWORD: pair.source.password, ...extra },
      540_000,
    );
  const migrations = async () =>
    (await pair.target.query<{ name: string; state: string }>('SELECT name, state FROM pgferry.migration ORDER BY created_at')).map(
      (m) => `${m.name} ${m.state}`,
    );

  it('runs the offline and the online migration between them and says what it left there', async () => {
    const result = await demo();
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout.slice(-2000)}`);
    assert.match(result.stdout, new RegExp(`source: PostgreSQL 15\\.\\d+ on ${pair.source.host}:${pair.source.port}`));
    assert.equal((result.stdout.match(/state: Succeeded \/ Completed/g) ?? []).length, 2, result.stdout);
    assert.match(result.stdout, /"departmentid":17/);
    assert.match(result.stdout, /left for you to look at: database "adventureworks" on both servers/);
    const names = await migrations();
    assert.equal(names.length, 2);
    assert.match(names[0]!, /^offlinemigration-\d{14} Succeeded$/);
    assert.match(names[1]!, /^onlinemigration-\d{14} Succeeded$/);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(pair.source.password));
  });

  it('refuses servers that already hold the sample database, before changing anything', async () => {
    const before = await migrations();
    const result = await demo();
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /cannot use these servers \(nothing was changed on them\)/);
    assert.match(result.stderr, /the source already has a database "adventureworks"/);
    assert.match(result.stderr, /the target already has a database "adventureworks"/);
    assert.deepEqual(await migrations(), before);
  });

  it('refuses a source without logical decoding, naming the setting, before changing anything', async () => {
    const physical = await startCluster({ major: 15, label: 'demo-physical', settings: { wal_level: 'replica' } });
    try {
      const result = await runCli(['demo', '--source-url', url(physical), '--target-url', url(pair.target)], {
        PGPASSWORD: physical.password,
      });
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /the source's wal_level is replica/);
      assert.deepEqual(await physical.query(`SELECT 1 FROM pg_database WHERE datname = 'adventureworks'`), []);
    } finally {
      await physical.stop();
    }
  });

  it('refuses a password in a URL, and either URL alone, with exit 2 and nothing started', async () => {
    const secret = `postgres://postgres:${pair.source.password}@${pair.source.host}:${pair.source.port}/postgres`;
    const withPassword = await runCli(['demo', '--source-url', secret, '--target-url', url(pair.target)]);
    assert.equal(withPassword.code, 2);
    assert.match(withPassword.stderr, /\[PASSWORD_ON_COMMAND_LINE\]/);
    assert.doesNotMatch(withPassword.stderr, new RegExp(pair.source.password));
    const alone = await runCli(['demo', '--target-url', url(pair.target)]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--source-url: .*needs both --source-url and --target-url.*\[USAGE\]/);
  });
});
