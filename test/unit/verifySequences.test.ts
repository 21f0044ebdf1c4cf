// The verifier's sequence rules, pure: next values compared exactly, except that a source read
// after the copy (an offline run's own verification) may have moved on.
import assert from 'node:assert/strict';
import { compareSequences, describeDifference, type SequenceState } from '../../provider/engine/verify/sequenceCheck';

const seq = (name: string, next: bigint, increment = 1n, schema = 'public'): SequenceState => ({
  schema,
  name,
  display: `${schema}.${name}`,
  increment,
  next,
});

describe('verify: sequence comparison', () => {
  it('finds nothing when every next value is equal', () => {
    assert.deepEqual(compareSequences([seq('a', 5n), seq('b', -3n, -1n)], [seq('b', -3n, -1n), seq('a', 5n)], false), []);
  });

  it('names a sequence with another value, one missing and one only on the target', () => {
    const found = compareSequences([seq('a', 5n), seq('gone', 1n)], [seq('a', 1n), seq('new', 1n)], false).map(describeDifference);
    assert.deepEqual(found, [
      'sequence public.a differs: next value 5 on the source, 1 on the target',
      'sequence public.gone is missing on the target',
      'sequence public.new is only on the target',
    ]);
  });

  it('matches by schema and name, not by their joined text', () => {
    const found = compareSequences([seq('b.c', 1n, 1n, 'a')], [seq('c', 1n, 1n, 'a.b')], false);
    assert.deepEqual(
      found.map((d) => d.kind),
      ['missing', 'extra'],
    );
  });

  it("pairs a column's sequence by its table and column whatever each server named it, and a free-standing one by its name alone", () => {
    const owner = { schema: 'public', table: 'orders', column: 'id' };
    const owned = (name: string, next: bigint): SequenceState => ({ ...seq(name, next), owner });
    assert.deepEqual(compareSequences([owned('orders_ids', 31n)], [owned('orders_id_seq', 31n)], false), [], 'alike under two names');
    const found = compareSequences([owned('orders_ids', 31n), seq('free', 1n)], [owned('orders_id_seq', 5n), seq('orders_ids', 1n)], false);
    assert.deepEqual(
      found.map(describeDifference),
      [
        'sequence public.orders_ids differs: next value 31 on the source, 5 on the target',
        'sequence public.free is missing on the target',
        'sequence public.orders_ids is only on the target',
      ],
      "a free-standing sequence of the owned one's name is not its pair",
    );
  });

  it('pairs by name the sequences of a column that owns more than one', () => {
    const owner = { schema: 'public', table: 't', column: 'id' };
    const two = [
      { ...seq('a', 1n), owner },
      { ...seq('b', 2n), owner },
    ];
    assert.deepEqual(compareSequences(two, two, false), []);
  });

  it('leaves a source that moved on since the copy to the data check, in the sequence direction only', () => {
    assert.deepEqual(
      compareSequences([seq('up', 10n), seq('down', -10n, -1n)], [seq('up', 5n), seq('down', -5n, -1n)], true).map((d) => d.kind),
      ['moved-on', 'moved-on'],
    );
    // a target past the source is wrong however busy the source is
    assert.deepEqual(
      compareSequences([seq('up', 5n), seq('down', -5n, -1n)], [seq('up', 10n), seq('down', -10n, -1n)], true).map((d) => d.kind),
      ['differs', 'differs'],
    );
  });
});
