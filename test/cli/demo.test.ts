// `pgferry demo` as a user runs it: embedded servers, the lab's AdventureWorks sample, an offline
// and an online migration with cutover, exit 0 and no password on the screen.
import assert from 'node:assert/strict';
import { runCli } from './helpers';

describe('pgferry demo (end to end)', function () {
  this.timeout(600_000);

  it('migrates the 68 AdventureWorks tables offline, then online with the tutorial row streamed, and exits 0', async () => {
    const result = await runCli(['demo'], {}, 540_000);
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout.slice(-2000)}`);
    assert.match(result.stdout, /source: tables 68 humanresources\.department rows 16/);
    const succeeded = result.stdout.match(/state: Succeeded \/ Completed/g) ?? [];
    assert.equal(succeeded.length, 2, result.stdout);
    const copied = result.stdout.match(/adventureworks: Succeeded, tables 68\/68/g) ?? [];
    assert.equal(copied.length, 2, 'both runs report the 68 tables copied');
    assert.match(result.stdout, /verification: identical \(68 tables compared/);
    assert.match(result.stdout, /"departmentid":17,"name":"Logistics"/);
    assert.match(result.stdout, /humanresources\.department has 17 rows/);
    assert.doesNotMatch(result.stdout + result.stderr, /postgres-test-pw/);
  });
});
