// `pgferry demo` as a user runs it: embedded servers, an offline and an online migration with
// cutover, exit 0 and no password on the screen.
import assert from 'node:assert/strict';
import { runCli } from './helpers';

describe('pgferry demo (end to end)', function () {
  this.timeout(600_000);

  it('runs the offline and the online migration and exits 0', async () => {
    const result = await runCli(['demo'], {}, 540_000);
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout.slice(-2000)}`);
    const succeeded = result.stdout.match(/state: Succeeded \/ Completed/g) ?? [];
    assert.equal(succeeded.length, 2, result.stdout);
    assert.match(result.stdout, /verification: identical/);
    assert.match(result.stdout, /"departmentid":17/);
    assert.doesNotMatch(result.stdout + result.stderr, /postgres-test-pw/);
  });
});
