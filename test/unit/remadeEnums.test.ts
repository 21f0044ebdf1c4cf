// Which enum types the source made again under their name (flow/enumRemake.ts RemadeEnums): told
// by their OID on the source changing between two looks, never by their labels alone, so that a
// label renamed in place (same OID, same shape of labels) is left to the user, while a type made
// again with a label removed and another added gets the step that first widens the target's type.
import assert from 'node:assert/strict';
import type { SchemaDifference } from '../../provider/engine/core/model';
import type { SchemaObject } from '../../provider/engine/verify/schema/catalog';
import { RemadeEnums } from '../../provider/engine/flow/enumRemake';

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

describe('enum types made again on the source, told by their OID', () => {
  it('widens the target only for a type whose source OID changed since an earlier look, and forgets it once equal', () => {
    const remade = new RemadeEnums();
    assert.deepEqual(remade.steps('db', [], [], [enumType('100', "'a', 'b', 'c'")]), []);
    // same OID, labels of a rename's shape: no step (the user's RENAME VALUE)
    assert.deepEqual(remade.steps('db', [labelsDiffer], [undefined], [enumType('100', "'a', 'b', 'd'")]), [undefined]);
    // made again: a new OID
    const [step] = remade.steps('db', [labelsDiffer], [undefined], [enumType('200', "'a', 'b', 'd'")]);
    assert.equal(step?.when, 'anytime');
    assert.deepEqual(step?.remakeEnum, { schema: 'public', name: 'e', labels: "'a', 'b', 'd'", removed: [], widen: true });
    // still differing at the next look (the same OID since): still widened
    assert.equal(remade.steps('db', [labelsDiffer], [undefined], [enumType('200', "'a', 'b', 'd'")])[0]?.remakeEnum?.widen, true);
    // labels equal: forgotten, and a later difference of a rename's shape is the user's again
    assert.deepEqual(remade.steps('db', [], [], [enumType('200', "'a', 'b', 'd'")]), []);
    assert.deepEqual(remade.steps('db', [labelsDiffer], [undefined], [enumType('200', "'a', 'b', 'd'")]), [undefined]);
    // another database's first look knows no earlier OID
    assert.deepEqual(remade.steps('other', [labelsDiffer], [undefined], [enumType('300', "'a', 'b', 'd'")]), [undefined]);
  });
});
