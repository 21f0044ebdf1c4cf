// Parallel apply's routing (cdc/plan/laneRouter.ts): which session takes a whole source
// transaction, and which transactions a restarted apply skips as committed by a lane.
import assert from 'node:assert/strict';
import { LaneCatchUp, LaneRouter } from '../../provider/engine/cdc/plan/laneRouter';

describe('unit: parallel apply routing', () => {
  it('gives unbound transactions to the least loaded lane and keeps a table on its lane within a batch', () => {
    const r = new LaneRouter(3, []);
    assert.equal(r.route([10], 5), 0);
    assert.equal(r.route([11], 1), 1);
    assert.equal(r.route([12], 2), 2);
    assert.equal(r.route([10], 1), 0, 'table 10 stays on lane 0');
    assert.equal(r.route([13], 1), 1, 'lane 1 holds the fewest rows');
    assert.equal(r.route([10, 12], 1), undefined, 'tables on lanes 0 and 2: the batch must end first');
    r.batchEnded();
    assert.equal(r.route([10, 12], 1), 0, 'a new batch binds both to one lane');
    assert.equal(r.route([12], 9), 0);
  });

  it('keeps tables linked by foreign keys (through a chain) on one lane', () => {
    const r = new LaneRouter(4, [
      [1, 2],
      [2, 3],
      [7, 8],
    ]);
    const a = r.route([3], 100);
    assert.equal(r.route([1], 1), a, 'table 1 reaches table 3 through table 2');
    const b = r.route([8], 1);
    assert.notEqual(b, a);
    assert.equal(r.route([7], 1), b);
    assert.equal(r.route([2, 7], 1), undefined, 'the two groups sit on two lanes');
  });

  it('refuses a lane count that is not a whole number from 1', () => {
    assert.throws(() => new LaneRouter(0, []), /lanes must be a whole number from 1, not 0/);
  });

  it('skips after a restart exactly what a lane committed past the applied position', () => {
    const records = [
      { lane: 1, lsn: 500n, relations: [21, 22] },
      { lane: 2, lsn: 500n, relations: [23] },
      { lane: 3, lsn: 300n, relations: [24] },
    ];
    assert.equal(LaneCatchUp.of(records, 500n), undefined, 'every lane row at or before the position: nothing to skip');
    const c = LaneCatchUp.of(records, 400n)!;
    assert.equal(c.until, 500n);
    assert.equal(c.applied(450n, 21), true);
    assert.equal(c.applied(450n, 23), true);
    assert.equal(c.applied(450n, 24), false, "lane 3's row is of a batch committed whole");
    assert.equal(c.applied(450n, 99), false, 'a relation no lane wrote was not applied');
    assert.equal(c.applied(500n, 21), false, 'a transaction past the batch is not');
  });
});
