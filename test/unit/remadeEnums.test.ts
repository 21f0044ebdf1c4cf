// Which enum types the source made again under their name (flow/enumRemake.ts judgeRemade): told
// by their OID on the source against the one the control catalog recorded when the target's type
// last matched it, never by their labels alone, so that a label renamed in place (same OID, same
// shape of labels) is left to the user, while a type made again with a label removed and another
// added gets the step that first widens the target's type, at any look, the first after a resume too.
import assert from 'node:assert/strict';
import type { SchemaDifference } from '../../provider/engine/core/model';
import { schemaObjectKey } from '../../provider/engine/core/names';
import type { SchemaObject } from '../../provider/engine/verify/schema/catalog';
import { judgeRemade } from '../../provider/engine/flow/enumRemake';

function enumType(oid: string, labels: string): SchemaObject {
  return {
    kind: 'enum type',
    schema: 'public',
    relation: null,
    name: 'e',
    args: null,
    classId: '1247',
    objectId: oid,
    ownerObjectId: oid,
    props: { labels },
  };
}

const labelsDiffer: SchemaDifference = {
  object: 'enum type public.e',
  detail: "labels: source 'a', 'b', 'd', target 'a', 'b', 'c'",
  fix: '',
};

const KEY = schemaObjectKey('enum type', 'public', null, 'e', null);
const recordedAs = (oid: string) => new Map([[KEY, oid]]);

describe('enum types made again on the source, told by their OID against the recorded one', () => {
  it('a type with no OID recorded: its OID is recorded, no step (nothing to tell a remake by)', () => {
    const judged = judgeRemade(new Map(), [labelsDiffer], [undefined], [enumType('100', "'a', 'b', 'd'")]);
    assert.deepEqual(judged.steps, [undefined]);
    assert.deepEqual([...judged.anew], [[KEY, '100']]);
  });

  it('the recorded OID, labels of a rename shape: no step (the user RENAME VALUE), nothing recorded anew', () => {
    const judged = judgeRemade(recordedAs('100'), [labelsDiffer], [undefined], [enumType('100', "'a', 'b', 'd'")]);
    assert.deepEqual(judged.steps, [undefined]);
    assert.equal(judged.anew.size, 0);
  });

  it('another OID than recorded, labels differing: the widening step, the recorded OID kept until they are equal', () => {
    // the first look of a resumed runner: nothing seen before in this process, the record tells
    const judged = judgeRemade(recordedAs('100'), [labelsDiffer], [undefined], [enumType('200', "'a', 'b', 'd'")]);
    assert.equal(judged.steps[0]?.when, 'anytime');
    assert.deepEqual(judged.steps[0]?.remakeEnum, { schema: 'public', name: 'e', labels: "'a', 'b', 'd'", removed: [], widen: true });
    assert.equal(judged.anew.size, 0);
  });

  it('another OID than recorded, labels equal: the new OID recorded, and a later rename-shaped difference is the user again', () => {
    const equal = judgeRemade(recordedAs('100'), [], [], [enumType('200', "'a', 'b', 'd'")]);
    assert.deepEqual([...equal.anew], [[KEY, '200']]);
    const later = judgeRemade(recordedAs('200'), [labelsDiffer], [undefined], [enumType('200', "'a', 'b', 'd'")]);
    assert.deepEqual(later.steps, [undefined]);
  });

  it('a step the comparison already has (labels removed only) is kept as it is', () => {
    const step = { when: 'applied' as const, statements: ['x'], rank: 1 };
    const judged = judgeRemade(recordedAs('100'), [labelsDiffer], [step], [enumType('200', "'a', 'b', 'd'")]);
    assert.equal(judged.steps[0], step);
  });
});
