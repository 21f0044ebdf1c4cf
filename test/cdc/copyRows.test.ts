import assert from 'node:assert/strict';
import { CopyRows } from '../../provider/engine/cdc/copyRows';
import { tupleOf, UNCHANGED } from '../../provider/engine/cdc/tuple';

describe('cdc/copyRows (pure)', () => {
  const awkward = ['tab\there', 'line\nbreak\r\n', 'back\\slash', '\\N', 'ünï©ødé ✓ 𝄞', '', ' '.repeat(5000)];

  it('writes values as COPY text data from their bytes and reads them back unchanged', () => {
    const rows = new CopyRows();
    const keys = tupleOf(['7', null, null]);
    const values = tupleOf([null, awkward.join('|'), null]);
    rows.append(keys, [0], values, [0, 1, 2]);
    rows.append(
      undefined,
      [],
      tupleOf(awkward),
      awkward.map((_, i) => i),
    );
    assert.equal(rows.rows, 2);
    const text = rows.data().toString('utf8');
    assert.equal(text.split('\n').length, 3, 'one line per row: no raw newline inside a value');
    assert.ok(text.startsWith('7\t\\N\ttab\\there|line\\nbreak\\r\\n|back\\\\slash|\\\\N|ünï©ødé ✓ 𝄞|'));
    assert.deepEqual(rows.params(), [['7', null, awkward.join('|'), null], awkward]);
  });

  it('leaves superseded rows out of the data and the parameters, but counts their bytes until flushed', () => {
    const rows = new CopyRows();
    const a = rows.append(undefined, [], tupleOf(['1', 'a']), [0, 1]);
    rows.append(undefined, [], tupleOf(['2', 'b']), [0, 1]);
    const bytes = rows.byteLength;
    rows.supersede(a);
    rows.append(undefined, [], tupleOf(['1', 'c']), [0, 1]);
    assert.equal(rows.rows, 2);
    assert.equal(rows.written, 3);
    assert.ok(rows.byteLength > bytes);
    assert.equal(rows.data().toString(), '2\tb\n1\tc\n');
    assert.deepEqual(rows.params(), [
      ['2', 'b'],
      ['1', 'c'],
    ]);
  });

  it('grows past its first buffer and refuses an unchanged TOAST value', () => {
    const rows = new CopyRows();
    for (let i = 0; i < 500; i++) rows.append(undefined, [], tupleOf([String(i), 'x'.repeat(i)]), [0, 1]);
    const lines = rows.data().toString().split('\n');
    assert.equal(lines[499], `499\t${'x'.repeat(499)}`);
    assert.throws(() => rows.append(undefined, [], tupleOf(['1', UNCHANGED]), [0, 1]), /unchanged TOAST/);
    assert.equal(rows.rows, 500, 'the refused row left nothing behind');
    assert.equal(rows.data().toString().split('\n').length, 501);
  });
});
