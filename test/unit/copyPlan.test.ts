import assert from 'node:assert/strict';
import type { SourceTable } from '../../provider/engine/catalog/introspect';
import { copyFormat, copyInSql, copyOutSql } from '../../provider/engine/copy/copyItem';
import {
  ctidRangeWheres,
  integerRangeWheres,
  itemsForTable,
  orderItems,
  partCount,
  rangeWhere,
  tableParts,
} from '../../provider/engine/copy/plan';

const table = (over: Partial<SourceTable> = {}): SourceTable => ({
  oid: '1',
  schema: 'S"c',
  name: 'T 1',
  sql: '"S""c"."T 1"',
  display: 'S"c.T 1',
  unlogged: false,
  isPartition: false,
  bytes: 100,
  estimatedRows: 10,
  pages: 10,
  columns: ['id', 'Na"me'],
  binarySafe: true,
  ...over,
});

describe('copy plan (pure)', () => {
  it('splits only tables over the threshold, up to the maximum', () => {
    assert.equal(partCount(100, 0, 16), 1);
    assert.equal(partCount(100, 200, 16), 1);
    assert.equal(partCount(1000, 200, 16), 5);
    assert.equal(partCount(10_000, 200, 16), 16);
  });

  it('with no threshold set, splits a table over 256 MB only when it is over 1.5 even shares of the copy', () => {
    const MB = 2 ** 20;
    const auto = { splitMaxParts: 16, tableJobs: 2 };
    // the bench database: 461 MB beside 269 MB, 2 items (share 365 MB): both copied whole, frozen
    assert.deepEqual(tableParts([{ bytes: 461 * MB }, { bytes: 269 * MB }, { bytes: 1 }], auto), [1, 1, 1]);
    // at 4 GB: 2.7 GB beside 1.8 GB: whole too
    assert.deepEqual(tableParts([{ bytes: 2700 * MB }, { bytes: 1800 * MB }], auto), [1, 1]);
    // one large table and little else: split as the threshold says
    assert.deepEqual(tableParts([{ bytes: 1000 * MB }, { bytes: 100 * MB }], auto), [4, 1]);
    assert.deepEqual(tableParts([{ bytes: 600 * MB }], auto), [3]);
    // never under the default threshold, never with one item
    assert.deepEqual(tableParts([{ bytes: 200 * MB }], auto), [1]);
    assert.deepEqual(tableParts([{ bytes: 1000 * MB }], { ...auto, tableJobs: 1 }), [1]);
    // more items, smaller shares: 8 items over 4 GB (share 512 MB), a 1 GB table is split
    assert.deepEqual(
      tableParts([{ bytes: 1024 * MB }, ...Array.from({ length: 12 }, () => ({ bytes: 256 * MB }))], { ...auto, tableJobs: 8 })[0],
      4,
    );
    // runtime agents: other agents copy parts beside this runner's items, so the threshold alone decides
    assert.deepEqual(tableParts([{ bytes: 461 * MB }, { bytes: 269 * MB }, { bytes: 1 }], { ...auto, runtime: 'agents' }), [2, 2, 1]);
  });

  it('a threshold set is followed as it is: every table over it is split, 0 never', () => {
    const opts = { splitMaxParts: 16, tableJobs: 2 };
    assert.deepEqual(tableParts([{ bytes: 1000 }, { bytes: 1000 }], { ...opts, splitTablesLargerThan: 300 }), [4, 4]);
    assert.deepEqual(tableParts([{ bytes: 2 ** 40 }], { ...opts, splitTablesLargerThan: 0 }), [1]);
  });

  it('integer ranges cover every key exactly once, open at both ends', () => {
    const wheres = integerRangeWheres('"id"', -5n, 94n, 4);
    assert.deepEqual(wheres, [
      '"id" < 20::int8',
      '"id" >= 20::int8 AND "id" < 45::int8',
      '"id" >= 45::int8 AND "id" < 70::int8',
      '"id" >= 70::int8',
    ]);
    const covered = (k: number) =>
      wheres.filter((w) =>
        w.split(' AND ').every((c) => {
          const m = /"id" (>=|<) (-?\d+)/.exec(c)!;
          return m[1] === '>=' ? k >= Number(m[2]) : k < Number(m[2]);
        }),
      ).length;
    for (let k = -100; k < 200; k++) assert.equal(covered(k), 1, `key ${k}`);
    assert.deepEqual(integerRangeWheres('"id"', 1n, 3n, 4), ['TRUE']);
  });

  it('rebuilds a recorded range only from integers (the control catalog holds numbers, never SQL)', () => {
    assert.equal(rangeWhere({ by: 'key', from: '-3', to: '9' }, '"id"'), '"id" >= -3::int8 AND "id" < 9::int8');
    assert.equal(rangeWhere({ by: 'ctid', fromPage: 4 }), "ctid >= '(4,0)'::tid");
    assert.equal(rangeWhere({ by: 'key' }, '"id"'), 'TRUE');
    assert.throws(() => rangeWhere({ by: 'key', from: '1; DROP TABLE t' }, '"id"'), /not an integer/);
    assert.throws(() => rangeWhere({ by: 'ctid', toPage: 1.5 }), /not an integer/);
  });

  it('CTID ranges are contiguous and the last is open-ended', () => {
    assert.deepEqual(ctidRangeWheres(100, 3), [
      "ctid < '(33,0)'::tid",
      "ctid >= '(33,0)'::tid AND ctid < '(66,0)'::tid",
      "ctid >= '(66,0)'::tid",
    ]);
    assert.deepEqual(ctidRangeWheres(3, 4), ['TRUE']);
  });

  it("orders the biggest table first, a split table's parts together", () => {
    const big = table({ oid: '2', bytes: 1000 });
    const items = orderItems([...itemsForTable(table(), ['TRUE']), ...itemsForTable(big, ['a', 'b'])]);
    assert.deepEqual(
      items.map((j) => [j.table.oid, j.part?.index]),
      [
        ['2', 0],
        ['2', 1],
        ['1', undefined],
      ],
    );
  });

  it('builds COPY statements with quoted names; binary only for built-in types', () => {
    const item = { table: table() };
    assert.equal(copyFormat(item), 'binary');
    assert.equal(copyFormat({ table: table({ binarySafe: false }) }), 'text');
    assert.equal(copyOutSql(item, 'binary'), 'COPY "S""c"."T 1" ("id", "Na""me") TO STDOUT WITH (FORMAT binary)');
    assert.equal(copyInSql(item, true, 'binary'), 'COPY "S""c"."T 1" ("id", "Na""me") FROM STDIN WITH (FORMAT binary, FREEZE)');
    assert.equal(copyInSql(item, false, 'text'), 'COPY "S""c"."T 1" ("id", "Na""me") FROM STDIN');
    assert.equal(
      copyOutSql({ table: table(), part: { index: 1, count: 2, where: "ctid >= '(5,0)'::tid" } }, 'text'),
      `COPY (SELECT "id", "Na""me" FROM ONLY "S""c"."T 1" WHERE ctid >= '(5,0)'::tid) TO STDOUT`,
    );
  });
});
