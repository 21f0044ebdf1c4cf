// A session's first batch commits at its first source commit and the next ones young: after a
// restart with a backlog, the first change shows on the target as soon as its transaction is
// applied, and the next ones about SECOND_COMMIT_MS later, not after a full commitMs batch.
import assert from 'node:assert/strict';
import { commitAgeLimitMs } from '../../provider/engine/cdc/apply/commitPolicy';

describe('unit: group commit age of a session', () => {
  it('commits the first batch at once, then starts at 50 ms and doubles with each commit up to the configured age', () => {
    const limits = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => commitAgeLimitMs(500, n));
    assert.deepEqual(limits, [0, 50, 100, 200, 400, 500, 500, 500]);
  });

  it('never exceeds a configured age below 50 ms, and stays finite however many commits', () => {
    assert.equal(commitAgeLimitMs(20, 1), 20);
    assert.equal(commitAgeLimitMs(500, 10_000), 500);
    assert.equal(commitAgeLimitMs(Number.MAX_SAFE_INTEGER, 10_000), 50 * 2 ** 16);
  });
});
