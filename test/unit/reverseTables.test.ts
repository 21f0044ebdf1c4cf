// What the fallback window's reverse publication lists on the new server (pure): the tables the
// forward stream streamed, by name, and the keyed root of each streamed partition, so a partition
// made or attached there in the window is published too.
import assert from 'node:assert/strict';
import { shapeSourceRelation, type SourceRelation, type SourceRelationRow } from '../../provider/engine/catalog/identityVerdict';
import { reverseTables } from '../../provider/engine/footprint/reverseStream';

const key = {
  primary: true,
  replident: false,
  unique: true,
  partial: false,
  immediate: true,
  valid: true,
  expressions: false,
  nullable: [],
};

const rel = (o: Partial<SourceRelationRow> & Pick<SourceRelationRow, 'oid' | 'name'>): SourceRelation =>
  shapeSourceRelation({
    schema: 'public',
    kind: 'r',
    replident: 'd',
    persistence: 'p',
    parent: null,
    owned: true,
    owner: 'app',
    keys: [{ ...key, name: `${o.name}_pkey` }],
    published: false,
    ...o,
  });

const onNewServer = [
  rel({ oid: '1', name: 'events', kind: 'p' }),
  rel({ oid: '2', name: 'events_jan', parent: '1' }),
  rel({ oid: '3', name: 'events_apr', parent: '1' }),
  rel({ oid: '4', name: 'loose', kind: 'p', keys: [] }),
  rel({ oid: '5', name: 'loose_1', parent: '4' }),
  rel({ oid: '6', name: 'items' }),
  rel({ oid: '7', name: 'dba_table' }),
];
const streamed = new Set(['public\0events_jan', 'public\0loose_1', 'public\0items']);
const names = (relations: readonly SourceRelation[]) => relations.map((r) => r.name).sort();

describe('reverse publication tables (pure)', () => {
  it('lists the streamed tables and the keyed root of a streamed partition, not a keyless root nor a table the forward stream did not stream', () => {
    assert.deepEqual(names(reverseTables(onNewServer, streamed, true)), ['events', 'events_jan', 'items', 'loose_1']);
  });

  it('lists the streamed tables alone where a root cannot be listed (before PostgreSQL 13)', () => {
    assert.deepEqual(names(reverseTables(onNewServer, streamed, false)), ['events_jan', 'items', 'loose_1']);
  });
});
