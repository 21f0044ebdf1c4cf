// Parallel apply's routing (cdc/plan/laneRouter.ts): which session takes a whole source
// transaction, and which transactions a restarted apply skips as committed by a lane.
import assert from 'node:assert/strict';
import { LaneCatchUp, LaneRouter, type LaneWrite } from '../../provider/engine/cdc/plan/laneRouter';

/** Writes weighing each table whole (no row key). */
const whole = (...tables: number[]): LaneWrite[] => tables.map((table) => ({ table }));

describe('unit: parallel apply routing', () => {
  it('gives unbound transactions to the least loaded lane and keeps a table on its lane within a batch', () => {
    const r = new LaneRouter(3, []);
    assert.equal(r.route(whole(10), 5), 0);
    assert.equal(r.route(whole(11), 1), 1);
    assert.equal(r.route(whole(12), 2), 2);
    assert.equal(r.route(whole(10), 1), 0, 'table 10 stays on lane 0');
    assert.equal(r.route(whole(13), 1), 1, 'lane 1 holds the fewest rows');
    assert.equal(r.route(whole(10, 12), 1), undefined, 'tables on lanes 0 and 2: the batch must end first');
    r.batchEnded();
    assert.equal(r.route(whole(10, 12), 1), 0, 'a new batch binds both to one lane');
    assert.equal(r.route(whole(12), 9), 0);
  });

  it('weighs rows by key: other rows of one table go side by side, one row keeps its lane', () => {
    const r = new LaneRouter(3, []);
    assert.equal(
      r.route(
        [
          { table: 10, row: '[1]' },
          { table: 11, row: '[5]' },
        ],
        2,
      ),
      0,
    );
    assert.equal(
      r.route(
        [
          { table: 10, row: '[2]' },
          { table: 11, row: '[6]' },
        ],
        2,
      ),
      1,
      'other rows of both tables',
    );
    assert.equal(r.route([{ table: 10, row: '[3]' }], 1), 2);
    assert.equal(r.route([{ table: 11, row: '[6]' }], 1), 1, 'row 6 of table 11 stays on lane 1');
    assert.equal(
      r.route(
        [
          { table: 10, row: '[1]' },
          { table: 11, row: '[6]' },
        ],
        1,
      ),
      undefined,
      'rows on lanes 0 and 1',
    );
    assert.equal(r.route([{ table: 12, row: '[1]' }, { table: 10 }], 1), undefined, 'table 10 whole depends on all three lanes');
    assert.equal(r.route(whole(11), 1), undefined, 'table 11 was written on lanes 0 and 1');
    r.batchEnded();
    assert.equal(r.route(whole(10), 1), 0);
    assert.equal(r.route([{ table: 10, row: '[9]' }], 1), 0, 'a row of a table bound whole goes to its lane');
  });

  it('keeps tables linked by foreign keys (through a chain) on one lane, whatever their rows', () => {
    const r = new LaneRouter(4, [
      [1, 2],
      [2, 3],
      [7, 8],
    ]);
    const a = r.route([{ table: 3, row: '[1]' }], 100);
    assert.equal(r.route([{ table: 1, row: '[2]' }], 1), a, 'table 1 reaches table 3 through table 2, another row');
    const b = r.route(whole(8), 1);
    assert.notEqual(b, a);
    assert.equal(r.route(whole(7), 1), b);
    assert.equal(r.route(whole(2, 7), 1), undefined, 'the two groups sit on two lanes');
  });

  it('weighs a table with a unique index beside its key whole', () => {
    const r = new LaneRouter(2, [], [20]);
    assert.equal(r.route([{ table: 20, row: '[1]' }], 5), 0);
    assert.equal(r.route([{ table: 20, row: '[2]' }], 1), 0, 'another row of table 20 still on lane 0');
    assert.equal(r.route([{ table: 21, row: '[2]' }], 1), 1);
  });

  it('tells whether a transaction touches what another session wrote in batches whose commits have not all returned', () => {
    const r = new LaneRouter(3, [[30, 31]]);
    // row 1 of table 10 and table 30 of a foreign-key group (weighed whole) on the first session
    assert.equal(
      r.route(
        [
          { table: 10, row: '[1]' },
          { table: 30, row: '[1]' },
        ],
        5,
      ),
      0,
    );
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 1);
    r.batchEnded();
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[1]' }], 2), true, "row 1 was the first session's");
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[2]' }], 2), true, "row 2 was lane 1's, whose COMMIT may be on its way");
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[2]' }], 1), false, "lane 1's own row: its connection commits in order");
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[3]' }], 2), false, 'a row no session wrote');
    assert.equal(r.dependsOnUnseen([{ table: 10 }], 1), true, 'table 10 whole touches row 1 of the first session');
    assert.equal(r.dependsOnUnseen([{ table: 31, row: '[7]' }], 1), true, 'the group of tables 30 and 31');
    r.route([{ table: 11, row: '[1]' }], 1);
    r.batchEnded();
    r.batchReturned();
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[1]' }], 2), false, 'the commits of that batch returned');
    assert.equal(r.dependsOnUnseen([{ table: 11, row: '[1]' }], 2), true, "the next batch's have not");
    r.batchReturned();
    assert.equal(r.dependsOnUnseen([{ table: 11, row: '[1]' }], 2), false);
  });

  it('refuses a lane count that is not a whole number from 1', () => {
    assert.throws(() => new LaneRouter(0, []), /lanes must be a whole number from 1, not 0/);
  });
});

