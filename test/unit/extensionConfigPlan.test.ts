// What a copy of an extension's configuration rows does with each key (switchover/extensionConfigSync.ts
// planConfigRows), judged against the md5 pgferry recorded when it last wrote the key: a row still as
// pgferry wrote it takes the server read's; a row edited where it was written is kept, silently when
// the server read did not change it, as a conflict when it did; a key without a record is written.
import assert from 'node:assert/strict';
import type { ConfigRowKeys } from '../../provider/engine/control/extensionConfigRows';
import { planConfigRows } from '../../provider/engine/switchover/extensionConfigSync';

/** A row of the server read whose text is its md5 too, so a test reads one value per row. */
const row = (key: string, md5: string) => ({ row: `${key}${md5}`, key, md5 });

const keys = (copied: [string, string | null][], kept: [string, string | null][] = []): ConfigRowKeys => ({
  copied: new Map(copied),
  kept: new Map(kept),
});

describe('unit: extension configuration rows, what a copy writes and keeps', () => {
  it("writes the source's row over one still as pgferry wrote it, and records it", () => {
    const plan = planConfigRows([row('(1)', 'new')], new Map([['(1)', 'base']]), keys([['(1)', 'base']]), 'forward');
    assert.deepEqual(
      plan.write.map((r) => r.key),
      ['(1)'],
    );
    assert.deepEqual(
      plan.record.map((r) => [r.key, r.md5]),
      [['(1)', 'new']],
    );
    assert.deepEqual([plan.editKept, plan.conflicts], [[], []]);
  });

  it("keeps a row edited where it was written when the source's is as pgferry copied it, writes nothing and records the base", () => {
    const plan = planConfigRows([row('(1)', 'base')], new Map([['(1)', 'dba']]), keys([['(1)', 'base']]), 'forward');
    assert.deepEqual(plan.write, []);
    assert.deepEqual(plan.record, [], 'the base md5 is not replaced by what was not written');
    assert.deepEqual(plan.editKept, [{ key: '(1)', md5: 'base' }]);
    assert.deepEqual(plan.conflicts, []);
  });

  it('keeps the written row and names the key as a conflict when both servers changed it since the copy', () => {
    const plan = planConfigRows([row('(1)', 'source')], new Map([['(1)', 'dba']]), keys([['(1)', 'base']]), 'forward');
    assert.deepEqual(plan.write, []);
    assert.deepEqual(plan.conflicts, [{ key: '(1)', md5: 'base' }]);
  });

  it('treats a key recorded before the md5 was as a conflict when the rows differ, and writes it when they agree', () => {
    const differ = planConfigRows([row('(1)', 'source')], new Map([['(1)', 'dba']]), keys([['(1)', null]]), 'forward');
    assert.deepEqual([differ.write, differ.conflicts], [[], [{ key: '(1)', md5: null }]]);
    const same = planConfigRows([row('(1)', 'same')], new Map([['(1)', 'same']]), keys([['(1)', null]]), 'forward');
    assert.deepEqual(
      same.record.map((r) => [r.key, r.md5]),
      [['(1)', 'same']],
    );
  });

  it('judges a key kept as edited at an earlier copy against the md5 it kept: the source changed alone is written', () => {
    const plan = planConfigRows([row('(1)', 'source')], new Map([['(1)', 'base']]), keys([], [['(1)', 'base']]), 'forward');
    assert.deepEqual(
      plan.record.map((r) => [r.key, r.md5]),
      [['(1)', 'source']],
    );
    const still = planConfigRows([row('(1)', 'base')], new Map([['(1)', 'dba']]), keys([], [['(1)', 'base']]), 'forward');
    assert.deepEqual(still.editKept, [{ key: '(1)', md5: 'base' }]);
  });

  it("keeps a row of the target's own kept before when the source gains its key with another row, and writes an unrecorded key", () => {
    const own = planConfigRows([row('(1)', 'source')], new Map([['(1)', 'mine']]), keys([], [['(1)', null]]), 'forward');
    assert.deepEqual([own.write, own.conflicts], [[], [{ key: '(1)', md5: null }]]);
    const unrecorded = planConfigRows([row('(2)', 'source')], new Map([['(2)', 'other']]), keys([]), 'forward');
    assert.deepEqual(
      unrecorded.write.map((r) => r.key),
      ['(2)'],
    );
    assert.deepEqual(unrecorded.record, [], 'a key pgferry did not insert is not recorded as copied');
  });

  it('deletes a copied key the source lost only when unedited, keeps the edited one, and says which are the own', () => {
    const plan = planConfigRows(
      [],
      new Map([
        ['(1)', 'base'],
        ['(2)', 'dba'],
        ['(3)', 'mine'],
      ]),
      keys([
        ['(1)', 'base'],
        ['(2)', 'base'],
      ]),
      'forward',
    );
    assert.deepEqual(plan.gone, ['(1)']);
    assert.deepEqual(plan.edited, [{ key: '(2)', md5: 'base' }]);
    assert.deepEqual(plan.own, ['(3)']);
  });

  it("keeps a DBA's delete of a row pgferry wrote when the source's is unchanged: nothing written, the key kept with its md5", () => {
    const plan = planConfigRows(
      [row('(1)', 'base'), row('(2)', 'base')],
      new Map([['(2)', 'base']]),
      keys([
        ['(1)', 'base'],
        ['(2)', 'base'],
      ]),
      'forward',
    );
    assert.deepEqual(
      plan.write.map((r) => r.key),
      ['(2)'],
    );
    assert.deepEqual(plan.deletedKept, [{ key: '(1)', md5: 'base' }]);
    assert.deepEqual([plan.inserted, plan.conflicts, plan.gone], [[], [], []]);
    // kept deleted at the next copy too, the key then recorded as kept with what pgferry wrote
    const again = planConfigRows([row('(1)', 'base')], new Map(), keys([], [['(1)', 'base']]), 'forward');
    assert.deepEqual([again.write, again.deletedKept], [[], [{ key: '(1)', md5: 'base' }]]);
  });

  it('writes again a deleted row the source changed since, an unconfirmed insert, and an unrecorded key: each an insert', () => {
    const changed = planConfigRows([row('(1)', 'source')], new Map(), keys([['(1)', 'base']]), 'forward');
    // a key whose insert a runner killed before its commit left without an md5: never a DBA's delete
    const unconfirmed = planConfigRows([row('(2)', 'base')], new Map(), keys([['(2)', null]]), 'forward');
    const unrecorded = planConfigRows([row('(3)', 'base')], new Map(), keys([]), 'forward');
    for (const [plan, key] of [
      [changed, '(1)'],
      [unconfirmed, '(2)'],
      [unrecorded, '(3)'],
    ] as const) {
      assert.deepEqual(
        plan.write.map((r) => r.key),
        [key],
      );
      assert.deepEqual(
        plan.inserted.map((r) => r.key),
        [key],
      );
      assert.deepEqual(plan.deletedKept, []);
    }
  });

  it('back: carries no key kept at the cutover, and judges the copied ones as forward', () => {
    const plan = planConfigRows(
      [row('(1)', 'edit'), row('(2)', 'new')],
      new Map([
        ['(1)', 'base'],
        ['(2)', 'old'],
      ]),
      keys([['(2)', 'base']], [['(1)', 'base']]),
      'back',
    );
    assert.deepEqual(plan.write, [], 'the kept key is not carried, the one edited on the old source is kept');
    assert.deepEqual(plan.conflicts, [{ key: '(2)', md5: 'base' }]);
  });
});
