// Issue 12, "dead runners are visible": once an online migration's runner is killed, `--wait`
// ends (exit 1, RUNNER_STOPPED) instead of waiting forever, `show` reads the slot on the source
// (not streaming, WAL retained), and `update --cancel` releases the slot, the publication and the
// origin itself. The runner's log sits in a private directory.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MigrationStatus } from '../../provider/engine';
import { suiteServers, until } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from '../cli/helpers';

describe('safety: an online migration whose runner was killed', function () {
  this.timeout(300_000);
  let file: string;
  let flags: string[];
  let env: Record<string, string>;
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query('CREATE DATABASE shop');
      await pair.source.query(
        `CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 500) g`,
        [],
        'shop',
      );
      file = propertiesFile({
        properties: {
          SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
          SecretParameters: {
            AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password },
            targetServerUserName: pair.target.user,
          },
          targetDbServerFullyQualifiedDomainName: pair.target.host,
          targetDbServerPort: pair.target.port,
          DBsToMigrate: ['shop'],
          OverwriteDBsInTarget: true,
        },
      });
      flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
      env = { PGPASSWORD: pair.target.password };
    },
  });

  const show = async (): Promise<MigrationStatus> => {
    const result = await runCli(['show', '--name', 'stops', '--properties', file, ...PGFERRY_JSON, ...flags], env);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  };

  it('is visible to --wait, show and cancel, and cancel releases what it holds on both servers', async () => {
    const { pair } = servers;
    const created = await runCli(
      ['create', '--name', 'stops', '--properties', file, '--mode', 'online', '--wait', ...PGFERRY_JSON],
      {},
      240_000,
    );
    assert.equal(created.code, 0, created.stderr);
    const running = JSON.parse(created.stdout);
    const logDir = path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'pgferry');
    assert.equal(statSync(logDir).mode & 0o777, 0o700);
    const slot: string = running.databases[0].names.slot;

    process.kill(running.runner.pid, 'SIGKILL');
    await until('the runner to be seen stopped', async () => ((await show()).runner?.alive === false ? true : undefined));
    await pair.source.query(`INSERT INTO orders SELECT g, 'while stopped' FROM generate_series(1000, 3000) g`, [], 'shop');

    const waited = await runCli(['update', '--name', 'stops', '--cutover', '--wait', ...flags], env, 60_000);
    assert.equal(waited.code, 1, waited.stderr);
    assert.match(waited.stderr, /runner .* has stopped/);

    const status = await show();
    const seen = status.databases[0]!.sourceSlot;
    assert.equal(seen?.exists, true, JSON.stringify(seen));
    assert.equal(seen?.active, false);
    assert.ok((seen?.retainedBytes ?? 0) > 0);

    const canceled = await runCli(['update', '--name', 'stops', '--cancel', '--properties', file, ...PGFERRY_JSON, ...flags], env);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(JSON.parse(canceled.stdout).state, 'Canceled');
    assert.deepEqual(await pair.source.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1`, [slot]), []);
    assert.deepEqual(await pair.source.query(`SELECT pubname FROM pg_publication`, [], 'shop'), []);
    assert.deepEqual(await pair.target.query(`SELECT roname FROM pg_replication_origin`), []);
  });
});
