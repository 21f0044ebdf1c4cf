// A missing prerequisite skips a test with its reason on a workstation, and fails it on CI.
import assert from 'node:assert/strict';
import type { Context } from 'mocha';
import { requirePrerequisite } from '../support/prerequisite';

describe('requirePrerequisite', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });
  const skipped = new Error('skipped');
  const ctx = {
    skip: () => {
      throw skipped;
    },
  } as unknown as Context;

  it('does nothing when the prerequisite is there', () => {
    process.env.CI = 'true';
    requirePrerequisite(ctx, true, 'libtcl8.6');
  });

  it('skips without CI', () => {
    delete process.env.CI;
    assert.throws(
      () => requirePrerequisite(ctx, false, 'libtcl8.6'),
      (e) => e === skipped,
    );
  });

  it('fails on CI, naming what is missing', () => {
    process.env.CI = 'true';
    assert.throws(
      () => requirePrerequisite(ctx, false, 'libtcl8.6'),
      (e: Error) => e !== skipped && /missing prerequisite on CI: libtcl8\.6/.test(e.message),
    );
  });
});
