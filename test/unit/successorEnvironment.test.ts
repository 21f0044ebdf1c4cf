// The environment a runner's successor starts with (runner/spawn.ts runnerEnvironment): a failpoint
// armed for one runner must not fire again in each successor it starts.
import assert from 'node:assert/strict';
import { runnerEnvironment, SUCCESSOR_FAILPOINTS } from '../../provider/engine/runner/spawn';

describe("a runner's successor's environment", () => {
  const env = { PATH: '/usr/bin', PGFERRY_HOLD_DIR: '/tmp/h', PGFERRY_FAILPOINTS: 'copy-data:shop,lease-lost:hold' };

  it("leaves out the runner's failpoints, keeps the rest; a runner that is no successor keeps them all", () => {
    assert.deepEqual(runnerEnvironment(env, true), { PATH: '/usr/bin', PGFERRY_HOLD_DIR: '/tmp/h' });
    assert.deepEqual(runnerEnvironment({ ...env, [SUCCESSOR_FAILPOINTS]: 'successor-lease:hold' }, false), {
      ...env,
      [SUCCESSOR_FAILPOINTS]: 'successor-lease:hold',
    });
  });

  it('arms a successor with the failpoints a test names for it alone, which it passes on to no successor of its own', () => {
    const first = runnerEnvironment({ ...env, [SUCCESSOR_FAILPOINTS]: 'successor-lease:hold' }, true);
    assert.deepEqual(first, { PATH: '/usr/bin', PGFERRY_HOLD_DIR: '/tmp/h', PGFERRY_FAILPOINTS: 'successor-lease:hold' });
    assert.deepEqual(runnerEnvironment(first, true), { PATH: '/usr/bin', PGFERRY_HOLD_DIR: '/tmp/h' });
  });
});
