// An offline migration shows CompletingMigration (InProgress) between its last database's copy and
// its end, as Azure's do: seen here by killing the runner there (failpoint offline-completing, a
// SIGKILL), where `show` reports the substate as az prints it; `resume --wait` then finishes it.
import assert from 'node:assert/strict';
import { startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

describe('an offline migration passes through CompletingMigration', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let file: string;
  let flags: string[];
  let env: Record<string, string>;

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE small');
    await pair.source.query(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);`, [], 'small');
    file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: ['small'],
    });
    flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    env = { PGPASSWORD: pair.target.password };
  });
  after(async () => {
    await pair?.stop();
  });

  it('is InProgress/CompletingMigration after the copy, and resume ends it Succeeded', async () => {
    const created = await runCli(['create', '--name', 'small-1', '--properties', file, ...PGFERRY_JSON], {
      PGFERRY_FAILPOINTS: 'offline-completing',
    });
    assert.equal(created.code, 0, created.stderr);
    const azure = await until('the runner to stop at CompletingMigration', async () => {
      const result = await runCli(['show', '--name', 'small-1', '--output', 'json', ...flags], env);
      assert.equal(result.code, 0, result.stderr);
      const shown = JSON.parse(result.stdout) as {
        properties: {
          currentStatus: { state: string; currentSubStateDetails: { currentSubState: string } };
          pgferry: { runner?: { alive: boolean } };
        };
      };
      return shown.properties.pgferry.runner?.alive === false ? shown : undefined;
    });
    assert.deepEqual(
      [azure.properties.currentStatus.state, azure.properties.currentStatus.currentSubStateDetails.currentSubState],
      ['InProgress', 'CompletingMigration'],
    );
    const resumed = await runCli(['resume', '--name', 'small-1', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 120_000);
    assert.equal(resumed.code, 0, `stderr: ${resumed.stderr}\nstdout: ${resumed.stdout}`);
    const status = JSON.parse(resumed.stdout) as { state: string; subState: string };
    assert.deepEqual([status.state, status.subState], ['Succeeded', 'Completed']);
    assert.deepEqual(await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], 'small'), [{ n: 100 }]);
  });
});
