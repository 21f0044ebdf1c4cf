// The schema watch's schedule (flow/schemaWatch.ts): looks every couple of seconds on a small
// schema, further apart as its fingerprint takes longer, never more than a minute apart.
import assert from 'node:assert/strict';
import { lookInterval } from '../../provider/engine/flow/schemaWatch';

describe('unit: the schema watch, time between looks', () => {
  it('is two seconds when the fingerprints are quick, ten times their time when slow, one minute at most', () => {
    assert.equal(lookInterval(0), 2_000);
    assert.equal(lookInterval(150), 2_000);
    assert.equal(lookInterval(800), 8_000);
    assert.equal(lookInterval(60_000), 60_000);
  });
});
