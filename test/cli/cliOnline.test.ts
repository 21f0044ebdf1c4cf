// End to end, online: `create --mode online --wait` returns once changes stream, a row written on
// the source arrives, `update --cutover --wait` finishes with Succeeded; rows read back from the target.
import assert from 'node:assert/strict';
import { startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

describe('pgferry online migration (end to end)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let file: string;
  let flags: string[];
  let env: Record<string, string>;

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(
      `CREATE TABLE public.orders (id int PRIMARY KEY, item text NOT NULL);
       INSERT INTO public.orders SELECT g, 'item ' || g FROM generate_series(1, 500) g;`,
      [],
      'shop',
    );
    file = propertiesFile({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        SecretParameters: { AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password } },
        targetDbServerFullyQualifiedDomainName: pair.target.host,
        targetDbServerPort: pair.target.port,
        targetServerUserName: pair.target.user,
        DBsToMigrate: ['shop'],
        OverwriteDBsInTarget: true,
      },
    });
    flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    env = { PGPASSWORD: pair.target.password };
  });
  after(async () => pair?.stop());

  it('create --mode online --wait returns at WaitingForCutoverTrigger with exit 0', async () => {
    const result = await runCli(
      ['create', '--name', 'shop-online', '--properties', file, '--mode', 'online', '--wait', ...PGFERRY_JSON],
      {},
      240_000,
    );
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
    const status = JSON.parse(result.stdout);
    assert.equal(status.mode, 'Online');
    assert.equal(status.state, 'WaitingForUserAction');
    assert.equal(status.subState, 'WaitingForCutoverTrigger');
    assert.equal(status.runner.alive, true);
  });

  it('streams a change written on the source, shown in the online counters', async () => {
    await pair.source.query(`INSERT INTO public.orders VALUES (501, 'late order')`, [], 'shop');
    await until('the insert in the online counters', async () => {
      const show = await runCli(['show', '--name', 'shop-online', ...PGFERRY_JSON, ...flags], env);
      assert.equal(show.code, 0, show.stderr);
      return JSON.parse(show.stdout).databases[0].inserts >= 1 ? true : undefined;
    });
    assert.deepEqual(await pair.target.query(`SELECT item FROM public.orders WHERE id = 501`, [], 'shop'), [{ item: 'late order' }]);
    const table = await runCli(['show', '--name', 'shop-online', ...flags], env);
    assert.match(table.stdout, /INSERTS\s+UPDATES\s+DELETES\s+LATENCY\s+PENDING/);
  });

  it('update --cutover --wait finishes the migration with exit 0', async () => {
    const result = await runCli(['update', '--name', 'shop-online', '--cutover', '--wait', ...PGFERRY_JSON, ...flags], env, 240_000);
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
    assert.equal(JSON.parse(result.stdout).state, 'Succeeded');
    const rows = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.orders`, [], 'shop');
    assert.deepEqual(rows, [{ n: 501 }]);
    assert.deepEqual(await pair.target.query(`SELECT item FROM public.orders WHERE id = 501`, [], 'shop'), [{ item: 'late order' }]);
  });
});
