// The server-parameter report: what the source's administrator set, against the target, with
// Azure's allow-list and the restart flag, and the recommended target settings.
import assert from 'node:assert/strict';
import { recommendedServerParameters } from '../../provider/engine';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { serverSpec, startPair, type ServerPair } from '../support';
import { expectCode, specFor } from './helpers';

describe('validation: server parameters of the source against the target', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    for (const statement of [
      `ALTER SYSTEM SET work_mem = '12MB'`,
      `ALTER SYSTEM SET commit_delay = 10`,
      `ALTER SYSTEM SET max_prepared_transactions = 7`,
      `ALTER SYSTEM SET random_page_cost = 1.1`,
    ]) {
      await pair.source.query(statement);
    }
    await pair.source.restart();
    await pair.source.query(`CREATE DATABASE app`);
    // the same value on both sides is not a difference
    await pair.target.query(`ALTER SYSTEM SET random_page_cost = 1.1`);
    await pair.target.query(`SELECT pg_reload_conf()`);
  });
  after(async () => pair?.stop());

  it('reports each differing parameter with both values, whether Azure allows it and whether it needs a restart', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['app']));
    const differing = expectCode(results, 'SERVER_PARAMETER_DIFFERS', 'Warning');
    const byName = new Map(differing.map((r) => [r.parameter!.name, r.parameter!]));
    assert.deepEqual(byName.get('work_mem'), {
      name: 'work_mem',
      sourceValue: '12288',
      targetValue: '4096',
      unit: 'kB',
      differs: true,
      azureAllows: true,
      needsRestart: false,
    });
    assert.equal(byName.get('max_prepared_transactions')?.needsRestart, true);
    assert.equal(byName.get('max_prepared_transactions')?.targetValue, '0');
    assert.equal(byName.get('commit_delay')?.azureAllows, false);
    assert.equal(byName.has('random_page_cost'), false, 'the same on both servers');
    assert.equal(byName.has('port'), false, 'machine parameters are never compared');
    const [summary] = expectCode(results, 'SERVER_PARAMETERS', 'Succeeded');
    assert.match(summary!.message, /work_mem/);

    const recommended = recommendedServerParameters(results);
    assert.equal(recommended.work_mem, '12288');
    assert.equal(recommended.max_prepared_transactions, '7');
    assert.equal(recommended.commit_delay, undefined, 'not settable on Azure: not recommended');
  });
});
