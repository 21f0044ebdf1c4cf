import assert from 'node:assert/strict';
import { renderVerification } from '../../provider/cli/output';
import type { VerificationReport } from '../../provider/engine';

const schemaDifference: VerificationReport['schema'] = [
  {
    database: 'shop',
    objects: 3,
    differences: [{ object: 'index public.orders_idx', detail: 'missing on the target', fix: 'CREATE INDEX ...' }],
    expected: [],
    seconds: 0.1,
  },
];

describe('renderVerification', () => {
  it('says no table rows were compared when the schema check stopped the verification, not "0/0 tables match"', () => {
    const text = renderVerification({ ok: false, tables: [], schema: schemaDifference });
    assert.match(text.split('\n')[0]!, /^Verification {2}MISMATCH: no table rows compared$/);
    assert.doesNotMatch(text, /0\/0/);
    assert.match(text, /schema of shop: 3 object\(s\) compared, 1 differ/);
  });

  it('counts the tables whose rows match when rows were compared', () => {
    const text = renderVerification({
      ok: false,
      tables: [
        { database: 'shop', table: 'public.orders', sourceRows: 10, targetRows: 10, matches: true },
        { database: 'shop', table: 'public.items', sourceRows: 5, targetRows: 4, matches: false },
      ],
    });
    assert.equal(text.split('\n')[0], 'Verification  MISMATCH: 1/2 tables match');
    assert.match(text, /shop\.public\.items: source 5 rows, target 4/);
  });
});
