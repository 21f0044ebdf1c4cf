// pgferry's own objects in a database's control schema, told by schema and name together
// (core/names.ts isPgferrysOwn): every name pgferry derives there is its own, and a DBA's object
// in a schema of that name, or pgferry's names in another schema, are not.
import assert from 'node:assert/strict';
import {
  CONTROL_SCHEMA,
  COPY_LEDGER,
  eventTriggerNamesOf,
  fenceNamesOf,
  guardNamesOf,
  isPgferrysOwn,
  LANE_TABLE,
  PROGRESS_TABLE,
} from '../../provider/engine/core/names';

describe("unit: pgferry's own objects in the control schema", () => {
  it('takes every table and function pgferry makes there for its own', () => {
    for (const table of [PROGRESS_TABLE.table, LANE_TABLE.table, COPY_LEDGER.done, COPY_LEDGER.epoch, COPY_LEDGER.formerEpoch]) {
      assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, table), true, table);
    }
    assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, guardNamesOf('Orders Move', 'app-db').table), true);
    assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, fenceNamesOf('Orders Move', 'app-db').passes), true);
    for (const fn of [
      guardNamesOf('Orders Move', 'app-db').function,
      fenceNamesOf('a'.repeat(40), 'b').function,
      eventTriggerNamesOf('m', 'd', 'abcdef012345').function,
    ]) {
      assert.equal(isPgferrysOwn('function', CONTROL_SCHEMA, fn), true, fn);
    }
  });

  it("takes a DBA's object in the control schema, and pgferry's names in another schema, for someone else's", () => {
    assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, 'mine'), false);
    assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, 'apply_progress_old'), false);
    assert.equal(isPgferrysOwn('function', CONTROL_SCHEMA, 'dba_audit'), false);
    assert.equal(isPgferrysOwn('function', CONTROL_SCHEMA, 'pgferry_dba_noop'), false);
    // a function under a table's name, a table under a function's name: the kind matters too
    assert.equal(isPgferrysOwn('function', CONTROL_SCHEMA, PROGRESS_TABLE.table), false);
    assert.equal(isPgferrysOwn('relation', CONTROL_SCHEMA, guardNamesOf('m', 'd').function), false);
    assert.equal(isPgferrysOwn('relation', 'public', PROGRESS_TABLE.table), false);
  });
});
