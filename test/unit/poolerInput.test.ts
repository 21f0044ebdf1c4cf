// The pooler as an input (spec.pooler, docs/pooler.md): the same field from the spec, a properties
// body, the CLI's flags (the password from PGFERRY_POOLER_PASSWORD, never a flag) and Pulumi's
// check; each bad value refused in one line naming the field and what is allowed; its password
// kept out of the stored run spec and masked in the provider's messages.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';
import { publicSpec } from '../../provider/engine/input/publicSpec';
import { runSpecOf } from '../../provider/engine/input/runSpec';
import { checkInputs } from '../../provider/resource/inputSchema';
import { redact } from '../../provider/resource/redact';

const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['shop'],
  mode: 'Online',
};
const pooler = { host: '10.0.0.5', user: 'pgferry_admin', password: 'pooler-Secret-77', configFile: '/etc/pgbouncer/pgbouncer.ini' };

function inputError(fn: () => unknown): PgferryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError, `expected a PgferryError, got ${String(error)}`);
    assert.equal(error.category, 'input');
    return error;
  }
  assert.fail('expected an input error');
}

describe('the pooler as an input', () => {
  it('parses with its defaults: port 6432, a pause timeout of 10 s, the databases of the migration', () => {
    const spec = parseMigrationSpec({ ...base, pooler });
    assert.deepEqual(spec.pooler, { ...pooler, port: 6432, pauseTimeoutSeconds: 10 });
  });

  it('takes a fallback window beside the pooler: the fall-back goes through it too', () => {
    const spec = parseMigrationSpec({ ...base, fenceWriters: true, fallbackWindow: '1h', pooler });
    assert.equal(spec.fallbackWindow, '1h');
    assert.equal(spec.pooler?.host, pooler.host);
  });

  it('refuses each bad value in one line naming the field and what is allowed', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, mode: 'Offline', pooler }, 'pooler: applies only to an Online migration (mode), which has a cutover'],
      [
        { ...base, pooler: { ...pooler, configFile: 'pgbouncer.ini' } },
        "pooler.configFile: must be the absolute path of the pooler's configuration file",
      ],
      [
        { ...base, pooler: { ...pooler, pauseTimeoutSeconds: 0 } },
        'pooler.pauseTimeoutSeconds: must be a whole number of seconds from 1 to 3600',
      ],
      [{ ...base, pooler: { ...pooler, databases: [] } }, 'pooler.databases: must not be empty'],
    ];
    for (const [input, message] of cases) {
      const error = inputError(() => parseMigrationSpec(input));
      assert.equal(error.message, message);
      assert.ok(!error.message.includes('\n'));
      assert.ok(!error.message.includes(pooler.password));
    }
  });

  it('takes the CLI flags, the password from PGFERRY_POOLER_PASSWORD, over the body', () => {
    process.env.PGFERRY_POOLER_PASSWORD = pooler.password;
    try {
      const args = parseCli([
        'create',
        '--name',
        'm1',
        '--properties',
        'b.json',
        '--pooler',
        '10.0.0.5:6433',
        '--pooler-user',
        'pgferry_admin',
        '--pooler-config-file',
        '/etc/pgbouncer/pgbouncer.ini',
        '--pooler-database',
        'shop',
        '--pooler-database',
        'shop_ro',
      ]);
      assert.deepEqual(args.spec.pooler, {
        host: '10.0.0.5',
        port: 6433,
        user: 'pgferry_admin',
        configFile: '/etc/pgbouncer/pgbouncer.ini',
        databases: ['shop', 'shop_ro'],
        password: pooler.password,
      });
      const spec = specFromProperties(
        {
          ...base,
          source: 'postgres://u@src/postgres',
          target: 'postgres://u@dst/postgres',
          pooler: { ...pooler, pauseTimeoutSeconds: 30 },
        },
        // the flags give some of its fields; the body's others (its password) stay
        { pooler: { host: '10.0.0.6', port: 6432 } } as unknown as Parameters<typeof specFromProperties>[1],
      );
      assert.deepEqual(spec.pooler, { ...pooler, host: '10.0.0.6', port: 6432, pauseTimeoutSeconds: 30 });
    } finally {
      delete process.env.PGFERRY_POOLER_PASSWORD;
    }
    const bad = inputError(() => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--pooler', '10.0.0.5:port']));
    assert.equal(bad.message, "--pooler: must be the pooler's admin address, host:port (e.g. 10.0.0.5:6432)");
  });

  it("fails Pulumi's check naming the input", () => {
    const failures = checkInputs({}, { ...base, pooler: { ...pooler, user: '' } });
    assert.deepEqual(
      failures.map((f) => f.property),
      ['pooler.user'],
    );
  });

  it('keeps its password out of the stored specs and masks it in the provider messages', () => {
    const spec = parseMigrationSpec({ ...base, pooler });
    assert.ok(!JSON.stringify(runSpecOf(spec)).includes(pooler.password));
    assert.ok(!JSON.stringify(publicSpec(spec)).includes(pooler.password));
    assert.equal(redact(`login failed for ${pooler.password}`, spec), 'login failed for ***');
  });
});
