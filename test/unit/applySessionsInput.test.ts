// applySessions as an input: 1 by default (one apply session, the path before parallel apply),
// 1 to 16 taken from the spec and a properties file; anything else refused in one line naming the
// field and the allowed range, in the engine and in Pulumi's check (the apply itself on real
// servers: test/cdc/parallelApply.test.ts).
import assert from 'node:assert/strict';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec } from '../../provider/engine';
import { checkInputs } from '../../provider/resource/inputSchema';
import { base, refusesEach, urls } from './specInput';

describe('applySessions: the input', () => {
  it('is 1 by default and takes 1 to 16 from the spec and a properties file', () => {
    assert.equal(parseMigrationSpec(base).applySessions, 1);
    assert.equal(parseMigrationSpec({ ...base, applySessions: 4 }).applySessions, 4);
    assert.equal(parseMigrationSpec({ ...base, applySessions: 16 }).applySessions, 16);
    assert.equal(specFromProperties({ ...base, ...urls, applySessions: 2 }).applySessions, 2);
  });

  it('refuses a bad value in one line naming the field and the allowed range', () => {
    refusesEach('applySessions', [0, 17, 2.5, -1, '4', null], 'applySessions: must be a whole number from 1 to 16');
  });

  it("fails Pulumi's check naming the input", () => {
    const failures = checkInputs({}, { ...base, applySessions: 32 });
    assert.deepEqual(
      failures.map((f) => [f.property, f.reason]),
      [['applySessions', 'applySessions: must be a whole number from 1 to 16']],
    );
  });
});
