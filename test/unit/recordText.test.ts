// A composite value written before ALTER TYPE ... ADD ATTRIBUTE, read by a target whose type has
// the attribute (cdc/plan/recordText.ts): its text is given the trailing fields it lacks, empty
// (NULL), as PostgreSQL reads an old row; nested in a record, an array or a domain alike.
import assert from 'node:assert/strict';
import { padText, padTuple, textShapeOf, type TextShape } from '../../provider/engine/cdc/plan/recordText';
import type { TypeFacts } from '../../provider/engine/cdc/plan/equality';
import { tupleOf } from '../../provider/engine/cdc/decode/tuple';

const base = (kind: string, extra: Partial<TypeFacts> = {}): TypeFacts => ({
  kind,
  base: 0,
  element: 0,
  fields: [],
  volatileText: false,
  ...extra,
});

describe('unit: composite text padded to the target type', () => {
  const five: TextShape = { record: [undefined, undefined, undefined, undefined, undefined] };

  it('adds the missing trailing fields empty, and leaves a whole record as it is', () => {
    assert.equal(padText('(sad,old,2.5)', five), '(sad,old,2.5,,)');
    assert.equal(padText('(sad,"a, \\"b\\"",2.5)', five), '(sad,"a, \\"b\\"",2.5,,)');
    assert.equal(padText('(sad,old,2.5,n,7)', five), '(sad,old,2.5,n,7)');
    assert.equal(padText('(,,)', five), '(,,,,)');
  });

  it('pads a record nested in a record, keeping the outer quoting readable', () => {
    const outer: TextShape = { record: [undefined, { record: [undefined, undefined, undefined] }] };
    assert.equal(padText('(1,"(a,b)")', outer), '(1,"(a,b,)")');
    assert.equal(padText('(1,)', outer), '(1,)', 'a NULL nested record stays NULL');
    assert.equal(padText('(1,"(""q"",b)")', outer), '(1,"(""q"",b,)")');
  });

  it('pads every record of an array, NULL elements and dimensions kept', () => {
    const array: TextShape = { array: { record: [undefined, undefined, undefined, undefined] } };
    assert.equal(padText('{"(sad,,1)",NULL,"(ok,x,2)"}', array), '{"(sad,,1,)",NULL,"(ok,x,2,)"}');
    assert.equal(padText('{"(sad,x)"}', array), '{"(sad,x,,)"}');
    assert.equal(padText('[2:3]={"(a,\\"b\\",c,d)","(c,d,e)"}', array), '[2:3]={"(a,\\"b\\",c,d)","(c,d,e,)"}');
    assert.equal(padText('{{"(a,b,c,d)"},{"(e,f,g)"}}', array), '{{"(a,b,c,d)"},{"(e,f,g,)"}}');
  });

  it('reads the shape from the facts: a domain over an array of a composite holding a composite', () => {
    const facts = new Map<number, TypeFacts>([
      [1, base('d', { base: 2 })],
      [2, base('b', { element: 3 })],
      [3, base('c', { fields: [4, 5] })],
      [4, base('b')],
      [5, base('c', { fields: [4] })],
    ]);
    assert.deepEqual(textShapeOf(1, facts), { array: { record: [undefined, { record: [undefined] }] } });
    assert.equal(textShapeOf(4, facts), undefined, 'a base type holds no composite');
  });

  it('gives a tuple its padded values, and the same tuple when nothing changed', () => {
    const shapes = [undefined, five];
    const t = tupleOf(['1', '(sad,old,2.5)']);
    assert.deepEqual(padTuple(t, shapes).values(), ['1', '(sad,old,2.5,,)']);
    const whole = tupleOf(['1', '(sad,old,2.5,n,7)']);
    assert.equal(padTuple(whole, shapes), whole);
  });
});
