// Which columns of a relation message may carry a type renamed before the stream named it
// (cdc/apply/unseenTypeRenames.ts unseenCandidates): those of a user type whose target column
// prints its type under another name than the stream gives, each type once. Names the target
// prints quoted, arrays and built-in types are read as format_type prints them.
import assert from 'node:assert/strict';
import { unseenCandidates } from '../../provider/engine/cdc/apply/unseenTypeRenames';
import type { Relation } from '../../provider/engine/cdc/decode/changeEvents';
import type { TargetAttribute } from '../../provider/engine/cdc/apply/shapeFollow';

const relation = (columns: [string, number, { schema: string; name: string } | undefined][]): Relation => ({
  oid: 20000,
  schema: 'public',
  name: 'person',
  replicaIdentity: 'default',
  columns: columns.map(([name, typeOid]) => ({ name, typeOid, typeMod: -1, isKey: name === 'id' })),
  typeNames: columns.map(([, , named]) => named),
});

const onTarget = (columns: [string, number, string][]): TargetAttribute[] =>
  columns.map(([name, typeOid, type]) => ({ name, typeOid, typeMod: -1, type, notNull: false }));

describe('unseenCandidates', () => {
  it('names a user type the target prints under another name, once, with its target OID', () => {
    const found = unseenCandidates(
      relation([
        ['id', 23, undefined],
        ['m', 30001, { schema: 'public', name: 'feeling' }],
        ['m2', 30001, { schema: 'public', name: 'feeling' }],
      ]),
      onTarget([
        ['id', 23, 'integer'],
        ['m', 40001, 'public.mood'],
        ['m2', 40001, 'public.mood'],
      ]),
      new Set(),
    );
    assert.deepEqual(found, [{ oid: 30001, to: { schema: 'public', name: 'feeling' }, targetOid: 40001 }]);
  });

  it('names none where the target prints the stream name, quoted or not', () => {
    const found = unseenCandidates(
      relation([
        ['a', 30001, { schema: 'public', name: 'mood' }],
        ['b', 30002, { schema: 'My Schema', name: 'Odd"Type' }],
      ]),
      onTarget([
        ['a', 40001, 'public.mood'],
        ['b', 40002, '"My Schema"."Odd""Type"'],
      ]),
      new Set(),
    );
    assert.deepEqual(found, []);
  });

  it('names none for an array, a type checked already, a built-in type or a column the target lacks', () => {
    const found = unseenCandidates(
      relation([
        ['tags', 30003, { schema: 'public', name: '_feeling' }],
        ['m', 30001, { schema: 'public', name: 'feeling' }],
        ['n', 30004, { schema: 'public', name: 'other' }],
        ['added', 30005, { schema: 'public', name: 'fresh' }],
      ]),
      onTarget([
        ['tags', 40003, 'public.mood[]'],
        ['m', 40001, 'public.mood'],
        ['n', 25, 'text'],
      ]),
      new Set([30001]),
    );
    assert.deepEqual(found, []);
  });
});
