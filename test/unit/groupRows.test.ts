import assert from 'node:assert/strict';
import { GroupRows } from '../../provider/engine/cdc/plan/groupRows';
import { tupleOf, UNCHANGED } from '../../provider/engine/cdc/decode/tuple';

describe('cdc/groupRows (pure)', () => {
  const awkward = ['tab\there', 'line\nbreak\r\n', 'back\\slash', '\\N', 'ünï©ødé ✓ 𝄞', '', ' '.repeat(5000)];
  const all = awkward.map((_, i) => i);

  it('renders the same rows as COPY text data and as parameters, each exactly', () => {
    const rows = new GroupRows();
    const keys = tupleOf(['7', null, null, null, null, null, null]);
    const values = tupleOf([null, awkward.join('|'), null, 'x', 'y', 'z', '']);
    rows.append(keys, [0], values, [0, 1, 2, 3, 4, 5]);
    rows.append(undefined, [], tupleOf(awkward), all);
    assert.equal(rows.rows, 2);
    const text = rows.data().toString('utf8');
    assert.equal(text.split('\n').length, 3, 'one line per row: no raw newline inside a value');
    assert.ok(text.startsWith('7\t\\N\ttab\\there|line\\nbreak\\r\\n|back\\\\slash|\\\\N|ünï©ødé ✓ 𝄞|'));
    assert.ok(text.includes('\ntab\\there\tline\\nbreak\\r\\n\tback\\\\slash\t\\\\N\tünï©ødé ✓ 𝄞\t\t '));
    assert.deepEqual(rows.params(), [['7', null, awkward.join('|'), null, 'x', 'y', 'z'], awkward]);
  });

  it('hands out its own buffer as the COPY data while no value needs escaping', () => {
    const rows = new GroupRows();
    rows.append(undefined, [], tupleOf(['1', null, 'a b']), [0, 1, 2]);
    rows.append(undefined, [], tupleOf(['2', '', 'é']), [0, 1, 2]);
    const data = rows.data();
    assert.equal(data.toString(), '1\t\\N\ta b\n2\t\té\n');
    assert.equal(data.length, rows.byteLength, 'the buffer itself, nothing re-rendered');
    assert.deepEqual(rows.params(), [
      ['1', null, 'a b'],
      ['2', '', 'é'],
    ]);
    assert.throws(() => rows.append(undefined, [], tupleOf(['3', 'x']), [0, 1]), /2 values in a group of rows of 3/);
  });

  it('leaves superseded rows out of the data and the parameters, but counts their bytes until flushed', () => {
    for (const second of ['b', 'b\tb']) {
      const rows = new GroupRows();
      const a = rows.append(undefined, [], tupleOf(['1', 'a']), [0, 1]);
      rows.append(undefined, [], tupleOf(['2', second]), [0, 1]);
      const bytes = rows.byteLength;
      rows.supersede(a);
      rows.append(undefined, [], tupleOf(['1', 'c']), [0, 1]);
      assert.equal(rows.rows, 2);
      assert.equal(rows.written, 3);
      assert.ok(rows.byteLength > bytes);
      assert.equal(rows.data().toString(), `2\t${second.replace('\t', '\\t')}\n1\tc\n`);
      assert.deepEqual(rows.params(), [
        ['2', second],
        ['1', 'c'],
      ]);
    }
  });

  it('grows past its first buffer and refuses an unchanged TOAST value', () => {
    const rows = new GroupRows();
    for (let i = 0; i < 500; i++) rows.append(undefined, [], tupleOf([String(i), 'x'.repeat(i)]), [0, 1]);
    const lines = rows.data().toString().split('\n');
    assert.equal(lines[499], `499\t${'x'.repeat(499)}`);
    assert.throws(() => rows.append(undefined, [], tupleOf(['1', UNCHANGED]), [0, 1]), /unchanged TOAST/);
    assert.equal(rows.rows, 500, 'the refused row left nothing behind');
    assert.equal(rows.data().toString().split('\n').length, 501);
    assert.equal(rows.params().length, 500);
    assert.deepEqual(rows.params()[499], ['499', 'x'.repeat(499)]);
  });
});
