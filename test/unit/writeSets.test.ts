// bench/writeSets.ts: each transaction's rows read from test_decoding's lines, and the report's
// chains, groups of shared rows and model drain times, worked out by hand for small backlogs.
import assert from 'node:assert/strict';
import { writeSetReport, writeSetsOf } from '../../bench/writeSets';

describe('write-sets of a backlog (bench/writeSets.ts)', () => {
  it("reads each transaction's rows by table and first column, a row once, leaving out messages and transactions without rows", () => {
    const lines = [
      'BEGIN',
      "table public.sbtest1: UPDATE: id[integer]:5 k[integer]:4993 c[character(120)]:'a b' pad[character(60)]:'x'",
      'table public.sbtest1: DELETE: id[integer]:5',
      "table public.sbtest1: INSERT: id[integer]:5 k[integer]:1 c[character(120)]:'c' pad[character(60)]:'p'",
      "table public.sbtest2: UPDATE: id[integer]:7 k[integer]:8 c[character(120)]:'d' pad[character(60)]:'q'",
      'COMMIT',
      'message: transactional: 1 prefix: pgferry, sz: 3 content:end',
      'BEGIN',
      'COMMIT',
      'BEGIN',
      "table public.names: INSERT: name[text]:'it''s one' v[integer]:1",
      'COMMIT',
    ];
    assert.deepEqual(writeSetsOf(lines), [['public.sbtest1/5', 'public.sbtest2/7'], ["public.names/'it''s one'"]]);
  });

  it('counts the transactions depending on an earlier one, the longest chain, and the model drain of one and two sessions', () => {
    const report = writeSetReport([['a'], ['b'], ['a'], ['c'], ['b', 'c']], [1, 2], 1000, [1]);
    assert.deepEqual(report.trimEnd().split('\n'), [
      'write-sets: 5 transactions, 6 rows written (a row once a transaction); 2 depend on an earlier one; longest chain 2 transactions',
      "  model, 1000 ms a transaction, 1 ms to see another session's commit: 1 sessions 5.00 s (1.00 x), 2 sessions 3.00 s (1.67 x)",
    ]);
  });

  it("gives the share of each window its largest group of shared rows holds: all of a window on one row, one of a window's distinct rows", () => {
    const sets = [...Array.from({ length: 25 }, () => ['hot']), ...Array.from({ length: 25 }, (_, i) => [`r${i}`])];
    const lines = writeSetReport(sets, [1], 1, []).trimEnd().split('\n');
    assert.deepEqual(lines.slice(1), [
      '  windows of 25 transactions (2): the largest group joined by shared rows holds 100% (median; least 4%)',
      '  windows of 50 transactions (1): the largest group joined by shared rows holds 50% (median; least 50%)',
    ]);
  });
});
