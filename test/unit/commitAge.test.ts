// A session's first batches commit young: after a restart with a backlog, the first change shows on
// the target about FIRST_COMMIT_MS after the first row, not after a full commitMs batch.
import assert from 'node:assert/strict';
import { commitAgeLimitMs } from '../../provider/engine/cdc/apply/commitPolicy';

describe('unit: group commit age of a session', () => {
  it('starts at 50 ms and doubles with each commit up to the configured age', () => {
    const limits = [0, 1, 2, 3, 4, 5, 6].map((n) => commitAgeLimitMs(500, n));
    assert.deepEqual(limits, [50, 100, 200, 400, 500, 500, 500]);
  });

  it('never exceeds a configured age below 50 ms, and stays finite however many commits', () => {
    assert.equal(commitAgeLimitMs(20, 0), 20);
    assert.equal(commitAgeLimitMs(500, 10_000), 500);
    assert.equal(commitAgeLimitMs(Number.MAX_SAFE_INTEGER, 10_000), 50 * 2 ** 16);
  });
});
