// Issue 64: the pooler in front of the source (spec.pooler) checked before anything is changed,
// against a real PgBouncer: its admin console reachable with the credentials given, the user in
// admin_users (not stats_users alone), its configuration file writable with a line per database,
// the databases it serves exactly the migrated ones from the source, and what each pool mode means
// for the pause. Each refusal carries its fix, and the pooler (its file, its databases, paused or
// not) is read back unchanged after every validation.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { runValidation } from '../../provider/engine/validate/runValidation';
import type { MigrationSpecInput } from '../../provider/engine/input/migrationSpec';
import { holdClosedPort, serverSpec, startPair, type ServerPair } from '../support';
import { poolerInputOf, startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { expectCode, specFor, summary } from './helpers';

describe('validation: the pooler in front of the source (real PgBouncer)', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  let pooler: PgBouncer;
  let sessionPooler: PgBouncer;

  before(async () => {
    pair = await startPair();
    for (const db of ['shop', 'other']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query('CREATE TABLE items (id int PRIMARY KEY, note text)', [], db);
    }
    const source = { host: pair.source.host, port: pair.source.port };
    [pooler, sessionPooler] = await Promise.all([
      startPgBouncer({
        databases: { shop: source, other: source, elsewhere: { ...source, port: pair.target.port, dbname: 'postgres' } },
        users: {},
      }),
      startPgBouncer({ databases: { shop: source }, users: {}, poolMode: 'session', serverResetQuery: '' }),
    ]);
  });
  after(async () => {
    await Promise.all([pooler?.stop(), sessionPooler?.stop()]);
    await pair?.stop();
  });

  function spec(databases: string[], over: Partial<NonNullable<MigrationSpecInput['pooler']>> = {}, on: PgBouncer = pooler) {
    return specFor(serverSpec(pair.source), serverSpec(pair.target), databases, {
      mode: 'Online',
      pooler: { ...poolerInputOf(on), ...over },
    });
  }

  /** The pooler as it is: its file and its databases (address, paused), to compare before and after. */
  async function poolerState(on: PgBouncer = pooler): Promise<string> {
    const rows = await on.admin<{ name: string; host: string; port: number; paused: number }>('SHOW DATABASES');
    return JSON.stringify([await fs.readFile(on.configFile, 'utf8'), rows.map((r) => [r.name, r.host, r.port, r.paused])]);
  }

  async function validateUnchanged(s: ReturnType<typeof spec>, on: PgBouncer = pooler) {
    const before = await poolerState(on);
    const results = await runValidation(s);
    assert.equal(await poolerState(on), before, 'the pooler is unchanged');
    return results;
  }

  it('passes every pooler check for a PgBouncer in transaction pooling serving the migrated databases', async () => {
    const results = await validateUnchanged(spec(['shop', 'other']));
    for (const code of ['POOLER_CONNECTIVITY', 'POOLER_ADMIN', 'POOLER_DATABASES', 'POOLER_CONFIG', 'POOLER_POOL_MODE'])
      expectCode(results, code, 'Succeeded');
    assert.equal(results.filter((r) => r.code.startsWith('POOLER') && r.status !== 'Succeeded').length, 0, summary(results));
  });

  it('refuses a pooler that is unreachable, naming its address and the fix', async () => {
    const closed = await holdClosedPort();
    try {
      const [r] = expectCode(await validateUnchanged(spec(['shop'], { port: closed.port })), 'POOLER_UNREACHABLE', 'Failed');
      assert.match(r!.message, new RegExp(`^the pooler's admin console at 127\\.0\\.0\\.1:${closed.port} cannot be used: .*ECONNREFUSED`));
      assert.match(r!.fix ?? '', /check pooler\.host and pooler\.port \(PgBouncer's listen_addr and listen_port\)/);
    } finally {
      await closed.release();
    }
  });

  it('refuses a wrong admin password, never echoing it, with the auth_file fix', async () => {
    const results = await validateUnchanged(spec(['shop'], { password: 'not-the-Password-42' }));
    const [r] = expectCode(results, 'POOLER_UNREACHABLE', 'Failed');
    assert.ok(!JSON.stringify(results).includes('not-the-Password-42'), 'the password is not echoed');
    assert.match(r!.fix ?? '', /check pooler\.user and pooler\.password against the pooler's auth_file/);
  });

  it('refuses a user of stats_users alone (SHOW allowed, PAUSE not), naming admin_users', async () => {
    const [r] = expectCode(
      await validateUnchanged(spec(['shop'], { user: pooler.statsUser, password: pooler.statsPassword })),
      'POOLER_ADMIN',
      'Failed',
    );
    assert.equal(
      r!.message,
      `the pooler's user "${pooler.statsUser}" is not in its admin_users (${pooler.adminUser}): it may not PAUSE, RELOAD or RESUME`,
    );
    assert.match(r!.fix ?? '', /^add "pooler_stats" to admin_users/);
    // what PgBouncer itself says to that user
    const stats = await pooler.connect('pgbouncer', pooler.statsUser, pooler.statsPassword);
    try {
      await assert.rejects(stats.query('PAUSE shop'), /admin access needed/);
    } finally {
      await stats.end();
    }
  });

  it('refuses a migrated database the pooler does not serve, and a pooler database that goes elsewhere', async () => {
    await pair.source.query('CREATE DATABASE unserved');
    try {
      const missing = expectCode(await validateUnchanged(spec(['shop', 'unserved'])), 'POOLER_DATABASES', 'Failed');
      assert.deepEqual(
        missing.map((r) => r.message),
        ['the pooler serves no database "unserved"', "none of the pooler's databases goes to the migrated database unserved"],
      );
      assert.match(missing[0]!.fix ?? '', /^add "unserved = host=127\.0\.0\.1 port=\d+ dbname=\.\.\." to the \[databases\] section of/);
    } finally {
      await pair.source.query('DROP DATABASE unserved');
    }
    const elsewhere = expectCode(
      await validateUnchanged(spec(['shop'], { databases: ['shop', 'elsewhere'] })),
      'POOLER_DATABASES',
      'Failed',
    );
    assert.deepEqual(
      elsewhere.map((r) => r.message),
      [`the pooler's "elsewhere" goes to 127.0.0.1:${pair.target.port}, not to the source 127.0.0.1:${pair.source.port}`],
    );
  });

  it('refuses a configuration file pgferry cannot find, naming the path', async () => {
    const [r] = expectCode(
      await validateUnchanged(spec(['shop'], { configFile: '/nonexistent/pgbouncer.ini' })),
      'POOLER_CONFIG',
      'Failed',
    );
    assert.match(
      r!.message,
      /^the pooler's configuration file: the file \/nonexistent\/pgbouncer\.ini cannot be read and written by pgferry/,
    );
    assert.match(r!.fix ?? '', /run pgferry where it can write pooler\.configFile/);
  });

  it('warns of session pooling (PAUSE waits for clients to leave) and of a missing server_reset_query', async () => {
    const results = await validateUnchanged(spec(['shop'], {}, sessionPooler), sessionPooler);
    const [mode] = expectCode(results, 'POOLER_POOL_MODE', 'Warning');
    assert.match(mode!.message, /pools by session: the cutover's PAUSE waits for every client of it to disconnect/);
    assert.match(mode!.fix ?? '', /^set pool_mode = transaction for "shop"/);
    expectCode(results, 'POOLER_RESET_QUERY', 'Warning');
  });
});
