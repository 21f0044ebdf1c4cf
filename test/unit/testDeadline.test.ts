// Issue 68: a wait inside a test gives up before the test's own timeout, saying what it waited for,
// so a test slowed down by a loaded machine never fails with mocha's bare timeout alone.
import assert from 'node:assert/strict';
import { until } from '../support/wait';

describe('a wait inside a test ends before the test times out', function () {
  // the timeout is the test's own as mocha starts it (set on the test, not inside its body)
  it('gives up by the test timeout less its margin, naming what it waited for', async function () {
    const started = Date.now();
    await assert.rejects(
      until('a condition that never holds', async () => undefined, 60_000, 20),
      /the test's own timeout nearly up \(a wait of 60 s\) waiting for a condition that never holds/,
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 1_700 && waited < 2_000, `waited ${waited} ms`);
  }).timeout(2_000);

  it('keeps its own budget when that ends first', async function () {
    await assert.rejects(
      until('nothing', async () => undefined, 300, 20),
      /^Error: timed out after 0.3 s waiting for nothing/,
    );
  });
});