describe('unit: parallel apply routing across batches and restarts', () => {
  it('skips after a restart exactly the transactions a lane committed past the applied position', () => {
    const records = [
      { lane: 1, lsn: 500n, transactions: [410n, 430n] },
      { lane: 2, lsn: 500n, transactions: [420n] },
      { lane: 3, lsn: 300n, transactions: [250n] },
    ];
    assert.equal(LaneCatchUp.of(records, 500n), undefined, 'every lane row at or before the position: nothing to skip');
    const c = LaneCatchUp.of(records, 400n)!;
    assert.equal(c.until, 500n);
    assert.equal(c.applied(410n), true);
    assert.equal(c.applied(420n), true);
    assert.equal(c.applied(440n), false, 'a transaction no lane committed was not applied');
    assert.equal(c.applied(250n), false, "lane 3's row is of a batch committed whole");
  });

  it('sends a transaction free to go anywhere to the first session when it touches a row another lane wrote in a batch not returned', () => {
    const r = new LaneRouter(3, []);
    assert.equal(r.route([{ table: 10, row: '[1]' }], 5), 0);
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 1);
    assert.equal(r.route([{ table: 10, row: '[3]' }], 1), 2);
    assert.equal(
      r.route(
        [
          { table: 10, row: '[2]' },
          { table: 10, row: '[3]' },
        ],
        1,
      ),
      undefined,
      'rows of lanes 1 and 2: the batch ends',
    );
    r.batchEnded();
    assert.equal(
      r.route(
        [
          { table: 10, row: '[2]' },
          { table: 10, row: '[3]' },
        ],
        1,
      ),
      0,
      'the next batch starts on the first session',
    );
    assert.equal(r.route([{ table: 10, row: '[4]' }], 1), 1, 'a row no lane wrote goes to the least loaded');
    assert.equal(r.route([{ table: 10, row: '[3]' }], 1), 0, "row 3 is now the first session's in this batch");
    assert.equal(r.route([{ table: 10, row: '[1]' }], 1), 0, "row 1 was the first session's in the batch before: it stays there");
    assert.equal(r.route([{ table: 10, row: '[5]' }], 1), 2, 'lane 2 holds the fewest rows');
    r.batchEnded();
    r.batchReturned();
    r.batchReturned();
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 0, 'every commit returned: the least loaded');
    assert.equal(r.route([{ table: 10, row: '[4]' }], 1), 1);
  });

  it('skips after a restart the transactions of every batch a lane committed past the applied position, one record a batch', () => {
    const records = [
      { lane: 1, lsn: 500n, transactions: [410n] },
      { lane: 1, lsn: 600n, transactions: [520n, 580n] },
      { lane: 2, lsn: 600n, transactions: [540n] },
      { lane: 2, lsn: 400n, transactions: [350n] },
    ];
    const c = LaneCatchUp.of(records, 400n)!;
    assert.equal(c.until, 600n, 'the first session applies alone up to the last lane record');
    assert.deepEqual(
      [410n, 520n, 540n, 580n].map((t) => c.applied(t)),
      [true, true, true, true],
    );
    assert.equal(c.applied(350n), false, 'a record at the applied position is of a batch committed whole');
    assert.equal(c.applied(450n), false, "a transaction of the first session's part was not applied");
  });

  it('names the lanes holding what a transaction touches, and binds it to the first session after them', () => {
    const r = new LaneRouter(3, [[30, 31]]);
    assert.equal(r.route([{ table: 10, row: '[1]' }], 5), 0);
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 1);
    assert.equal(r.route([{ table: 10, row: '[3]' }], 1), 2);
    assert.equal(r.route(whole(30), 1), 1, 'the group of tables 30 and 31 on the least loaded lane');
    const crossing = [
      { table: 10, row: '[1]' },
      { table: 10, row: '[2]' },
      { table: 10, row: '[3]' },
    ];
    assert.equal(r.route(crossing, 3), undefined);
    assert.deepEqual([...r.lanesHolding(crossing)].sort(), [1, 2], "the first session's own row needs no commit");
    assert.equal(r.routeFirst(crossing, 3), 0);
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 0, "row 2 follows the first session's write of it");
    assert.deepEqual([...r.lanesHolding([{ table: 10, row: '[2]' }])], [], 'no lane holds row 2 any more');
    assert.equal(r.routeFirst(whole(31), 1), 0);
    assert.equal(r.route(whole(30), 1), 0, 'the group written whole on the first session stays there');
  });

  it('keeps a transaction on the lane that wrote its rows in a batch not returned, its connection committing in order', () => {
    const r = new LaneRouter(3, []);
    assert.equal(r.route([{ table: 10, row: '[1]' }], 5), 0);
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 1);
    r.batchEnded();
    assert.equal(r.route([{ table: 10, row: '[9]' }], 1), 0);
    assert.equal(r.route([{ table: 10, row: '[2]' }], 1), 1, "row 2 was lane 1's: lane 1 again, though lane 2 holds fewer rows");
    assert.equal(r.dependsOnUnseen([{ table: 10, row: '[2]' }], 1), false);
  });
});
