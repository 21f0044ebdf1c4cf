// The fault campaign's judge of writer fences (faults/leftovers.ts fenceProblems), pure: a database
// cut over with the writers fenced keeps its fence; one whose fallback window fell back (beside
// another database's window the user closed) has none left on the old source, and a fence still
// there after its fall-back (its setting, its trigger, its passes table) is named.
import assert from 'node:assert/strict';
import { fenceProblems, type FenceState } from '../../faults/leftovers';

const cutOver: FenceState = { database: 'a', onSource: 'on', record: 'kept', state: 'Succeeded', triggers: 4, passes: true };
const fellBack: FenceState = { database: 'b', onSource: undefined, record: undefined, state: 'FellBack', triggers: 0, passes: false };

describe('fault campaign: the writer fences judged', () => {
  it('finds nothing wrong with one database cut over and fenced and another fallen back without a fence', () => {
    assert.deepEqual(fenceProblems([cutOver, fellBack], true), []);
  });

  it('names a fence left on the old source, its trigger or its passes table, after a fall-back', () => {
    assert.deepEqual(fenceProblems([{ ...fellBack, onSource: 'on', triggers: 2, passes: true }], true), [
      'b: writer fence left on the source after FellBack (default_transaction_read_only = on)',
      "b: the fence's trigger left on 2 table(s) of the source after FellBack",
      "b: the fence's passes table left on the source after FellBack",
    ]);
  });

  it('names a database cut over whose fence is not kept', () => {
    assert.deepEqual(fenceProblems([{ ...cutOver, onSource: undefined, record: undefined, triggers: 0, passes: false }], true), [
      'a: cut over with the writers fenced, but the fence is not recorded as kept',
      "a: cut over with the writers fenced, but the source's default_transaction_read_only is not set",
      "a: cut over with the writers fenced, but no table carries the fence's trigger",
      "a: cut over with the writers fenced, but the fence's passes table is not on the source",
    ]);
  });
});
