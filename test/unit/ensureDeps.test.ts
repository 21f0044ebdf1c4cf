// scripts/ensure-deps.mjs with a node_modules that links to another checkout's (git worktrees
// sharing one install): it must not run `npm ci` there, which would empty the linked folder under
// every checkout that uses it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'ensure-deps.mjs');

describe('ensure-deps with a linked node_modules', function () {
  this.timeout(120_000);

  it('leaves the linked folder as it is and says why, instead of reinstalling into it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgferry-ensure-deps-'));
    try {
      const checkout = path.join(dir, 'checkout');
      const shared = path.join(dir, 'shared-node-modules');
      fs.mkdirSync(path.join(checkout, 'scripts'), { recursive: true });
      fs.copyFileSync(SCRIPT, path.join(checkout, 'scripts', 'ensure-deps.mjs'));
      fs.writeFileSync(path.join(checkout, 'package-lock.json'), '{}');
      // no .package-lock.json in it: an install that looks stale, which would run npm ci
      fs.mkdirSync(shared);
      fs.writeFileSync(path.join(shared, 'installed-by-another-checkout'), 'x');
      fs.symlinkSync(shared, path.join(checkout, 'node_modules'));

      const result = spawnSync(process.execPath, [path.join(checkout, 'scripts', 'ensure-deps.mjs'), '--demo'], {
        encoding: 'utf8',
        timeout: 100_000,
      });
      assert.match(result.stderr, /node_modules is a link to .*shared-node-modules: not reinstalled here/);
      assert.doesNotMatch(result.stderr, /\[ensure-deps\] npm (ci|install)/);
      assert.deepEqual(fs.readdirSync(shared), ['installed-by-another-checkout']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
